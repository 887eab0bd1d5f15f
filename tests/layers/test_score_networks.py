"""The noise-conditional layers of ``kgen.layers.score_networks``: ConditionalNormalization,
(1 + γ(e))·GroupNorm(h) + β(e), and ConditionalResidualBlock, h + conv(norm(conv(norm(h, e))), e)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgen.layers.score_networks import (
    ConditionalNormalization,
    ConditionalResidualBlock,
    NoiseLevelEmbedding,
    conditional_unet,
)

EMBEDDING = 6


def features(shape, seed=0, offset=3.0, spread=2.0):
    """Activations far from normalized: mean ``offset``, standard deviation ``spread``, per
    channel a different scale, so that a missing normalization shows."""
    rng = np.random.default_rng(seed)
    channel_scale = np.linspace(0.5, 2.0, shape[-1])
    return (offset + spread * channel_scale * rng.standard_normal(shape)).astype("float32")


def embeddings(sigmas):
    """The sinusoidal embedding of each σ, shape (len(sigmas), EMBEDDING)."""
    return NoiseLevelEmbedding(EMBEDDING)(np.asarray(sigmas, "float32")[:, None]).numpy()


def built(layer, h, e):
    layer([h, e])
    return layer


def perturb(weights, seed=1, scale=0.5):
    """Move weights (e.g. the zero-initialized scale and shift) off their start."""
    rng = np.random.default_rng(seed)
    for weight in weights:
        weight.assign(weight.numpy() + rng.normal(scale=scale, size=weight.shape).astype("float32"))


def group_norm(h, groups, epsilon=1e-5):
    """Group normalization of (batch, ..., channels) in NumPy: per example and group of
    consecutive channels, zero mean and unit variance over the spatial axes and the group."""
    shape = h.shape
    grouped = h.reshape(shape[0], -1, groups, shape[-1] // groups).astype("float64")
    mean = grouped.mean(axis=(1, 3), keepdims=True)
    var = grouped.var(axis=(1, 3), keepdims=True)
    return ((grouped - mean) / np.sqrt(var + epsilon)).reshape(shape)


# --------------------------------------------------------------------- ConditionalNormalization
@pytest.mark.parametrize(
    "shape, groups, expected_groups",
    [((3, 4, 4, 8), 8, 8), ((3, 4, 4, 12), 8, 6), ((3, 5, 5, 3), 8, 3), ((3, 16), 4, 4)],
    ids=["instance_norm", "groups_of_two_channels", "fewer_channels_than_groups", "vectors"],
)
def test_conditional_normalization_starts_as_a_group_norm_with_the_largest_group_count_dividing_the_channels(
    shape, groups, expected_groups
):
    h, e = features(shape), embeddings([0.1, 1.0, 5.0])
    layer = built(ConditionalNormalization(groups), h, e)
    out = layer([h, e]).numpy()
    assert out.shape == shape
    # Per example and group: mean 0 and variance 1 (γ = β = 0 at the start).
    grouped = out.reshape(shape[0], -1, expected_groups, shape[-1] // expected_groups)
    np.testing.assert_allclose(grouped.mean(axis=(1, 3)), 0.0, atol=1e-4)
    np.testing.assert_allclose(grouped.var(axis=(1, 3)), 1.0, atol=1e-3)
    np.testing.assert_allclose(out, group_norm(h, expected_groups), atol=1e-4)


def test_conditional_normalization_scales_and_shifts_by_the_embedding_of_each_examples_level():
    h = features((3, 4, 4, 8))
    e = embeddings([0.05, 0.5, 5.0])
    layer = built(ConditionalNormalization(4), h, e)
    perturb(layer.trainable_weights)
    out = layer([h, e]).numpy()

    kernel, bias = (w.numpy() for w in layer.scale_shift.weights)
    scale_shift = e @ kernel + bias
    gamma, beta = scale_shift[:, :8], scale_shift[:, 8:]
    expected = group_norm(h, 4) * (1.0 + gamma[:, None, None, :]) + beta[:, None, None, :]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    # The same activations under another level come out differently, example by example.
    other = layer([h, e[::-1]]).numpy()
    assert not np.allclose(other[0], out[0], atol=1e-3) and np.allclose(other[1], out[1], atol=1e-6)


def test_conditional_normalization_config_round_trip_gives_the_same_layer():
    h, e = features((2, 4, 4, 6)), embeddings([0.1, 1.0])
    layer = built(ConditionalNormalization(groups=3, epsilon=1e-3), h, e)
    perturb(layer.trainable_weights)
    config = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone) is ConditionalNormalization and (clone.groups, clone.epsilon) == (3, 1e-3)
    built(clone, h, e).set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone([h, e]), layer([h, e]))
    assert clone.get_config() == layer.get_config()


def test_conditional_normalization_passes_gradients_to_its_weights_and_its_inputs():
    h, e = tf.constant(features((2, 4, 4, 8))), tf.constant(embeddings([0.1, 1.0]))
    layer = built(ConditionalNormalization(), h, e)
    assert len(layer.trainable_weights) == 2  # the scale-and-shift projection; the norm has none
    weights = np.random.default_rng(3).standard_normal((2, 4, 4, 8)).astype("float32")

    def gradients():
        with tf.GradientTape() as tape:
            tape.watch([h, e])
            loss = tf.reduce_sum(layer([h, e]) * weights)
        return dict(zip(["kernel", "bias", "h", "e"], tape.gradient(loss, [*layer.trainable_weights, h, e])))

    at_start = gradients()  # the zero-initialized projection learns from the first step
    for name in ("kernel", "bias", "h"):
        assert np.abs(at_start[name].numpy()).max() > 1e-6, name
    perturb(layer.trainable_weights)  # once it is not zero, the embedding gets gradients too
    assert np.abs(gradients()["e"].numpy()).max() > 1e-6


# --------------------------------------------------------------------- ConditionalResidualBlock
@pytest.mark.parametrize("channels, filters", [(8, 8), (4, 8)], ids=["same_width", "wider"])
def test_residual_block_output_shape_and_skip_path(channels, filters):
    h, e = features((2, 4, 4, channels)), embeddings([0.1, 1.0])
    block = built(ConditionalResidualBlock(filters, groups=4), h, e)
    out = block([h, e]).numpy()
    assert out.shape == (2, 4, 4, filters)
    assert block.compute_output_shape(((None, 4, 4, channels), (None, EMBEDDING))) == (None, 4, 4, filters)
    assert (block.skip is None) == (channels == filters)
    # With the residual branch's last conv at zero, the block is its skip path: h, or a 1×1 conv.
    for weight in block.conv2.weights:
        weight.assign(np.zeros(weight.shape, "float32"))
    skipped = block([h, e]).numpy()
    np.testing.assert_allclose(skipped, h if block.skip is None else block.skip(h).numpy(), atol=1e-6)


def test_residual_block_ignores_the_level_at_the_start_and_is_conditioned_by_it_once_trained():
    h = features((2, 4, 4, 8))
    e_low, e_high = embeddings([0.05, 0.05]), embeddings([5.0, 5.0])
    block = built(ConditionalResidualBlock(8, groups=4), h, e_low)
    # The norms' scale and shift start at zero: every level sees the same block.
    np.testing.assert_allclose(block([h, e_low]), block([h, e_high]), atol=1e-6)
    perturb(block.norm1.trainable_weights + block.norm2.trainable_weights)
    low, high = block([h, e_low]).numpy(), block([h, e_high]).numpy()
    assert np.abs(low - high).mean() > 0.05 * np.abs(low).mean()
    mixed = block([h, np.stack([e_low[0], e_high[1]])]).numpy()
    np.testing.assert_allclose(mixed[0], low[0], atol=1e-5)
    np.testing.assert_allclose(mixed[1], high[1], atol=1e-5)


def test_residual_block_normalizes_its_input_before_the_first_convolution():
    """The residual branch sees its input through a group norm: shifting and scaling the input
    leaves the branch's output (the block's output minus its input) as it was."""
    h, e = features((2, 4, 4, 8)), embeddings([0.1, 1.0])
    block = built(ConditionalResidualBlock(8, groups=8), h, e)
    residual = block([h, e]).numpy() - h
    moved = 3.0 * h - 7.0
    np.testing.assert_allclose(block([moved, e]).numpy() - moved, residual, atol=1e-3)


def test_residual_block_config_round_trip_gives_the_same_block():
    h, e = features((2, 4, 4, 4)), embeddings([0.1, 1.0])
    block = built(ConditionalResidualBlock(6, groups=2), h, e)
    perturb(block.trainable_weights, scale=0.1)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(block))
    assert type(clone) is ConditionalResidualBlock and (clone.filters, clone.groups) == (6, 2)
    built(clone, h, e).set_weights(block.get_weights())
    np.testing.assert_array_equal(clone([h, e]), block([h, e]))


def test_residual_block_passes_gradients_to_every_weight():
    h, e = tf.constant(features((2, 4, 4, 4))), tf.constant(embeddings([0.1, 1.0]))
    block = built(ConditionalResidualBlock(8, groups=4), h, e)
    names = [w.path for w in block.trainable_weights]
    # two norms (kernel, bias), two 3×3 convs and the 1×1 skip (kernel, bias each)
    assert len(names) == 10 and len(set(names)) == 10
    weights = np.random.default_rng(3).standard_normal((2, 4, 4, 8)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(block([h, e]) * weights)
    for weight, gradient in zip(block.trainable_weights, tape.gradient(loss, block.trainable_weights)):
        assert gradient is not None and np.abs(gradient.numpy()).max() > 1e-6, weight.path


def test_a_small_conditional_unet_round_trips_through_a_keras_file(tmp_path):
    unet = conditional_unet((8, 8, 1), filters=(4, 8), embedding_dim=8)
    perturb(unet.trainable_weights, scale=0.05)  # (its last conv starts at zero)
    x = features((3, 8, 8, 1))
    sigma = np.array([[0.01], [0.3], [2.0]], "float32")
    unet.save(tmp_path / "unet.keras")
    loaded = keras.models.load_model(tmp_path / "unet.keras")
    names = {type(layer).__name__ for layer in loaded.layers}
    assert {"NoiseLevelEmbedding", "ConditionalResidualBlock", "ConditionalNormalization"} <= names
    np.testing.assert_array_equal(loaded([x, sigma]), unet([x, sigma]))
    assert not np.allclose(unet([x, sigma[::-1]]), unet([x, sigma]))  # conditioned on σ
