"""MADE and the Gaussian autoregressive layer of MAF.

**MADE** (Germain et al. 2015, "MADE: Masked Autoencoder for Distribution Estimation") turns an
MLP into an autoregressive network by multiplying each weight matrix by a binary mask. Every
input gets a degree m(d) ∈ {1 … D} from an ordering, every hidden unit a degree in {1 … D−1},
and a connection is kept when it cannot carry information from an input to an output of equal
or lower degree (eq. 12–13):

    hidden:  M[k′, k] = 1[m_l(k) ≥ m_{l−1}(k′)],     output:  M[k, d] = 1[m(d) > m_L(k)].

So output d depends only on the inputs that precede d in the ordering. Hidden degrees are
assigned in turn, 1, 2, …, D−1, 1, 2, … (a deterministic version of Germain et al.'s uniform
draw that uses every degree).

**Gaussian autoregressive layer** (Papamakarios et al. 2017, "Masked Autoregressive Flow for
Density Estimation", eq. 2–5). A MADE with two outputs per dimension gives μ_d(x_{<d}) and
α_d(x_{<d}), and

    x_d = u_d · exp(α_d) + μ_d   (forward, sampling),     u_d = (x_d − μ_d) · exp(−α_d)   (inverse, density),

    log |det ∂u/∂x| = −Σ_d α_d.

The density direction is one MADE pass for all d at once; sampling must go in order, one
MADE pass per dimension: D passes (each O(network)), so sampling costs D times a density
evaluation. Here α = 7·tanh(a/7), a soft bound that is the identity near 0 and keeps exp(α)
finite early in training.
"""

import keras
import numpy as np
from keras import layers, ops

from kgen import backend
from kgen.layers.flow_layer import FlowLayer
from kgen.validation import check_positive_int, check_seed

ORDERINGS = ("left-to-right", "right-to-left", "random")
ALPHA_BOUND = 7.0


def input_degrees(ordering, dims, seed=0):
    """Degrees 1 … D of the inputs for an ``ordering`` name or an explicit list (a permutation
    of 1 … D giving each input's position in the autoregressive order)."""
    if isinstance(ordering, str):
        if ordering == "left-to-right":
            return np.arange(1, dims + 1)
        if ordering == "right-to-left":
            return np.arange(dims, 0, -1)
        if ordering == "random":
            return np.random.default_rng(seed).permutation(dims) + 1
        raise ValueError(f"`ordering` must be one of {ORDERINGS} or a list of degrees; got {ordering!r}.")
    degrees = np.asarray([int(d) for d in ordering])
    if sorted(degrees.tolist()) != list(range(1, dims + 1)):
        raise ValueError(f"`ordering` must be a permutation of 1 … {dims}; got {list(degrees)}.")
    return degrees


def made_masks(degrees, hidden_units):
    """The MADE masks (Germain et al. 2015, eq. 12–13) for inputs of the given degrees: one
    (fan_in, fan_out) 0/1 array per layer, the last one for one output per input."""
    dims = len(degrees)
    masks, previous = [], degrees
    for units in hidden_units:
        hidden = np.arange(units) % max(dims - 1, 1) + 1
        masks.append((hidden[None, :] >= previous[:, None]).astype("float32"))
        previous = hidden
    masks.append((degrees[None, :] > previous[:, None]).astype("float32"))
    return masks


class MaskedDense(layers.Dense):
    """A Dense layer whose kernel is multiplied by a fixed 0/1 mask (built by :class:`MADE`)."""

    def __init__(self, units, mask, **kwargs):
        super().__init__(units, **kwargs)
        self.mask = mask

    def call(self, inputs):
        # The mask in the compute dtype: under a mixed policy the kernel is read in half precision.
        outputs = ops.matmul(inputs, self.kernel * ops.cast(self.mask, self.compute_dtype)) + self.bias
        return self.activation(outputs)


@keras.saving.register_keras_serializable(package="kgen")
class MADE(keras.layers.Layer):
    """Masked autoencoder: x (batch, D) → (batch, D, params), output [:, d, :] a function of x_{<d}.

    Args:
        hidden_units: units of each masked hidden layer.
        params: how many outputs per dimension (2 for a Gaussian: μ and α).
        ordering: ``"left-to-right"``, ``"right-to-left"``, ``"random"`` (from ``seed``) or a list
            of degrees (a permutation of 1 … D).
        activation: of the hidden layers.
        seed: seed of a random ordering.
        zero_output: start the output layer at zero (a flow layer then starts at the identity).
    """

    def __init__(self, hidden_units=(64, 64), params=2, ordering="left-to-right", activation="relu",
                 seed=0, zero_output=True, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = tuple(check_positive_int(units, "hidden_units") for units in hidden_units)
        self.params = check_positive_int(params, "params")
        self.ordering = ordering if isinstance(ordering, str) else [int(d) for d in ordering]
        self.activation = activation
        self.seed = check_seed(seed)
        self.zero_output = bool(zero_output)

    def build(self, input_shape):
        dims = input_shape[-1]
        if len(input_shape) != 2 or dims < 2:
            raise ValueError(f"MADE needs vectors (batch, D) with D ≥ 2; got shape {tuple(input_shape)}.")
        self.dims = dims
        self.degrees = input_degrees(self.ordering, dims, self.seed)
        masks = made_masks(self.degrees, self.hidden_units)
        self.hidden_layers = []
        fan_in = dims
        for units, mask in zip(self.hidden_units, masks[:-1]):
            layer = MaskedDense(units, mask, activation=self.activation)
            layer.build((None, fan_in))
            self.hidden_layers.append(layer)
            fan_in = units
        # Output unit p·D + d is parameter p of dimension d: it shares dimension d's mask.
        output_mask = np.tile(masks[-1], (1, self.params))
        initializer = "zeros" if self.zero_output else "glorot_uniform"
        self.output_layer = MaskedDense(self.params * dims, output_mask, kernel_initializer=initializer)
        self.output_layer.build((None, fan_in))

    def call(self, x):
        return ops.stack(self.parameters(x), axis=-1)

    def parameters(self, x):
        """The outputs as ``params`` tensors of shape (batch, D), parameter p of every dimension
        in the p-th: what ``call`` stacks, without the stacking (one split of the output layer,
        the cheapest layout for a flow layer that uses each parameter on its own)."""
        h = x
        for layer in self.hidden_layers:
            h = layer(h)
        return ops.split(self.output_layer(h), self.params, axis=-1)

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units, "params": self.params,
                "ordering": self.ordering, "activation": self.activation, "seed": self.seed,
                "zero_output": self.zero_output}


@keras.saving.register_keras_serializable(package="kgen")
class GaussianAutoregressive(FlowLayer):
    """One MAF layer: x = u·exp(α(x_{<d})) + μ(x_{<d}) with μ, α from a :class:`MADE`.

    ``inverse`` (density) is one MADE pass; ``forward`` (sampling) is D passes.

    Args:
        hidden_units, ordering, activation, seed: passed to the :class:`MADE`.
    """

    def __init__(self, hidden_units=(64, 64), ordering="left-to-right", activation="relu", seed=0, **kwargs):
        super().__init__(**kwargs)
        self.made = MADE(hidden_units, params=2, ordering=ordering, activation=activation, seed=seed)

    def build(self, input_shape):
        self.made.build(input_shape)

    def shift_and_log_scale(self, x):
        """μ(x_{<d}) and α(x_{<d}), each (batch, D)."""
        shift, unbounded = backend.full_precision(self.made.parameters(x))  # widened under mixed precision
        return shift, ALPHA_BOUND * ops.tanh(unbounded / ALPHA_BOUND)

    def normalize(self, x):
        """The density direction before its sum: u = (x − μ)·exp(−α) and α / A, each (batch, D),
        where A = ``ALPHA_BOUND`` (α/A = tanh(a/A), the log-scale in units of its bound).

        ``inverse`` is ``u, −A·Σ_d α_d/A``. A stack of these layers (:class:`kgen.models.MAF`)
        adds the α/A of its layers and multiplies by A once, at the end: one op fewer per layer.
        """
        shift, unbounded = backend.full_precision(self.made.parameters(x))  # widened under mixed precision
        bounded = ops.tanh(unbounded * (1.0 / ALPHA_BOUND))
        return (x - shift) * ops.exp(bounded * -ALPHA_BOUND), bounded

    def _inverse(self, x):
        u, bounded = self.normalize(x)
        return u, -ALPHA_BOUND * ops.sum(bounded, axis=-1)

    def _forward(self, u):
        def step(_, state):
            x, _ = state
            shift, log_scale = self.shift_and_log_scale(x)
            return u * ops.exp(log_scale) + shift, log_scale

        # After pass k the first k dimensions (in the ordering) are exact, and so are the μ, α
        # that pass k computes for dimension k: D passes give x and every α exactly.
        x, log_scale = ops.fori_loop(0, self.made.dims, step, (ops.zeros_like(u), ops.zeros_like(u)))
        return x, ops.sum(log_scale, axis=-1)

    def get_config(self):
        made = self.made
        return {**super().get_config(), "hidden_units": made.hidden_units, "ordering": made.ordering,
                "activation": made.activation, "seed": made.seed}
