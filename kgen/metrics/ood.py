"""Out-of-distribution scores from a likelihood model, and the AUROC that compares them.

Nalisnick et al. (2019, "Do Deep Generative Models Know What They Don't Know?") found that
flows trained on Fashion-MNIST give *higher* likelihood to MNIST, and Glow trained on CIFAR-10
to SVHN: a high density is not the same as being typical. In high dimension almost all the
mass of a distribution sits in its typical set, where −log p(x) is close to the entropy H, far
from the mode. These scores take per-example negative log-likelihoods (nats or bits/dim, any
model, any data) and return one score per input, higher meaning "more likely out of
distribution":

* :func:`likelihood_score`: −log p(x), the naive test that the finding defeats;
* :func:`typicality_score`: |−(1/M) Σ log p(x_m) − Ĥ| over groups of M inputs, Ĥ the mean NLL of
  held-out training data (Nalisnick, Matsukawa, Teh & Lakshminarayanan 2019, "Detecting
  Out-of-Distribution Inputs to Deep Generative Models Using Typicality", eq. 3–4); M = 1
  scores single inputs, larger M tests batches and is far more powerful;
* :func:`likelihood_ratio_score`: log p_background(x) − log p(x), with a background model
  trained on perturbed inputs (:func:`perturb`) that captures low-level statistics such as
  the amount of background, so that the ratio keeps the semantic part (Ren et al. 2019,
  "Likelihood Ratios for Out-of-Distribution Detection", eq. 5, with the sign flipped so that
  higher is more anomalous);

and :func:`auroc`, the area under the ROC curve of a score separating in- from
out-of-distribution inputs (1: perfect, 0.5: chance, 0: perfectly inverted), and :func:`auprc`,
the area under the precision-recall curve with the out-of-distribution inputs as positives (1:
perfect, their share of all inputs: chance), the figure anomaly-detection papers report when
anomalies are rare; :func:`anomaly_split`, the one-class-out train / test split of the
anomaly-detection protocol (Zenati et al. 2018; Pang et al. 2020, §4.4).
"""

import numpy as np

from kgen.validation import check_positive_float, check_positive_int, check_seed


def _scores(values, name):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"`{name}` must be a non-empty 1-D array of per-example values; got shape {values.shape}.")
    if not np.isfinite(values).all():
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return values


def likelihood_score(nll):
    """−log p(x) itself (per example): high for inputs the model finds unlikely."""
    return _scores(nll, "nll")


def typicality_score(nll, train_nll, group_size=1):
    """Distance of the mean NLL of each group of ``group_size`` inputs from the entropy estimate.

    Args:
        nll: per-example negative log-likelihoods of the inputs to score (nats or bits/dim).
        train_nll: the same quantity on held-out *training-distribution* data; its mean is Ĥ.
        group_size: M, inputs per test; ``len(nll)`` must be a multiple of it. Groups are
            consecutive entries.

    Returns:
        One score per group, shape (len(nll) / M,).
    """
    nll = _scores(nll, "nll")
    entropy = _scores(train_nll, "train_nll").mean()
    group_size = check_positive_int(group_size, "group_size")
    if len(nll) % group_size:
        raise ValueError(f"`nll` has {len(nll)} entries, not a multiple of `group_size`={group_size}.")
    return np.abs(nll.reshape(-1, group_size).mean(axis=1) - entropy)


def likelihood_ratio_score(nll, background_nll):
    """log p_background(x) − log p(x) = nll − background_nll, per example (Ren et al. 2019)."""
    nll, background_nll = _scores(nll, "nll"), _scores(background_nll, "background_nll")
    if nll.shape != background_nll.shape:
        raise ValueError(f"`nll` and `background_nll` must have the same shape; got {nll.shape} and {background_nll.shape}.")
    return nll - background_nll


def perturb(x, rate, num_bins=256, seed=0):
    """Ren et al.'s input perturbation for the background model: each value is replaced, with
    probability ``rate`` (0.1–0.3 for images in the paper), by a uniformly drawn level k/(B−1).

    ``num_bins`` is B, the number of intensity levels per pixel (256 for 8-bit images), as in
    the flows' ``num_bins``: the replacement values are the B levels 0, 1/(B−1), …, 1."""
    rate = check_positive_float(rate, "rate")
    if rate > 1:
        raise ValueError(f"`rate` must lie in (0, 1]; got {rate}.")
    num_bins = check_positive_int(num_bins, "num_bins")
    if num_bins < 2:
        raise ValueError(f"`num_bins` must be at least 2 (the levels 0, …, 1); got {num_bins}.")
    rng = np.random.default_rng(check_seed(seed))
    x = np.asarray(x)
    replace = rng.random(x.shape) < rate
    noise = rng.integers(0, num_bins, size=x.shape) / (num_bins - 1)
    return np.where(replace, noise, x).astype(x.dtype)


def auroc(in_scores, out_scores):
    """Area under the ROC curve of a score that should be higher for out-of-distribution inputs.

    Equal to P(score_out > score_in) + ½ P(score_out = score_in) (the Mann–Whitney statistic,
    ties counted half), computed from ranks in O(n log n).
    """
    in_scores, out_scores = _scores(in_scores, "in_scores"), _scores(out_scores, "out_scores")
    combined = np.concatenate([in_scores, out_scores])
    order = np.argsort(combined, kind="mergesort")
    ranks = np.empty(len(combined))
    sorted_values = combined[order]
    # Average ranks (1-based) over runs of tied values.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(combined)]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + 1 + end) / 2
    n_in, n_out = len(in_scores), len(out_scores)
    rank_sum_out = ranks[n_in:].sum()
    return float((rank_sum_out - n_out * (n_out + 1) / 2) / (n_in * n_out))


def auprc(in_scores, out_scores):
    """Area under the precision-recall curve of a score that should be higher for
    out-of-distribution inputs (the positives), as average precision:

        AP = Σ_k (R_k − R_{k−1}) · P_k,

    over the distinct score values t_k taken as thresholds from the highest down, with P_k and
    R_k the precision and recall of "score ≥ t_k" (tied scores enter together). This is the
    step-wise area of Manning, Raghavan & Schütze (2008, "Introduction to Information
    Retrieval", §8.4) and scikit-learn's ``average_precision_score``; a random score gets about
    the positives' share, n_out / (n_in + n_out).
    """
    in_scores, out_scores = _scores(in_scores, "in_scores"), _scores(out_scores, "out_scores")
    scores = np.concatenate([in_scores, out_scores])
    positive = np.concatenate([np.zeros(len(in_scores)), np.ones(len(out_scores))])
    order = np.argsort(-scores, kind="mergesort")
    scores, positive = scores[order], positive[order]
    last_of_each_value = np.r_[np.flatnonzero(scores[1:] != scores[:-1]), len(scores) - 1]
    true_positives = np.cumsum(positive)[last_of_each_value]
    precision = true_positives / (last_of_each_value + 1)
    recall = true_positives / len(out_scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def anomaly_split(x, y, held_out, train_share=0.8, seed=0):
    """The anomaly-detection split of Zenati et al. (2018, "Efficient GAN-Based Anomaly
    Detection", §4.1) that Pang et al. (2020, "Learning Latent Space Energy-Based Prior Model",
    §4.4) follow: the images of class ``held_out`` are the anomalies; the others are normal,
    shuffled with ``seed`` and cut into a training share and a normal test share.

    Args:
        x: examples, any shape ``(N, ...)``.
        y: their integer class labels, shape ``(N,)``.
        held_out: the anomalous class; must occur in ``y``.
        train_share: the fraction of the normal examples used for training, in (0, 1)
            (0.8 in the papers); ``floor(train_share · n_normal)`` of them.
        seed: int seed of the shuffle of the normal examples.

    Returns:
        ``(train, test_normal, test_anomalous)``: ``train`` and ``test_normal`` partition the
        normal examples (each exactly once, in shuffled order), ``test_anomalous`` is every
        example of ``held_out`` in its original order. Test on ``test_normal`` and
        ``test_anomalous`` together, e.g. with :func:`auroc` and :func:`auprc`.
    """
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"`y` must be a 1-D array of class labels; got shape {y.shape}.")
    if x.ndim == 0 or len(x) != len(y):
        raise ValueError(f"`x` and `y` must have the same length; got {x.shape} and {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"`y` must hold integer class labels; got dtype {y.dtype}.")
    if isinstance(held_out, bool) or not isinstance(held_out, (int, np.integer)):
        raise TypeError(f"`held_out` must be an int class label; got {held_out!r}.")
    if isinstance(train_share, bool) or not isinstance(train_share, (int, float, np.floating)):
        raise TypeError(f"`train_share` must be a number in (0, 1); got {train_share!r}.")
    if not 0 < train_share < 1:
        raise ValueError(f"`train_share` must lie in (0, 1); got {train_share}.")
    anomalous = y == held_out
    if not anomalous.any():
        raise ValueError(f"`held_out`={held_out} is not a label of `y` (labels: {np.unique(y).tolist()}).")
    if anomalous.all():
        raise ValueError(f"every example has label `held_out`={held_out}: nothing is normal.")
    normal = x[~anomalous]
    order = np.random.default_rng(check_seed(seed)).permutation(len(normal))
    cut = int(train_share * len(normal))
    return normal[order[:cut]], normal[order[cut:]], x[anomalous]
