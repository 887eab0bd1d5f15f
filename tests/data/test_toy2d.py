"""Properties of the 2-D toy sets: determinism, scale, and exact densities that match the samples."""

import numpy as np
import pytest

from kgen.data import TOY2D_EXACT_NAMES, TOY2D_NAMES, toy2d, toy2d_log_prob

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


def test_unknown_name_error():
    with pytest.raises(ValueError, match=r"`name` 'moons'.*8gaussians.*circles"):
        toy2d("moons", 10)


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
