"""DDGAN: the real pairs, the posterior-sampling step, the losses with lazy R1, the players'
turns, the generator's moving average, learning on a tiny budget, images and argument errors.
(Config, ``.keras`` files, seeds and bad data: the contract suite.)"""

import keras
import numpy as np
import pytest
from keras import ops

from kgen.data import toy2d
from kgen.layers.diffusion_networks import (
    time_discriminator_conv,
    time_discriminator_mlp,
    time_mlp,
    time_unet,
)
from kgen.metrics import energy_distance
from kgen.models import DDGAN
from kgen.models.ddgan import paper_discriminator_optimizer, paper_generator_optimizer


def tiny_networks(latent_dim=2, dim=2):
    return {"generator": time_mlp(dim, hidden_units=(16,), embedding_dim=4, latent_dim=latent_dim, mapping_layers=1),
            "discriminator": time_discriminator_mlp(dim, hidden_units=(16,), embedding_dim=4)}


def tiny_model(**kwargs):
    kwargs.setdefault("latent_dim", 2)
    for name, network in tiny_networks(kwargs["latent_dim"]).items():
        kwargs.setdefault(name, network)
    kwargs.setdefault("seed", 1)
    return DDGAN((2,), **kwargs)


@keras.saving.register_keras_serializable(package="kgen_tests")
class ConstantGenerator(keras.layers.Layer):
    """[x_t, t, z] → c for every input: the perfect generator for data that are the point c."""

    def __init__(self, point, **kwargs):
        super().__init__(**kwargs)
        self.point = [float(v) for v in point]
        self.unused = self.add_weight(shape=(), initializer="zeros", name="unused")

    def call(self, inputs):
        x_t = inputs[0]
        return ops.zeros_like(x_t) + ops.convert_to_tensor(self.point) + 0.0 * self.unused

    def get_config(self):
        return {**super().get_config(), "point": self.point}


@keras.saving.register_keras_serializable(package="kgen_tests")
class LinearDiscriminator(keras.layers.Layer):
    """[x_prev, x_t, t] → a·x_prev + b·x_t: its input gradient is a, so R1 = ‖a‖²."""

    def __init__(self, a, b, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = [float(v) for v in a], [float(v) for v in b]

    def build(self, input_shape):
        self.weight_a = self.add_weight(shape=(len(self.a),), initializer=keras.initializers.Constant(self.a), name="a")

    def call(self, inputs):
        x_prev, x_t, t = inputs
        b = ops.convert_to_tensor(self.b)
        return ops.sum(x_prev * self.weight_a + x_t * b, axis=-1, keepdims=True) + 0.0 * t

    def get_config(self):
        return {**super().get_config(), "a": self.a, "b": self.b}


# ------------------------------------------------------------------------------- the process
def test_the_default_schedule_is_the_papers_vp_schedule_with_four_steps():
    model = tiny_model()
    assert model.num_timesteps == 4 and model.latent_dim == 2
    np.testing.assert_allclose(model.diffusion.betas, [0.478, 0.849, 0.956, 0.987], atol=2e-3)
    assert model.network_evaluations() == 4


def test_real_pairs_are_one_forward_step_apart():
    """x_{t−1} ~ q(x_{t−1} | x_0) and x_t = √(1 − β_t) x_{t−1} + √β_t ε: for data at the point c,
    x_t − √(1 − β_t) x_{t−1} has mean 0 and variance β_t, and x_{t−1} mean √ᾱ_{t−1} c."""
    model = tiny_model(seed=0)
    c = np.array([1.5, -0.5], "float32")
    t, x_prev, x_t = (ops.convert_to_numpy(v) for v in model._real_pair(ops.convert_to_tensor(np.tile(c, (40_000, 1)))))
    for step in range(4):
        chosen = t == step
        beta, alpha_bar_prev = model.diffusion.betas[step], model.diffusion.alphas_cumprod_prev[step]
        increment = x_t[chosen] - np.sqrt(1 - beta) * x_prev[chosen]
        np.testing.assert_allclose(increment.mean(0), 0.0, atol=0.03)
        np.testing.assert_allclose(increment.var(0), beta, rtol=0.05)
        np.testing.assert_allclose(x_prev[chosen].mean(0), np.sqrt(alpha_bar_prev) * c, atol=0.03)
    assert np.allclose(x_prev[t == 0], c)  # the step from the data: x_{−1} is x_0 itself


def test_a_perfect_generator_of_point_data_samples_the_point_exactly():
    """With x̂_0 = c, every reverse step draws from the true posterior q(x_{t−1} | x_t, c), and
    the last one (t = 0, no noise) lands on c."""
    c = [0.7, -1.2]
    model = tiny_model(generator=ConstantGenerator(c), ema_decay=0.0)
    samples = ops.convert_to_numpy(model.sample(64, seed=0))
    np.testing.assert_allclose(samples, np.tile(c, (64, 1)), atol=1e-5)


def test_the_reverse_step_is_the_forward_posterior_given_the_generators_x0():
    model = tiny_model(generator=ConstantGenerator([0.0, 0.0]))
    x_t = np.full((20_000, 2), 2.0, "float32")
    noise = np.random.default_rng(0).standard_normal(x_t.shape).astype("float32")
    z = np.zeros((20_000, 2), "float32")
    step = ops.convert_to_numpy(model.reverse_step(x_t, 2, z, noise))
    mean, variance, _ = model.diffusion.posterior_mean_variance(np.zeros_like(x_t), x_t, 2)
    np.testing.assert_allclose(step.mean(0), ops.convert_to_numpy(mean)[0], atol=0.02)
    np.testing.assert_allclose(step.var(0), ops.convert_to_numpy(variance)[0], rtol=0.05)


# ---------------------------------------------------------------------------------- the losses
def test_discriminator_terms_are_the_softplus_losses_with_r1_on_real_pairs():
    a, b = [0.3, -0.4], [0.2, 0.1]
    model = tiny_model(discriminator=LinearDiscriminator(a, b), r1_gamma=0.5, lazy_r1_interval=3)
    x = toy2d("8gaussians", 32, seed=0).astype("float32")
    state = ops.copy(model.seed_generator.state)
    terms = model.player_terms(x, None, training=False)
    # The same draws, recomputed by hand.
    model.seed_generator.state.assign(state)
    x0 = model.space.encode(x)
    t, x_prev, x_t = model._real_pair(x0)
    fake = model._fake(x_t, t, training=False)

    def logits(u, v):
        return ops.convert_to_numpy(ops.sum(u * np.array(a, "float32") + v * np.array(b, "float32"), axis=-1))

    real, generated = logits(x_prev, x_t), logits(fake, x_t)
    softplus = np.logaddexp
    adversarial = np.mean(softplus(0, -real)) + np.mean(softplus(0, generated))
    assert float(terms["discriminator_loss"]) == pytest.approx(adversarial, rel=1e-5)
    assert float(terms["r1"]) == pytest.approx(0.09 + 0.16, rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(adversarial + 0.25 * 0.25, rel=1e-5)
    assert float(terms["generator_loss"]) == pytest.approx(np.mean(softplus(0, -generated)), rel=1e-5)


def test_r1_is_applied_on_every_kth_discriminator_step_only():
    model = tiny_model(discriminator=LinearDiscriminator([1.0, 0.0], [0.0, 0.0]), r1_gamma=2.0, lazy_r1_interval=3)
    model.compile()
    x = toy2d("8gaussians", 32, seed=0).astype("float32")
    added = []
    for step in range(7):
        model.discriminator_optimizer.iterations.assign(step)
        terms = model.player_terms(x, "discriminator", training=True)
        added.append(float(terms["loss"] - terms["discriminator_loss"]))
        assert float(terms["r1"]) == pytest.approx(1.0)  # measured, or the last measured value
    np.testing.assert_allclose(added, [1.0, 0, 0, 1.0, 0, 0, 1.0], atol=1e-6)


def test_each_step_is_one_discriminator_step_then_one_generator_step_each_on_its_own_variables():
    model = tiny_model(ema_decay=0.0)
    model.compile(optimizer=keras.optimizers.SGD(0.0), discriminator_optimizer=keras.optimizers.Adam(1e-2))
    generator, discriminator = model.generator.get_weights(), model.discriminator.get_weights()
    x = toy2d("8gaussians", 64, seed=0).astype("float32")
    history = model.fit(x, batch_size=16, epochs=1, verbose=0).history
    assert set(history) == {"loss", "generator_loss", "discriminator_loss", "r1"}
    assert int(model.optimizer.iterations) == int(model.discriminator_optimizer.iterations) == 4
    for before, after in zip(generator, model.generator.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert any(not np.allclose(b, a) for b, a in zip(discriminator, model.discriminator.get_weights()))


def test_the_generators_moving_average_follows_each_step_and_is_what_samples():
    decay = 0.75
    model = tiny_model(ema_decay=decay)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), discriminator_optimizer=keras.optimizers.Adam(1e-2))
    start = model.generator.get_weights()
    for average, first in zip(model.ema_generator.get_weights(), start):
        np.testing.assert_array_equal(average, first)
    x = toy2d("8gaussians", 16, seed=0).astype("float32")
    model.fit(x, batch_size=16, epochs=1, verbose=0)  # one step
    for average, first, trained in zip(model.ema_generator.get_weights(), start, model.generator.get_weights()):
        np.testing.assert_allclose(average, decay * first + (1 - decay) * trained, rtol=1e-5, atol=1e-6)
    averaged = ops.convert_to_numpy(model.sample(32, seed=0))
    raw = ops.convert_to_numpy(model.sample(32, seed=0, use_ema=False))
    assert not np.allclose(averaged, raw)
    model.ema_generator.set_weights(model.generator.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(model.sample(32, seed=0)), raw, rtol=1e-5, atol=1e-6)


def test_compile_defaults_to_the_papers_adam_and_refuses_an_optimizer_average():
    model = tiny_model()
    model.compile()
    assert float(model.optimizer.learning_rate) == pytest.approx(1.6e-4)
    assert float(model.discriminator_optimizer.learning_rate) == pytest.approx(1.25e-4)
    for optimizer in (paper_generator_optimizer(), paper_discriminator_optimizer()):
        assert (optimizer.beta_1, optimizer.beta_2) == (0.5, 0.9)
    with pytest.raises(ValueError, match="ema_decay"):
        tiny_model().compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True))


# --------------------------------------------------------------------------------- learning
def test_a_tiny_ddgan_moves_its_samples_towards_the_data():
    keras.utils.set_random_seed(0)
    x = toy2d("8gaussians", 4096, seed=0).astype("float32")
    model = DDGAN.from_data(x, latent_dim=4, ema_decay=0.9, seed=0,
                            generator=time_mlp(2, hidden_units=(64, 64), embedding_dim=16, latent_dim=4),
                            discriminator=time_discriminator_mlp(2, hidden_units=(64, 64), embedding_dim=16))
    reference = toy2d("8gaussians", 1000, seed=1)
    before = energy_distance(ops.convert_to_numpy(model.sample(1000, seed=0)), reference)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9),
                  discriminator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9), jit_compile=True)
    history = model.fit(x, batch_size=256, epochs=6, verbose=0).history
    after = energy_distance(ops.convert_to_numpy(model.sample(1000, seed=0)), reference)
    assert np.isfinite(history["loss"]).all()
    assert after < 0.5 * before


def test_the_image_networks_map_pairs_and_latents_to_the_right_shapes():
    shape = (8, 8, 1)
    generator = time_unet(shape, filters=(8, 16), embedding_dim=8, latent_dim=3, output_activation="tanh")
    discriminator = time_discriminator_conv(shape, filters=(8, 16), embedding_dim=8)
    model = DDGAN(shape, latent_dim=3, generator=generator, discriminator=discriminator, seed=0)
    assert model.input_range[:2] == (0.0, 1.0)
    images = np.random.default_rng(0).random((4, *shape)).astype("float32")
    terms = model.player_terms(images, None, training=False)
    assert all(np.isfinite(float(value)) for value in terms.values())
    samples = ops.convert_to_numpy(model.sample(4, seed=0))
    assert samples.shape == (4, *shape) and samples.min() >= 0.0 and samples.max() <= 1.0


# ------------------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"r1_gamma": -1.0}, ValueError, "r1_gamma"),
        ({"lazy_r1_interval": 0}, ValueError, "lazy_r1_interval"),
        ({"ema_decay": 1.0}, ValueError, "ema_decay"),
        ({"latent_dim": 0}, ValueError, "latent_dim"),
        ({"num_timesteps": 0}, ValueError, "num_timesteps"),
        ({"beta_max": 0.05}, ValueError, "beta_max"),
        ({"data_scale": 0.0}, ValueError, "data_scale"),
    ],
)
def test_bad_constructor_arguments_are_rejected_by_name(kwargs, error, message):
    with pytest.raises(error, match=message):
        tiny_model(**kwargs)


def test_networks_of_the_wrong_shape_are_rejected_by_name():
    with pytest.raises(ValueError, match="`generator`"):
        tiny_model(generator=time_mlp(3, hidden_units=(4,), embedding_dim=4, latent_dim=2))
    with pytest.raises(ValueError, match="`discriminator`"):
        tiny_model(discriminator=time_mlp(2, hidden_units=(4,), embedding_dim=4))
