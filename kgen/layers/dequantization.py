"""From discrete pixels to a continuous density: uniform dequantization and the logit transform.

**Uniform dequantization** (Theis et al. 2016, "A note on the evaluation of generative models",
§3.1; Dinh et al. 2017, §4.1). Pixels take L levels, stored by kgen as k/(L−1) in [0, 1]. Adding
uniform noise inside each level's bin, y = (k + u)/L with u ~ U[0, 1)^D, gives a continuous y in
[0, 1)^D. For any density p on y, the probability of the discrete image is the mass of its bin,
which Jensen's inequality bounds by the density at a noisy point:

    log P(k) = log ∫_bin p(y) dy ≥ E_u[log p(y)] − D log L.

So −(log p(y) − D log L) / (D log 2) is an unbiased estimate of an upper bound on the discrete
negative log-likelihood in bits per dimension, the figure the papers report. The −D log L is
the "log-det" of the dequantization, and :class:`UniformDequantization` returns it beside y.

**Logit transform** (Dinh et al. 2017, §4.1): y ∈ [0, 1] is squeezed into [α, 1 − α] and mapped to
the real line, so the flow never has to reach the boundary of the unit cube,

    s = logit(α + (1 − 2α) y),   log |det ∂s/∂y| = Σ [log(1 − 2α) − log t − log(1 − t)],  t = α + (1 − 2α) y,

with α = 0.05 in RealNVP.
"""

import math

import keras
from keras import ops

from kgen import backend
from kgen.layers.flow_layer import FlowLayer, sum_event
from kgen.validation import check_positive_float, check_positive_int


@keras.saving.register_keras_serializable(package="kgen")
class UniformDequantization(keras.layers.Layer):
    """y = (k + u) / L for pixels x = k / (L − 1) in [0, 1], u ~ U[0, 1): a noisy, not invertible, step.

    Args:
        num_bins: L, the number of intensity levels per pixel, the bins of the dequantization
            (256 for 8-bit images, 17 for scikit-learn's digits).
    """

    def __init__(self, num_bins=256, **kwargs):
        super().__init__(**backend.precise_layer_arguments(kwargs, type(self).__name__))
        self.num_bins = check_positive_int(num_bins, "num_bins")
        if self.num_bins < 2:
            raise ValueError(f"`num_bins` must be at least 2; got {self.num_bins}.")

    def dequantize(self, x, seed):
        """(y, −D log L): dequantized values in [0, 1) and the log-volume term, shape (batch,).

        ``seed`` is a ``keras.random.SeedGenerator`` or an int.
        """
        levels = ops.round(x * (self.num_bins - 1))
        noise = keras.random.uniform(ops.shape(x), dtype=x.dtype, seed=seed)
        y = (levels + noise) / self.num_bins
        log_volume = -math.prod(x.shape[1:]) * math.log(self.num_bins)
        return y, ops.full((ops.shape(x)[0],), log_volume, dtype=x.dtype)

    def discretize(self, y):
        """The grey level k / (L − 1) whose bin holds y: the inverse of :meth:`dequantize` on the data."""
        levels = ops.clip(ops.floor(y * self.num_bins), 0, self.num_bins - 1)
        return levels / (self.num_bins - 1)

    def call(self, x, seed=None):
        return self.dequantize(x, seed)[0]

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins}


@keras.saving.register_keras_serializable(package="kgen")
class LogitTransform(FlowLayer):
    """``inverse``: y ∈ [0, 1] → logit(α + (1 − 2α) y); ``forward``: its inverse, back to [0, 1].

    Args:
        alpha: α in (0, 0.5), the margin kept from 0 and 1 (0.05 in Dinh et al. 2017).
    """

    def __init__(self, alpha=0.05, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_positive_float(alpha, "alpha")
        if self.alpha >= 0.5:
            raise ValueError(f"`alpha` must lie in (0, 0.5); got {self.alpha}.")

    def build(self, input_shape):
        pass  # no weights

    def _inverse(self, y):
        t = self.alpha + (1.0 - 2.0 * self.alpha) * y
        log_det = math.log(1.0 - 2.0 * self.alpha) - ops.log(t) - ops.log1p(-t)
        return ops.log(t) - ops.log1p(-t), sum_event(log_det)

    def _forward(self, s):
        log_det = ops.log_sigmoid(s) + ops.log_sigmoid(-s) - math.log(1.0 - 2.0 * self.alpha)
        return (ops.sigmoid(s) - self.alpha) / (1.0 - 2.0 * self.alpha), sum_event(log_det)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}
