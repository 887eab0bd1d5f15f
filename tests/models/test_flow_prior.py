"""A vector flow as the prior of a β-VAE: exact log p(z), a Monte Carlo KL, trained and saved with it."""

import keras
import numpy as np
import pytest

from kgen import distributions, losses
from kgen.distributions import FlowPrior
from kgen.models import MAF, BetaVAE, Glow, RealNVP


def flow_prior_vae(prior, seed=1):
    return BetaVAE((6,), latent_dim=2, likelihood="gaussian", prior=prior, seed=seed)


def data(n=256):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n, 2)).astype("float32")
    return np.concatenate([z, z**2, np.sin(z)], axis=1)


def test_a_flow_prior_is_the_flows_density_and_its_kl_is_the_monte_carlo_estimate():
    flow = MAF((2,), num_mades=2, hidden_units=(8, 8), seed=0)
    vae = flow_prior_vae(flow)
    assert isinstance(vae.latent_prior, FlowPrior) and vae.latent_prior.flow is flow
    rng = np.random.default_rng(1)
    mean, log_var = rng.normal(size=(5, 2)).astype("float32"), rng.normal(size=(5, 2)).astype("float32")
    z = losses.reparameterize(mean, log_var, seed=0)
    np.testing.assert_allclose(vae.prior.log_prob(z), flow.log_prob(z.numpy()), rtol=1e-6)
    expected = losses.gaussian_log_density(z, mean, log_var) - flow.log_prob(z.numpy())
    np.testing.assert_allclose(vae.latent_prior.kl(mean, log_var, z), expected, rtol=1e-5)


def test_a_vae_with_a_flow_prior_trains_the_flow_and_round_trips_exactly(tmp_path):
    flow = RealNVP((2,), num_couplings=2, hidden_units=8, seed=0)
    vae = flow_prior_vae(flow)
    start = [w.numpy().copy() for w in flow.trainable_weights]
    vae.compile(keras.optimizers.Adam(1e-2))
    history = vae.fit(data(), batch_size=64, epochs=4, verbose=0).history
    assert set(history) == {"loss", "reconstruction", "kl"}
    assert history["loss"][-1] < history["loss"][0]
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(start, flow.trainable_weights)), "the prior must train"
    vae.save(tmp_path / "vae.keras")
    loaded = keras.models.load_model(tmp_path / "vae.keras")
    assert isinstance(loaded.latent_prior, FlowPrior)
    x = data(8)
    np.testing.assert_array_equal(loaded.elbo(x, seed=3), vae.elbo(x, seed=3))
    np.testing.assert_array_equal(loaded.sample(4, seed=2), vae.sample(4, seed=2))


@pytest.mark.parametrize(
    "prior, error, message",
    [
        (MAF((3,), num_mades=1, hidden_units=(4,)), ValueError, "`prior` is over 3 dimensions but `latent_dim` is 2"),
        (Glow((4, 4, 1), num_scales=1, steps_per_scale=1, hidden_units=4), TypeError, "`flow` must be a vector kgen Flow"),
    ],
)
def test_flow_priors_of_the_wrong_kind_are_rejected(prior, error, message):
    with pytest.raises(error, match=message):
        flow_prior_vae(prior)


def test_resolve_prior_still_rejects_other_objects():
    with pytest.raises(TypeError, match="a vector kgen Flow; got int"):
        distributions.resolve_prior(3, 2)
