"""kgen.testing's evaluation checks (notebook 07): each passes correct functions and fails, with
the hint that names the mistake, on the errors students typically make."""

import math

import numpy as np
import pytest
import tensorflow as tf
from keras import ops
from scipy.linalg import sqrtm

from kgen import testing
from kgen.metrics import frechet_distance, kernel_distance


# ----------------------------------------------------------------------------- bits per dim
def bits_reference(nll, num_dims, num_bins):
    return (nll + num_dims * np.log(num_bins)) / (num_dims * np.log(2))


def bits_with_keras_ops(nll, num_dims, num_bins):
    nll = ops.convert_to_tensor(nll, "float64")
    return (nll / num_dims + math.log(num_bins)) / math.log(2.0)


def bits_with_log2(nll, num_dims, num_bins):
    return nll / (num_dims * math.log(2)) + math.log2(num_bins)


@pytest.mark.parametrize("fn", [bits_reference, bits_with_keras_ops, bits_with_log2])
def test_check_bits_per_dim_passes_correct_functions(fn):
    testing.check_bits_per_dim(fn)


def test_check_bits_per_dim_agrees_with_kgens_flow_convention():
    """The flows' bits_per_dim is −(log p(y) − D log L)/(D log 2): the graded formula."""
    nll, dims, bins = np.array([12.0, -3.0]), 64, 17
    log_p, log_volume = -nll, -dims * math.log(bins)
    np.testing.assert_allclose(bits_reference(nll, dims, bins), -(log_p + log_volume) / (dims * math.log(2)))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda nll, d, b: (nll - d * np.log(b)) / (d * np.log(2)), "offset is \\+D·log L"),
        (lambda nll, d, b: nll / (d * np.log(2)), "add the dequantization offset"),
        (lambda nll, d, b: (nll + d * np.log(b)) / d, "divide by log 2"),
        (lambda nll, d, b: (nll + d * np.log(b)) / np.log(2), "divide by the number of dimensions"),
        (lambda nll, d, b: (nll + d * np.log(b - 1)) / (d * np.log(2)), "not D·log\\(L − 1\\)"),
        (lambda nll, d, b: (nll + d * np.log(b)) / (d * np.log(10)), "not log 10"),
        (lambda nll, d, b: (nll + np.log(b)) / (d * np.log(2)), "not log L once"),
        (lambda nll, d, b: np.mean(bits_reference(nll, d, b)), "keep its shape"),
        (lambda nll, d, b: None, "forget its `return`"),
    ],
)
def test_check_bits_per_dim_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_bits_per_dim(wrong)


def test_check_bits_per_dim_reports_the_stub():
    def stub(nll, num_dims, num_bins):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not implemented yet"):
        testing.check_bits_per_dim(stub)


# ------------------------------------------------------------------------ Fréchet distance
def frechet_with_sqrtm(mean_a, cov_a, mean_b, cov_b):
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * sqrtm(cov_a @ cov_b).real))


def frechet_with_eigenvalues(mean_a, cov_a, mean_b, cov_b):
    """Tr (Σ_a Σ_b)^{1/2} as the sum of the square roots of the eigenvalues of Σ_a Σ_b (real, ≥ 0)."""
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b).real
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                 - 2 * np.sum(np.sqrt(np.clip(eigenvalues, 0, None))))


def frechet_with_tensorflow(mean_a, cov_a, mean_b, cov_b):
    root = tf.linalg.sqrtm(tf.constant(cov_a @ cov_b))
    return tf.reduce_sum((mean_a - mean_b) ** 2) + tf.linalg.trace(cov_a + cov_b) - 2 * tf.linalg.trace(root)


@pytest.mark.parametrize("fn", [frechet_with_sqrtm, frechet_with_eigenvalues, frechet_with_tensorflow])
def test_check_frechet_distance_gaussians_passes_correct_functions(fn):
    testing.check_frechet_distance_gaussians(fn)


def test_a_correct_exercise_matches_kgens_frechet_distance_on_features():
    """What the notebook shows: the exercise on the features' means and covariances is kgen's
    frechet_distance of the features."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 6)), rng.normal(0.3, 1.4, size=(150, 6)) @ rng.normal(size=(6, 6))
    mine = frechet_with_sqrtm(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert mine == pytest.approx(frechet_distance(a, b), rel=1e-6)


def _root(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(values)) @ vectors.T


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda ma, ca, mb, cb: float(np.sum((ma - mb) ** 2) + np.trace(ca + cb - 2 * np.sqrt(np.abs(ca @ cb)))),
         "each entry"),
        (lambda ma, ca, mb, cb: float(np.sum((ma - mb) ** 2) + np.trace(ca + cb - 2 * _root(ca) @ _root(cb))),
         "unless the two matrices commute"),
        (lambda ma, ca, mb, cb: float(np.sum((ma - mb) ** 2) + np.trace(ca + cb - sqrtm(ca @ cb).real)),
         "forgot the 2|factor 2"),
        (lambda ma, ca, mb, cb: float(np.sum((ma - mb) ** 2) + np.trace(ca) + np.trace(cb)
                                      - 2 * np.sqrt(np.trace(ca) * np.trace(cb))), "√\\(Tr Σ_a · Tr Σ_b\\)|product Σ_a Σ_b"),
        (lambda ma, ca, mb, cb: float(np.linalg.norm(ma - mb) + np.trace(ca + cb - 2 * sqrtm(ca @ cb).real)),
         "squared"),
        (lambda ma, ca, mb, cb: math.sqrt(max(frechet_with_sqrtm(ma, ca, mb, cb), 0.0)), "not d"),
        (lambda ma, ca, mb, cb: float(np.trace(ca + cb - 2 * sqrtm(ca @ cb).real)), "add the mean term"),
        (lambda ma, ca, mb, cb: complex(frechet_with_sqrtm(ma, ca, mb, cb)), "complex"),
        (lambda ma, ca, mb, cb: ca + cb - 2 * sqrtm(ca @ cb).real, "shape"),
    ],
)
def test_check_frechet_distance_gaussians_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_frechet_distance_gaussians(wrong)


def test_check_frechet_distance_gaussians_sees_a_distance_that_is_not_symmetric():
    def lopsided(mean_a, cov_a, mean_b, cov_b):  # right when Σ_a = Σ_b, wrong otherwise
        return frechet_with_sqrtm(mean_a, cov_a, mean_b, cov_b) + 0.1 * (np.trace(cov_a) - np.trace(cov_b))

    with pytest.raises(AssertionError, match="not what was expected"):
        testing.check_frechet_distance_gaussians(lopsided)


# ------------------------------------------------------------------------------ KID's MMD²
def kid_reference(features_a, features_b):
    dims = features_a.shape[1]
    k_aa = (features_a @ features_a.T / dims + 1) ** 3
    k_bb = (features_b @ features_b.T / dims + 1) ** 3
    k_ab = (features_a @ features_b.T / dims + 1) ** 3
    n, m = len(features_a), len(features_b)
    return ((k_aa.sum() - np.trace(k_aa)) / (n * (n - 1)) + (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
            - 2 * k_ab.mean())


def kid_with_loops(features_a, features_b):
    def k(x, y):
        return (np.dot(x, y) / len(x) + 1) ** 3

    a, b = list(features_a), list(features_b)
    within_a = np.mean([k(x, y) for i, x in enumerate(a) for j, y in enumerate(a) if i != j])
    within_b = np.mean([k(x, y) for i, x in enumerate(b) for j, y in enumerate(b) if i != j])
    return within_a + within_b - 2 * np.mean([k(x, y) for x in a for y in b])


def kid_with_keras_ops(features_a, features_b):
    a, b = ops.convert_to_tensor(features_a), ops.convert_to_tensor(features_b)
    dims = a.shape[1]

    def within(x):
        gram = (ops.matmul(x, ops.transpose(x)) / dims + 1) ** 3
        n = x.shape[0]
        return (ops.sum(gram) - ops.trace(gram)) / (n * (n - 1))

    return within(a) + within(b) - 2 * ops.mean((ops.matmul(a, ops.transpose(b)) / dims + 1) ** 3)


@pytest.mark.parametrize("fn", [kid_reference, kid_with_loops, kid_with_keras_ops])
def test_check_kid_mmd2_passes_correct_functions(fn):
    testing.check_kid_mmd2(fn)


def test_a_correct_exercise_is_kgens_kernel_distance_on_one_subset_of_everything():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 5)), rng.normal(0.2, 1.0, size=(40, 5))
    assert kid_reference(a, b) == pytest.approx(kernel_distance(a, b, num_subsets=1, subset_size=40), rel=1e-9)


def mmd_variant(kernel=None, unbiased=True, cross=2.0):
    def kid_mmd2(features_a, features_b):
        d = features_a.shape[1]
        k = kernel or (lambda x, y: (x @ y.T / d + 1) ** 3)
        k_aa, k_bb, k_ab = k(features_a, features_a), k(features_b, features_b), k(features_a, features_b)
        n, m = len(features_a), len(features_b)
        if unbiased:
            within = (k_aa.sum() - np.trace(k_aa)) / (n * (n - 1)) + (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
        else:
            within = k_aa.mean() + k_bb.mean()
        return within - cross * k_ab.mean()

    return kid_mmd2


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (mmd_variant(unbiased=False), "V-statistic"),
        (mmd_variant(kernel=lambda x, y: (x @ y.T + 1) ** 3), "divides the dot product by the dimension"),
        (mmd_variant(kernel=lambda x, y: (x @ y.T / x.shape[1]) ** 3), "add the 1"),
        (mmd_variant(kernel=lambda x, y: (x @ y.T / x.shape[1] + 1) ** 2), "not squared"),
        (mmd_variant(cross=1.0), "counts twice"),
        (mmd_variant(kernel=lambda x, y: (x @ y.T / x.shape[0] + 1) ** 3), "number of features"),
        (lambda a, b: np.array([kid_reference(a, b)] * 2), "one number"),
    ],
)
def test_check_kid_mmd2_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_kid_mmd2(wrong)


def test_check_kid_mmd2_catches_a_bias_that_the_single_value_does_not_show():
    """A function right on the graded pair but biased elsewhere fails the unbiasedness test."""
    def biased_for_small_sets(features_a, features_b):
        value = kid_reference(features_a, features_b)
        return value + (0.5 if len(features_a) == 6 else 0.0)

    with pytest.raises(AssertionError, match="unbiased estimate averages 0"):
        testing.check_kid_mmd2(biased_for_small_sets)
