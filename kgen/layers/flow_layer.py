"""``FlowLayer``: the convention every invertible layer of kgen follows.

A normalizing flow writes the data x as an invertible function of a latent z with a simple
density, x = f(z), and scores x by the change of variables (Dinh et al. 2017, eq. 3):

    log p_X(x) = log p_Z(f⁻¹(x)) + log |det ∂f⁻¹(x)/∂x|.

kgen follows TensorFlow Probability's orientation for layers and models alike:

* ``forward(z)`` runs the *generative* direction z → x and returns ``(x, log|det ∂x/∂z|)``;
* ``inverse(x)`` runs the *normalizing* direction x → z and returns ``(z, log|det ∂z/∂x|)``;

each log-determinant has one value per example, shape (batch,), and the two are negatives of
each other at matching points. A flow's density is the sum of the ``inverse`` log-determinants
along the way from x to z. Every layer maps a batch of one fixed event shape (the shape it was
built for) and keeps the batch axis first.

**Log-determinants as terms** (``inverse_terms``): most layers' log |det| is a sum of
per-entry log-scales, log |det ∂z/∂x| = w · Σ_i t_i for a constant weight w (−1 for an affine
coupling's log s, −A for MAF's α/A). A flow asks each layer for its terms t and reduces all of
them, and its Gaussian's Σ z², in one weighted sum (:meth:`kgen.models.Flow._log_prob`) instead
of one sum and one addition per layer: on a CPU without XLA each op costs about as much to
launch as to run at the sizes of vector flows, so the op count is the cost that ``log_prob``
pays on top of its networks (``benchmarks/flows.py`` measures it).
"""

import keras
from keras import ops

from kgen import backend


class FlowLayer(keras.layers.Layer):
    """Base class of invertible layers: ``forward`` (z → x) and ``inverse`` (x → z), each with
    its log |det Jacobian| per example. Subclasses write ``_forward`` and ``_inverse``.

    A layer builds itself on its first ``forward``/``inverse`` call (from that batch's shape) if
    it was not built before; models build their layers when they are made, so that ``.keras``
    files find the weights in place. ``call`` is ``inverse`` without the log-determinant.

    A flow layer computes in float32 whatever the global dtype policy (its log-determinant is a
    sum over every entry); a network inside it (a coupling's conditioner) follows the policy,
    and its output is widened by :func:`kgen.backend.full_precision`.

    A layer whose log-determinant is a weighted sum of terms writes ``_inverse_terms`` and
    defines ``_inverse`` by :func:`sum_terms`; a layer of log-determinant 0 sets
    ``volume_preserving``.
    """

    #: True for layers whose log-determinant is 0 (permutations, reshapes): they add no terms.
    volume_preserving = False

    def __init__(self, **kwargs):
        super().__init__(**backend.precise_layer_arguments(kwargs, type(self).__name__))

    def forward(self, z):
        """x = f(z) and log |det ∂x/∂z|, shape (batch,)."""
        self._build_for(z)
        return self._forward(z)

    def inverse(self, x):
        """z = f⁻¹(x) and log |det ∂z/∂x|, shape (batch,)."""
        self._build_for(x)
        return self._inverse(x)

    def inverse_terms(self, x):
        """z = f⁻¹(x) with log |det ∂z/∂x| left unsummed: ``(z, terms, weight)``, where
        log |det| = ``weight`` · Σ ``terms`` over every axis but the batch axis; ``terms`` has the
        batch axis first (None for a volume-preserving layer) and ``weight`` is a Python float."""
        self._build_for(x)
        return self._inverse_terms(x)

    def call(self, x):
        return self.inverse(x)[0]

    def inverse_event_shape(self, event_shape):
        """The shape of one example after ``inverse``, for examples of ``event_shape``."""
        return tuple(event_shape)

    def _build_for(self, x):
        if not self.built:
            self.build(tuple(x.shape))

    def _forward(self, z):
        raise NotImplementedError

    def _inverse(self, x):
        raise NotImplementedError

    def _inverse_terms(self, x):
        z, log_det = self._inverse(x)
        if self.volume_preserving:
            return z, None, 0.0
        return z, log_det[:, None], 1.0


def sum_event(values):
    """Sum over every axis but the batch axis: one value per example, shape (batch,)."""
    return ops.sum(values, axis=tuple(range(1, len(values.shape))))


def sum_terms(z, terms, weight):
    """``(z, weight · Σ terms)`` per example: ``inverse`` from the output of ``_inverse_terms``
    (a log-determinant of 0 when ``terms`` is None)."""
    if terms is None:
        return z, ops.zeros((ops.shape(z)[0],), z.dtype)
    return z, weight * sum_event(terms)
