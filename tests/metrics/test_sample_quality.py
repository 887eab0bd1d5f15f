"""Sample-quality metrics: zero on identical sets, the Fréchet distance's closed form, KID's and
MMD's unbiasedness, brute-force definitions, growth with a growing difference, precision and
recall on a mixture that loses modes or blurs them, mode coverage, the dataset-level figures on
a stub feature net, and bad input."""

import importlib
import itertools

import keras
import numpy as np
import pytest

from kgen.data import load
from kgen.data.toy2d import toy2d, toy2d_modes
from kgen.metrics.features import FeatureExtractor
from kgen.metrics.sample_quality import (
    energy_distance,
    frechet_distance,
    kernel_distance,
    mmd,
    mode_coverage,
    precision_recall,
    sample_quality,
)

GRID_MEANS, GRID_STD = toy2d_modes("25gaussians")
# The module itself: `kgen.metrics.sample_quality` is the function of that name.
sample_quality_module = importlib.import_module("kgen.metrics.sample_quality")


def _with_moments(rng, n, mean, cov):
    """n points whose sample mean and (unbiased) sample covariance are exactly ``mean``, ``cov``."""
    z = rng.standard_normal((n, len(mean)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.atleast_2d(np.cov(z, rowvar=False)))).T  # cov I
    return mean + z @ np.linalg.cholesky(cov).T


def _gaussian_frechet_2d(mean_a, cov_a, mean_b, cov_b):
    """Closed form in 2-D: Tr √M = √(Tr M + 2 √det M) for M = Σ_a Σ_b (eigenvalues ≥ 0)."""
    product = cov_a @ cov_b
    root_trace = np.sqrt(np.trace(product) + 2 * np.sqrt(np.linalg.det(product)))
    return np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * root_trace


def _grid_samples(seed, n, modes=None):
    """n points of the 25-Gaussian grid, only from the listed modes if given."""
    x = toy2d("25gaussians", 4 * n, seed=seed).astype(np.float64)
    if modes is not None:
        nearest = np.linalg.norm(x[:, None] - GRID_MEANS[None], axis=-1).argmin(axis=1)
        x = x[np.isin(nearest, modes)]
    return x[:n]


# ---------------------------------------------------------------------- distances: values
def test_identical_sets_score_zero():
    x = np.random.default_rng(0).normal(size=(1000, 5))
    assert abs(frechet_distance(x, x)) < 1e-9
    # The unbiased estimates leave out the i = j terms, so identical sets give −O(1/n).
    assert abs(mmd(x, x)) < 2 / len(x)
    mean_distance = np.linalg.norm(x[:500] - x[500:], axis=1).mean()
    assert abs(energy_distance(x, x)) < 2 * mean_distance / len(x)


def test_frechet_distance_of_identical_rank_deficient_sets_is_zero():
    x = np.random.default_rng(1).normal(size=(20, 32))  # fewer samples than features
    assert abs(frechet_distance(x, x)) < 1e-6


def test_frechet_distance_equals_the_closed_form_for_the_fitted_gaussians():
    rng = np.random.default_rng(2)
    mean_a, mean_b = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    cov_a = np.array([[2.0, 0.8], [0.8, 1.0]])
    cov_b = np.array([[0.5, -0.3], [-0.3, 1.5]])  # does not commute with cov_a
    a, b = _with_moments(rng, 50, mean_a, cov_a), _with_moments(rng, 70, mean_b, cov_b)
    expected = _gaussian_frechet_2d(mean_a, cov_a, mean_b, cov_b)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    # In 1-D the distance is (μ_a − μ_b)² + (σ_a − σ_b)².
    u = _with_moments(rng, 30, np.array([1.0]), np.array([[4.0]]))
    v = _with_moments(rng, 40, np.array([-1.0]), np.array([[0.25]]))
    assert frechet_distance(u, v) == pytest.approx(4.0 + (2.0 - 0.5) ** 2, rel=1e-9)


def test_frechet_distance_of_large_gaussian_samples_approaches_the_population_value():
    """n = 20 000 per set in 2-D: the estimate's bias, Tr(Σ_a + Σ_b)/n ≈ 3e-4, and its standard
    deviation, ≈ 2 √(Δᵀ(Σ_a + Σ_b)Δ / n) ≈ 0.07 for |Δ| ≈ 2.8, are within the 0.3 tolerance."""
    rng = np.random.default_rng(3)
    mean_a, mean_b = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    cov_a = np.array([[2.0, 0.8], [0.8, 1.0]])
    cov_b = np.array([[0.5, -0.3], [-0.3, 1.5]])
    a = rng.multivariate_normal(mean_a, cov_a, size=20_000)
    b = rng.multivariate_normal(mean_b, cov_b, size=20_000)
    expected = _gaussian_frechet_2d(mean_a, cov_a, mean_b, cov_b)
    assert frechet_distance(a, b) == pytest.approx(expected, abs=0.3)


def test_kernel_distance_and_mmd_match_their_brute_force_definitions():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(6, 3)), rng.normal(0.5, 1.0, size=(6, 3))

    def unbiased(kernel):
        pairs = itertools.permutations
        within = lambda s: np.mean([kernel(p, q) for p, q in pairs(s, 2)])  # noqa: E731
        cross = np.mean([kernel(p, q) for p in x for q in y])
        return within(x) + within(y) - 2 * cross

    cubic = lambda p, q: (p @ q / 3 + 1) ** 3  # noqa: E731
    # One subset of every row is a permutation of each set: the plain unbiased estimate.
    assert kernel_distance(x, y, num_subsets=1, subset_size=6) == pytest.approx(unbiased(cubic))
    gaussian = lambda p, q: np.exp(-np.sum((p - q) ** 2) / (2 * 0.7**2))  # noqa: E731
    assert mmd(x, y, bandwidth=0.7) == pytest.approx(unbiased(gaussian))
    y = y[:5]
    distance = lambda p, q: np.linalg.norm(p - q)  # noqa: E731
    energy = (
        2 * np.mean([distance(p, q) for p in x for q in y])
        - np.mean([distance(p, q) for p, q in itertools.permutations(x, 2)])
        - np.mean([distance(p, q) for p, q in itertools.permutations(y, 2)])
    )
    assert energy_distance(x, y) == pytest.approx(energy)


def test_kernel_distance_is_unbiased_for_two_samples_of_one_distribution():
    rng = np.random.default_rng(5)
    same = np.array([
        kernel_distance(rng.normal(size=(100, 8)), rng.normal(size=(100, 8)), num_subsets=5,
                        subset_size=50, seed=seed)
        for seed in range(50)
    ])
    standard_error = same.std() / np.sqrt(len(same))
    assert abs(same.mean()) < 3 * standard_error
    assert same.min() < 0 < same.max()
    shifted = kernel_distance(rng.normal(size=(100, 8)), rng.normal(0.5, 1.0, size=(100, 8)),
                              num_subsets=5, subset_size=50)
    assert shifted > same.mean() + 10 * same.std()
    mean, std = kernel_distance(rng.normal(size=(100, 8)), rng.normal(size=(100, 8)),
                                num_subsets=5, subset_size=50, return_std=True)
    assert std > 0 and abs(mean) < 3 * std


def test_computing_in_small_blocks_gives_the_same_figures(monkeypatch):
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(40, 3)), rng.normal(0.3, 1.0, size=(30, 3))

    def figures():
        return [
            kernel_distance(x, y, num_subsets=4, subset_size=20, seed=1),
            mmd(x, y),
            energy_distance(x, y),
            *precision_recall(x, y).values(),
        ]

    whole = figures()
    monkeypatch.setattr(sample_quality_module, "BLOCK_ENTRIES", 50)  # blocks of one or two rows
    np.testing.assert_allclose(figures(), whole, rtol=1e-12)


@pytest.mark.parametrize(
    "metric",
    [
        frechet_distance,
        lambda a, b: kernel_distance(a, b, num_subsets=10, subset_size=200),
        mmd,
        energy_distance,
    ],
    ids=["frechet", "kernel", "mmd", "energy"],
)
def test_distances_grow_with_a_growing_shift_and_a_growing_noise(metric):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(500, 4))
    shifted = [metric(x, rng.normal(size=(500, 4)) + [shift, 0, 0, 0]) for shift in (0, 0.5, 1, 2)]
    noisy = [metric(x, rng.normal(size=(500, 4)) * np.sqrt(1 + s**2)) for s in (0, 1, 2, 3)]
    assert np.all(np.diff(shifted) > 0) and np.all(np.diff(noisy) > 0)


# ------------------------------------------------------------------ fidelity and diversity
def test_dropping_modes_costs_recall_and_blurring_them_costs_precision():
    real = _grid_samples(0, 1000)
    same = precision_recall(real, _grid_samples(1, 1000))
    assert same["precision"] > 0.9 and same["recall"] > 0.9
    half = precision_recall(real, _grid_samples(2, 1000, modes=np.arange(12)))
    assert half["precision"] > 0.9
    assert half["recall"] == pytest.approx(12 / 25, abs=0.06)
    rng = np.random.default_rng(3)
    blurred = GRID_MEANS[rng.integers(0, 25, 1000)] + 0.5 * rng.standard_normal((1000, 2))
    blur = precision_recall(real, blurred)
    assert blur["precision"] < 0.2 and blur["recall"] > 0.9


def test_precision_recall_radii_skip_the_point_itself_and_count_duplicates():
    real = np.array([[0.0], [1.0], [3.0]])
    # k = 1: radii 1, 1, 2, so 0.5, 2.5 and 4.9 are inside and 5.5 is outside.
    fake = np.array([[0.5], [2.5], [4.9], [5.5]])
    assert precision_recall(real, fake, k=1)["precision"] == 0.75
    # A duplicate is a neighbour at distance 0: the two points at 0 get radius 0, not 10.
    duplicated = precision_recall(np.array([[0.0], [0.0], [10.0], [13.0]]), [[0.1], [0.3]], k=1)
    assert duplicated == {"precision": 0.0, "recall": 0.5}


def test_mode_coverage_of_the_grid_finds_every_mode_and_the_3_sigma_share():
    samples = _grid_samples(4, 10_000)
    coverage = mode_coverage(samples, GRID_MEANS, GRID_STD)
    assert coverage["modes_hit"] == coverage["num_modes"] == 25
    p = 1 - np.exp(-4.5)  # P(|z| ≤ 3) for a 2-D standard normal, ≈ 0.989
    assert coverage["high_quality_share"] == pytest.approx(p, abs=5 * np.sqrt(p * (1 - p) / 10_000))
    weights = coverage["mode_weights"]
    assert weights.shape == (25,) and weights.sum() == pytest.approx(1.0)
    assert np.all(np.abs(weights - 1 / 25) < 5 * np.sqrt(1 / 25 / 10_000))
    half = mode_coverage(_grid_samples(5, 2500, modes=np.arange(12)), GRID_MEANS, GRID_STD)
    assert half["modes_hit"] == 12


def test_a_mode_is_hit_only_with_its_share_of_the_samples():
    # 2 500 samples, 25 modes: 100 expected per mode; 10 at mode 0 is half of min_share = 0.2.
    crowded = np.repeat(GRID_MEANS[1:], 104, axis=0)[:2490]
    samples = np.vstack([crowded, np.repeat(GRID_MEANS[:1], 10, axis=0)])
    assert mode_coverage(samples, GRID_MEANS, GRID_STD)["modes_hit"] == 24
    assert mode_coverage(samples, GRID_MEANS, GRID_STD, min_share=0.05)["modes_hit"] == 25
    far = mode_coverage(GRID_MEANS + 0.5, GRID_MEANS, GRID_STD)  # 10 std away from every mode
    assert far["modes_hit"] == 0 and far["high_quality_share"] == 0.0
    assert np.all(far["mode_weights"] == 0)


# -------------------------------------------------------------------------- on a dataset
class _TrainImages:
    """A stand-in model whose ``sample`` returns training digits (and records its calls)."""

    def __init__(self):
        self.calls = []

    def sample(self, n, seed=None):
        self.calls.append((n, seed))
        return load("digits", n=n, seed=seed + 100)


@pytest.fixture
def pixel_features():
    """A feature net whose features are the 64 pixels themselves."""
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten()])
    return FeatureExtractor(model, test_accuracy=0.5)


def test_sample_quality_asks_a_model_for_as_many_samples_as_the_smallest_split(pixel_features):
    model = _TrainImages()
    figures = sample_quality(model, "digits", n=2000, seed=3, feature_net=pixel_features)
    assert model.calls == [(297, 3)]  # the digits test split holds 297 images
    assert figures["num_samples"] == 297 and figures["feature_net_accuracy"] == 0.5
    noise = np.random.default_rng(0).random((297, 8, 8, 1)).astype(np.float32)
    noisy = sample_quality(noise, "digits", seed=3, feature_net=pixel_features)
    reference = figures["reference_frechet_distance"]
    assert noisy["reference_frechet_distance"] == reference  # the same data subsets
    assert figures["frechet_distance"] < 1.5 * reference < noisy["frechet_distance"] / 5
    assert noisy["kernel_distance"] > 10 * abs(figures["kernel_distance"])
    assert figures["recall"] > 0.5 and noisy["precision"] == 0.0


@pytest.mark.parametrize(
    ("samples", "match"),
    [
        (np.zeros((10, 28, 28, 1), np.float32), r"`samples` must have shape \(batch, 8, 8, 1\)"),
        (np.full((10, 8, 8, 1), -1.0, np.float32), r"`samples` must lie in \[0.0, 1.0\]"),
    ],
)
def test_sample_quality_rejects_samples_that_do_not_fit_the_dataset(pixel_features, samples, match):
    with pytest.raises(ValueError, match=match):
        sample_quality(samples, "digits", feature_net=pixel_features)


# ------------------------------------------------------------------------------ bad input
_X = np.zeros((5, 3))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: frechet_distance(np.zeros(5), _X), r"`features_a` must be a 2-D array \(n, d\)"),
        (lambda: frechet_distance(_X, np.zeros((5, 4))), "same number of columns.*got 3 and 4"),
        (lambda: frechet_distance(_X, np.full((5, 3), np.nan)), "`features_b` contains 15 NaN"),
        (lambda: frechet_distance(_X[:1], _X), "`features_a` needs at least 2 rows; got 1"),
        (lambda: kernel_distance(_X, _X, subset_size=1), "`subset_size` must be at least 2"),
        (lambda: mmd(_X, _X, bandwidth=0.0), "`bandwidth` must be a finite number > 0"),
        (lambda: energy_distance(_X, np.zeros((5, 3, 1))), "`y` must be a 2-D array"),
        (lambda: precision_recall(_X, _X[:3], k=3), "`fake_features` needs at least 4 rows"),
        (lambda: mode_coverage(_X[:, :2], GRID_MEANS, -1.0), "`std` must be a finite number > 0"),
        (
            lambda: mode_coverage(_X[:, :2], GRID_MEANS, 0.1, min_share=1.5),
            r"`min_share` must lie in \[0, 1\]",
        ),
        (lambda: mode_coverage(_X, GRID_MEANS, 0.1), "`samples` and `means` must have the same"),
    ],
)
def test_bad_input_is_rejected_clearly(call, match):
    with pytest.raises(ValueError, match=match):
        call()
