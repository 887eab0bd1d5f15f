"""Properties of kgen.losses: closed forms against TFP and Monte Carlo, numerical stability."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from kgen import losses

tfd = tfp.distributions


def _gaussians(rng, n=5, d=3):
    return (rng.normal(size=(n, d)).astype("float32"), rng.normal(scale=0.5, size=(n, d)).astype("float32"))


def test_gaussian_kl_equals_monte_carlo_estimate():
    rng = np.random.default_rng(1)
    mean, log_var = _gaussians(rng)
    prior_mean, prior_log_var = _gaussians(rng)
    closed = losses.gaussian_kl(mean, log_var, prior_mean, prior_log_var).numpy()
    z = losses.reparameterize(np.repeat(mean[None], 200_000, 0), np.repeat(log_var[None], 200_000, 0), seed=3)
    log_ratio = losses.gaussian_log_density(z, mean, log_var) - losses.gaussian_log_density(
        z, prior_mean, prior_log_var
    )
    monte_carlo = np.mean(log_ratio.numpy(), axis=0)
    standard_error = np.std(log_ratio.numpy(), axis=0) / np.sqrt(200_000)
    np.testing.assert_array_less(np.abs(closed - monte_carlo), 4 * standard_error + 1e-4)


def test_gaussian_kl_matches_tfp_and_is_zero_only_at_the_prior():
    rng = np.random.default_rng(2)
    mean, log_var = _gaussians(rng)
    q = tfd.MultivariateNormalDiag(mean, np.exp(0.5 * log_var))
    p = tfd.MultivariateNormalDiag(np.zeros_like(mean), np.ones_like(mean))
    np.testing.assert_allclose(losses.gaussian_kl(mean, log_var), tfd.kl_divergence(q, p), rtol=1e-5)
    zeros = np.zeros((4, 3), "float32")
    np.testing.assert_allclose(losses.gaussian_kl(zeros, zeros), 0.0, atol=1e-7)
    assert np.all(losses.gaussian_kl(mean, log_var).numpy() > 0)


def test_gaussian_log_density_matches_tfp():
    rng = np.random.default_rng(3)
    mean, log_var = _gaussians(rng)
    z = rng.normal(size=mean.shape).astype("float32")
    expected = tfd.MultivariateNormalDiag(mean, np.exp(0.5 * log_var)).log_prob(z)
    np.testing.assert_allclose(losses.gaussian_log_density(z, mean, log_var), expected, rtol=1e-5)


def test_reparameterize_has_the_right_moments_and_gradients():
    mean = tf.constant([[1.0, -2.0]])
    log_var = tf.constant([[np.log(4.0), np.log(0.25)]], dtype=tf.float32)
    z = losses.reparameterize(tf.repeat(mean, 100_000, 0), tf.repeat(log_var, 100_000, 0), seed=0).numpy()
    np.testing.assert_allclose(z.mean(0), [1.0, -2.0], atol=0.02)
    np.testing.assert_allclose(z.std(0), [2.0, 0.5], rtol=0.02)
    with tf.GradientTape() as tape:
        tape.watch([mean, log_var])
        total = tf.reduce_sum(losses.reparameterize(mean, log_var, seed=1))
    grad_mean, grad_log_var = tape.gradient(total, [mean, log_var])
    np.testing.assert_allclose(grad_mean, [[1.0, 1.0]])
    assert np.all(np.abs(grad_log_var.numpy()) > 0)


def test_bernoulli_log_likelihood_matches_tfp_and_survives_large_logits():
    rng = np.random.default_rng(4)
    logits = rng.normal(scale=3, size=(6, 4, 4, 1)).astype("float32")
    x = (rng.random((6, 4, 4, 1)) > 0.5).astype("float32")
    expected = tfd.Independent(tfd.Bernoulli(logits=logits, dtype=tf.float32), 3).log_prob(x)
    got = losses.bernoulli_log_likelihood(x, logits, event_ndims=3)
    assert got.shape == (6,)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    huge = np.array([[500.0, -500.0]], "float32")
    value = losses.bernoulli_log_likelihood(np.array([[0.0, 1.0]], "float32"), huge, event_ndims=1)
    np.testing.assert_allclose(value, [-1000.0], rtol=1e-6)


def test_gaussian_log_likelihood_matches_tfp():
    rng = np.random.default_rng(5)
    mean = rng.normal(size=(3, 5)).astype("float32")
    x = rng.normal(size=(3, 5)).astype("float32")
    expected = tfd.Independent(tfd.Normal(mean, 0.3), 1).log_prob(x)
    got = losses.gaussian_log_likelihood(x, mean, np.float32(np.log(0.3)), event_ndims=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_log_mean_exp_is_stable_and_exact():
    values = np.array([[1000.0, 1000.0], [-1000.0, -1000.0 + np.log(3.0)]], "float32")
    got = losses.log_mean_exp(values, axis=1).numpy()
    np.testing.assert_allclose(got, [1000.0, -1000.0 + np.log(2.0)], rtol=1e-6)
