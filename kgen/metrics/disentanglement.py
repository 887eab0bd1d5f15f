"""Disentanglement metrics on a ground-truth dataset, following disentanglement_lib's protocol.

Four scores, each in [0, 1], that ask how well a representation r(x) (the encoder's means)
lines up with the independent factors f that generated the data (Locatello et al. 2019,
"Challenging Common Assumptions in the Unsupervised Learning of Disentangled Representations",
whose disentanglement_lib fixes the protocol followed here):

* :func:`beta_vae_score` (Higgins et al. 2017, §3): pairs of batches share one random factor;
  a linear classifier predicts which one from the mean |r(x₁) − r(x₂)|. Eval accuracy.
* :func:`factor_vae_score` (Kim & Mnih 2018, §4): in a batch sharing one factor, the code
  dimension with the smallest variance (normalised by its global variance, collapsed dimensions
  pruned) votes for that factor; a majority-vote classifier's eval accuracy.
* :func:`mig`, the mutual information gap (Chen et al. 2018, §5): for each factor, the gap
  between the two code dimensions most informative about it, over its entropy, averaged.
* :func:`dci` (Eastwood & Williams 2018, "A Framework for the Quantitative Evaluation of
  Disentangled Representations"): gradient-boosted trees predict each factor from the code;
  their feature importances R (d × k) give disentanglement (each code dimension matters for one
  factor), completeness (each factor is captured by one dimension) and informativeness (the
  trees' test accuracy).

The two classifier-based scores take a representation function and a dataset with
``sample_factors(n, rng)`` and ``render(factors)`` (:class:`kgen.data.DSprites`); :func:`mig`
and :func:`dci` take arrays of codes and integer factors. :func:`evaluate` runs them all on a
model with ``encode``. Defaults are the protocol's counts (10 000 train / 5 000 eval points,
batches of 64, 20 histogram bins); scale them down for CPU with the arguments.

dSprites in disentanglement_lib has a sixth, constant factor (colour, one value) that its
metrics leave out; :class:`kgen.data.DSprites` has the other five (shape, scale, orientation,
x, y), the same factors the metrics use.

Note on scores at chance: a code that knows nothing scores near 0 on MIG and DCI
disentanglement, but near chance (about 1 / number of factors, higher for an unlucky vote) on
the two classifier scores.
"""

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from kgen.metrics.information import discretize, entropy, mutual_information_matrix
from kgen.validation import check_choice, check_positive_float, check_positive_int

#: Images rendered and represented at once: bounds memory for 64×64 images (about 16 MB).
RENDER_CHUNK = 256

METRICS = ("beta_vae", "factor_vae", "mig", "dci")


# ------------------------------------------------------------------------------- array metrics
def mig(codes, factors, num_bins=20):
    """The mutual information gap (Chen et al. 2018, eq. 6):

        MIG = (1/k) Σ_j [ I(z_{a_j}; f_j) − I(z_{b_j}; f_j) ] / H(f_j),

    where a_j and b_j are the code dimensions with the largest and second largest mutual
    information with factor f_j. Codes are cut into ``num_bins`` equal-width bins per dimension
    (:func:`kgen.metrics.information.discretize`); I and H are computed in nats by
    :mod:`kgen.metrics.information`. Factors that never vary (H = 0) are left out. A factor with
    more values than bins cannot be fully recovered from the binned code, so even a perfect code
    scores below 1 on it (dSprites' orientation, 40 values, and x, y, 32 values, with 20 bins).

    Args:
        codes: (N, d) real codes.
        factors: (N, k) integer factor values.
        num_bins: histogram bins per code dimension (20 in disentanglement_lib).
    """
    codes, factors = _check_arrays(codes, factors)
    num_bins = check_positive_int(num_bins, "num_bins")
    information = mutual_information_matrix(discretize(codes, num_bins), factors)  # (d, k)
    entropies = np.array([entropy(f) for f in factors.T])
    varying = entropies > 0
    top = np.sort(information, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros_like(top[0])
    return float(np.mean((top[0] - second)[varying] / entropies[varying]))


def dci(codes, factors, test_fraction=1 / 3, n_estimators=100, seed=0):
    """DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    For each factor j, a gradient-boosted tree classifier (scikit-learn's
    ``GradientBoostingClassifier``, as in disentanglement_lib) predicts f_j from the code; its
    feature importances form column j of R (d × k, R_ij ≥ 0). With P_ij = R_ij / Σ_j' R_ij' and
    P̃_ij = R_ij / Σ_i' R_i'j:

        disentanglement = Σ_i ρ_i (1 − H_k(P_i·)),   ρ_i = Σ_j R_ij / Σ R,
        completeness    = Σ_j ρ̃_j (1 − H_d(P̃_·j)),  ρ̃_j = Σ_i R_ij / Σ R,

    with entropies H_k, H_d in base k and d (so each term lies in [0, 1]); informativeness is
    the mean test accuracy of the k classifiers.

    Args:
        codes: (N, d) real codes; factors: (N, k) integer factors. The first
            (1 − ``test_fraction``) of the rows train, the rest test (10 000 / 5 000 in
            disentanglement_lib).
        n_estimators: boosting stages per classifier (scikit-learn's default 100, as in
            disentanglement_lib).
        seed: the classifiers' random state.

    Returns:
        dict with ``"disentanglement"``, ``"completeness"``, ``"informativeness"``.
    """
    codes, factors = _check_arrays(codes, factors)
    test_fraction = check_positive_float(test_fraction, "test_fraction")
    if test_fraction >= 1:
        raise ValueError(f"`test_fraction` must lie in (0, 1); got {test_fraction}.")
    n_estimators = check_positive_int(n_estimators, "n_estimators")
    split = int(round(len(codes) * (1 - test_fraction)))
    if split < 2 or split > len(codes) - 1:
        raise ValueError(f"`dci` needs at least 2 train and 1 test rows; got {len(codes)} rows in all.")
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    accuracies = []
    for j, factor in enumerate(factors.T):
        if len(np.unique(factor[:split])) < 2:  # a factor that never varies carries no importance
            accuracies.append(float(np.mean(factor[split:] == factor[0])))
            continue
        model = GradientBoostingClassifier(n_estimators=n_estimators, random_state=seed)
        model.fit(codes[:split], factor[:split])
        importance[:, j] = np.abs(model.feature_importances_)
        accuracies.append(float(model.score(codes[split:], factor[split:])))
    return {
        "disentanglement": _weighted_specificity(importance),
        "completeness": _weighted_specificity(importance.T),
        "informativeness": float(np.mean(accuracies)),
    }


def _weighted_specificity(importance):
    """Σ_i ρ_i (1 − H(P_i·)) over the rows i of an importance matrix, entropy in base = #columns."""
    total = importance.sum()
    if total == 0:
        return 0.0
    if importance.shape[1] == 1:  # one column: every row is specific to it
        return 1.0
    rows = importance.sum(axis=1)
    p = importance / np.where(rows > 0, rows, 1.0)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    row_entropy = -plogp.sum(axis=1) / np.log(importance.shape[1])
    return float(np.sum((rows / total) * (1.0 - row_entropy)))


# ------------------------------------------------------------------------- sampling metrics
def beta_vae_score(represent, dataset, batch_size=64, num_train=10000, num_eval=5000, seed=0):
    """The β-VAE metric (Higgins et al. 2017, §3 and appendix A.4; disentanglement_lib's protocol).

    One point: draw a factor index k uniformly, two batches of ``batch_size`` factor vectors
    that agree on factor k, their images x₁, x₂, and the feature mean_b |r(x₁) − r(x₂)| (d,).
    A logistic regression learns k from ``num_train`` points; the score is its accuracy on
    ``num_eval`` fresh points. A code whose dimension k stays fixed exactly when factor k does
    scores 1; an uninformative code scores about 1 / (number of factors).

    Args:
        represent: images (n, ...) → codes (n, d) (e.g. an encoder's means).
        dataset: has ``sample_factors(n, rng)`` and ``render(factors)`` (e.g. ``DSprites``).
    """
    _check_sampler(represent, dataset)
    batch_size, num_train, num_eval = _check_counts(batch_size, num_train, num_eval)
    rng = np.random.default_rng(seed)
    train = _beta_vae_points(represent, dataset, batch_size, num_train, rng)
    test = _beta_vae_points(represent, dataset, batch_size, num_eval, rng)
    classifier = LogisticRegression(max_iter=1000).fit(*train)
    return float(classifier.score(*test))


def _beta_vae_points(represent, dataset, batch_size, count, rng):
    num_factors = len(dataset.factor_sizes)
    fixed = rng.integers(num_factors, size=count)
    first = dataset.sample_factors(count * batch_size, rng)
    second = dataset.sample_factors(count * batch_size, rng)
    rows = np.arange(count * batch_size)
    columns = np.repeat(fixed, batch_size)
    second[rows, columns] = first[rows, columns]
    difference = np.abs(_represent_factors(represent, dataset, first) - _represent_factors(represent, dataset, second))
    return difference.reshape(count, batch_size, -1).mean(axis=1), fixed


def factor_vae_score(represent, dataset, batch_size=64, num_train=10000, num_eval=5000,
                     num_variance_estimate=10000, prune_threshold=0.05, seed=0):
    """The FactorVAE metric (Kim & Mnih 2018, §4; disentanglement_lib's protocol).

    1. Global scale: the variance of each code dimension over ``num_variance_estimate`` random
       images; dimensions whose standard deviation is below ``prune_threshold`` (collapsed to
       the prior) are pruned.
    2. One vote: draw a factor k, a batch of ``batch_size`` factor vectors sharing the value of
       factor k, and the code dimension argmin_i Var_batch(r_i) / Var_global(r_i) among the
       active ones; the vote is (that dimension, k).
    3. A majority-vote classifier maps each dimension to the factor it most often voted for,
       from ``num_train`` votes; the score is its accuracy on ``num_eval`` fresh votes.

    Dividing by the global variance makes the score invariant to rescaling each dimension;
    it is 0 when every dimension collapsed.
    """
    _check_sampler(represent, dataset)
    batch_size, num_train, num_eval = _check_counts(batch_size, num_train, num_eval)
    num_variance_estimate = check_positive_int(num_variance_estimate, "num_variance_estimate")
    prune_threshold = check_positive_float(prune_threshold, "prune_threshold", allow_zero=True)
    rng = np.random.default_rng(seed)
    codes = _represent_factors(represent, dataset, dataset.sample_factors(num_variance_estimate, rng))
    global_variance = np.var(codes, axis=0, ddof=1)
    active = np.sqrt(global_variance) >= prune_threshold
    if not active.any():
        return 0.0
    num_factors = len(dataset.factor_sizes)
    train = _factor_vae_votes(represent, dataset, batch_size, num_train, global_variance, active, rng)
    test = _factor_vae_votes(represent, dataset, batch_size, num_eval, global_variance, active, rng)
    train_votes = np.zeros((num_factors, active.sum()))
    np.add.at(train_votes, (train[1], train[0]), 1)
    classifier = np.argmax(train_votes, axis=0)  # dimension → factor
    return float(np.mean(classifier[test[0]] == test[1]))


def _factor_vae_votes(represent, dataset, batch_size, count, global_variance, active, rng):
    num_factors = len(dataset.factor_sizes)
    fixed = rng.integers(num_factors, size=count)
    factors = dataset.sample_factors(count * batch_size, rng).reshape(count, batch_size, -1)
    rows = np.arange(count)
    factors[rows, :, fixed] = factors[rows, 0, fixed][:, None]  # each batch shares factor k's value
    codes = _represent_factors(represent, dataset, factors.reshape(count * batch_size, -1))
    local_variance = np.var(codes.reshape(count, batch_size, -1), axis=1, ddof=1)
    dimension = np.argmin(local_variance[:, active] / global_variance[active], axis=1)
    return dimension, fixed


# ------------------------------------------------------------------------------------ runner
def evaluate(model, dataset, metrics=METRICS, num_train=10000, num_eval=5000, batch_size=64,
             num_bins=20, n_estimators=100, seed=0):
    """Run the chosen metrics on any model with ``encode(x)`` → q(z | x), represented by its means.

    Args:
        model: e.g. a :class:`kgen.models.BetaVAE`, ``FactorVAE`` or ``BetaTCVAE``.
        dataset: a ground-truth dataset (``sample_factors``, ``render``, ``factor_sizes``).
        metrics: any of ``"beta_vae"``, ``"factor_vae"``, ``"mig"``, ``"dci"``.
        num_train, num_eval, batch_size: the protocol's counts (also the number of points for
            MIG, ``num_train``, and for DCI, ``num_train + num_eval``); scale down for CPU.
        num_bins: MIG's histogram bins.
        n_estimators: boosting stages of DCI's classifiers (the main cost of DCI on a CPU).

    Returns:
        dict with ``beta_vae_score``, ``factor_vae_score``, ``mig``, ``dci_disentanglement``,
        ``dci_completeness``, ``dci_informativeness`` (those asked for).
    """
    if not hasattr(model, "encode"):
        raise TypeError(f"`model` must have an `encode(x)` method; got {type(model).__name__}.")
    if isinstance(metrics, str):
        metrics = (metrics,)
    for name in metrics:
        check_choice(name, "metrics", METRICS)
    num_train, num_eval = check_positive_int(num_train, "num_train"), check_positive_int(num_eval, "num_eval")

    def represent(images):
        return np.asarray(model.encode(images).mean())

    results = {}
    if "beta_vae" in metrics:
        results["beta_vae_score"] = beta_vae_score(represent, dataset, batch_size, num_train, num_eval, seed)
    if "factor_vae" in metrics:
        results["factor_vae_score"] = factor_vae_score(
            represent, dataset, batch_size, num_train, num_eval, num_variance_estimate=num_train, seed=seed
        )
    if "mig" in metrics or "dci" in metrics:
        _check_sampler(represent, dataset)
        factors = dataset.sample_factors(num_train + num_eval, np.random.default_rng(seed))
        codes = _represent_factors(represent, dataset, factors)
        if "mig" in metrics:
            results["mig"] = mig(codes[:num_train], factors[:num_train], num_bins)
        if "dci" in metrics:
            scores = dci(codes, factors, num_eval / (num_train + num_eval), n_estimators, seed)
            results.update({f"dci_{name}": value for name, value in scores.items()})
    return results


# ---------------------------------------------------------------------------------- helpers
def _represent_factors(represent, dataset, factors):
    """r(render(factors)) in chunks of ``RENDER_CHUNK`` images: (n, d) float64."""
    chunks = [
        np.asarray(represent(dataset.render(factors[i : i + RENDER_CHUNK])), dtype=np.float64)
        for i in range(0, len(factors), RENDER_CHUNK)
    ]
    codes = np.concatenate(chunks)
    if codes.ndim != 2 or len(codes) != len(factors):
        raise ValueError(
            f"`represent` must map n images to codes of shape (n, d); it gave shape {codes.shape} "
            f"for {len(factors)} images."
        )
    return codes


def _check_sampler(represent, dataset):
    if not callable(represent):
        raise TypeError(f"`represent` must be a function images → codes; got {type(represent).__name__}.")
    missing = [name for name in ("sample_factors", "render", "factor_sizes") if not hasattr(dataset, name)]
    if missing:
        raise TypeError(
            f"`dataset` must provide sample_factors(n, rng), render(factors) and factor_sizes "
            f"(e.g. kgen.data.DSprites); {type(dataset).__name__} lacks {', '.join(missing)}."
        )


def _check_counts(batch_size, num_train, num_eval):
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size < 2:
        raise ValueError(f"`batch_size` must be at least 2 (a variance needs two codes); got {batch_size}.")
    return batch_size, check_positive_int(num_train, "num_train"), check_positive_int(num_eval, "num_eval")


def _check_arrays(codes, factors):
    codes, factors = np.asarray(codes), np.asarray(factors)
    if not np.issubdtype(codes.dtype, np.number):
        raise TypeError(f"`codes` must hold numbers; got dtype {codes.dtype}.")
    if not np.issubdtype(factors.dtype, np.integer):
        raise TypeError(f"`factors` must hold integer factor values; got dtype {factors.dtype}.")
    for name, array in (("codes", codes), ("factors", factors)):
        if array.ndim != 2 or not array.size:
            raise ValueError(f"`{name}` must be a non-empty 2-D array (N, columns); got shape {array.shape}.")
    if len(codes) != len(factors):
        raise ValueError(f"`codes` and `factors` must have the same number of rows; got {len(codes)} and {len(factors)}.")
    if not np.all(np.isfinite(codes)):
        raise ValueError("`codes` contains NaN or infinite values.")
    return codes.astype(np.float64), factors
