"""ActNorm: a per-channel affine layer with data-dependent initialization.

Glow (Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1×1 Convolutions", §3.1)
replaces batch normalization by an affine map with one scale and one bias per channel,

    x = z ⊙ exp(log s) + b,     log |det ∂x/∂z| = (number of positions) · Σ_c log s_c,

whose parameters are set from the first batch of data so that, in the normalizing direction,
each channel of the output has zero mean and unit variance; afterwards they are ordinary
trained weights. The layer records that it has been initialized in a non-trainable variable,
so that ``.keras`` files and resumed training keep the trained values; the initialization is
written with variable assignments and runs inside ``fit`` (graph mode, XLA) as well as eagerly.
"""

import math

import keras
from keras import ops

from kgen.layers.flow_layer import FlowLayer

#: Added to the data's standard deviation, so a constant channel does not give log 0.
EPSILON = 1e-6


@keras.saving.register_keras_serializable(package="kgen")
class ActNorm(FlowLayer):
    """Per-channel affine flow layer (last axis), initialized from the first batch it inverts."""

    def build(self, input_shape):
        channels = input_shape[-1]
        self.positions = math.prod(input_shape[1:-1])
        # "mean" aggregation: replicas that initialize from their own batches agree on the average.
        self.loc = self.add_weight(shape=(channels,), initializer="zeros", name="loc", aggregation="mean")
        self.log_scale = self.add_weight(
            shape=(channels,), initializer="zeros", name="log_scale", aggregation="mean"
        )
        self.initialized = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="initialized", aggregation="mean"
        )

    def initialize(self, x):
        """Set loc and log_scale from the batch ``x`` unless already initialized (a no-op then)."""
        axes = tuple(range(len(x.shape) - 1))
        mean = ops.mean(x, axis=axes)
        std = ops.sqrt(ops.mean(ops.square(x - mean), axis=axes))
        done = self.initialized > 0.5
        self.loc.assign(ops.where(done, self.loc, mean))
        self.log_scale.assign(ops.where(done, self.log_scale, ops.log(std + EPSILON)))
        self.initialized.assign(ops.ones_like(self.initialized))

    def _log_det(self, z):
        return ops.ones((ops.shape(z)[0],), z.dtype) * (self.positions * ops.sum(self.log_scale))

    def _forward(self, z):
        return z * ops.exp(self.log_scale) + self.loc, self._log_det(z)

    def _inverse(self, x):
        self.initialize(x)
        return (x - self.loc) * ops.exp(-self.log_scale), -self._log_det(x)
