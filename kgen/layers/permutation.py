"""A fixed permutation of the features (last axis): log-det 0, its inverse the inverse permutation.

Stacked autoregressive or coupling layers need every feature to be transformed and to condition
the others; MAF reverses the order of the inputs between its MADEs (Papamakarios et al. 2017,
"Masked Autoregressive Flow for Density Estimation", §3.2), RealNVP alternates its masks.
"""

import keras
import numpy as np
from keras import ops

from kgen.layers.flow_layer import FlowLayer
from kgen.validation import check_seed


@keras.saving.register_keras_serializable(package="kgen")
class Permutation(FlowLayer):
    """x = z[..., order]: a fixed permutation of the last axis.

    Args:
        order: ``"reverse"``, ``"random"`` (drawn from ``seed`` when the layer is built) or an
            explicit permutation of 0 … D−1 (a list of ints).
        seed: the seed of a ``"random"`` order.
    """

    def __init__(self, order="reverse", seed=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(order, str):
            if order not in ("reverse", "random"):
                raise ValueError(f"`order` must be 'reverse', 'random' or a list of ints; got {order!r}.")
        else:
            order = [int(i) for i in order]
            if sorted(order) != list(range(len(order))):
                raise ValueError(f"`order` must be a permutation of 0 … {len(order) - 1}; got {order}.")
        self.order = order
        self.seed = check_seed(seed)

    def build(self, input_shape):
        features = input_shape[-1]
        if self.order == "reverse":
            permutation = np.arange(features)[::-1]
        elif self.order == "random":
            permutation = np.random.default_rng(self.seed).permutation(features)
        else:
            permutation = np.asarray(self.order)
            if len(permutation) != features:
                raise ValueError(f"`order` has {len(permutation)} entries but the data has {features} features.")
        self.permutation = [int(i) for i in permutation]
        self.inverse_permutation = [int(i) for i in np.argsort(permutation)]

    volume_preserving = True

    def _forward(self, z):
        return self._permute(z, self.permutation), ops.zeros((ops.shape(z)[0],), z.dtype)

    def _inverse(self, x):
        return self._permute(x, self.inverse_permutation), ops.zeros((ops.shape(x)[0],), x.dtype)

    def _permute(self, x, permutation):
        # A reversal (its own inverse) as one ReverseV2: cheaper than the gather of ``take``.
        return ops.flip(x, axis=-1) if self.order == "reverse" else ops.take(x, permutation, axis=-1)

    def get_config(self):
        return {**super().get_config(), "order": self.order, "seed": self.seed}
