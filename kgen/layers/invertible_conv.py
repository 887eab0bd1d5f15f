"""Invertible 1×1 convolution: a learned linear mixing of the channels at every position.

Glow (Kingma & Dhariwal 2018, §3.2) replaces the fixed channel permutations of RealNVP by a
learned C×C matrix W applied at each of the H·W positions (for vectors, once):

    x = z W,     log |det ∂x/∂z| = H · W · log |det W|.

``lu=True`` uses Glow's LU parameterization (§3.2, eq. 10), which makes the log-determinant a
sum instead of an O(C³) determinant:

    W = P L (U + diag(sign ⊙ exp(log_s))),

with P a fixed permutation, L lower triangular with a unit diagonal, U strictly upper triangular
and the signs fixed; L, U and log_s are trained. Both start from a random rotation (|det W| = 1),
drawn from Keras' global seed (``keras.utils.set_random_seed``).
"""

import math

import keras
import numpy as np
import scipy.linalg
from keras import ops

from kgen.layers.flow_layer import FlowLayer


@keras.saving.register_keras_serializable(package="kgen")
class InvertibleConv1x1(FlowLayer):
    """Learned channel mixing x = z W on the last axis, plain or LU-decomposed.

    Args:
        lu: use the LU parameterization (Glow's default for its larger models).
    """

    def __init__(self, lu=True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(lu, bool):
            raise TypeError(f"`lu` must be True or False; got {lu!r}.")
        self.lu = lu

    def build(self, input_shape):
        channels = input_shape[-1]
        self.positions = math.prod(input_shape[1:-1])
        rotation = keras.ops.convert_to_numpy(keras.initializers.Orthogonal()((channels, channels)))
        if not self.lu:
            self.kernel = self.add_weight(
                shape=(channels, channels), initializer=keras.initializers.Constant(rotation), name="kernel"
            )
            return
        permutation, lower, upper = scipy.linalg.lu(rotation.astype("float64"))
        diagonal = np.diag(upper)

        def constant(value, name, trainable=True):
            return self.add_weight(
                shape=value.shape, initializer=keras.initializers.Constant(value.astype("float32")),
                trainable=trainable, name=name,
            )

        self.permutation = constant(permutation, "permutation", trainable=False)
        self.sign = constant(np.sign(diagonal), "sign", trainable=False)
        self.lower = constant(lower, "lower")
        self.upper = constant(np.triu(upper, 1), "upper")
        self.log_s = constant(np.log(np.abs(diagonal)), "log_s")

    def kernel_and_log_det(self):
        """W and log |det W| (per position)."""
        if not self.lu:
            return self.kernel, ops.slogdet(self.kernel)[1]
        channels = ops.shape(self.lower)[0]
        eye = ops.eye(channels, dtype=self.lower.dtype)
        lower = ops.tril(self.lower, -1) + eye
        upper = ops.triu(self.upper, 1) + ops.diag(self.sign * ops.exp(self.log_s))
        return ops.matmul(self.permutation, ops.matmul(lower, upper)), ops.sum(self.log_s)

    def _forward(self, z):
        kernel, log_det = self.kernel_and_log_det()
        return ops.matmul(z, kernel), ops.ones((ops.shape(z)[0],), z.dtype) * (self.positions * log_det)

    def _inverse(self, x):
        kernel, log_det = self.kernel_and_log_det()
        return ops.matmul(x, ops.inv(kernel)), ops.ones((ops.shape(x)[0],), x.dtype) * (-self.positions * log_det)

    def get_config(self):
        return {**super().get_config(), "lu": self.lu}
