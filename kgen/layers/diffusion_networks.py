"""Time-conditioned networks for diffusion models: DDPM's ε-network and DDGAN's two players.

Every network here takes the timestep index t of the diffusion (0 … T − 1, see
:mod:`kgen.diffusion`) as a float input of shape (batch, 1), so that one Keras ``Input`` carries
it through ``fit``, ``.keras`` files and ``check_network`` alike.

* :class:`TimestepEmbedding`: t → the sinusoidal position code of Vaswani et al. (2017, §3.5),
  [sin(t·ω_k), cos(t·ω_k)]_k with ω_k = max_period^(−k/(dim/2)): the timestep embedding of
  DDPM's U-Net (Ho, Jain & Abbeel 2020, appendix B) and of the denoising-diffusion GAN's
  networks (Xiao, Kreis & Vahdat 2022). A two-layer MLP on top makes the embedding each block
  reads (:func:`time_embedding_mlp`).
* :class:`PixelNormalization` and :func:`mapping_network`: the latent z of the DDGAN generator
  is normalised to unit mean square (Karras et al. 2018, "Progressive Growing of GANs", §4.2)
  and mapped by an MLP to a style vector w (StyleGAN's mapping network, Karras, Laine & Aila
  2019), as in the DDGAN code's generator.
* Conditioning by adaptive normalisation, (1 + γ(e))·GN(h) + β(e): the ε-network reuses
  :class:`kgen.layers.score_networks.ConditionalNormalization` (γ, β start at 0) on the time
  embedding; the generator's :class:`AdaptiveGroupNormalization` (γ, β start random, as in the
  DDGAN code, so that z acts from the first step) reads the concatenation e = [time
  embedding, w], so time and latent modulate each block (DDGAN's code normalises with w and
  adds the time embedding; a linear map of a concatenation is the sum of the two maps).
* :func:`time_unet`: [x, t] (DDPM: ε̂) or [x, t, z] (DDGAN: x̂₀) → an image of the shape of x;
  the small U-Net of :func:`kgen.layers.score_networks.conditional_unet` (residual blocks of
  :class:`~kgen.layers.score_networks.ConditionalResidualBlock`, stride-2 downsampling while
  H and W stay even and above 4, skip connections, nearest upsampling); the output conv starts
  at zero for an ε-network, and is followed by tanh for DDGAN's generator (data in [−1, 1]).
* :func:`time_mlp`: the vector version, for 2-D toys: per hidden layer
  h ← act((1 + γ(w))·(W h + V e_t) + β(w)) (:class:`Modulation`, only when there is a latent):
  the adaptive norm's scale and shift without the group norm, which on a few units per group
  would normalise away the magnitude of a 2-D input (measured: the generator then collapsed
  its x̂₀ onto a line).
* :func:`time_discriminator_mlp` and :func:`time_discriminator_conv`: DDGAN's discriminator
  D(x_{t−1}, x_t, t) → one logit. The pair is concatenated (on the channel axis for images);
  the time embedding is added inside each block, as in the DDGAN code's ``DownConvBlock``
  (LeakyReLU(0.2), residual blocks with average-pool downsampling, (h + skip)/√2, pooling
  over positions and a linear logit; the code sums where kgen averages, a constant factor).
  The code's minibatch-standard-deviation feature is left out: it makes one example's logit
  depend on the others in its batch.

Sizes are chosen to train on 2-D toys, 8×8 digits and 28×28 images on a laptop CPU.
"""

import math

import keras
from keras import layers, ops

from kgen import backend
from kgen.layers.networks import downsampling_stages
from kgen.layers.score_networks import ConditionalNormalization, ConditionalResidualBlock, _groups

UNET_FILTERS = (32, 64)
MLP_HIDDEN = (128, 128, 128)
EMBEDDING_DIM = 64
DISCRIMINATOR_FILTERS = (32, 64, 128)
LEAKY_SLOPE = 0.2

__all__ = [
    "AdaptiveGroupNormalization",
    "AdaptiveResidualBlock",
    "Modulation",
    "PixelNormalization",
    "TimestepEmbedding",
    "default_ddgan_discriminator",
    "default_ddgan_generator",
    "default_epsilon_network",
    "mapping_network",
    "time_discriminator_conv",
    "time_discriminator_mlp",
    "time_embedding_mlp",
    "time_mlp",
    "time_unet",
]


@keras.saving.register_keras_serializable(package="kgen")
class TimestepEmbedding(keras.layers.Layer):
    """t of shape (batch, 1) → sinusoidal features, shape (batch, ``dim``).

    Args:
        dim: number of features (even): ``dim/2`` frequencies ω_k = max_period^(−k/(dim/2)),
            k = 0 … dim/2 − 1, each with a sine and a cosine of t·ω_k.
        max_period: the longest period, in timesteps (10 000 in Vaswani et al. and DDPM).

    Computes in float32 under a mixed-precision policy (:func:`kgen.backend.precise_layer_arguments`):
    bfloat16 holds integers exactly only up to 256 and t·ω reaches T radians, so a bfloat16
    embedding of t near 1000 is off by up to 1.9 (of features in [−1, 1]).
    """

    def __init__(self, dim=EMBEDDING_DIM, max_period=10_000.0, **kwargs):
        super().__init__(**backend.precise_layer_arguments(kwargs, type(self).__name__))
        if not isinstance(dim, int) or dim < 2 or dim % 2:
            raise ValueError(f"`dim` must be an even integer ≥ 2; got {dim!r}.")
        if not max_period > 1.0:
            raise ValueError(f"`max_period` must be > 1; got {max_period!r}.")
        self.dim, self.max_period = dim, float(max_period)
        half = dim // 2
        self.frequencies = tuple(math.exp(-math.log(self.max_period) * k / half) for k in range(half))

    def call(self, t):
        frequencies = ops.convert_to_tensor(self.frequencies, self.compute_dtype)
        angles = ops.reshape(ops.cast(t, self.compute_dtype), (-1, 1)) * frequencies
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "max_period": self.max_period}


@keras.saving.register_keras_serializable(package="kgen")
class Modulation(keras.layers.Layer):
    """[h, w] → (1 + γ(w))·h + β(w), with γ, β linear in the style w: the scale-and-shift of
    adaptive normalisation without the normalisation (FiLM, Perez et al. 2018), for hidden
    layers of vectors, where a group norm over a few units would discard the magnitude of a
    low-dimensional input. The linear map starts random (zero biases), as the style layer of
    the DDGAN code's adaptive group norm: z then shapes the output from the first step."""

    def build(self, input_shape):
        h_shape, w_shape = input_shape
        self.scale_shift = layers.Dense(2 * h_shape[-1], dtype=self.dtype_policy)
        self.scale_shift.build(w_shape)

    def call(self, inputs):
        h, w = inputs
        scale, shift = ops.split(self.scale_shift(w), 2, axis=-1)
        return h * (1.0 + scale) + shift

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="kgen")
class AdaptiveGroupNormalization(ConditionalNormalization):
    """[h, e] → (1 + γ(e))·GroupNorm(h) + β(e) with γ, β linear in e and starting random (zero
    biases): the adaptive group norm of the DDGAN code's generator, through which the style w
    of the latent acts from the first step. (:class:`ConditionalNormalization` starts γ, β at 0,
    which suits a noise level but would let a generator begin by ignoring z.)"""

    def build(self, input_shape):
        h_shape, e_shape = input_shape
        channels = h_shape[-1]
        self.norm = layers.GroupNormalization(
            _groups(channels, self.groups), epsilon=self.epsilon, center=False, scale=False, dtype=self.dtype_policy
        )
        self.norm.build(h_shape)
        self.scale_shift = layers.Dense(2 * channels, dtype=self.dtype_policy)
        self.scale_shift.build(e_shape)
        self.rank = len(h_shape)


@keras.saving.register_keras_serializable(package="kgen")
class AdaptiveResidualBlock(ConditionalResidualBlock):
    """:class:`ConditionalResidualBlock` with :class:`AdaptiveGroupNormalization`: the
    generator's residual unit, conditioned on [time embedding, w]."""

    def build(self, input_shape):
        h_shape, e_shape = input_shape
        out_shape = (*h_shape[:-1], self.filters)
        policy = self.dtype_policy  # a network saved under a mixed policy loads with it whole
        self.norm1 = AdaptiveGroupNormalization(self.groups, dtype=policy)
        self.norm1.build((h_shape, e_shape))
        self.conv1 = layers.Conv2D(self.filters, 3, padding="same", dtype=policy)
        self.conv1.build(h_shape)
        self.norm2 = AdaptiveGroupNormalization(self.groups, dtype=policy)
        self.norm2.build((out_shape, e_shape))
        self.conv2 = layers.Conv2D(self.filters, 3, padding="same", dtype=policy)
        self.conv2.build(out_shape)
        self.skip = None
        if h_shape[-1] != self.filters:
            self.skip = layers.Conv2D(self.filters, 1, dtype=policy)
            self.skip.build(h_shape)


@keras.saving.register_keras_serializable(package="kgen")
class PixelNormalization(keras.layers.Layer):
    """z → z / √(mean(z²) + ε) over the last axis (Karras et al. 2018, §4.2)."""

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, z):
        return z * ops.rsqrt(ops.mean(ops.square(z), axis=-1, keepdims=True) + self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def time_embedding_mlp(t, dim, activation="silu"):
    """The embedding blocks read: sinusoidal features of t, then Dense(dim) → act → Dense(dim) → act."""
    e = TimestepEmbedding(dim)(t)
    e = layers.Dense(dim, activation=activation)(e)
    return layers.Dense(dim, activation=activation)(e)


def mapping_network(z, units, num_layers=2, activation="leaky_relu"):
    """w = MLP(PixelNorm(z)): ``num_layers`` Dense(units) layers with ``activation`` (LeakyReLU
    with slope 0.2, as StyleGAN's and DDGAN's mapping networks)."""
    w = PixelNormalization()(z)
    for _ in range(num_layers):
        w = layers.Dense(units)(w)
        w = layers.LeakyReLU(LEAKY_SLOPE)(w) if activation == "leaky_relu" else layers.Activation(activation)(w)
    return w


def _check_sizes(values, name):
    values = tuple(values)
    if not values or not all(isinstance(v, int) and v > 0 for v in values):
        raise ValueError(f"`{name}` must be a non-empty sequence of positive integers; got {values!r}.")
    return values


def _inputs(input_shape, latent_dim):
    x_in = keras.Input(shape=tuple(input_shape), name="x")
    t_in = keras.Input(shape=(1,), name="t")
    z_in = None if latent_dim is None else keras.Input(shape=(int(latent_dim),), name="z")
    return x_in, t_in, z_in


def _output_initializer(latent_dim):
    """An ε-network's output layer starts at zero (an untrained net predicts no noise); a
    generator's does not, so that an untrained generator's samples already depend on z."""
    return "zeros" if latent_dim is None else "glorot_uniform"


def _embedding(t_in, z_in, embedding_dim, mapping_layers):
    """The conditioning vector: the time embedding, concatenated with w = mapping(z) if any."""
    e = time_embedding_mlp(t_in, embedding_dim)
    if z_in is None:
        return e
    return layers.Concatenate()([e, mapping_network(z_in, embedding_dim, mapping_layers)])


def time_unet(input_shape, filters=UNET_FILTERS, embedding_dim=EMBEDDING_DIM, latent_dim=None,
              mapping_layers=2, output_activation=None, name="time_unet"):
    """[x (H, W, C), t (1,)] → (H, W, C), or [x, t, z (latent_dim,)] with ``latent_dim``.

    Args:
        input_shape: (H, W, C).
        filters: widths per resolution, finest first; the net downsamples ``len(filters) − 1``
            times, or fewer when H and W stop being even and above 4 (28×28: 28 → 14 → 7;
            8×8: 8 → 4).
        embedding_dim: size of the time embedding (and of w).
        latent_dim: size of z for a generator (DDGAN); ``None`` for DDPM's ε-network.
        mapping_layers: Dense layers of the mapping network z → w.
        output_activation: ``None`` (DDPM's ε) or ``"tanh"`` (DDGAN's x̂₀ for data in [−1, 1]).
    """
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"`input_shape` must be (H, W, C) for a U-Net; got {tuple(input_shape)}.")
    height, width, channels = input_shape
    filters = _check_sizes(filters, "filters")
    levels = min(len(filters) - 1, downsampling_stages(height, width)) + 1
    x_in, t_in, z_in = _inputs(input_shape, latent_dim)
    e = _embedding(t_in, z_in, embedding_dim, mapping_layers)
    block = ConditionalResidualBlock if z_in is None else AdaptiveResidualBlock
    norm = ConditionalNormalization if z_in is None else AdaptiveGroupNormalization
    h = layers.Conv2D(filters[0], 3, padding="same")(x_in)
    skips = []
    for level in range(levels):
        h = block(filters[level])([h, e])
        skips.append(h)
        if level < levels - 1:
            h = layers.Conv2D(filters[level + 1], 3, strides=2, padding="same")(h)
    h = block(filters[levels - 1])([h, e])
    for level in reversed(range(levels)):
        if level < levels - 1:
            h = layers.UpSampling2D(2, interpolation="nearest")(h)
            h = layers.Conv2D(filters[level], 3, padding="same")(h)
        h = layers.Concatenate()([h, skips[level]])
        h = block(filters[level])([h, e])
    h = norm()([h, e])
    h = layers.Activation("silu")(h)
    outputs = layers.Conv2D(channels, 3, padding="same", kernel_initializer=_output_initializer(latent_dim))(h)
    if output_activation is not None:
        outputs = layers.Activation(output_activation)(outputs)
    inputs = [x_in, t_in] if z_in is None else [x_in, t_in, z_in]
    return keras.Model(inputs, outputs, name=name)


def time_mlp(input_dim, hidden_units=MLP_HIDDEN, embedding_dim=EMBEDDING_DIM // 2, latent_dim=None,
             mapping_layers=2, activation="silu", name="time_mlp"):
    """[x (D,), t (1,)] → (D,), or [x, t, z] → (D,) with ``latent_dim`` (DDGAN's generator).

    Each hidden layer is h ← act(W h + V e_t + b); with a latent, the sum is first modulated
    by the style w = mapping(z), (1 + γ(w))·(·) + β(w) (:class:`Modulation`). The output layer
    starts at zero for an ε-network (no latent).
    """
    hidden_units = _check_sizes(hidden_units, "hidden_units")
    x_in, t_in, z_in = _inputs((int(input_dim),), latent_dim)
    e = time_embedding_mlp(t_in, embedding_dim)
    w = None if z_in is None else mapping_network(z_in, embedding_dim, mapping_layers)
    h = x_in
    for units in hidden_units:
        h = layers.Add()([layers.Dense(units)(h), layers.Dense(units, use_bias=False)(e)])
        if w is not None:
            h = Modulation()([h, w])
        h = layers.Activation(activation)(h)
    outputs = layers.Dense(int(input_dim), kernel_initializer=_output_initializer(latent_dim))(h)
    inputs = [x_in, t_in] if z_in is None else [x_in, t_in, z_in]
    return keras.Model(inputs, outputs, name=name)


def time_discriminator_mlp(input_dim, hidden_units=MLP_HIDDEN, embedding_dim=EMBEDDING_DIM // 2,
                           name="time_discriminator"):
    """[x_{t−1} (D,), x_t (D,), t (1,)] → one logit (1,): an MLP with LeakyReLU(0.2) whose
    hidden layers each add a projection of the time embedding."""
    hidden_units = _check_sizes(hidden_units, "hidden_units")
    x_prev = keras.Input(shape=(int(input_dim),), name="x_prev")
    x_t = keras.Input(shape=(int(input_dim),), name="x_t")
    t_in = keras.Input(shape=(1,), name="t")
    e = time_embedding_mlp(t_in, embedding_dim, activation="leaky_relu")
    h = layers.Concatenate()([x_prev, x_t])
    for units in hidden_units:
        h = layers.Add()([layers.Dense(units)(h), layers.Dense(units, use_bias=False)(e)])
        h = layers.LeakyReLU(LEAKY_SLOPE)(h)
    return keras.Model([x_prev, x_t, t_in], layers.Dense(1)(h), name=name)


@keras.saving.register_keras_serializable(package="kgen")
class TimeDownBlock(keras.layers.Layer):
    """[h, e] → h': act → 3×3 conv → + Dense(e) → act → (2×2 average pool) → 3×3 conv, plus
    a 1×1-conv skip of the (pooled) input, the sum divided by √2 (the DDGAN code's
    ``DownConvBlock``, with average pooling for its FIR downsampling filter)."""

    def __init__(self, filters, downsample=False, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.downsample = int(filters), bool(downsample)

    def build(self, input_shape):
        h_shape, e_shape = input_shape
        out_shape = (*h_shape[:-1], self.filters)
        policy = self.dtype_policy  # a network saved under a mixed policy loads with it whole
        self.conv1 = layers.Conv2D(self.filters, 3, padding="same", dtype=policy)
        self.conv1.build(h_shape)
        self.time = layers.Dense(self.filters, dtype=policy)
        self.time.build(e_shape)
        self.conv2 = layers.Conv2D(self.filters, 3, padding="same", dtype=policy)
        self.conv2.build(out_shape)
        self.skip = layers.Conv2D(self.filters, 1, use_bias=False, dtype=policy)
        self.skip.build(h_shape)
        self.pool = layers.AveragePooling2D(2, dtype=policy) if self.downsample else None

    def call(self, inputs):
        h, embedding = inputs
        out = self.conv1(ops.leaky_relu(h, LEAKY_SLOPE))
        out = out + ops.reshape(self.time(embedding), (-1, 1, 1, self.filters))
        out = ops.leaky_relu(out, LEAKY_SLOPE)
        if self.pool is not None:
            out, h = self.pool(out), self.pool(h)
        return (self.conv2(out) + self.skip(h)) / math.sqrt(2.0)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape[0]
        if self.downsample:
            height, width = height // 2, width // 2
        return (batch, height, width, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "downsample": self.downsample}


def time_discriminator_conv(input_shape, filters=DISCRIMINATOR_FILTERS, embedding_dim=EMBEDDING_DIM,
                            name="time_discriminator"):
    """[x_{t−1} (H, W, C), x_t (H, W, C), t (1,)] → one logit (1,).

    The pair is concatenated on the channel axis and read by a 1×1 conv, then one
    :class:`TimeDownBlock` per width in ``filters``; all but the first downsample while H and
    W stay even and above 4. LeakyReLU(0.2), a mean over positions and a linear logit close it.
    """
    if len(tuple(input_shape)) != 3:
        raise ValueError(f"`input_shape` must be (H, W, C) for a conv discriminator; got {tuple(input_shape)}.")
    height, width, _ = input_shape
    filters = _check_sizes(filters, "filters")
    stages = downsampling_stages(height, width)
    x_prev = keras.Input(shape=tuple(input_shape), name="x_prev")
    x_t = keras.Input(shape=tuple(input_shape), name="x_t")
    t_in = keras.Input(shape=(1,), name="t")
    e = layers.LeakyReLU(LEAKY_SLOPE)(time_embedding_mlp(t_in, embedding_dim, activation="leaky_relu"))
    h = layers.Conv2D(filters[0], 1)(layers.Concatenate()([x_prev, x_t]))
    for index, width_ in enumerate(filters):
        h = TimeDownBlock(width_, downsample=0 < index <= stages)([h, e])
    h = layers.LeakyReLU(LEAKY_SLOPE)(h)
    h = layers.GlobalAveragePooling2D()(h)
    return keras.Model([x_prev, x_t, t_in], layers.Dense(1)(h), name=name)


# ------------------------------------------------------------------------------ the defaults
def default_epsilon_network(input_shape):
    """DDPM's ε-network: :func:`time_unet` for images (rank 3), :func:`time_mlp` for vectors."""
    if len(input_shape) == 3:
        return time_unet(input_shape, name="epsilon_unet")
    if len(input_shape) == 1:
        return time_mlp(input_shape[0], name="epsilon_mlp")
    raise ValueError(
        f"No default ε-network for data of shape {tuple(input_shape)}: expected images (H, W, C) "
        "or vectors (D,). Pass your own `network=` taking [x, t]."
    )


def default_ddgan_generator(input_shape, latent_dim):
    """DDGAN's generator [x_t, t, z] → x̂₀: :func:`time_unet` with tanh for images, :func:`time_mlp`
    for vectors."""
    if len(input_shape) == 3:
        return time_unet(input_shape, latent_dim=latent_dim, output_activation="tanh", name="generator")
    if len(input_shape) == 1:
        return time_mlp(input_shape[0], latent_dim=latent_dim, name="generator")
    raise ValueError(
        f"No default generator for data of shape {tuple(input_shape)}: expected images (H, W, C) or "
        "vectors (D,). Pass your own `generator=` taking [x_t, t, z]."
    )


def default_ddgan_discriminator(input_shape):
    """DDGAN's discriminator [x_{t−1}, x_t, t] → logit: conv for images, MLP for vectors."""
    if len(input_shape) == 3:
        return time_discriminator_conv(input_shape, name="discriminator")
    if len(input_shape) == 1:
        return time_discriminator_mlp(input_shape[0], name="discriminator")
    raise ValueError(
        f"No default discriminator for data of shape {tuple(input_shape)}: expected images (H, W, C) "
        "or vectors (D,). Pass your own `discriminator=` taking [x_prev, x_t, t]."
    )
