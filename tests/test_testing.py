"""kgen.testing: each check passes kgen's reference and fails, with a useful hint, on the
mistakes students typically make."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kgen import losses, testing


# ------------------------------------------------------------------------------------ helpers
def test_assert_allclose_passes_close_values_and_returns_numpy():
    out = testing.assert_allclose(tf.constant([1.0, 2.0]), np.array([1.0, 2.0 + 1e-7]), "x")
    assert isinstance(out, np.ndarray) and out.shape == (2,)


def test_assert_allclose_message_names_index_expected_got_input_and_hint():
    with pytest.raises(AssertionError) as info:
        testing.assert_allclose(
            np.array([[1.0, 2.0], [3.0, 9.0]]), np.array([[1.0, 2.0], [3.0, 4.0]]), "`f(a)`",
            hint="try harder", inputs={"a": np.array([[5.0], [6.0]])},
        )
    message = str(info.value)
    for part in ("`f(a)`", "1 of 4", "(1, 1)", "expected 4", "got 9", "a[1] = [6]", "Hint: try harder"):
        assert part in message, (part, message)


def test_assert_allclose_reports_shape_mismatch_without_broadcasting():
    with pytest.raises(AssertionError, match=r"shape \(3,\); expected shape \(3, 1\)"):
        testing.assert_allclose(np.zeros(3), np.zeros((3, 1)), "v")


def test_assert_allclose_reports_nan():
    with pytest.raises(AssertionError, match="NaN or infinite"):
        testing.assert_allclose(np.array([1.0, np.nan]), np.array([1.0, 2.0]), "v")


def test_to_numpy_explains_a_missing_return():
    with pytest.raises(AssertionError, match="return"):
        testing.to_numpy(None, "the result")


def test_assert_finite_and_shape():
    with pytest.raises(AssertionError, match="infinite"):
        testing.assert_finite(np.array([0.0, np.inf]), "v")
    with pytest.raises(AssertionError, match=r"expected shape \(2,\)"):
        testing.assert_shape(np.zeros((2, 2)), (2,), "v")


def test_call_student_turns_not_implemented_into_a_friendly_assertion():
    def stub(x):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not implemented yet"):
        testing.call_student(stub, 1.0)


# ---------------------------------------------------------------------------- reparameterize
def test_check_reparameterize_passes_reference():
    testing.check_reparameterize(losses.reparameterize)


def _normal(mean, seed):
    return keras.random.normal(ops.shape(mean), seed=seed)


def reparam_log_var_as_std(mean, log_var, seed=None):
    return mean + log_var * _normal(mean, seed)


def reparam_forgot_half(mean, log_var, seed=None):
    return mean + ops.exp(log_var) * _normal(mean, seed)


def reparam_no_noise(mean, log_var, seed=None):
    return mean


def reparam_fixed_seed(mean, log_var, seed=None):
    return mean + ops.exp(0.5 * log_var) * keras.random.normal(ops.shape(mean), seed=0)


def reparam_numpy(mean, log_var, seed=None):
    eps = np.random.default_rng(0).normal(size=tuple(mean.shape))
    return np.asarray(mean) + np.exp(0.5 * np.asarray(log_var)) * eps


def reparam_stop_gradient(mean, log_var, seed=None):
    return mean + ops.exp(0.5 * ops.stop_gradient(log_var)) * _normal(mean, seed)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (reparam_log_var_as_std, "log σ², not σ"),
        (reparam_forgot_half, "forgot the ½"),
        (reparam_no_noise, "must be random"),
        (reparam_fixed_seed, "SeedGenerator"),
        (reparam_numpy, "SeedGenerator|gradient|tensor"),
        (reparam_stop_gradient, "No gradient flows .* `log_var`"),
    ],
)
def test_check_reparameterize_fails_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_reparameterize(wrong)


# -------------------------------------------------------------------------------- gaussian_kl
def test_check_gaussian_kl_passes_reference():
    testing.check_gaussian_kl(losses.gaussian_kl)


def kl_forgot_half(mean, log_var):
    return ops.sum(ops.square(mean) + ops.exp(log_var) - log_var - 1.0, axis=-1)


def kl_sums_batch(mean, log_var):
    return 0.5 * ops.sum(ops.square(mean) + ops.exp(log_var) - log_var - 1.0)


def kl_no_sum(mean, log_var):
    return 0.5 * (ops.square(mean) + ops.exp(log_var) - log_var - 1.0)


def kl_log_var_as_variance(mean, log_var):
    return 0.5 * ops.sum(ops.square(mean) + log_var - ops.log(log_var) - 1.0, axis=-1)


def kl_wrong_sign(mean, log_var):
    return 0.5 * ops.sum(ops.square(mean) + ops.exp(log_var) + log_var - 1.0, axis=-1)


def kl_forgot_one(mean, log_var):
    return 0.5 * ops.sum(ops.square(mean) + ops.exp(log_var) - log_var, axis=-1)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (kl_forgot_half, "twice the expected"),
        (kl_sums_batch, "whole batch"),
        (kl_no_sum, "per latent dimension"),
        (kl_log_var_as_variance, "NaN|negative"),
        (kl_wrong_sign, "negative|signs|closed form"),
        (kl_forgot_one, "−1"),
    ],
)
def test_check_gaussian_kl_fails_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_gaussian_kl(wrong)


# -------------------------------------------------------------------- bernoulli log-likelihood
def _sum_but_batch(values):
    return ops.sum(values, axis=tuple(range(1, len(values.shape))))


def test_check_bernoulli_passes_reference_with_and_without_event_ndims():
    testing.check_bernoulli_log_likelihood(losses.bernoulli_log_likelihood)
    testing.check_bernoulli_log_likelihood(
        lambda x, logits: losses.bernoulli_log_likelihood(x, logits, len(x.shape) - 1)
    )


def bern_naive_sigmoid_log(x, logits):
    p = ops.sigmoid(logits)
    return _sum_but_batch(x * ops.log(p) + (1.0 - x) * ops.log(1.0 - p))


def bern_sigmoid_plus_eps(x, logits):
    p = ops.sigmoid(logits)
    return _sum_but_batch(x * ops.log(p + 1e-7) + (1.0 - x) * ops.log(1.0 - p + 1e-7))


def bern_keras_bce_mean(x, logits):
    bce = keras.losses.binary_crossentropy(x, logits, from_logits=True)  # means the last axis
    return -_sum_but_batch(bce) if len(bce.shape) > 1 else -bce


def bern_mean_over_pixels(x, logits):
    values = x * logits - ops.softplus(logits)
    return ops.mean(values, axis=tuple(range(1, len(values.shape))))


def bern_sums_batch(x, logits):
    return ops.sum(x * logits - ops.softplus(logits))


def bern_fixed_image_axes(x, logits):
    return ops.sum(x * logits - ops.softplus(logits), axis=(1, 2, 3))


def bern_cross_entropy(x, logits):
    return -_sum_but_batch(x * logits - ops.softplus(logits))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (bern_naive_sigmoid_log, "softplus"),
        (bern_sigmoid_plus_eps, "softplus"),
        (bern_keras_bce_mean, "sum"),
        (bern_mean_over_pixels, "averaged over the pixels"),
        (bern_sums_batch, "whole batch"),
        (bern_fixed_image_axes, "vectors|raised"),
        (bern_cross_entropy, "cross-entropy"),
    ],
)
def test_check_bernoulli_fails_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_bernoulli_log_likelihood(wrong)


# ------------------------------------------------------------------------------------- ELBO
def reference_elbo(x, logits, mean, log_var):
    return losses.bernoulli_log_likelihood(x, logits, len(x.shape) - 1) - losses.gaussian_kl(
        mean, log_var
    )


def test_check_elbo_passes_reference():
    testing.check_elbo(reference_elbo)


def elbo_adds_kl(x, logits, mean, log_var):
    return losses.bernoulli_log_likelihood(x, logits, 3) + losses.gaussian_kl(mean, log_var)


def elbo_returns_loss(x, logits, mean, log_var):
    return -reference_elbo(x, logits, mean, log_var)


def elbo_batch_mean(x, logits, mean, log_var):
    return ops.mean(reference_elbo(x, logits, mean, log_var))


def elbo_with_mse(x, logits, mean, log_var):
    reconstruction = -_sum_but_batch(ops.square(x - ops.sigmoid(logits)))
    return reconstruction - losses.gaussian_kl(mean, log_var)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (elbo_adds_kl, "subtracts"),
        (elbo_returns_loss, "wrong sign"),
        (elbo_batch_mean, "whole batch"),
        (elbo_with_mse, "Bernoulli log-likelihood"),
    ],
)
def test_check_elbo_fails_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_elbo(wrong)


def test_checks_report_which_function_failed():
    with pytest.raises(AssertionError, match="`kl_forgot_half`"):
        testing.check_gaussian_kl(kl_forgot_half)


def test_monte_carlo_kl_tolerance_is_meaningful():
    """The Monte Carlo cross-check alone rejects a KL that is off by 5 % (it is not a no-op)."""
    exact = float(losses.gaussian_kl(tf.constant([[0.3, -1.2]]), tf.constant([[-0.5, 0.8]]))[0])
    assert 0.5 < exact < 2.0 and math.isfinite(exact)

    def off_for_single_examples(mean, log_var):
        kl = losses.gaussian_kl(mean, log_var)
        return kl * 1.05 if mean.shape[0] == 1 else kl  # only the Monte Carlo call has batch 1

    with pytest.raises(AssertionError, match="Monte Carlo"):
        testing.check_gaussian_kl(off_for_single_examples)
