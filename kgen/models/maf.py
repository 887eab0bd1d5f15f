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

Defaults: five MADEs, "MAF (5)" in the paper's tables, with two hidden layers of 100 ReLU
units. The paper also places batch normalization between the MADEs; kgen does not.
"""

import keras

from kgen.layers.made import GaussianAutoregressive
from kgen.layers.permutation import Permutation
from kgen.models.flow import Flow
from kgen.validation import check_positive_int


@keras.saving.register_keras_serializable(package="kgen")
class MAF(Flow):
    """Masked autoregressive flow over vectors of dimension ``event_dim``.

    Args:
        event_dim: D ≥ 2.
        num_mades: number of MADE layers.
        hidden_units: hidden units of each MADE.
        activation: of the MADE hidden layers.
        seed: seed of the model's random draws.
    """

    def __init__(self, event_dim, num_mades=5, hidden_units=(100, 100), activation="relu", seed=None, **kwargs):
        event_dim = check_positive_int(event_dim, "event_dim")
        if event_dim < 2:
            raise ValueError(f"`event_dim` must be at least 2 for an autoregressive flow; got {event_dim}.")
        super().__init__((event_dim,), seed=seed, **kwargs)
        self.event_dim = event_dim
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
        return {**super().get_config(), "event_dim": self.event_dim, "num_mades": self.num_mades,
                "hidden_units": self.hidden_units, "activation": self.activation}
