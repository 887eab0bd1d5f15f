"""β-TCVAE: the KL decomposition, its estimators of q(z), the weighted objective, the arguments.

The model contract is checked for every registered model in ``test_contract.py``."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgen import losses
from kgen.data import DSprites
from kgen.models import BetaTCVAE


def small_tcvae(**kwargs):
    kwargs.setdefault("latent_dim", 2)
    kwargs.setdefault("seed", 1)
    kwargs.setdefault("dataset_size", 128)
    return BetaTCVAE((8, 8, 1), **kwargs)


def posteriors(n, d, seed=0, correlated=False):
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=(n, d))
    if correlated:
        mean[:, 1] = mean[:, 0] + 0.05 * rng.normal(size=n)
    log_var = np.log(rng.uniform(0.01, 0.05, size=(n, d)))
    z = mean + np.exp(0.5 * log_var) * rng.normal(size=(n, d))
    return z.astype("float32"), mean.astype("float32"), log_var.astype("float32")


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_the_three_terms_sum_to_the_one_sample_kl(estimator):
    z, mean, log_var = posteriors(32, 3)
    prior_mean, prior_log_var = np.array([0.1, -0.2, 0.0], "float32"), np.array([0.0, 0.3, -0.1], "float32")
    terms = losses.total_correlation_decomposition(z, mean, log_var, prior_mean, prior_log_var, 1000, estimator)
    kl = losses.gaussian_log_density(z, mean, log_var) - losses.gaussian_log_density(z, prior_mean, prior_log_var)
    np.testing.assert_allclose(sum(terms.values()), kl, rtol=1e-4, atol=1e-4)


def test_stratified_estimate_of_the_aggregate_posterior_is_unbiased_and_weighted_sampling_is_low():
    """Over random batches holding example i, MSS averages to q(z_i) = (1/N) Σ_n q(z_i | x_n)."""
    n, m = 12, 4
    z, mean, log_var = posteriors(n, 2, seed=1)
    mean = mean * 0.3  # overlapping posteriors, so that every term of q(z) matters
    log_var = np.full_like(log_var, np.log(0.2))
    exact = np.log(np.mean(np.exp(losses.gaussian_log_density(z[:, None], mean[None], log_var[None]).numpy()), 1))
    rng = np.random.default_rng(0)
    sums = {"mss": np.zeros(n), "mws": np.zeros(n)}
    draws = 2000
    estimate = {
        name: tf.function(lambda z, mean, log_var, name=name: losses.aggregate_posterior_log_density(
            z, mean, log_var, n, name)[0])
        for name in sums
    }
    for _ in range(draws):
        batch = rng.permutation(n)[:m]
        for name in sums:
            sums[name][batch] += np.exp(estimate[name](z[batch], mean[batch], log_var[batch]).numpy())
    counts = draws * m / n  # each example's expected number of appearances
    mss = np.log(sums["mss"] / counts)
    np.testing.assert_allclose(mss, exact, atol=0.08)  # Monte Carlo error ≈ 0.02
    assert np.all(np.log(sums["mws"] / counts) < exact - 1.0)  # biased low: weights sum to 1/N


def test_total_correlation_estimate_is_larger_for_dependent_codes():
    independent = losses.total_correlation_decomposition(*posteriors(64, 2), np.zeros(2, "float32"),
                                                         np.zeros(2, "float32"), 64, "mss")
    dependent = losses.total_correlation_decomposition(*posteriors(64, 2, correlated=True), np.zeros(2, "float32"),
                                                       np.zeros(2, "float32"), 64, "mss")
    assert np.mean(dependent["total_correlation"]) > np.mean(independent["total_correlation"]) + 0.5


def test_with_unit_weights_the_loss_is_the_negative_elbo_with_a_monte_carlo_kl(binary_images):
    model = small_tcvae(alpha=1.0, beta=1.0, gamma=1.0)
    outputs = model(binary_images)
    terms = model.loss_terms(binary_images, outputs)
    kl = losses.gaussian_log_density(outputs["z"], outputs["mean"], outputs["log_var"]) - model.prior.log_prob(
        outputs["z"])
    np.testing.assert_allclose(terms["loss"], terms["reconstruction"] + np.mean(kl), rtol=1e-4)
    weighted = small_tcvae(alpha=0.5, beta=6.0, gamma=2.0)
    outputs = weighted(binary_images)
    t = weighted.loss_terms(binary_images, outputs)
    np.testing.assert_allclose(t["loss"], t["reconstruction"] + 0.5 * t["mutual_information"]
                               + 6.0 * t["total_correlation"] + 2.0 * t["dimensionwise_kl"], rtol=1e-5)


def test_beta_tcvae_learns_small_dsprites():
    images, _ = DSprites(resolution=16).sample(512, seed=0)
    model = BetaTCVAE((16, 16, 1), latent_dim=4, beta=6.0, dataset_size=512,
                      prior="diagonal_gaussian", seed=0)
    model.compile(keras.optimizers.Adam(2e-3))
    history = model.fit(images, batch_size=64, epochs=6, verbose=0).history
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    assert history["reconstruction"][-1] < 0.6 * history["reconstruction"][0]


def test_from_data_takes_the_dataset_size_from_the_data(binary_images):
    model = BetaTCVAE.from_data(binary_images[:100], latent_dim=2)
    assert model.dataset_size == 100 and model.input_shape == (8, 8, 1)
    assert BetaTCVAE.from_data(binary_images, latent_dim=2, dataset_size=5000).dataset_size == 5000


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"dataset_size": None}, ValueError, "`dataset_size` is required"),
        ({"dataset_size": 0}, ValueError, "`dataset_size` must be a positive integer; got 0"),
        ({"dataset_size": 10.5}, TypeError, "`dataset_size` must be a positive integer"),
        ({"estimator": "exact"}, ValueError, "Unknown `estimator` 'exact'; expected one of: mws, mss"),
        ({"alpha": -1.0}, ValueError, "`alpha` must be a finite number ≥ 0"),
        ({"gamma": float("nan")}, ValueError, "`gamma` must be a finite number"),
        ({"prior": "gaussian_mixture"}, TypeError, "needs a prior that factorises .* got GaussianMixture"),
    ],
)
def test_bad_arguments_are_rejected_clearly(kwargs, error, message):
    with pytest.raises(error, match=message):
        BetaTCVAE((8, 8, 1), **{"latent_dim": 2, "dataset_size": 100, **kwargs})


def test_a_batch_larger_than_the_dataset_size_is_rejected_clearly(binary_images):
    """N < M makes the stratified weights negative and q(z) NaN: the loss says so instead."""
    z, mean, log_var = posteriors(8, 2)
    with pytest.raises(ValueError, match="`dataset_size` must be the number N of training examples.*N=4 for a batch of 8"):
        losses.aggregate_posterior_log_density(z, mean, log_var, 4, "mss")
    model = BetaTCVAE((8, 8, 1), latent_dim=2, dataset_size=4)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="N=4 for a batch of 16"):
        model.fit(binary_images[:32], batch_size=16, epochs=1, verbose=0)
