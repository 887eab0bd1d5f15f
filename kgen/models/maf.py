"""MAF: the masked autoregressive flow (Papamakarios, Pavlakou & Murray 2017, "Masked
Autoregressive Flow for Density Estimation").

A stack of Gaussian autoregressive layers, each a MADE (Germain et al. 2015) that outputs
μ_d(x_{<d}) and α_d(x_{<d}) (:class:`kgen.layers.GaussianAutoregressive`):

    x_d = u_d · exp(α_d) + μ_d,     log p(x) = log N(u; 0, I) − Σ_layers Σ_d α_d,

with the order of the variables reversed between layers (§3.2, :class:`kgen.layers.Permutation`),
so that each layer conditions on what the previous one could not.

Costs: the density (``log_prob``, training) is one pass through each MADE, all dimensions at
once; sampling (``sample``, ``forward``) inverts each layer one dimension at a time, D passes
per MADE, each computing only its dimension's outputs
(:meth:`kgen.layers.MADE.autoregressive_inverse`): several times a density evaluation
(``benchmarks/flows.py`` measures it).
The inverse autoregressive flow (Kingma et al. 2016) makes the opposite trade.

The density needs only the sum of every α of every layer: each layer hands its α over as
log-det terms and the flow reduces them once, with the Gaussian's Σ u_d²
(:meth:`kgen.layers.FlowLayer.inverse_terms`); the reversals between layers carry none. What
costs is the MADEs themselves (``benchmarks/flows.py`` measures ``log_prob`` against the MADEs
called alone).

Defaults: five MADEs, "MAF (5)" in the paper's tables, with two hidden layers of 100 ReLU
units. The paper also places batch normalization between the MADEs; kgen does not.
"""

from kgen.layers.made import GaussianAutoregressive
from kgen.layers.permutation import Permutation
from kgen.models.base import register_model
from kgen.models.flow import Flow
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

    def get_config(self):
        return {**super().get_config(), "num_mades": self.num_mades,
                "hidden_units": self.hidden_units, "activation": self.activation}
