"""MAF: the masked autoregressive flow (Papamakarios, Pavlakou & Murray 2017, "Masked
Autoregressive Flow for Density Estimation").

A stack of Gaussian autoregressive layers, each a MADE (Germain et al. 2015) that outputs
μ_d(x_{<d}) and α_d(x_{<d}) (:class:`kgen.layers.GaussianAutoregressive`):

    x_d = u_d · exp(α_d) + μ_d,     log p(x) = log N(u; 0, I) − Σ_layers Σ_d α_d,

with the order of the variables reversed between layers (§3.2, :class:`kgen.layers.Permutation`),
so that each layer conditions on what the previous one could not.

Costs: the density (``log_prob``, training) is one pass through each MADE, all dimensions at
once; sampling (``sample``, ``forward``) inverts each layer one dimension at a time, D passes
per MADE, so it costs about D times a density evaluation (``benchmarks/flows.py`` measures it).
The inverse autoregressive flow (Kingma et al. 2016) makes the opposite trade.

**The density in one pass** (``_normalize``, ``_log_prob``): log |det ∂u/∂x| needs only the
sum of every α of every layer, so the layers' α are kept and reduced once, together with the
Gaussian's Σ u_d², and the reversals between layers carry no log-determinant: what costs is the
MADEs themselves (``benchmarks/flows.py`` measures ``log_prob`` against the MADEs called alone).

Defaults: five MADEs, "MAF (5)" in the paper's tables, with two hidden layers of 100 ReLU
units. The paper also places batch normalization between the MADEs; kgen does not.
"""

import numpy as np
from keras import ops

from kgen.layers.made import ALPHA_BOUND, GaussianAutoregressive
from kgen.layers.permutation import Permutation
from kgen.models.base import register_model
from kgen.models.flow import _HALF_LOG_2PI, Flow
from kgen.validation import check_positive_int, check_shape


@register_model("maf", "MAF: the masked autoregressive flow (Papamakarios et al. 2017)")
class MAF(Flow):
    """Masked autoregressive flow over vectors.

    Args:
        input_shape: ``(D,)`` with D ≥ 2.
        num_mades: number of MADE layers.
        hidden_units: hidden units of each MADE.
        activation: of the MADE hidden layers.
        seed: seed of the model's random draws.
    """

    def __init__(self, input_shape, num_mades=5, hidden_units=(100, 100), activation="relu", seed=None, **kwargs):
        input_shape = check_shape(input_shape)
        if len(input_shape) != 1 or input_shape[0] < 2:
            raise ValueError(
                f"`input_shape` must be (D,) with D ≥ 2: MAF models vectors autoregressively; got {input_shape}."
            )
        super().__init__(input_shape, seed=seed, **kwargs)
        self.num_mades = check_positive_int(num_mades, "num_mades")
        self.hidden_units = tuple(check_positive_int(units, "hidden_units") for units in hidden_units)
        self.activation = activation
        flow_layers = []
        for index in range(self.num_mades):
            if index:
                flow_layers.append(Permutation("reverse"))
            flow_layers.append(GaussianAutoregressive(self.hidden_units, activation=activation))
        self.set_layers(flow_layers)

    def _normalize(self, x):
        """u = f⁻¹(x) and each layer's α / ``ALPHA_BOUND`` ((batch, D) each, in that layer's
        order of the variables: their sum over d is the same in any order)."""
        h, bounded = x, []
        for layer in self.flow_layers:
            if isinstance(layer, Permutation):
                # log |det| = 0. MAF's reversals as one ReverseV2 each (a gather costs more).
                h = ops.flip(h, axis=-1) if layer.order == "reverse" else layer.inverse(h)[0]
                continue
            h, layer_bounded = layer.normalize(h)
            bounded.append(layer_bounded)
        return h, bounded

    def _inverse(self, x):
        z, bounded = self._normalize(x)
        return z, -ALPHA_BOUND * ops.sum(ops.stack(bounded), axis=(0, 2))

    def _log_prob(self, x):
        """log N(u; 0, I) − Σ_layers Σ_d α_d, as one weighted sum over [u², α/A of each layer]:
        a handful of ops for the whole stack (on a CPU without XLA each op costs about as much
        to launch as to run at these sizes, so the count is the cost)."""
        z, bounded = self._normalize(x)
        terms = ops.concatenate([ops.square(z), *bounded], axis=-1)
        return -ops.sum(terms * self._log_prob_weights(terms.dtype), axis=-1) - self.event_size * _HALF_LOG_2PI

    def _log_prob_weights(self, dtype):
        """½ for each u_d², A = ``ALPHA_BOUND`` for each α_d/A of each MADE: a constant."""
        dims = self.event_size
        weights = np.concatenate([np.full(dims, 0.5), np.full(self.num_mades * dims, ALPHA_BOUND)])
        return ops.convert_to_tensor(weights, dtype=dtype)

    def get_config(self):
        return {**super().get_config(), "num_mades": self.num_mades,
                "hidden_units": self.hidden_units, "activation": self.activation}
