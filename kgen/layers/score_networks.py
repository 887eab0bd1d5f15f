"""Noise-conditional networks for score models: s(x, σ) for every noise level σ at once.

A score network takes a batch x and, per example, the noise level σ of the data it sees, and
returns an array of the shape of x. Its inputs are the pair ``[x, sigma]`` with ``sigma`` of
shape (batch, 1).

* :class:`NoiseLevelEmbedding` turns σ into sinusoidal features of log σ,
  [sin(ω_k log σ), cos(ω_k log σ)]_k with ω_k geometric between ``min_frequency`` and
  ``max_frequency`` (the sinusoidal position code of Vaswani et al. 2017, §3.5, applied to
  log σ, as NCSN++ conditions on the noise scale; Song et al. 2021, "Score-Based Generative
  Modeling through Stochastic Differential Equations", appendix H.1). A two-layer MLP on top
  makes the embedding each block reads.
* :class:`ConditionalNormalization` is noise-conditional normalization: a group norm without
  its own affine terms, followed by a scale and shift computed from the embedding,
  (1 + γ(e))·GN(h) + β(e). It plays the part of NCSN's conditional instance norm++ (Song &
  Ermon 2019, appendix A.1), whose scale and shift are looked up per noise level, and of the
  FiLM-style time conditioning of DDPM's U-Net (Ho et al. 2020, appendix B; Perez et al. 2018,
  "FiLM").
* :class:`ConditionalResidualBlock`: norm → SiLU → 3×3 conv → norm → SiLU → 3×3 conv, added to
  the input (through a 1×1 conv when the width changes): the residual unit of RefineNet-style
  and U-Net score networks (Song & Ermon 2019, appendix A; Ho et al. 2020).
* :func:`conditional_unet` builds a small U-Net for images: a 3×3 stem, at each resolution a
  residual block, downsampling by stride-2 convolutions while H and W stay even and above 4
  (:func:`kgen.layers.networks.downsampling_stages`), a middle block, and the mirror path up
  with skip connections and nearest-neighbour upsampling; the last conv starts at zero, so an
  untrained network outputs 0.
* :func:`conditional_mlp` is the vector version: each hidden layer adds a projection of the
  embedding before its activation.

Sizes are chosen to train on 8×8 and 28×28 images on a laptop CPU in minutes.
"""

import math

import keras
from keras import layers, ops

from kgen import backend
from kgen.layers.networks import downsampling_stages

UNET_FILTERS = (32, 64)
MLP_HIDDEN = (128, 128, 128)
EMBEDDING_DIM = 64


def _groups(channels, groups):
    """The largest divisor of ``channels`` that is at most ``groups``."""
    return max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)


@keras.saving.register_keras_serializable(package="kgen")
class NoiseLevelEmbedding(keras.layers.Layer):
    """σ of shape (batch, 1) → sinusoidal features of log σ, shape (batch, ``dim``).

    Args:
        dim: number of features (even): ``dim/2`` frequencies, each with a sine and a cosine.
        min_frequency, max_frequency: the frequencies ω_k, geometrically spaced, in radians per
            unit of log σ. The defaults resolve levels a factor ~1.1 apart and vary slowly
            over the range of log σ of common schedules (σ from 0.01 to 50: log σ in [−4.6, 3.9]).

    Computes in float32 under a mixed-precision policy (:func:`kgen.backend.precise_layer_arguments`):
    ω·log σ reaches 70 radians, where a bfloat16 angle is off by a quarter of a radian.
    """

    def __init__(self, dim=EMBEDDING_DIM, min_frequency=0.25, max_frequency=16.0, **kwargs):
        super().__init__(**backend.precise_layer_arguments(kwargs, type(self).__name__))
        if not isinstance(dim, int) or dim < 2 or dim % 2:
            raise ValueError(f"`dim` must be an even integer ≥ 2; got {dim!r}.")
        if not 0 < min_frequency <= max_frequency:
            raise ValueError(
                "`min_frequency` and `max_frequency` must satisfy 0 < min ≤ max; got "
                f"{min_frequency!r} and {max_frequency!r}."
            )
        self.dim, self.min_frequency, self.max_frequency = dim, float(min_frequency), float(max_frequency)
        half = dim // 2
        ratio = 0.0 if half == 1 else math.log(max_frequency / min_frequency) / (half - 1)
        self.frequencies = tuple(min_frequency * math.exp(ratio * k) for k in range(half))

    def call(self, sigma):
        frequencies = ops.convert_to_tensor(self.frequencies, self.compute_dtype)
        angles = ops.log(ops.reshape(sigma, (-1, 1))) * frequencies
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "min_frequency": self.min_frequency,
                "max_frequency": self.max_frequency}


@keras.saving.register_keras_serializable(package="kgen")
class ConditionalNormalization(keras.layers.Layer):
    """[h, e] → (1 + γ(e))·GroupNorm(h) + β(e), with γ, β linear in the embedding e.

    ``h`` has shape (batch, ..., channels) and ``e`` (batch, embedding_dim); γ and β start at 0,
    so the layer starts as a plain group norm.
    """

    def __init__(self, groups=8, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.groups, self.epsilon = groups, epsilon

    def build(self, input_shape):
        h_shape, _ = input_shape
        channels = h_shape[-1]
        self.norm = layers.GroupNormalization(
            _groups(channels, self.groups), epsilon=self.epsilon, center=False, scale=False, dtype=self.dtype_policy
        )
        self.norm.build(h_shape)
        self.scale_shift = layers.Dense(2 * channels, kernel_initializer="zeros", dtype=self.dtype_policy)
        self.scale_shift.build(input_shape[1])
        self.rank = len(h_shape)

    def call(self, inputs):
        h, embedding = inputs
        scale, shift = ops.split(self.scale_shift(embedding), 2, axis=-1)
        new_shape = (-1,) + (1,) * (self.rank - 2) + (ops.shape(scale)[-1],)
        return self.norm(h) * (1.0 + ops.reshape(scale, new_shape)) + ops.reshape(shift, new_shape)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="kgen")
class ConditionalResidualBlock(keras.layers.Layer):
    """[h, e] → h' (batch, H, W, ``filters``): two conditionally normalized 3×3 convs plus a skip."""

    def __init__(self, filters, groups=8, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.groups = filters, groups

    def build(self, input_shape):
        h_shape, e_shape = input_shape
        out_shape = (*h_shape[:-1], self.filters)
        policy = self.dtype_policy  # a network saved under a mixed policy loads with it whole
        self.norm1 = ConditionalNormalization(self.groups, dtype=policy)
        self.norm1.build((h_shape, e_shape))
        self.conv1 = layers.Conv2D(self.filters, 3, padding="same", dtype=policy)
        self.conv1.build(h_shape)
        self.norm2 = ConditionalNormalization(self.groups, dtype=policy)
        self.norm2.build((out_shape, e_shape))
        self.conv2 = layers.Conv2D(self.filters, 3, padding="same", dtype=policy)
        self.conv2.build(out_shape)
        self.skip = None
        if h_shape[-1] != self.filters:
            self.skip = layers.Conv2D(self.filters, 1, dtype=policy)
            self.skip.build(h_shape)

    def call(self, inputs):
        h, embedding = inputs
        r = self.conv1(ops.silu(self.norm1([h, embedding])))
        r = self.conv2(ops.silu(self.norm2([r, embedding])))
        return (h if self.skip is None else self.skip(h)) + r

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "groups": self.groups}


def _embedding_mlp(sigma, dim):
    e = NoiseLevelEmbedding(dim)(sigma)
    e = layers.Dense(dim, activation="silu")(e)
    return layers.Dense(dim, activation="silu")(e)


def conditional_unet(input_shape, filters=UNET_FILTERS, embedding_dim=EMBEDDING_DIM, name="score_unet"):
    """[x (H, W, C), σ (1,)] → (H, W, C): a small noise-conditional U-Net.

    Args:
        input_shape: (H, W, C).
        filters: widths per resolution, finest first; the net downsamples ``len(filters) − 1``
            times, or fewer when H and W stop being even and above 4 (28×28: 28 → 14 → 7;
            8×8: 8 → 4).
        embedding_dim: size of the noise-level embedding.
    """
    height, width, channels = input_shape
    filters = tuple(filters)
    levels = min(len(filters) - 1, downsampling_stages(height, width)) + 1
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    sigma = keras.Input(shape=(1,), name="sigma")
    e = _embedding_mlp(sigma, embedding_dim)
    h = layers.Conv2D(filters[0], 3, padding="same")(x_in)
    skips = []
    for level in range(levels):
        h = ConditionalResidualBlock(filters[level])([h, e])
        skips.append(h)
        if level < levels - 1:
            h = layers.Conv2D(filters[level + 1], 3, strides=2, padding="same")(h)
    h = ConditionalResidualBlock(filters[levels - 1])([h, e])
    for level in reversed(range(levels)):
        if level < levels - 1:
            h = layers.UpSampling2D(2, interpolation="nearest")(h)
            h = layers.Conv2D(filters[level], 3, padding="same")(h)
        h = layers.Concatenate()([h, skips[level]])
        h = ConditionalResidualBlock(filters[level])([h, e])
    h = ConditionalNormalization()([h, e])
    h = layers.Activation("silu")(h)
    outputs = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros")(h)
    return keras.Model([x_in, sigma], outputs, name=name)


def conditional_mlp(input_dim, hidden_units=MLP_HIDDEN, embedding_dim=EMBEDDING_DIM // 2,
                    activation="silu", name="score_mlp"):
    """[x (D,), σ (1,)] → (D,): h ← act(W h + V e + b) per hidden layer, then a linear output."""
    x_in = keras.Input(shape=(input_dim,), name="x")
    sigma = keras.Input(shape=(1,), name="sigma")
    e = _embedding_mlp(sigma, embedding_dim)
    h = x_in
    for units in hidden_units:
        h = layers.Add()([layers.Dense(units)(h), layers.Dense(units, use_bias=False)(e)])
        h = layers.Activation(activation)(h)
    return keras.Model([x_in, sigma], layers.Dense(input_dim)(h), name=name)


def default_score_network(input_shape):
    """The conditional U-Net for images (rank 3), the conditional MLP for vectors (rank 1)."""
    if len(input_shape) == 3:
        return conditional_unet(input_shape)
    if len(input_shape) == 1:
        return conditional_mlp(input_shape[0])
    raise ValueError(
        f"No default score network for data of shape {tuple(input_shape)}: expected images "
        "(H, W, C) or vectors (D,). Pass your own `network=` taking [x, sigma]."
    )
