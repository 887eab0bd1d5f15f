"""Priors and likelihoods: TFP objects agree with kgen's formulas; KL terms agree with their definition."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgen import distributions, losses


@pytest.mark.parametrize("name", sorted(distributions.PRIORS))
def test_prior_kl_equals_its_definition_in_expectation(name):
    """KL(q ‖ p) = E_q[log q(z) − log p(z)]: each prior's kl() agrees with a large Monte Carlo mean."""
    prior = distributions.resolve_prior(name, 2)
    mean = np.array([[0.5, -1.0]], "float32")
    log_var = np.array([[-1.0, 0.5]], "float32")
    n = 100_000
    z = losses.reparameterize(np.repeat(mean, n, 0), np.repeat(log_var, n, 0), seed=0)
    samples = (losses.gaussian_log_density(z, mean, log_var) - prior.log_prob(z)).numpy()
    kl = prior.kl(np.repeat(mean, n, 0), np.repeat(log_var, n, 0), z).numpy()
    assert kl.shape == (n,)
    assert abs(kl.mean() - samples.mean()) < 4 * samples.std() / np.sqrt(n) + 1e-3


@pytest.mark.parametrize("name", sorted(distributions.PRIORS))
def test_prior_density_integrates_to_one_in_2d(name):
    prior = distributions.resolve_prior(name, 2)
    grid = np.linspace(-8, 8, 401, dtype="float32")
    points = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    mass = np.exp(prior.log_prob(points).numpy()).sum() * (grid[1] - grid[0]) ** 2
    assert abs(mass - 1.0) < 1e-3


def test_prior_samples_follow_the_prior_and_repeat_with_a_seed():
    prior = distributions.GaussianMixture(2, num_components=3, seed=1)
    a = prior.sample(20_000, seed=5).numpy()
    np.testing.assert_array_equal(a, prior.sample(20_000, seed=5).numpy())
    assert not np.array_equal(a, prior.sample(20_000, seed=6).numpy())
    expected_mean = (tf.nn.softmax(prior.logits)[:, None] * prior.locs).numpy().sum(0)
    np.testing.assert_allclose(a.mean(0), expected_mean, atol=0.05)


def test_learned_priors_own_trainable_keras_weights():
    assert len(distributions.DiagonalGaussian(3).trainable_weights) == 2
    assert len(distributions.GaussianMixture(3, 4).trainable_weights) == 3
    assert distributions.StandardNormal(3).trainable_weights == []


@pytest.mark.parametrize(
    "likelihood, x",
    [
        (distributions.Bernoulli(), (np.random.default_rng(0).random((4, 3, 3, 1)) > 0.5).astype("float32")),
        (distributions.Gaussian(scale=0.2), np.random.default_rng(0).normal(size=(4, 6)).astype("float32")),
    ],
)
def test_likelihood_log_prob_equals_its_tfp_distribution(likelihood, x):
    params = np.random.default_rng(1).normal(size=x.shape).astype("float32")
    dist = likelihood.distribution(params)
    assert dist.event_shape == x.shape[1:]
    np.testing.assert_allclose(likelihood.log_prob(x, params), dist.log_prob(x), rtol=1e-5)
    np.testing.assert_allclose(likelihood.mean(params), dist.mean(), rtol=1e-5)


def test_learned_gaussian_scale_is_trainable_and_fixed_scale_is_not():
    assert len(distributions.Gaussian(learn_scale=True).trainable_weights) == 1
    assert distributions.Gaussian(scale=0.5).trainable_weights == []


def test_likelihood_and_prior_round_trip_through_keras_serialization():
    for layer in (distributions.Gaussian(0.3, learn_scale=True), distributions.GaussianMixture(4, 5, seed=2)):
        clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def test_unknown_names_and_wrong_types_are_rejected_clearly():
    with pytest.raises(ValueError, match="prior.*'laplace'.*standard_normal"):
        distributions.resolve_prior("laplace", 2)
    with pytest.raises(ValueError, match="likelihood.*'poisson'.*bernoulli"):
        distributions.resolve_likelihood("poisson")
    with pytest.raises(TypeError, match="`prior` must be"):
        distributions.resolve_prior(3, 2)
    with pytest.raises(ValueError, match="over 3 dimensions but `latent_dim` is 2"):
        distributions.resolve_prior(distributions.StandardNormal(3), 2)
    with pytest.raises(ValueError, match="`scale` must be a finite number > 0; got -1"):
        distributions.Gaussian(scale=-1)
