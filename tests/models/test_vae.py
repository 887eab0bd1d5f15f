"""BetaVAE / VAE: the networks, the objective, the bounds and the VAE-specific arguments.

The model contract (round trips, seeds, bad data, resuming, XLA, MirroredStrategy) is checked
for every registered model in ``test_contract.py``."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgen import distributions
from kgen.layers.networks import default_decoder, default_encoder, downsampling_stages
from kgen.models import VAE, BetaVAE


def small_vae(**kwargs):
    kwargs.setdefault("latent_dim", 2)
    kwargs.setdefault("seed", 1)
    return BetaVAE((8, 8, 1), **kwargs)


@pytest.mark.parametrize(
    "shape, stages", [((64, 64, 1), 4), ((28, 28, 1), 2), ((8, 8, 1), 1), ((30, 30, 3), 1), ((7, 9, 2), 0), ((2,), 0)]
)
def test_default_networks_fit_any_shape(shape, stages):
    if len(shape) == 3:
        assert downsampling_stages(*shape[:2]) == stages
    encoder, decoder = default_encoder(shape, 6), default_decoder(3, shape)
    assert encoder(np.zeros((2, *shape), "float32")).shape == (2, 6)
    assert decoder(np.zeros((2, 3), "float32")).shape == (2, *shape)


def test_encoder_decoder_prior_and_bounds_have_the_documented_shapes(binary_images):
    model = small_vae()
    x = binary_images[:5]
    q = model.encode(x)
    assert q.batch_shape == (5,) and q.event_shape == (2,)
    p_x = model.decode(q.sample(seed=(1, 2)))
    assert p_x.batch_shape == (5,) and p_x.event_shape == (8, 8, 1)
    assert model.prior.event_shape == (2,)
    assert model.reconstruct(x).shape == x.shape
    assert model.elbo(x).shape == (5,) and model.iwae_bound(x, k=3).shape == (5,)
    samples = model.sample(7, seed=0).numpy()
    assert samples.min() >= 0 and samples.max() <= 1
    binary = model.sample(7, seed=0, mean=False).numpy()
    assert set(np.unique(binary)) <= {0.0, 1.0}


def test_loss_is_the_reconstruction_plus_beta_times_the_kl(binary_images):
    model = small_vae(beta=3.0)
    terms = model.loss_terms(binary_images, model(binary_images))
    np.testing.assert_allclose(terms["loss"], terms["reconstruction"] + 3.0 * terms["kl"], rtol=1e-6)


def test_the_plain_vae_is_a_beta_vae_with_beta_one_and_no_capacity(binary_images):
    vae = VAE((8, 8, 1), latent_dim=2, seed=1)
    assert isinstance(vae, BetaVAE) and float(vae.beta.numpy()) == 1.0 and not vae.use_capacity
    assert {"beta", "capacity"}.isdisjoint(vae.get_config())
    assert {"beta", "capacity"}.isdisjoint(VAE.constructor_arguments())
    terms = vae.loss_terms(binary_images, vae(binary_images))
    np.testing.assert_allclose(terms["loss"], terms["reconstruction"] + terms["kl"], rtol=1e-6)


def test_capacity_objective_is_beta_times_distance_to_capacity(binary_images):
    model = small_vae(beta=10.0, capacity=5.0)
    terms = model.loss_terms(binary_images, model(binary_images))
    expected = terms["reconstruction"] + 10.0 * abs(float(terms["kl"]) - 5.0)
    np.testing.assert_allclose(terms["loss"], expected, rtol=1e-5)


def test_iwae_bound_with_one_sample_estimates_the_elbo_and_rises_with_k(binary_images):
    model = small_vae()
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(binary_images, batch_size=32, epochs=10, verbose=0)  # an informative posterior
    x = np.repeat(binary_images[:4], 500, axis=0)
    elbo = model.elbo(x, seed=0).numpy().reshape(4, 500)
    iwae_1 = model.iwae_bound(x, k=1, seed=1).numpy().reshape(4, 500)
    error = np.sqrt(elbo.var(1) / 500 + iwae_1.var(1) / 500)
    np.testing.assert_array_less(np.abs(elbo.mean(1) - iwae_1.mean(1)), 4 * error)
    bounds = [model.iwae_bound(binary_images, k=k, seed=2).numpy().mean() for k in (1, 10, 100)]
    assert bounds[0] + 0.05 < bounds[1] < bounds[2]


def test_a_custom_beta_vae_round_trips_its_likelihood_prior_networks_and_weights(tmp_path):
    """The contract suite saves the default β-VAE; this one has everything swapped: a learned
    Gaussian likelihood, a mixture prior, custom networks, a capacity, and a β changed after
    training (a variable, as annealing callbacks change it)."""
    model = BetaVAE(
        (6,),
        latent_dim=3,
        beta=2.0,
        capacity=1.0,
        likelihood=distributions.Gaussian(0.5, learn_scale=True),
        prior="gaussian_mixture",
        encoder=keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, "tanh"), keras.layers.Dense(6)]),
        decoder=keras.Sequential([keras.Input((3,)), keras.layers.Dense(16, "tanh"), keras.layers.Dense(6)]),
        seed=2,
    )
    x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(x, batch_size=16, epochs=1, verbose=0)
    model.beta.assign(1.5)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.likelihood, distributions.Gaussian)
    assert type(loaded.latent_prior) is type(model.latent_prior)
    assert float(loaded.beta.numpy()) == 1.5 and float(loaded.capacity.numpy()) == 1.0
    for saved, restored in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy(), err_msg=saved.path)
    np.testing.assert_array_equal(loaded.elbo(x[:8], seed=5), model.elbo(x[:8], seed=5))
    np.testing.assert_array_equal(loaded.sample(5, seed=6), model.sample(5, seed=6))


def test_fit_from_a_dataset_of_images_and_labels_trains_on_the_images(binary_images):
    model = small_vae()
    model.compile(keras.optimizers.Adam(1e-2))
    labels = np.arange(len(binary_images))
    dataset = tf.data.Dataset.from_tensor_slices((binary_images, labels)).batch(32)
    history = model.fit(dataset, epochs=3, shuffle=False, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]


def test_a_gaussian_likelihood_declares_no_range_and_trains_on_unbounded_data():
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32") * 10
    model = BetaVAE((3,), latent_dim=2, likelihood="gaussian", seed=0)
    assert model.input_range is None
    model.compile()
    history = model.fit(x, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"]).all() and np.isfinite(model.elbo(x, seed=0)).all()
    bernoulli = BetaVAE((3,), latent_dim=2, seed=0)  # the same data, a bounded likelihood
    assert bernoulli.input_range[:2] == (0.0, 1.0)
    with pytest.raises(ValueError, match=r"must lie in \[0.0, 1.0\] for a Bernoulli likelihood"):
        bernoulli.elbo(x)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"latent_dim": 0}, ValueError, "`latent_dim` must be a positive integer; got 0"),
        ({"beta": -1.0}, ValueError, "`beta` must be a finite number ≥ 0; got -1.0"),
        ({"likelihood": "poisson"}, ValueError, "Unknown `likelihood` 'poisson'"),
        ({"encoder": keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])},
         ValueError, r"`encoder` must map .* to \(batch, 4\); it gives \(batch, 3\)"),
        ({"decoder": "mlp"}, TypeError, "`decoder` must be a Keras layer or model; got str"),
    ],
)
def test_bad_arguments_are_rejected_clearly(kwargs, error, message):
    kwargs = {"input_shape": (8, 8, 1), "latent_dim": 2, **kwargs}
    with pytest.raises(error, match=message):
        BetaVAE(**kwargs)


def test_the_iwae_bound_needs_a_positive_number_of_samples():
    model = small_vae()
    with pytest.raises(ValueError, match="`k` must be a positive integer"):
        model.iwae_bound(np.zeros((2, 8, 8, 1), "float32"), k=0)
    with pytest.raises(ValueError, match="`iwae_k` must be a positive integer"):
        model.evaluation_figures(np.zeros((2, 8, 8, 1), "float32"), iwae_k=0)


def test_iwae_bound_in_small_chunks_estimates_the_same_bound(binary_images, monkeypatch):
    import kgen.models.vae as vae_module

    model = small_vae()
    whole = model.iwae_bound(binary_images, k=8, seed=0).numpy()
    monkeypatch.setattr(vae_module, "DECODE_BUDGET", 8 * 64 * 5)  # chunks of 5 examples
    chunked = model.iwae_bound(binary_images, k=8, seed=0).numpy()
    assert chunked.shape == whole.shape == (128,)
    difference = chunked - whole
    assert abs(difference.mean()) < 4 * difference.std() / np.sqrt(128) + 1e-3
