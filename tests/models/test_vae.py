"""BetaVAE / VAE: the model contract, the bounds, serialization, seeds and input checks."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from contract import assert_resuming_matches_an_uninterrupted_run

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


def test_the_contract_shapes(binary_images):
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
    assert samples.shape == (7, 8, 8, 1) and samples.min() >= 0 and samples.max() <= 1
    binary = model.sample(7, seed=0, mean=False).numpy()
    assert set(np.unique(binary)) <= {0.0, 1.0}


def test_fit_reports_named_losses_and_loss_is_their_beta_weighted_sum(binary_images):
    model = small_vae(beta=3.0)
    model.compile(keras.optimizers.Adam(1e-3))
    history = model.fit(binary_images, batch_size=32, epochs=1, verbose=0).history
    assert {"loss", "reconstruction", "kl"} <= set(history)
    outputs = model(binary_images)
    terms = model.loss_terms(binary_images, outputs)
    np.testing.assert_allclose(terms["loss"], terms["reconstruction"] + 3.0 * terms["kl"], rtol=1e-6)


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


def test_same_seed_same_samples_and_unseeded_calls_differ():
    model = small_vae()
    a, b = model.sample(4, seed=3).numpy(), model.sample(4, seed=3).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, model.sample(4, seed=4).numpy())
    assert not np.array_equal(model.sample(4).numpy(), model.sample(4).numpy())


def _as_json(config):
    """The config as a JSON file would hold it (Keras' own configs mix tuples and lists)."""
    return json.loads(json.dumps(config))


def _round_trip(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    return keras.models.load_model(path)


@pytest.mark.parametrize(
    "make",
    [
        lambda: small_vae(beta=4.0),
        lambda: VAE((8, 8, 1), latent_dim=2, seed=1),
        lambda: BetaVAE(
            (6,),
            latent_dim=3,
            beta=2.0,
            capacity=1.0,
            likelihood=distributions.Gaussian(0.5, learn_scale=True),
            prior="gaussian_mixture",
            encoder=keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, "tanh"), keras.layers.Dense(6)]),
            decoder=keras.Sequential([keras.Input((3,)), keras.layers.Dense(16, "tanh"), keras.layers.Dense(6)]),
            seed=2,
        ),
    ],
    ids=["beta_vae", "vae", "custom_networks_mixture_prior_learned_gaussian"],
)
def test_keras_file_round_trip_is_exact(make, tmp_path):
    model = make()
    x = (np.random.default_rng(0).random((64, *model.data_shape)) > 0.5).astype("float32")
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(x, batch_size=16, epochs=1, verbose=0)
    model.beta.assign(1.5)
    loaded = _round_trip(model, tmp_path)
    assert type(loaded) is type(model)
    assert _as_json(loaded.get_config()) == _as_json(model.get_config())
    np.testing.assert_array_equal(loaded.elbo(x[:8], seed=5), model.elbo(x[:8], seed=5))
    np.testing.assert_array_equal(loaded.sample(5, seed=6), model.sample(5, seed=6))
    assert float(loaded.beta.numpy()) == 1.5
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 4
    for saved, restored in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())


def test_training_resumed_by_backup_and_restore_ends_where_an_uninterrupted_run_ends(binary_images, tmp_path):
    def make_compiled_model():
        model = small_vae()
        model.compile(keras.optimizers.Adam(1e-3))
        return model

    assert_resuming_matches_an_uninterrupted_run(make_compiled_model, binary_images, tmp_path)


@pytest.mark.parametrize("jit_compile", [True, False])
def test_fit_works_with_and_without_xla_and_from_a_dataset_with_labels(binary_images, jit_compile):
    model = small_vae()
    model.compile(keras.optimizers.Adam(1e-2), jit_compile=jit_compile)
    labels = np.arange(len(binary_images))
    dataset = tf.data.Dataset.from_tensor_slices((binary_images, labels)).batch(32)
    history = model.fit(dataset, epochs=3, shuffle=False, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]


@pytest.mark.parametrize(
    "x, error, message",
    [
        (np.zeros((8, 8, 8), "float32"), ValueError, r"shape \(batch, 8, 8, 1\); got \(8, 8, 8\)"),
        (np.zeros((8, 8, 8, 1), "uint8"), TypeError, "floating-point"),
        (np.full((8, 8, 8, 1), np.nan, "float32"), ValueError, "NaN or infinite"),
        (np.full((8, 8, 8, 1), 255.0, "float32"), ValueError, r"\[0.0, 1.0\] for a Bernoulli likelihood"),
    ],
)
def test_bad_data_is_rejected_before_training_starts(x, error, message):
    model = small_vae()
    model.compile()
    with pytest.raises(error, match=message):
        model.fit(x, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 0
    with pytest.raises(error, match=message):
        model.elbo(x)


def test_gaussian_likelihood_accepts_unbounded_data():
    model = BetaVAE((3,), latent_dim=2, likelihood="gaussian")
    model.compile()
    model.fit(np.random.default_rng(0).normal(size=(32, 3)).astype("float32") * 10, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"input_shape": 64}, TypeError, "`input_shape` must be a tuple of positive ints"),
        ({"latent_dim": 0}, ValueError, "`latent_dim` must be a positive integer; got 0"),
        ({"beta": -1.0}, ValueError, "`beta` must be a finite number ≥ 0; got -1.0"),
        ({"likelihood": "poisson"}, ValueError, "Unknown `likelihood` 'poisson'"),
        ({"encoder": keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])},
         ValueError, r"`encoder` must map .* to \(batch, 4\); it gives \(batch, 3\)"),
        ({"decoder": "mlp"}, TypeError, "`decoder` must be a Keras layer or model; got str"),
        ({"seed": -2}, ValueError, "`seed` must be None or a non-negative integer"),
    ],
)
def test_bad_arguments_are_rejected_clearly(kwargs, error, message):
    kwargs = {"input_shape": (8, 8, 1), "latent_dim": 2, **kwargs}
    with pytest.raises(error, match=message):
        BetaVAE(**kwargs)


def test_bad_sample_and_compile_arguments():
    model = small_vae()
    with pytest.raises(ValueError, match="`n` must be a positive integer; got 0"):
        model.sample(0)
    with pytest.raises(ValueError, match="computes its own loss"):
        model.compile(loss="mse")
    with pytest.raises(ValueError, match="`k` must be a positive integer"):
        model.iwae_bound(np.zeros((2, 8, 8, 1), "float32"), k=0)


def test_iwae_bound_in_small_chunks_estimates_the_same_bound(binary_images, monkeypatch):
    import kgen.models.vae as vae_module

    model = small_vae()
    whole = model.iwae_bound(binary_images, k=8, seed=0).numpy()
    monkeypatch.setattr(vae_module, "DECODE_BUDGET", 8 * 64 * 5)  # chunks of 5 examples
    chunked = model.iwae_bound(binary_images, k=8, seed=0).numpy()
    assert chunked.shape == whole.shape == (128,)
    difference = chunked - whole
    assert abs(difference.mean()) < 4 * difference.std() / np.sqrt(128) + 1e-3
