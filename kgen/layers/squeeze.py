"""Squeeze and the multi-scale split: how RealNVP and Glow trade space for channels.

**Squeeze** (Dinh et al. 2017, §3.6, fig. 3) cuts an (H, W, C) image into 2×2 blocks and stacks
each block along the channels, giving (H/2, W/2, 4C); it only moves entries (log-det 0). In
kgen's orientation (:mod:`kgen.layers.flow_layer`) ``inverse`` (data → latent) squeezes and
``forward`` (latent → data) unsqueezes.

**Multi-scale split** (Dinh et al. 2017, §3.6): after each scale, half of the channels are
*factored out*, they go straight to the latent code while the other half is transformed further.
Glow (Kingma & Dhariwal 2018, its code's ``split2d``) gives the factored-out half x₂ a learned
conditional prior N(μ(x₁), σ(x₁)²) computed from the kept half x₁ by a zero-initialised
convolution. Written as a change of variables, ε₂ = (x₂ − μ(x₁)) / σ(x₁) with
log |det ∂ε₂/∂x₂| = −Σ log σ(x₁), the prior becomes a conditional affine layer followed by a
standard normal; that is an affine coupling with a channel mask whose network is a single
convolution. :class:`SplitPrior` is that layer; the model then passes x₁ on and collects ε₂,
which keeps the whole flow a bijection onto N(0, I) (so it is also one ``tfb.Bijector``).
Sampling at temperature T draws ε₂ ~ N(0, T² I) and gives x₂ = μ + σ·ε₂, Glow's tempered prior.
"""

import keras
from keras import layers, ops

from kgen.layers.coupling import AffineCoupling
from kgen.layers.flow_layer import FlowLayer


@keras.saving.register_keras_serializable(package="kgen")
class Squeeze(FlowLayer):
    """(H, W, C) ↔ (H/2, W/2, 4C): ``inverse`` squeezes 2×2 blocks into channels, ``forward`` undoes it."""

    volume_preserving = True

    def build(self, input_shape):
        pass  # no weights; the shape is read from each batch

    def inverse_event_shape(self, event_shape):
        height, width, channels = event_shape
        return (height // 2, width // 2, 4 * channels)

    def _inverse(self, x):
        _, height, width, channels = x.shape
        if height % 2 or width % 2:
            raise ValueError(f"Squeeze needs an even height and width; got an image of {height}×{width}.")
        blocks = ops.reshape(x, (-1, height // 2, 2, width // 2, 2, channels))
        blocks = ops.transpose(blocks, (0, 1, 3, 2, 4, 5))
        return ops.reshape(blocks, (-1, height // 2, width // 2, 4 * channels)), ops.zeros_like(x[:, 0, 0, 0])

    def _forward(self, z):
        _, height, width, channels = z.shape
        blocks = ops.reshape(z, (-1, height, width, 2, 2, channels // 4))
        blocks = ops.transpose(blocks, (0, 1, 3, 2, 4, 5))
        return ops.reshape(blocks, (-1, 2 * height, 2 * width, channels // 4)), ops.zeros_like(z[:, 0, 0, 0])


@keras.saving.register_keras_serializable(package="kgen")
class SplitPrior(AffineCoupling):
    """Glow's learned prior for the factored-out half of the channels, as a flow layer.

    ``inverse`` maps (x₁, x₂) to (x₁, (x₂ − μ(x₁)) / σ(x₁)); the first half of the channels is
    passed on by the model, the second is the latent code of this scale. log σ = a·tanh(h), the
    stable scale of :class:`kgen.layers.AffineCoupling`.
    """

    def __init__(self, **kwargs):
        for fixed in ("mask", "parity", "hidden_units", "scale"):
            kwargs.pop(fixed, None)
        super().__init__(mask="channel", parity=0, hidden_units=1, scale="tanh", **kwargs)

    def make_network(self, kept_shape, outputs):
        inputs = keras.Input(shape=tuple(kept_shape))
        outputs = layers.Conv2D(outputs, 3, padding="same", kernel_initializer="zeros")(inputs)
        return keras.Model(inputs, outputs, name="split_prior")
