"""Entropy and mutual information of discrete variables, computed by kgen itself (in nats).

For discrete variables A and B observed together N times, the plug-in estimates are

    H(A)    = −Σ_a p(a) log p(a),
    I(A; B) = Σ_{a,b} p(a, b) log [ p(a, b) / (p(a) p(b)) ],

with p the empirical frequencies of the contingency table. (They match
``sklearn.metrics.mutual_info_score``, which disentanglement_lib calls, but do not depend on it.)
Continuous codes are first cut into equal-width bins by :func:`discretize`.
"""

import numpy as np


def discretize(values, num_bins=20):
    """Cut each column of ``values`` (N, d) into ``num_bins`` equal-width bins spanning its
    [min, max]; returns int bin indices in [0, num_bins) of the same shape.

    This is disentanglement_lib's histogram discretizer (``np.histogram`` edges, the maximum in
    the last bin). A constant column falls into one bin.
    """
    values = np.asarray(values, dtype=np.float64)
    binned = np.empty(values.shape, dtype=np.int64)
    for j, column in enumerate(values.T):
        edges = np.histogram_bin_edges(column, bins=num_bins)
        binned[:, j] = np.digitize(column, edges[1:-1])
    return binned


def entropy(labels):
    """H(A) in nats of one discrete variable given by its N observed ``labels``."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    p = counts / counts.sum()
    return float(-np.sum(p * np.log(p)))


def mutual_information(a, b):
    """I(A; B) in nats from N paired observations of two discrete variables."""
    _, a = np.unique(np.asarray(a), return_inverse=True)
    _, b = np.unique(np.asarray(b), return_inverse=True)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= joint.sum()
    outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    seen = joint > 0
    return float(np.sum(joint[seen] * np.log(joint[seen] / outer[seen])))


def mutual_information_matrix(codes, factors):
    """I(code_i; factor_j) for every column pair of two discrete arrays (N, d) and (N, k): (d, k)."""
    codes, factors = np.asarray(codes), np.asarray(factors)
    return np.array([[mutual_information(c, f) for f in factors.T] for c in codes.T])
