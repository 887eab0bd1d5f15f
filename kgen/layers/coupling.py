"""Affine coupling: the invertible layer of NICE, RealNVP and Glow.

A binary mask b splits the input into a part that is kept and a part that is changed by an
elementwise affine map whose parameters a network reads from the kept part (Dinh et al. 2017,
"Density estimation using Real NVP", eq. 7–9):

    x = b ⊙ z + (1 − b) ⊙ (z ⊙ s(b ⊙ z) + t(b ⊙ z)),     log |det ∂x/∂z| = Σ (1 − b) ⊙ log s.

The Jacobian is triangular, so its log-determinant is a sum, and the inverse needs no inverse
of the network: z = b ⊙ x + (1 − b) ⊙ (x − t(b ⊙ x)) / s(b ⊙ x).

Masks: ``"checkerboard"`` (images, b = 1 where row + column + parity is even), ``"channel"``
(images: the first half of the channels is kept, or the second with ``parity=1``) and
``"half"`` (vectors: the same split on the last axis). Channel and half masks are computed by
slicing, so the network sees only the kept features.

Scales, kept stable so that no step can blow up the log-determinant:
``"tanh"``: log s = a ⊙ tanh(h) with a learned per-feature factor a (the RealNVP authors' code);
``"sigmoid"``: s = σ(h + 2) ∈ (0, 1) in the latent → data direction (after Glow, Kingma &
Dhariwal 2018, whose code multiplies by ``sigmoid(h + 2)`` in the other, data → latent,
direction: there the normalizing direction can only contract, here it can only expand);
``"additive"``: s = 1, the volume-preserving coupling of NICE (Dinh et al. 2015).
The last layer of each network starts at zero, so every coupling starts near the identity
(exactly, for the sigmoid scale up to s = σ(2)).
"""

import keras
from keras import layers, ops

from kgen import backend
from kgen.layers.flow_layer import FlowLayer, sum_event, sum_terms
from kgen.layers.networks import mlp
from kgen.validation import check_choice, check_positive_int

MASKS = ("checkerboard", "channel", "half")
SCALES = ("tanh", "sigmoid", "additive")


def conv_conditioner(input_shape, output_channels, hidden_channels, name="conditioner"):
    """Image → parameters: Conv 3×3 → ReLU → Conv 1×1 → ReLU → zero-initialised Conv 3×3
    (Glow's coupling network, Kingma & Dhariwal 2018, §3.3, there with 512 hidden channels)."""
    inputs = keras.Input(shape=tuple(input_shape))
    h = layers.Conv2D(hidden_channels, 3, padding="same", activation="relu")(inputs)
    h = layers.Conv2D(hidden_channels, 1, activation="relu")(h)
    outputs = layers.Conv2D(output_channels, 3, padding="same", kernel_initializer="zeros")(h)
    return keras.Model(inputs, outputs, name=name)


def dense_conditioner(input_dim, output_dim, hidden_units, name="conditioner"):
    """Vector → parameters: :func:`kgen.layers.networks.mlp` with its last layer set to zero."""
    network = mlp(input_dim, output_dim, hidden_units, name=name)
    last = network.layers[-1]
    last.kernel.assign(ops.zeros_like(last.kernel))
    return network


@keras.saving.register_keras_serializable(package="kgen")
class AffineCoupling(FlowLayer):
    """Affine (or additive) coupling layer with a checkerboard, channel or half mask.

    Args:
        mask: ``"checkerboard"`` or ``"channel"`` for images (H, W, C), ``"half"`` for vectors.
        parity: 0 or 1; flips which part is kept, so that alternating layers change every entry.
        hidden_units: for images, the hidden channels of the conv network (an int); for vectors,
            the hidden units of the MLP (a tuple, or an int for two layers of that width).
        scale: ``"tanh"``, ``"sigmoid"`` or ``"additive"`` (see the module docstring).
    """

    def __init__(self, mask="half", parity=0, hidden_units=64, scale="tanh", **kwargs):
        super().__init__(**kwargs)
        self.mask = check_choice(mask, "mask", MASKS)
        self.parity = check_choice(parity, "parity", (0, 1))
        self.scale = check_choice(scale, "scale", SCALES)
        if isinstance(hidden_units, (list, tuple)):
            self.hidden_units = tuple(check_positive_int(units, "hidden_units") for units in hidden_units)
        else:
            self.hidden_units = check_positive_int(hidden_units, "hidden_units")

    def build(self, input_shape):
        event = tuple(input_shape[1:])
        image_mask = self.mask in ("checkerboard", "channel")
        if image_mask != (len(event) == 3) or (self.mask == "half" and len(event) != 1):
            raise ValueError(
                f"A {self.mask!r} mask needs {'images (H, W, C)' if image_mask else 'vectors (D,)'}; "
                f"got examples of shape {event}."
            )
        features = event[-1]
        if self.mask == "checkerboard":
            height, width = event[:2]
            rows, cols = ops.arange(height)[:, None], ops.arange(width)[None, :]
            checker = ops.cast((rows + cols + self.parity) % 2 == 0, self.compute_dtype)
            self.kept_mask = ops.reshape(checker, (height, width, 1))
            kept_shape, changed = event, features
        else:
            if features < 2:
                raise ValueError(f"A {self.mask!r} mask needs at least 2 features on the last axis; got {features}.")
            self.split = features // 2
            kept = self.split if self.parity == 0 else features - self.split
            changed = features - kept
            kept_shape = (*event[:-1], kept)
        self.network = self.make_network(kept_shape, changed if self.scale == "additive" else 2 * changed)
        if self.scale == "tanh":
            self.scale_factor = self.add_weight(shape=(changed,), initializer="ones", name="scale_factor")
        self.changed_features = changed

    def make_network(self, kept_shape, outputs):
        """The conditioner: kept part (``kept_shape``) → ``outputs`` shift and scale parameters."""
        if len(kept_shape) == 3:
            if not isinstance(self.hidden_units, int):
                raise ValueError(
                    f"For images `hidden_units` is a number of channels (an int); got {self.hidden_units!r}."
                )
            return conv_conditioner(kept_shape, outputs, self.hidden_units)
        units = self.hidden_units
        return dense_conditioner(kept_shape[-1], outputs, units if isinstance(units, tuple) else (units, units))

    # ------------------------------------------------------------------------------ the math
    def _shift_and_log_scale(self, kept):
        parameters = backend.full_precision(self.network(kept))  # a mixed-precision network's, widened
        if self.scale == "additive":
            return parameters, ops.zeros_like(parameters)
        shift, raw = ops.split(parameters, 2, axis=-1)
        if self.scale == "tanh":
            return shift, self.scale_factor * ops.tanh(raw)
        return shift, ops.log_sigmoid(raw + 2.0)

    def _split(self, x):
        # Two slices: cheaper than ``ops.split`` at a position, whose TensorFlow version also
        # computes the second piece's size from the shape at run time.
        first, second = x[..., :self.split], x[..., self.split:]
        return (first, second) if self.parity == 0 else (second, first)

    def _join(self, kept, changed):
        return ops.concatenate([kept, changed] if self.parity == 0 else [changed, kept], axis=-1)

    def _couple(self, x, direction):
        """The coupling's affine map in ``direction`` (+1 forward, −1 inverse) and the log s of
        the changed entries, whose sum is the forward log-determinant."""
        if self.mask == "checkerboard":
            kept = x * self.kept_mask
            shift, log_scale = self._shift_and_log_scale(kept)
            log_scale = log_scale * (1.0 - self.kept_mask)
            shift = shift * (1.0 - self.kept_mask)
            changed = x * ops.exp(log_scale) + shift if direction > 0 else (x - shift) * ops.exp(-log_scale)
            return kept + (1.0 - self.kept_mask) * changed, log_scale
        kept, x_changed = self._split(x)
        shift, log_scale = self._shift_and_log_scale(kept)
        if direction > 0:
            changed = x_changed * ops.exp(log_scale) + shift
        else:
            changed = (x_changed - shift) * ops.exp(-log_scale)
        return self._join(kept, changed), log_scale

    def _forward(self, z):
        x, log_scale = self._couple(z, +1)
        return x, sum_event(log_scale)

    def _inverse_terms(self, x):
        z, log_scale = self._couple(x, -1)
        if self.scale == "additive":
            return z, None, 0.0
        return z, log_scale, -1.0

    def _inverse(self, x):
        return sum_terms(*self._inverse_terms(x))

    def get_config(self):
        return {**super().get_config(), "mask": self.mask, "parity": self.parity,
                "hidden_units": self.hidden_units, "scale": self.scale}
