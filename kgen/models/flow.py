"""``Flow``: what RealNVP, Glow and MAF share, and their bridge to TensorFlow Probability.

A normalizing flow is a bijection x = f(z) from a standard normal z ~ N(0, I) to the data, built
from the invertible layers of :mod:`kgen.layers` (their convention is stated once in
:mod:`kgen.layers.flow_layer`: ``forward`` z → x, ``inverse`` x → z, each with log |det J|).
Its log-density is exact (Dinh et al. 2017, eq. 3):

    log p(x) = log N(f⁻¹(x); 0, I) + Σ_layers log |det ∂z_{k}/∂z_{k−1}|.

**Multi-scale** (Dinh et al. 2017, §3.6): after some layers half of the channels are factored
out, they leave the flow and become part of z, while the other half goes on. The factored-out
pieces and the last output are flattened and concatenated, then laid out in the data's shape,
so that z and x have the same shape and ``forward``/``inverse`` are one bijection.

**Images** (data in [0, 1], pixels k/(L−1)): ``log_prob`` is the density of the continuous,
dequantized variable y ∈ [0, 1]^D; training and :meth:`Flow.bits_per_dim` add uniform noise and
the −D log L of :class:`kgen.layers.UniformDequantization`, so the reported bits/dim bound the
*discrete* negative log-likelihood: bits/dim = −(log p(y) − D log L) / (D log 2), the papers'
convention (Theis et al. 2016).

**TFP bridge** (in :mod:`kgen.distributions`, the one door to TFP): :attr:`Flow.distribution`
is a ``tfd.TransformedDistribution`` of a standard normal by
:class:`kgen.distributions.FlowBijector`, a ``tfb.Bijector`` that calls the model's layers (it
owns no weights), so ``flow.distribution.log_prob(x) == flow.log_prob(x)``; a vector flow also
serves as a VAE prior (``BetaVAE(prior=flow)``, through :class:`kgen.distributions.FlowPrior`,
with a Monte Carlo KL).

Training minimizes the mean negative log-likelihood (nats per example; for images the
dequantized bound) and reports it as ``loss`` together with ``bits_per_dim``.
"""

import math

import keras
import numpy as np
from keras import ops

from kgen import distributions
from kgen.layers.dequantization import UniformDequantization
from kgen.models.base import GenerativeModel
from kgen.validation import check_input, check_positive_float, check_positive_int

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
#: Examples per pass of ``log_prob`` and ``bits_per_dim`` (bounds the memory of large evaluations).
EVAL_BATCH_SIZE = 512


class Flow(GenerativeModel):
    """Base class of kgen's normalizing flows.

    Subclasses make their layers and call :meth:`set_layers` in ``__init__``.

    Args:
        input_shape: shape of one example: ``(D,)`` vectors or ``(H, W, C)`` images in [0, 1].
        num_bins: L, the intensity levels per pixel of image data (256 for 8-bit images), the
            bins of the uniform dequantization; unused for vectors. :meth:`from_data` reads it
            off the data.
        seed: seed of the model's random draws (dequantization noise and ``sample``).
    """

    loss_names = ("bits_per_dim",)

    def __init__(self, input_shape, num_bins=256, seed=None, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        self.event_size = math.prod(self.input_shape)
        self.is_image = len(self.input_shape) == 3
        self.num_bins = check_positive_int(num_bins, "num_bins")
        self.dequantization = UniformDequantization(self.num_bins) if self.is_image else None

    @classmethod
    def data_arguments(cls, x):
        """The example shape and, for images whose pixels are k/(L − 1), ``num_bins`` = L."""
        arguments = super().data_arguments(x)
        if len(arguments["input_shape"]) == 3:
            levels = pixel_levels(x)
            if levels is not None:
                arguments["num_bins"] = levels
        return arguments

    def set_layers(self, flow_layers, factor_out_after=()):
        """Build ``flow_layers`` (data → latent order) for ``input_shape``; after each index in
        ``factor_out_after`` the last half of the channels leaves the flow (multi-scale)."""
        self.flow_layers = list(flow_layers)
        if not self.flow_layers:
            raise ValueError(f"{type(self).__name__} needs at least one flow layer; got none.")
        self.factor_out_after = tuple(factor_out_after)
        shape, self.piece_shapes = self.input_shape, []
        for index, layer in enumerate(self.flow_layers):
            layer.build((None, *shape))
            shape = layer.inverse_event_shape(shape)
            if index in self.factor_out_after:
                kept = shape[-1] // 2
                self.piece_shapes.append((*shape[:-1], shape[-1] - kept))
                shape = (*shape[:-1], kept)
        self.piece_shapes.append(shape)

    # ----------------------------------------------------------------------- the contract
    @property
    def input_range(self):
        if not self.is_image:
            return None
        return 0.0, 1.0, f"for an image flow (pixels k/{self.num_bins - 1}, k = 0 … {self.num_bins - 1})"

    def inverse(self, x):
        """z = f⁻¹(x) and log |det ∂z/∂x| per example: data → latent, both of the data's shape."""
        self.check_data(x)
        return self._inverse(ops.convert_to_tensor(x, self.compute_dtype))

    def forward(self, z):
        """x = f(z) and log |det ∂x/∂z| per example: latent → data (the sampling direction)."""
        check_input(z, self.input_shape, "z")
        return self._forward(ops.convert_to_tensor(z, self.compute_dtype))

    def log_prob(self, x, batch_size=EVAL_BATCH_SIZE):
        """log p(x) per example, shape (batch,): for images the density of the continuous
        (dequantized) variable on [0, 1]^D; see :meth:`bits_per_dim` for the discrete figure.
        Evaluated ``batch_size`` examples at a time."""
        self.check_data(x)
        return self.map_batches(self._log_prob, x, batch_size)

    def bits_per_dim(self, x, seed=None, batch_size=EVAL_BATCH_SIZE, verbose=0):
        """−log₂ p(x) / D per example, shape (batch,).

        Images get uniform dequantization noise (from ``seed``, else the model's generator) and
        the −D log L of the bins: an unbiased estimate of an upper bound on the discrete
        negative log-likelihood, in bits per pixel and channel. Vectors: the density's value.
        ``verbose=1`` shows a progress bar.
        """
        self.check_data(x)
        seed_generator = self.seed_source(seed)
        nll = self.map_batches(lambda chunk: -self._log_likelihood(chunk, seed_generator), x, batch_size, verbose)
        return nll / (self.event_size * math.log(2.0))

    @property
    def distribution(self):
        """The flow as a ``tfd.TransformedDistribution`` (event shape ``input_shape``), whose
        bijector calls this model's layers: samples, ``log_prob`` and a VAE prior in TFP's terms."""
        return distributions.flow_distribution(self)

    def as_prior(self):
        """This flow as a :class:`kgen.distributions.Prior` (``BetaVAE(prior=flow)`` calls it)."""
        return distributions.FlowPrior(self)

    def evaluation_figures(self, x, seed=0, verbose=0):
        """The exact mean negative log-likelihood (nats per example; for images the
        dequantized bound on the discrete NLL, noise from ``seed``) and its bits per dimension."""
        bits = float(ops.mean(self.bits_per_dim(x, seed=seed, verbose=verbose)))
        return {"examples": len(x), "nll": bits * self.event_size * math.log(2.0), "bits_per_dim": bits}

    def generate(self, n, seed_generator, temperature=1.0):
        """x = f(T·ε), ε ~ N(0, I): the temperature T < 1 draws typical, smoother samples
        (Kingma & Dhariwal 2018, §5.3). Images are clipped to [0, 1]."""
        temperature = check_positive_float(temperature, "temperature", allow_zero=True)
        eps = keras.random.normal((n, *self.input_shape), dtype=self.compute_dtype, seed=seed_generator)
        x, _ = self._forward(temperature * eps)
        return ops.clip(x, 0.0, 1.0) if self.is_image else x

    # ---------------------------------------------------------------------------- the math
    def _normalize(self, x):
        """z = f⁻¹(x) and every layer's log-det terms (:meth:`kgen.layers.FlowLayer.inverse_terms`),
        flattened: a list of (batch, K_i) tensors and a list of their (K_i,) NumPy weights, with
        log |det ∂z/∂x| = Σ_i terms_i @ weights_i."""
        h, terms, weights, pieces = x, [], [], []
        for index, layer in enumerate(self.flow_layers):
            h, layer_terms, weight = layer.inverse_terms(h)
            if layer_terms is not None:
                size = math.prod(layer_terms.shape[1:])
                terms.append(layer_terms if len(layer_terms.shape) == 2 else ops.reshape(layer_terms, (-1, size)))
                weights.append(np.full(size, weight))
            if index in self.factor_out_after:
                kept = h.shape[-1] // 2
                pieces.append(h[..., kept:])
                h = h[..., :kept]
        pieces.append(h)
        return self._pack(pieces), terms, weights

    def _inverse(self, x):
        z, terms, weights = self._normalize(x)
        if not terms:
            return z, ops.zeros((ops.shape(x)[0],), x.dtype)
        return z, weighted_sum(terms, weights)

    def _forward(self, z):
        pieces = self._unpack(z)
        h, log_det = pieces.pop(), None
        for index in reversed(range(len(self.flow_layers))):
            if index in self.factor_out_after:
                h = ops.concatenate([h, pieces.pop()], axis=-1)
            h, layer_log_det = self.flow_layers[index].forward(h)
            log_det = layer_log_det if log_det is None else log_det + layer_log_det
        return h, log_det

    def _pack(self, pieces):
        """The latent pieces (one per scale, squeezed shapes) as one tensor of the data's shape."""
        if len(pieces) == 1 and tuple(pieces[0].shape[1:]) == self.input_shape:
            return pieces[0]
        batch = ops.shape(pieces[0])[0]
        if len(pieces) == 1:
            return ops.reshape(pieces[0], (batch, *self.input_shape))
        flat = ops.concatenate([ops.reshape(piece, (batch, -1)) for piece in pieces], axis=1)
        return ops.reshape(flat, (batch, *self.input_shape))

    def _unpack(self, z):
        batch = ops.shape(z)[0]
        if len(self.piece_shapes) == 1:
            return [ops.reshape(z, (batch, *self.piece_shapes[0]))]
        sizes = [math.prod(shape) for shape in self.piece_shapes]
        flat = ops.split(ops.reshape(z, (batch, -1)), list(np.cumsum(sizes)[:-1]), axis=1)
        return [ops.reshape(piece, (batch, *shape)) for piece, shape in zip(flat, self.piece_shapes)]

    def _log_prob(self, x):
        """log N(z; 0, I) + log |det ∂z/∂x| as one weighted sum of [z², every layer's terms]."""
        z, terms, weights = self._normalize(x)
        flat = z if len(z.shape) == 2 else ops.reshape(z, (-1, self.event_size))
        squares = weighted_sum([ops.square(flat), *terms], [np.full(self.event_size, -0.5), *weights])
        return squares - self.event_size * _HALF_LOG_2PI

    def _log_likelihood(self, x, seed_generator):
        """The training objective's log-likelihood per example: dequantized for images."""
        if not self.is_image:
            return self._log_prob(x)
        y, log_volume = self.dequantization.dequantize(x, seed_generator)
        return self._log_prob(y) + log_volume

    # ---------------------------------------------------------------------------- training
    def call(self, x, training=False):
        return {"log_likelihood": self._log_likelihood(x, self.seed_generator)}

    def loss_terms(self, x, outputs):
        nll = -ops.mean(outputs["log_likelihood"])
        return {"loss": nll, "bits_per_dim": nll / (self.event_size * math.log(2.0))}

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins}


def weighted_sum(columns, weights):
    """Σ_i columns_i · weights_i summed per example: (batch, K_i) tensors, (K_i,) NumPy weights.
    One concatenation, one product and one sum, however many layers contribute (the module
    docstring of :mod:`kgen.layers.flow_layer` says why the op count matters). Not a matrix
    product: GPUs may run float32 matmuls in TF32, whose 10-bit mantissa a density cannot afford."""
    stacked = columns[0] if len(columns) == 1 else ops.concatenate(columns, axis=-1)
    return ops.sum(stacked * ops.convert_to_tensor(np.concatenate(weights), dtype=stacked.dtype), axis=-1)


def pixel_levels(x, max_levels=256):
    """L if every value of ``x`` is k/(L − 1) for an integer k (L ≤ ``max_levels``), else None:
    the number of intensity levels of images stored in [0, 1] (2 for binary, 17 for digits)."""
    values = np.unique(np.asarray(x, dtype="float64"))
    if len(values) < 2 or values[0] < 0 or values[-1] > 1:
        return None
    step = float(np.min(np.diff(values)))
    levels = round(1.0 / step) + 1
    if levels > max_levels or not np.allclose(values * (levels - 1), np.round(values * (levels - 1)), atol=1e-4):
        return None
    return levels
