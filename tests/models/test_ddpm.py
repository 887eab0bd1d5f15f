"""DDPM: the simple loss, the samplers against an exact ε on Gaussian data, learning on a tiny
budget, images, and argument errors. (Config, ``.keras`` files, seeds and bad data: the
contract suite.)"""

import keras
import numpy as np
import pytest
from keras import ops

from kgen.data import toy2d
from kgen.diffusion import DiffusionSchedule, make_betas
from kgen.layers.diffusion_networks import TimestepEmbedding, time_mlp, time_unet
from kgen.metrics import energy_distance
from kgen.models import DDPM
from kgen.models.ddpm import (
    PAPER_BETA_END,
    PAPER_BETA_START,
    data_scale_from_data,
    paper_ddpm_optimizer,
)


@keras.saving.register_keras_serializable(package="kgen_tests")
class GaussianEpsilon(keras.layers.Layer):
    """The exact ε-prediction for data N(0, s² I): with x_t ~ N(0, v_t I), v_t = ᾱ_t s² + 1 − ᾱ_t,
    E[ε | x_t] = √(1 − ᾱ_t)·x_t / v_t (plus a zero-weight so that the layer has a variable)."""

    def __init__(self, alphas_cumprod, variance, **kwargs):
        super().__init__(**kwargs)
        self.alphas_cumprod, self.variance = [float(a) for a in alphas_cumprod], float(variance)
        self.unused = self.add_weight(shape=(), initializer="zeros", name="unused")

    def call(self, inputs):
        x, t = inputs
        alpha_bar = ops.take(ops.convert_to_tensor(self.alphas_cumprod), ops.cast(ops.reshape(t, (-1,)), "int32"))
        alpha_bar = ops.reshape(alpha_bar, (-1, 1))
        return ops.sqrt(1.0 - alpha_bar) * x / (alpha_bar * self.variance + 1.0 - alpha_bar) + 0.0 * self.unused

    def get_config(self):
        return {**super().get_config(), "alphas_cumprod": self.alphas_cumprod, "variance": self.variance}


@keras.saving.register_keras_serializable(package="kgen_tests")
class NoisyInput(keras.layers.Layer):
    """[x_t, t] → x_t: an "ε-network" that shows what it is given."""

    def call(self, inputs):
        x, t = inputs
        return x + 0.0 * t


def exact_model(variance, num_timesteps=1000, schedule="linear"):
    schedule_table = DDPM((2,), num_timesteps=num_timesteps, schedule=schedule,
                          network=time_mlp(2, hidden_units=(4,), embedding_dim=4)).diffusion
    network = GaussianEpsilon(schedule_table.alphas_cumprod, variance)
    return DDPM((2,), num_timesteps=num_timesteps, schedule=schedule, network=network, seed=0)


def tiny_vector_model(**kwargs):
    kwargs.setdefault("network", time_mlp(2, hidden_units=(32, 32), embedding_dim=8))
    kwargs.setdefault("num_timesteps", 50)
    kwargs.setdefault("seed", 1)
    return DDPM((2,), **kwargs)


# --------------------------------------------------------------------------- schedule and loss
def test_the_default_schedule_is_ho_et_al_linear_and_other_lengths_scale_it():
    model = DDPM((2,), network=time_mlp(2, hidden_units=(4,), embedding_dim=4))
    assert model.num_timesteps == 1000
    np.testing.assert_allclose(model.diffusion.betas[[0, -1]], [PAPER_BETA_START, PAPER_BETA_END], rtol=1e-6)
    short = DDPM((2,), num_timesteps=100, network=time_mlp(2, hidden_units=(4,), embedding_dim=4))
    np.testing.assert_allclose(short.diffusion.betas[[0, -1]], [1e-3, 0.2], rtol=1e-6)
    # Scaling keeps the data fully diffused at the end: ᾱ_T is tiny for both.
    assert model.diffusion.alphas_cumprod[-1] < 1e-4 and short.diffusion.alphas_cumprod[-1] < 1e-4


def test_the_simple_loss_is_the_mean_squared_error_of_the_noise():
    model = tiny_vector_model()
    x = toy2d("8gaussians", 64, seed=0).astype("float32")
    outputs = model(x, training=True)
    expected = np.mean((ops.convert_to_numpy(outputs["noise"]) - ops.convert_to_numpy(outputs["eps"])) ** 2)
    assert float(model.loss_terms(x, outputs)["loss"]) == pytest.approx(expected, rel=1e-6)
    # The ε-network starts at zero, so the loss starts at E ε² = 1 per dimension.
    figures = model.evaluation_figures(toy2d("8gaussians", 2048, seed=1).astype("float32"))
    assert figures["examples"] == 2048 and figures["eps_mse"] == pytest.approx(1.0, abs=0.05)


def test_the_training_input_is_a_draw_of_q_xt_given_x0():
    """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε is what the network sees: an ε-network that returns its
    input lets the draw be read back, and (x_t − √ᾱ_t x_0)/√(1 − ᾱ_t) is the recorded noise."""
    model = DDPM((2,), num_timesteps=20, schedule="cosine", network=NoisyInput(), seed=0)
    x = np.full((256, 2), 1.5, "float32")
    outputs = model(x, training=True)
    t = ops.convert_to_numpy(outputs["t"])
    assert t.min() >= 0 and t.max() <= 19 and len(np.unique(t)) > 10
    alpha_bar = model.diffusion.alphas_cumprod[t][:, None]
    noise = (ops.convert_to_numpy(outputs["eps"]) - np.sqrt(alpha_bar) * x) / np.sqrt(1 - alpha_bar)
    np.testing.assert_allclose(noise, ops.convert_to_numpy(outputs["noise"]), atol=1e-4)


def test_timestep_losses_of_the_exact_network_are_below_one_and_match_their_closed_form():
    """For data N(0, s²) the exact ε-predictor's error is E Var[ε | x_t] = 1 − (1 − ᾱ)/v_t."""
    s2 = 0.25
    model = exact_model(s2, num_timesteps=100, schedule="cosine")
    x = (np.sqrt(s2) * np.random.default_rng(0).standard_normal((20_000, 2))).astype("float32")
    timesteps = [0, 30, 60, 99]
    losses = ops.convert_to_numpy(model.timestep_losses(x, timesteps, seed=0))
    alpha_bar = model.diffusion.alphas_cumprod[timesteps]
    expected = 1.0 - (1.0 - alpha_bar) / (alpha_bar * s2 + 1.0 - alpha_bar)
    np.testing.assert_allclose(losses, expected, atol=0.02)


# --------------------------------------------------------------------------------- samplers
@pytest.mark.parametrize(
    ("options", "tolerance"),
    [({}, 0.05), ({"num_steps": 1000, "eta": 0.0}, 0.05), ({"num_steps": 1000, "eta": 1.0}, 0.05)],
    ids=["ancestral", "ddim-1000", "ddim-1000-eta1"],
)
def test_samplers_with_the_exact_noise_predictor_recover_gaussian_data(options, tolerance):
    s2 = 0.25
    model = exact_model(s2)
    samples = ops.convert_to_numpy(model.sample(4000, seed=0, **options))
    assert np.abs(samples.mean(0)).max() < 0.03
    np.testing.assert_allclose(samples.var(0), [s2, s2], rtol=tolerance)


def test_deterministic_ddim_with_few_steps_shrinks_the_gaussian_and_more_steps_fix_it():
    """A Gaussian reverse step is exact only for small steps: with few deterministic DDIM steps
    the variance of N(0, s²) samples comes out too small (each step's two coefficients shrink it,
    by Cauchy–Schwarz), less so with more steps, and with 200 it is nearly right."""
    s2 = 0.25
    model = exact_model(s2)
    variances = [ops.convert_to_numpy(model.sample(4000, seed=0, num_steps=steps)).var() for steps in (2, 10, 200)]
    assert variances[0] < 0.1 * s2 < variances[1] < variances[2]
    assert abs(variances[2] - s2) < 0.05 * s2


def test_deterministic_ddim_maps_the_same_start_to_the_same_sample_and_eta_adds_noise():
    model = tiny_vector_model()
    first = ops.convert_to_numpy(model.sample(16, seed=3, num_steps=10))
    np.testing.assert_array_equal(ops.convert_to_numpy(model.sample(16, seed=3, num_steps=10)), first)
    stochastic = ops.convert_to_numpy(model.sample(16, seed=3, num_steps=10, eta=1.0))
    assert stochastic.shape == first.shape and not np.allclose(stochastic, first)
    assert model.network_evaluations() == 50 and model.network_evaluations(10) == 10


# --------------------------------------------------------------------------------- learning
def test_a_tiny_ddpm_learns_the_eight_gaussians():
    keras.utils.set_random_seed(0)
    x = toy2d("8gaussians", 4096, seed=0).astype("float32")
    model = DDPM.from_data(x, num_timesteps=50, network=time_mlp(2, hidden_units=(64, 64), embedding_dim=16), seed=0)
    before = ops.convert_to_numpy(model.sample(1000, seed=0))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(x, batch_size=256, epochs=12, verbose=0).history["loss"]
    after = ops.convert_to_numpy(model.sample(1000, seed=0))
    assert history[-1] < 0.7 * history[0]
    reference = toy2d("8gaussians", 1000, seed=1)
    assert energy_distance(after, reference) < 0.25 * energy_distance(before, reference)


def test_images_are_mapped_to_minus_one_one_and_samples_back_into_the_unit_interval():
    model = DDPM((8, 8, 1), num_timesteps=30, network=time_unet((8, 8, 1), filters=(8,), embedding_dim=8), seed=0)
    assert model.input_range[:2] == (0.0, 1.0)
    ones = np.ones((4, 8, 8, 1), "float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(model.space.encode(ones)), ones)
    np.testing.assert_array_equal(ops.convert_to_numpy(model.space.encode(0 * ones)), -ones)
    assert model.evaluation_figures(np.random.default_rng(0).random((8, 8, 8, 1)).astype("float32"))["eps_mse"] > 0
    samples = ops.convert_to_numpy(model.sample(4, seed=0, num_steps=2))
    assert samples.shape == (4, 8, 8, 1) and samples.min() >= 0.0 and samples.max() <= 1.0


def test_data_arguments_scale_vectors_to_unit_second_moment():
    x = 3.0 * toy2d("8gaussians", 512, seed=0)
    assert DDPM.data_arguments(x)["data_scale"] == pytest.approx(np.sqrt(np.mean(x**2)))
    assert "data_scale" not in DDPM.data_arguments(np.zeros((4, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match="not all 0"):
        data_scale_from_data(np.zeros((4, 2)))


def test_the_default_optimizer_is_the_papers():
    optimizer = paper_ddpm_optimizer()
    assert float(optimizer.learning_rate) == pytest.approx(2e-4)
    assert optimizer.use_ema and optimizer.ema_momentum == pytest.approx(0.9999)
    assert optimizer.global_clipnorm == pytest.approx(1.0)
    model = tiny_vector_model()
    model.compile()
    assert model.optimizer.use_ema and float(model.optimizer.learning_rate) == pytest.approx(2e-4)


def test_the_timestep_embedding_tells_timesteps_apart():
    features = ops.convert_to_numpy(TimestepEmbedding(16)(np.arange(4, dtype="float32")[:, None]))
    assert features.shape == (4, 16)
    distances = np.linalg.norm(features[:, None] - features[None], axis=-1)
    assert distances[~np.eye(4, dtype=bool)].min() > 0.1


def test_explicit_betas_round_trip_through_the_config():
    betas = make_betas("vp", 4)
    model = DDPM((2,), betas=betas, network=time_mlp(2, hidden_units=(4,), embedding_dim=4))
    assert model.num_timesteps == 4
    clone = DDPM.from_config(model.get_config())
    np.testing.assert_array_equal(clone.diffusion.betas, DiffusionSchedule(betas).betas)


# ------------------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"schedule": "quadratic"}, ValueError, "schedule"),
        ({"num_timesteps": 0}, ValueError, "num_timesteps"),
        ({"num_timesteps": 10}, ValueError, "schedule='cosine'"),
        ({"data_scale": -1.0}, ValueError, "data_scale"),
        ({"betas": [0.1, 1.5]}, ValueError, "betas"),
        ({"network": time_mlp(3, hidden_units=(4,), embedding_dim=4)}, ValueError, "`network`"),
    ],
)
def test_bad_constructor_arguments_are_rejected_by_name(kwargs, error, message):
    kwargs.setdefault("network", time_mlp(2, hidden_units=(4,), embedding_dim=4))
    with pytest.raises(error, match=message):
        DDPM((2,), **kwargs)


def test_data_scale_is_refused_for_images():
    with pytest.raises(ValueError, match="data_scale"):
        DDPM((8, 8, 1), data_scale=2.0, network=time_unet((8, 8, 1), filters=(8,), embedding_dim=8))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"num_steps": 51}, "num_steps"), ({"num_steps": 0}, "num_steps"), ({"eta": 1.5}, "eta"), ({"eta": -0.1}, "eta")],
)
def test_bad_sampling_arguments_are_rejected_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_vector_model().sample(4, seed=0, **kwargs)


def test_bad_timesteps_are_rejected():
    model = tiny_vector_model()
    x = toy2d("8gaussians", 8, seed=0).astype("float32")
    with pytest.raises(ValueError, match="timesteps"):
        model.timestep_losses(x, [0, 50])
    with pytest.raises(TypeError, match="timesteps"):
        model.timestep_losses(x, [0.5])
