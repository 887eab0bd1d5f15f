"""Properties of the 2-D toy sets: determinism, scale, and exact densities that match the samples."""

import numpy as np
import pytest

from kgen.data import TOY2D_EXACT_NAMES, TOY2D_NAMES, toy2d, toy2d_log_prob
from kgen.data.toy2d import TOY2D_MIXTURE_NAMES, toy2d_modes

# Cell-centred grid over [-6, 6]^2 (every set has negligible mass outside): the midpoint rule
# is exact for the checkerboard (cell edges on even integers) and, with h well below the
# smallest std (0.08), accurate to ~1e-12 for the Gaussian-smoothed sets.
_H = 0.025
_AXIS = np.arange(-6.0, 6.0, _H) + _H / 2
_GRID = np.stack([a.ravel() for a in np.meshgrid(_AXIS, _AXIS)], axis=1)


@pytest.mark.parametrize("name", TOY2D_NAMES)
def test_shape_dtype_scale(name):
    x = toy2d(name, 2000, seed=0)
    assert x.shape == (2000, 2) and x.dtype == np.float32
    assert np.all(np.isfinite(x))
    radius = np.abs(x).max(axis=1)
    assert np.quantile(radius, 0.99) < 4.5  # roughly in [-4, 4]^2 ...
    assert radius.max() > 2.5  # ... and spread over it, not squeezed near 0


@pytest.mark.parametrize("name", TOY2D_NAMES)
def test_seed_reproducible(name):
    np.testing.assert_array_equal(toy2d(name, 100, seed=3), toy2d(name, 100, seed=3))
    np.testing.assert_array_equal(
        toy2d(name, 100, seed=np.random.default_rng(3)), toy2d(name, 100, seed=3)
    )
    assert not np.allclose(toy2d(name, 100, seed=3), toy2d(name, 100, seed=4))


@pytest.mark.parametrize("name", TOY2D_EXACT_NAMES)
def test_density_integrates_to_one(name):
    log_p = toy2d_log_prob(name, _GRID)
    assert log_p.shape == (len(_GRID),)
    np.testing.assert_allclose(np.exp(log_p).sum() * _H**2, 1.0, atol=1e-6)


@pytest.mark.parametrize("name", TOY2D_EXACT_NAMES)
def test_samples_match_density(name):
    """The entropy -E_p[log p] from the grid equals the Monte-Carlo average over the samples;
    a density that disagreed with the sampler (wrong radius, std, cells) would fail this."""
    log_p = toy2d_log_prob(name, _GRID)
    p = np.exp(log_p)
    grid_entropy = -np.sum(p[p > 0] * log_p[p > 0]) * _H**2
    sample_log_p = toy2d_log_prob(name, toy2d(name, 20_000, seed=1))
    assert np.all(np.isfinite(sample_log_p))
    standard_error = sample_log_p.std() / np.sqrt(len(sample_log_p))
    assert abs(-sample_log_p.mean() - grid_entropy) < 4 * standard_error + 1e-9


def test_checkerboard_zero_off_black_cells():
    centres = np.array([[-3.0, -3.0], [-1.0, -1.0], [1.0, 1.0], [3.0, -1.0]])  # black cells
    np.testing.assert_allclose(toy2d_log_prob("checkerboard", centres), -np.log(32.0))
    white = np.array([[-3.0, -1.0], [-1.0, -3.0], [1.0, -1.0], [3.0, 1.0]])
    outside = np.array([[-5.0, -3.0], [4.5, 1.0], [0.5, 4.0]])  # y = 4 is outside [-4, 4)
    assert np.all(toy2d_log_prob("checkerboard", np.vstack([white, outside])) == -np.inf)


def test_25gaussians_is_the_documented_grid():
    means, std = toy2d_modes("25gaussians")
    assert means.shape == (25, 2) and std == 0.05
    assert set(map(tuple, means)) == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    means[0] = 100.0  # a copy: the data set is unchanged
    assert toy2d_modes("25gaussians")[0].max() == 4.0


@pytest.mark.parametrize("name", TOY2D_MIXTURE_NAMES)
def test_mixture_samples_sit_at_the_modes_with_equal_weights(name):
    means, std = toy2d_modes(name)
    x = toy2d(name, 50_000, seed=2).astype(np.float64)
    distances = np.linalg.norm(x[:, None, :] - means[None], axis=-1)
    nearest = distances.argmin(axis=1)
    assert np.quantile(distances.min(axis=1), 0.99) < 3.1 * std  # 99 % of |z| < 3.03 in 2-D
    counts = np.bincount(nearest, minlength=len(means))
    p = 1.0 / len(means)
    assert np.all(np.abs(counts - p * len(x)) < 5 * np.sqrt(len(x) * p * (1 - p)))


def test_25gaussians_histogram_matches_the_density():
    """Counts in 0.1-wide bins (2 std) against the density integrated over each bin (4x4
    midpoints: the per-bin quadrature error, ~0.5 %, is far below the counts' noise)."""
    edges = np.arange(-4.5, 4.5 + 1e-9, 0.1)
    x = toy2d("25gaussians", 100_000, seed=3)
    counts, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=[edges, edges])
    sub = 0.025
    axis = np.arange(-4.5, 4.5, sub) + sub / 2
    grid = np.stack([a.ravel() for a in np.meshgrid(axis, axis, indexing="ij")], axis=1)
    density = np.exp(toy2d_log_prob("25gaussians", grid)).reshape(len(axis), len(axis))
    bins = len(edges) - 1
    mass = density.reshape(bins, 4, bins, 4).sum(axis=(1, 3)) * sub**2
    assert mass.sum() == pytest.approx(1.0, abs=1e-6)
    expected = mass * len(x)
    busy = expected > 20
    assert busy.sum() >= 250 and expected[busy].sum() > 0.95 * len(x)
    z = (counts[busy] - expected[busy]) / np.sqrt(expected[busy])
    assert np.abs(z).max() < 5
    assert abs(np.mean(z**2) - 1) < 0.25  # chi-square per bin ~1 ± 0.08: a 4 % wrong std fails


def test_unknown_name_error():
    with pytest.raises(ValueError, match=r"`name` 'moons'.*8gaussians.*circles"):
        toy2d("moons", 10)


def test_modes_of_a_set_that_is_no_mixture_error():
    with pytest.raises(ValueError, match=r"`name` 'rings'.*8gaussians, 25gaussians"):
        toy2d_modes("rings")


def test_no_exact_density_error():
    with pytest.raises(ValueError, match=r"'pinwheel' has no closed-form.*8gaussians"):
        toy2d_log_prob("pinwheel", np.zeros((3, 2)))


@pytest.mark.parametrize(
    ("x", "match"), [(np.zeros((3, 3)), "shape"), (np.full((2, 2), np.nan), "NaN")]
)
def test_bad_points_error(x, match):
    with pytest.raises(ValueError, match=rf"`x`.*{match}"):
        toy2d_log_prob("8gaussians", x)


@pytest.mark.parametrize(
    ("n", "error"),
    [(0, ValueError), (-5, ValueError), (2.5, TypeError), ("10", TypeError), (True, TypeError)],
)
def test_bad_n_error(n, error):
    with pytest.raises(error, match="`n` must be a positive int"):
        toy2d("rings", n)
