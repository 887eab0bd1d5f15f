"""FactorVAE: permute_dims, the density-ratio TC estimate, the two players and their step.

The model contract (both optimizers in round trips and resumed runs, seeds, bad data, XLA,
MirroredStrategy) is checked for every registered model in ``test_contract.py``."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgen import losses
from kgen.data import DSprites
from kgen.layers import tc_discriminator
from kgen.models import FactorVAE


def small_factor_vae(**kwargs):
    kwargs.setdefault("latent_dim", 2)
    kwargs.setdefault("seed", 1)
    kwargs.setdefault("discriminator", tc_discriminator(kwargs["latent_dim"], units=16, layers=2))
    return FactorVAE((8, 8, 1), **kwargs)


def test_permute_dims_shuffles_each_column_on_its_own_and_repeats_with_a_seed():
    z = np.arange(200, dtype="float32").reshape(100, 2) * np.array([1.0, -1.0], "float32")
    shuffled = losses.permute_dims(z, seed=3).numpy()
    for column in range(2):
        np.testing.assert_array_equal(np.sort(shuffled[:, column]), np.sort(z[:, column]))
    assert np.mean(shuffled[:, 0] + 1 == -shuffled[:, 1]) < 0.1  # rows (2i, −2i − 1): pairing broken
    np.testing.assert_array_equal(shuffled, losses.permute_dims(z, seed=3).numpy())
    assert not np.array_equal(shuffled, losses.permute_dims(z, seed=4).numpy())


def test_a_trained_discriminator_estimates_the_total_correlation_of_correlated_gaussians():
    """For a 2-D Gaussian with correlation ρ, TC = I(z_1; z_2) = −½ log(1 − ρ²) (0.83 nats at ρ = 0.9)."""
    rng = np.random.default_rng(0)

    def estimate(rho):
        keras.utils.set_random_seed(0)
        discriminator = tc_discriminator(2, units=64, layers=2)
        optimizer = keras.optimizers.Adam(3e-3)
        cov = np.array([[1.0, rho], [rho, 1.0]])

        @tf.function
        def step(z, z_other):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(losses.tc_discriminator_loss(
                    discriminator(z), discriminator(losses.permute_dims(z_other, seed=None))))
            variables = discriminator.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

        for _ in range(400):
            z, z_other = rng.multivariate_normal([0, 0], cov, size=(2, 256)).astype("float32")
            step(z, z_other)
        test = rng.multivariate_normal([0, 0], cov, size=20000).astype("float32")
        return float(np.mean(losses.density_ratio_total_correlation(discriminator(test))))

    assert estimate(0.9) == pytest.approx(-0.5 * np.log(1 - 0.81), abs=0.25)
    assert abs(estimate(0.0)) < 0.1


def test_fit_reports_both_players_and_the_loss_is_the_vae_objective_plus_gamma_tc(binary_images):
    model = small_factor_vae(gamma=10.0)
    model.compile(keras.optimizers.Adam(1e-3), discriminator_optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(binary_images, batch_size=32, epochs=2, verbose=0).history
    assert 0.0 <= history["discriminator_accuracy"][-1] <= 1.0
    terms = model.loss_terms(binary_images, model(binary_images))
    np.testing.assert_allclose(terms["loss"], terms["reconstruction"] + terms["kl"] + 10.0 * terms["tc"], rtol=1e-5)
    reported = model.evaluate(binary_images, batch_size=32, verbose=0, return_dict=True)
    assert set(reported) == set(history)
    # The reported loss is the VAE player's objective, averaged like its terms.
    assert reported["loss"] == pytest.approx(reported["reconstruction"] + reported["kl"] + 10.0 * reported["tc"],
                                             rel=1e-4)
    for epoch in range(2):
        assert history["loss"][epoch] == pytest.approx(
            history["reconstruction"][epoch] + history["kl"][epoch] + 10.0 * history["tc"][epoch], rel=1e-4)


def test_each_optimizer_moves_only_its_own_player(binary_images):
    def weights_after_one_step(vae_rate, discriminator_rate):
        model = small_factor_vae()
        model.compile(keras.optimizers.SGD(vae_rate), discriminator_optimizer=keras.optimizers.SGD(discriminator_rate))
        before = [v.numpy().copy() for v in model.trainable_variables]
        model.fit(binary_images[:32], batch_size=32, epochs=1, verbose=0)
        moved = {id(v) for v, b in zip(model.trainable_variables, before) if not np.array_equal(v.numpy(), b)}
        discriminator = {id(v) for v in model.discriminator.trainable_variables}
        vae, other = model.players()
        assert [v.path for v in other.variables] == [v.path for v in model.discriminator.trainable_variables]
        return moved, {id(v) for v in vae.variables}, discriminator

    moved, vae, discriminator = weights_after_one_step(0.1, 0.0)
    assert moved and moved <= vae
    moved, vae, discriminator = weights_after_one_step(0.0, 0.1)
    assert moved == discriminator


def test_factor_vae_learns_small_dsprites():
    images, _ = DSprites(resolution=16).sample(512, seed=0)
    model = FactorVAE((16, 16, 1), latent_dim=4, gamma=10.0, discriminator=tc_discriminator(4, 64, 2), seed=0)
    model.compile(keras.optimizers.Adam(2e-3), discriminator_optimizer=keras.optimizers.Adam(1e-3, 0.5, 0.9))
    history = model.fit(images, batch_size=64, epochs=8, verbose=0).history
    assert history["reconstruction"][-1] < 0.6 * history["reconstruction"][0]
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    assert np.all(np.isfinite(history["tc"]))


def test_paper_optimizers_are_the_defaults():
    model = small_factor_vae()
    model.compile()
    vae, disc = model.optimizer, model.discriminator_optimizer
    assert (float(vae.learning_rate), vae.beta_1, vae.beta_2) == pytest.approx((1e-4, 0.9, 0.999))
    assert (float(disc.learning_rate), disc.beta_1, disc.beta_2) == pytest.approx((1e-4, 0.5, 0.9))
    # Each optimizer holds slots for its own player only.
    assert len(disc.variables) == 2 + 2 * len(model.discriminator.trainable_variables)
    assert len(vae.variables) == 2 + 2 * len(model.players()[0].variables)
    assert len(model.players()[0].variables) + len(model.discriminator.trainable_variables) == len(
        model.trainable_variables)


def test_default_discriminator_is_the_papers_six_by_thousand_leaky_relu_mlp():
    discriminator = FactorVAE((8, 8, 1), latent_dim=3).discriminator
    dense = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [1000] * 6 + [2]
    leaky = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.LeakyReLU)]
    assert len(leaky) == 6 and all(layer.negative_slope == pytest.approx(0.2) for layer in leaky)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"gamma": -1.0}, ValueError, "`gamma` must be a finite number ≥ 0; got -1.0"),
        ({"discriminator": keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])}, ValueError,
         r"`discriminator` must map .* to \(batch, 2\); it gives \(batch, 1\)"),
        ({"discriminator": "mlp"}, TypeError, "`discriminator` must be a Keras layer or model; got str"),
        ({"latent_dim": 0}, ValueError, "`latent_dim` must be a positive integer"),
    ],
)
def test_bad_arguments_are_rejected_clearly(kwargs, error, message):
    with pytest.raises(error, match=message):
        FactorVAE((8, 8, 1), **{"latent_dim": 2, **kwargs})


def test_a_batch_of_one_cannot_be_split_between_the_players():
    model = small_factor_vae()
    model.compile()
    with pytest.raises(ValueError, match="`batch_size` must be at least 2; got 1"):
        model.fit(np.zeros((8, 8, 8, 1), "float32"), batch_size=1, verbose=0)
    assert int(model.optimizer.iterations) == int(model.discriminator_optimizer.iterations) == 0
