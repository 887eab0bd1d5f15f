"""NCSN: the DSM loss, the noise schedule helpers, the score, sampling and inpainting, the
step size, the arguments.

The model contract (round trips, seeds, bad data, resuming, XLA, MirroredStrategy) is checked
for every registered model in ``test_contract.py``."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgen import losses, samplers
from kgen.data import toy2d
from kgen.layers.score_networks import NoiseLevelEmbedding, conditional_mlp, conditional_unet
from kgen.models import NCSN
from kgen.models.ncsn import (
    PAPER_STEP_SIZE,
    geometric_sigmas,
    recommended_step_size,
    sigma_max_from_data,
)


def tiny_image_model(**kwargs):
    kwargs.setdefault("network", conditional_unet((8, 8, 1), filters=(8, 16), embedding_dim=16))
    kwargs.setdefault("num_noise_levels", 4)
    kwargs.setdefault("seed", 1)
    return NCSN((8, 8, 1), **kwargs)


def tiny_vector_model(**kwargs):
    kwargs.setdefault("network", conditional_mlp(2, hidden_units=(32, 32), embedding_dim=8))
    kwargs.setdefault("sigmas", [4.0, 1.0, 0.25, 0.05])
    kwargs.setdefault("seed", 1)
    return NCSN((2,), **kwargs)


# ------------------------------------------------------------------------------------- DSM loss
def test_dsm_loss_equals_its_definition():
    rng = np.random.default_rng(0)
    x = rng.random((4, 3, 3, 2)).astype("float32")
    sigma = np.array([0.1, 0.5, 1.0, 2.0], "float32")
    x_noisy = x + sigma[:, None, None, None] * rng.standard_normal(x.shape).astype("float32")
    score = rng.standard_normal(x.shape).astype("float32")
    residual = score + (x_noisy - x) / sigma[:, None, None, None] ** 2
    plain = 0.5 * (residual**2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(
        losses.denoising_score_matching(score, x_noisy, x, sigma, 3, weighted=False), plain, rtol=1e-5
    )
    np.testing.assert_allclose(losses.denoising_score_matching(score, x_noisy, x, sigma, 3), sigma**2 * plain, rtol=1e-5)
    # A scalar σ applies to the whole batch.
    np.testing.assert_allclose(
        losses.denoising_score_matching(score[:, 0, 0], x_noisy[:, 0, 0], x[:, 0, 0], 0.5, 1),
        0.25 * 0.5 * ((score[:, 0, 0] + (x_noisy[:, 0, 0] - x[:, 0, 0]) / 0.25) ** 2).sum(-1),
        rtol=1e-5,
    )


def test_dsm_loss_is_minimised_by_the_score_of_the_noised_gaussian():
    """Data N(μ, s² I) noised by σ is N(μ, (s² + σ²) I), with score −(x̃ − μ)/(s² + σ²). The
    σ²-weighted DSM loss at that score is (D/2)·s²/(s² + σ²); any other score does worse."""
    rng = np.random.default_rng(1)
    mu, s, sigma, d, n = 1.5, 0.7, 0.4, 3, 200_000
    x = (mu + s * rng.standard_normal((n, d))).astype("float32")
    x_noisy = (x + sigma * rng.standard_normal((n, d))).astype("float32")

    def loss(score):
        return float(np.mean(losses.denoising_score_matching(score, x_noisy, x, sigma, 1)))

    optimal = -(x_noisy - mu) / (s**2 + sigma**2)
    np.testing.assert_allclose(loss(optimal), d / 2 * s**2 / (s**2 + sigma**2), rtol=0.01)
    for perturbed in [1.1 * optimal, 0.9 * optimal, optimal + 0.2, -(x_noisy - mu) / sigma**2]:
        assert loss(perturbed) > loss(optimal) + 0.002


# ----------------------------------------------------------------------------- noise schedule
def test_geometric_sigmas_follow_the_paper_schedule():
    sigmas = geometric_sigmas()
    assert sigmas.shape == (10,) and sigmas.dtype == np.float32
    np.testing.assert_allclose(sigmas[[0, -1]], [1.0, 0.01], rtol=1e-6)
    np.testing.assert_allclose(sigmas[1:] / sigmas[:-1], 0.01 ** (1 / 9), rtol=1e-5)
    np.testing.assert_array_equal(NCSN((2,), network=conditional_mlp(2, (8,), 4)).sigmas, sigmas)


def test_sigma_max_from_data_is_the_largest_pairwise_distance():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (300, 5)).astype("float32")
    x[17], x[211] = -3.0, 3.0  # the farthest pair: √(5·6²)
    assert sigma_max_from_data(x) == pytest.approx(np.sqrt(5 * 36.0), rel=1e-6)
    # A subsample gives a lower bound.
    assert sigma_max_from_data(x, max_points=50) <= np.sqrt(5 * 36.0) + 1e-6
    images = rng.random((20, 4, 4, 1)).astype("float32")
    flat = images.reshape(20, -1)
    brute = max(np.linalg.norm(a - b) for a in flat for b in flat)
    assert sigma_max_from_data(images) == pytest.approx(brute, rel=1e-5)


def test_recommended_step_size_leaves_every_level_at_its_noise_variance():
    """NCSNv2 technique 4, checked by simulation: for data at one point the score at level i is
    −x/σ_i², and with the recommended ε annealed Langevin ends every level with variance ≈ σ_i²;
    with ε ten times smaller the chains lag behind (variance too large)."""
    sigmas = geometric_sigmas(1.0, 0.01, 10)
    epsilon = recommended_step_size(sigmas, 20)
    assert 0 < epsilon < sigmas[-1] ** 2

    def score(x, i):
        return -x / tf.gather(tf.constant(sigmas), i) ** 2

    x0 = np.random.default_rng(0).standard_normal((4000, 4)).astype("float32")
    for eps, close in [(epsilon, True), (epsilon / 10, False)]:
        x = samplers.annealed_langevin(score, x0, sigmas, 20, eps, seed=0, denoise=False).numpy()
        ratio = x.var() / sigmas[-1] ** 2
        assert (abs(ratio - 1) < 0.1) == close, (eps, ratio)


# --------------------------------------------------------------------------------- the contract
def test_the_contract_shapes_for_images_and_vectors():
    model = NCSN((8, 8, 1), seed=0)  # the default U-Net
    assert model.sigmas.shape == (10,)
    x = np.random.default_rng(0).random((3, 8, 8, 1)).astype("float32")
    assert model.score(x, 4).shape == (3, 8, 8, 1)
    assert model.score(x, [0, 5, 9]).shape == (3, 8, 8, 1)
    samples = model.sample(2, steps_per_level=1, seed=0, jit_compile=False)  # (XLA's compile is slower)
    assert samples.shape == (2, 8, 8, 1)
    assert model.level_losses(x, seed=0).shape == (10,)

    vectors = tiny_vector_model()
    assert vectors.score(np.zeros((5, 2), "float32"), 1).shape == (5, 2)
    samples, chain = vectors.sample(7, steps_per_level=3, seed=0, return_chain=True, thin=5)
    assert samples.shape == (7, 2) and chain.shape == (3, 7, 2)
    assert vectors.num_noise_levels == 4


def test_score_is_the_network_output_divided_by_sigma():
    model = tiny_vector_model()
    x = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    levels = np.array([0, 1, 2, 3])
    sigma = model.sigmas[levels][:, None]
    np.testing.assert_allclose(model.score(x, levels), model.network([x, sigma]) / sigma, rtol=1e-6)


def test_training_loss_is_the_sigma_weighted_dsm_at_one_random_level_per_example():
    model = tiny_vector_model()
    x = toy2d("8gaussians", 512, seed=0)
    outputs = model(x)
    sigma = outputs["sigma"].numpy()
    assert set(np.unique(sigma)) == set(model.sigmas)  # every level drawn for a batch of 512
    z = (outputs["x_noisy"].numpy() - x) / sigma[:, None]
    expected = np.mean(0.5 * ((sigma[:, None] * outputs["score"].numpy() + z) ** 2).sum(-1))
    np.testing.assert_allclose(model.loss_terms(x, outputs)["loss"], expected, rtol=1e-4)
    np.testing.assert_allclose(z.std(), 1.0, atol=0.05)


def test_loss_falls_on_2d_toy_data_in_a_few_hundred_steps():
    model = tiny_vector_model(sigmas=geometric_sigmas(6.0, 0.05, 6))
    x = toy2d("8gaussians", 4096, seed=0)
    before = model.level_losses(x, seed=0).numpy()
    model.compile(keras.optimizers.Adam(3e-3))
    history = model.fit(x, batch_size=128, epochs=8, verbose=0).history  # 256 steps
    after = model.level_losses(x, seed=0).numpy()
    assert np.all(np.isfinite(history["loss"]))
    # Below the untrained network and the zero score (D/2 = 1 at every level). The large levels
    # are learned first (the noised data is nearly Gaussian there); at the small ones most of
    # the loss is irreducible (→ D/2 when σ ≪ the modes' width).
    assert after.mean() < 0.8 * min(before.mean(), 1.0)
    assert after[0] < 0.25 and after[1] < 0.6


def test_the_step_size_is_the_papers_for_images_technique_4_for_vectors_or_the_given_one():
    images = tiny_image_model()
    assert images.step_size is None and images.default_step_size(5) == PAPER_STEP_SIZE
    vectors = tiny_vector_model()
    for steps in (5, 100):
        assert vectors.default_step_size(steps) == recommended_step_size(vectors.sigmas, steps)
    assert vectors.default_step_size(5) != vectors.default_step_size(100)
    given = tiny_vector_model(step_size=3e-3)
    assert given.default_step_size(5) == given.default_step_size(100) == 3e-3
    assert given.get_config()["step_size"] == 3e-3 and vectors.get_config()["step_size"] is None
    # sample() uses it when given none: the same chain as with the step size passed explicitly.
    np.testing.assert_array_equal(
        given.sample(3, steps_per_level=2, seed=0), given.sample(3, steps_per_level=2, seed=0, step_size=3e-3)
    )
    assert not np.array_equal(
        given.sample(3, steps_per_level=2, seed=0), given.sample(3, steps_per_level=2, seed=0, step_size=1e-3)
    )


def test_from_data_takes_sigma_max_from_vector_data_and_leaves_images_at_the_papers():
    x = toy2d("8gaussians", 256, seed=0)
    model = NCSN.from_data(x, num_noise_levels=3, network=conditional_mlp(2, (8,), 4))
    assert model.sigma_max == pytest.approx(sigma_max_from_data(x)) and model.sigmas[0] == pytest.approx(model.sigma_max)
    images = np.random.default_rng(0).random((8, 8, 8, 1)).astype("float32")
    assert NCSN.data_arguments(images) == {"input_shape": (8, 8, 1)}


def test_inpainting_keeps_the_known_entries_and_fills_the_rest():
    model = tiny_vector_model()
    x = toy2d("8gaussians", 6, seed=0)
    filled = model.inpaint(x, [1.0, 0.0], steps_per_level=3, seed=0).numpy()  # x₁ known
    np.testing.assert_array_equal(filled[:, 0], x[:, 0])
    assert not np.allclose(filled[:, 1], x[:, 1], atol=0.05)
    np.testing.assert_array_equal(filled, model.inpaint(x, [1.0, 0.0], steps_per_level=3, seed=0))
    _, chain = model.inpaint(x, np.ones((6, 2), "float32"), steps_per_level=3, seed=0, return_chain=True)
    assert chain.shape == (13, 6, 2)


def test_noise_level_embedding_is_sinusoidal_in_log_sigma_and_round_trips():
    """(The U-Net's other layers are tested in ``tests/layers/test_score_networks.py``.)"""
    embedding = NoiseLevelEmbedding(8, min_frequency=0.5, max_frequency=4.0)
    np.testing.assert_allclose(embedding.frequencies, [0.5, 1.0, 2.0, 4.0], rtol=1e-6)
    sigma = np.array([[0.01], [1.0], [5.0]], "float32")
    angles = np.log(sigma) * np.array([0.5, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(embedding(sigma), np.concatenate([np.sin(angles), np.cos(angles)], 1), atol=1e-5)
    clone = NoiseLevelEmbedding.from_config(embedding.get_config())
    np.testing.assert_array_equal(clone(sigma), embedding(sigma))


# --------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"sigmas": [0.1, 1.0]}, ValueError, "`sigmas` must be strictly decreasing"),
        ({"sigmas": [1.0, -0.1]}, ValueError, "`sigmas` must hold finite values > 0"),
        ({"num_noise_levels": 0}, ValueError, "`num_noise_levels` must be a positive integer; got 0"),
        ({"num_noise_levels": 1}, ValueError, "`num_noise_levels` ≥ 2"),
        ({"step_size": 0.0}, ValueError, "`step_size` must be a finite number > 0; got 0.0"),
        ({"sigma_max": 0.001}, ValueError, "`sigma_min` < `sigma_max`"),
        ({"sigma_min": -1.0}, ValueError, "`sigma_min` must be a finite number > 0"),
        ({"network": "mlp"}, TypeError, "`network` must be a Keras layer or model; got str"),
        ({"network": conditional_mlp(3)}, ValueError, r"`network` must map \[\(batch, 2\), \(batch, 1\)\] to \(batch, 2\)"),
    ],
)
def test_bad_arguments_are_rejected_clearly(kwargs, error, message):
    kwargs = {"input_shape": (2,), **kwargs}
    if "network" not in kwargs:
        kwargs["network"] = conditional_mlp(2, (8,), 4)
    with pytest.raises(error, match=message):
        NCSN(**kwargs)


def test_bad_score_sample_and_inpaint_arguments():
    model = tiny_vector_model()
    x = np.zeros((3, 2), "float32")
    with pytest.raises(ValueError, match=r"`sigma_index` must lie in \[0, 3\] .*; got 4"):
        model.score(x, 4)
    with pytest.raises(TypeError, match="`sigma_index` must be an int"):
        model.score(x, 0.5)
    with pytest.raises(ValueError, match="`sigma_index` has 2 entries for a batch of 3"):
        model.score(x, [0, 1])
    with pytest.raises(ValueError, match=r"shape \(batch, 2\); got \(3, 3\)"):
        model.score(np.zeros((3, 3), "float32"), 0)
    with pytest.raises(ValueError, match="`steps_per_level` must be a positive integer; got 0"):
        model.sample(2, steps_per_level=0)
    with pytest.raises(ValueError, match="`step_size` must be a finite number > 0"):
        model.sample(2, step_size=0.0)
    with pytest.raises(ValueError, match="pass return_chain=True"):
        model.sample(2, thin=3)
    with pytest.raises(ValueError, match="`mask` must hold 0"):
        model.inpaint(x, np.full((3, 2), 0.5, "float32"))
    with pytest.raises(ValueError, match="does not broadcast"):
        model.inpaint(x, np.ones((3,), "float32"))
