"""Sample quality: how close a generative model's samples are to the data.

Two-sample distances between samples (rows of an array: features of images, or the points
themselves for low-dimensional data), each 0 when the two distributions are equal:

* :func:`frechet_distance`, the Fréchet distance between Gaussians fitted to the two sets: FID
  when the features are Inception-v3's (Heusel et al. 2017);
* :func:`kernel_distance`, KID: an unbiased MMD² with a cubic polynomial kernel, averaged over
  subsets (Bińkowski, Sutherland, Arbel & Gretton 2018);
* :func:`mmd`, an unbiased MMD² with a Gaussian kernel (Gretton et al. 2012);
* :func:`energy_distance`, the energy distance (Székely & Rizzo 2013);

and two figures that tell fidelity from diversity:

* :func:`precision_recall`, improved precision and recall on k-nearest-neighbour manifolds
  (Kynkäänniemi, Karras, Laine, Lehtinen & Aila 2019);
* :func:`mode_coverage`, for data from a mixture with known modes (the 2-D Gaussian grids).

:func:`sample_quality` runs the image figures on features of a classifier that kgen trains on
the dataset itself (:mod:`kgen.metrics.features`) instead of Inception-v3: its numbers compare
kgen models on one dataset with each other and with the data's own floor, not with papers' FIDs.

Everything here is NumPy and SciPy in float64; pairwise distances are computed in blocks of
rows, so memory stays bounded (about 32 MB per block) for any number of samples.
"""

import warnings

import numpy as np
from scipy.linalg import LinAlgWarning, sqrtm

from kgen.validation import check_data, check_positive_float, check_positive_int, check_seed

#: Entries of one block of a pairwise matrix: 2²² float64 values, 32 MB.
BLOCK_ENTRIES = 2**22
#: Largest imaginary part, relative to the real part, that is taken for round-off in √(Σ_a Σ_b).
_IMAGINARY_TOLERANCE = 1e-3


# ------------------------------------------------------------------------ two-sample distances
def frechet_distance(features_a, features_b, eps=1e-6):
    """The Fréchet (2-Wasserstein) distance between N(μ_a, Σ_a) and N(μ_b, Σ_b) fitted to the
    two sets (Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter 2017, "GANs Trained by a Two
    Time-Scale Update Rule Converge to a Local Nash Equilibrium"; Dowson & Landau 1982):

        d² = ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2}).

    μ and Σ are the sample mean and (unbiased) covariance. The matrix square root is
    ``scipy.linalg.sqrtm``; its small imaginary parts (round-off: Σ_a Σ_b has real,
    non-negative eigenvalues) are dropped, and if the root is not finite or clearly complex
    (nearly singular covariances, e.g. fewer samples than dimensions) it is recomputed with
    ``eps``·I added to both covariances. The estimate is biased upwards at small sample sizes
    (by about Tr(Σ_a)/n_a + Tr(Σ_b)/n_b): compare only figures computed from equal sizes.

    Args:
        features_a, features_b: (n_a, d) and (n_b, d) arrays, n ≥ 2.
        eps: the regulariser for the fallback.

    Returns:
        d², a float (the "FID" is this squared distance).
    """
    a, b = _check_pair(features_a, features_b, ("features_a", "features_b"))
    eps = check_positive_float(eps, "eps")
    cov_a, cov_b = (np.atleast_2d(np.cov(x, rowvar=False)) for x in (a, b))
    mean_term = np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2)
    root_trace = _trace_sqrt_product(cov_a, cov_b, eps)
    return float(mean_term + np.trace(cov_a) + np.trace(cov_b) - 2.0 * root_trace)


def kernel_distance(features_a, features_b, num_subsets=100, subset_size=1000, seed=0,
                    return_std=False):
    """The kernel inception distance, KID (Bińkowski, Sutherland, Arbel & Gretton 2018,
    "Demystifying MMD GANs", §4): the unbiased MMD² estimate (see :func:`mmd`) with the cubic
    polynomial kernel

        k(x, y) = (xᵀy / d + 1)³,

    averaged over ``num_subsets`` random subsets of ``subset_size`` rows of each set (drawn
    without replacement; fewer when a set is smaller). Unlike FID it is unbiased: two samples of
    one distribution score 0 on average, and a single estimate can be negative.

    Args:
        features_a, features_b: (n_a, d) and (n_b, d) arrays, n ≥ 2.
        num_subsets, subset_size: the subsets (100 of 1 000 in the paper's code).
        seed: seed of the subset draws.
        return_std: also return the standard deviation over subsets.

    Returns:
        The mean over subsets, or ``(mean, std)`` with ``return_std``.
    """
    a, b = _check_pair(features_a, features_b, ("features_a", "features_b"))
    num_subsets = check_positive_int(num_subsets, "num_subsets")
    size = min(check_positive_int(subset_size, "subset_size"), len(a), len(b))
    if size < 2:
        raise ValueError(f"`subset_size` must be at least 2; got {subset_size}.")
    rng = np.random.default_rng(check_seed(seed))
    dim = a.shape[1]

    def cubic(x, y):
        gram = x @ y.T / dim + 1.0
        return gram * gram * gram  # products: ** 3 is ~10x slower

    subsets = [
        (rng.choice(len(a), size, replace=False), rng.choice(len(b), size, replace=False))
        for _ in range(num_subsets)
    ]
    if max(len(a), len(b)) ** 2 <= BLOCK_ENTRIES:  # small sets: each kernel matrix once
        k_aa, k_bb, k_ab = cubic(a, a), cubic(b, b), cubic(a, b)
        estimates = [
            _mmd2_from_kernel_matrices(k_aa[np.ix_(i, i)], k_bb[np.ix_(j, j)], k_ab[np.ix_(i, j)])
            for i, j in subsets
        ]
    else:
        estimates = [
            _mmd2_from_kernel_matrices(cubic(a[i], a[i]), cubic(b[j], b[j]), cubic(a[i], b[j]))
            for i, j in subsets
        ]
    estimates = np.array(estimates)
    mean = float(estimates.mean())
    return (mean, float(estimates.std())) if return_std else mean


def mmd(x, y, bandwidth=1.0):
    """The unbiased estimate of the squared maximum mean discrepancy with a Gaussian kernel
    (Gretton, Borgwardt, Rasch, Schölkopf & Smola 2012, "A Kernel Two-Sample Test"):

        MMD²_u = 1/(n(n−1)) Σ_{i≠j} k(x_i, x_j) + 1/(m(m−1)) Σ_{i≠j} k(y_i, y_j)
                 − 2/(nm) Σ_{i,j} k(x_i, y_j),     k(x, y) = exp(−‖x − y‖² / (2 h²)).

    Zero on average when x and y come from one distribution (a single estimate can be
    negative); positive for any difference in distribution, the Gaussian kernel being
    characteristic. h = ``bandwidth`` should match the data's scale.

    Args:
        x, y: (n, d) and (m, d) arrays, n, m ≥ 2.
        bandwidth: h > 0.
    """
    x, y = _check_pair(x, y, ("x", "y"))
    bandwidth = check_positive_float(bandwidth, "bandwidth")

    def gaussian(a, b):
        return np.exp(-_squared_distances(a, b) / (2.0 * bandwidth**2))

    return float(_unbiased_mmd2(x, y, gaussian))


def energy_distance(x, y):
    """The energy distance (Székely & Rizzo 2013, "Energy statistics: A class of statistics
    based on distances"), estimated without bias:

        E(X, Y) = 2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖,

    with the within-sample means over pairs i ≠ j (U-statistics; scipy's
    ``scipy.stats.energy_distance`` is the square root of the V-statistic, which includes the
    zero i = j terms and is biased upwards). Zero on average for one distribution, positive
    otherwise; no parameter to tune, which suits low-dimensional data.

    Args:
        x, y: (n, d) and (m, d) arrays, n, m ≥ 2.
    """
    x, y = _check_pair(x, y, ("x", "y"))

    def distance(a, b):
        return np.sqrt(_squared_distances(a, b))

    return float(
        2.0 * _kernel_mean(distance, x, y) - _kernel_mean(distance, x) - _kernel_mean(distance, y)
    )


# --------------------------------------------------------------------- fidelity and diversity
def precision_recall(real_features, fake_features, k=3):
    """Improved precision and recall (Kynkäänniemi, Karras, Laine, Lehtinen & Aila 2019,
    "Improved Precision and Recall Metric for Assessing Generative Models").

    Each set approximates its manifold by the union of balls around its points, each ball
    reaching the point's k-th nearest neighbour within the set:

        manifold(Φ) = ∪_{φ ∈ Φ} B(φ, ‖φ − NN_k(φ)‖),
        precision = share of fake samples inside manifold(real)   (fidelity),
        recall    = share of real samples inside manifold(fake)   (diversity).

    A model that drops modes keeps its precision but loses recall; one that blurs between modes
    keeps recall but loses precision. The paper uses k = 3. A known weakness: an outlying real
    point has a large ball, which can hold fakes far from the data (uniform noise on
    Fashion-MNIST features scores precision ≈ 0.9 with recall 0; Naeem, Oh, Uh, Choi & Yoo 2020,
    "Reliable Fidelity and Diversity Metrics for Generative Models"). Read it with recall and
    the Fréchet distance.

    Args:
        real_features, fake_features: (n_r, d) and (n_f, d) arrays, each with more than k rows.
        k: the neighbour that sets each radius.

    Returns:
        ``{"precision": float, "recall": float}``, each in [0, 1].
    """
    k = check_positive_int(k, "k")
    real, fake = _check_pair(
        real_features, fake_features, ("real_features", "fake_features"), min_samples=k + 1
    )
    return {
        "precision": _share_inside(fake, real, _kth_neighbour_squared_radii(real, k)),
        "recall": _share_inside(real, fake, _kth_neighbour_squared_radii(fake, k)),
    }


def mode_coverage(samples, means, std, threshold=3.0, min_share=0.2):
    """How many modes of a mixture of equal isotropic Gaussians the samples cover, and how well.

    Each sample is assigned to its nearest mode; it is *high quality* when it lies within
    ``threshold``·``std`` of that mode. A mode is *hit* when it holds at least ``min_share``
    times the high-quality samples it would hold under equal weights (n / K), and at least
    one. These are the counts of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin, Khetan, Fanti
    & Oh 2018) on the 2-D grid: 3 standard deviations, and a mode lost with fewer than 20 of
    2 500 samples, i.e. ``min_share`` = 0.2. For a perfect sampler in 2-D,
    P(‖z‖ ≤ 3) = 1 − e^{−9/2} ≈ 0.989 of the samples are high quality.

    Args:
        samples: (n, d) array.
        means: (K, d) array of the modes, e.g. from :func:`kgen.data.toy2d.toy2d_modes`.
        std: the components' common standard deviation.
        threshold: the high-quality radius, in standard deviations.
        min_share: the fraction of a mode's expected share that counts as a hit, in [0, 1].

    Returns:
        dict with ``modes_hit`` (int), ``num_modes`` (K), ``high_quality_share`` (float, share
        of all samples) and ``mode_weights`` ((K,) array: each mode's share of the
        high-quality samples, summing to 1, or all 0 when there are none).
    """
    samples, means = _check_pair(samples, means, ("samples", "means"), min_samples=1)
    std = check_positive_float(std, "std")
    threshold = check_positive_float(threshold, "threshold")
    min_share = check_positive_float(min_share, "min_share", allow_zero=True)
    if min_share > 1.0:
        raise ValueError(f"`min_share` must lie in [0, 1]; got {min_share}.")
    num_modes = len(means)
    squared = _squared_distances(samples, means)  # (n, K): K is small
    nearest = squared.argmin(axis=1)
    close = squared[np.arange(len(samples)), nearest] <= (threshold * std) ** 2
    counts = np.bincount(nearest[close], minlength=num_modes)
    needed = max(1.0, min_share * len(samples) / num_modes)
    return {
        "modes_hit": int(np.sum(counts >= needed)),
        "num_modes": num_modes,
        "high_quality_share": float(close.mean()),
        "mode_weights": counts / max(int(counts.sum()), 1),
    }


# ---------------------------------------------------------------------------- on a dataset
def sample_quality(samples_or_model, dataset, n=2000, seed=0, feature_net=None, cache_dir=None,
                   k=3):
    """The sample-quality figures of a model (or of a set of images) on an image dataset.

    Features come from kgen's own classifier for ``dataset``
    (:func:`kgen.metrics.features.feature_extractor`, trained on first use and cached). Every
    set holds the same number m of examples — m = min(n, the number of samples, the sizes of
    the train and test splits) — so that the size-dependent bias of the Fréchet distance is the
    same in all of them; the samples are compared with m training images.

    Args:
        samples_or_model: images (N, H, W, C) in [0, 1], or an object with
            ``sample(n, seed=...)`` (a kgen model), which is asked for m samples.
        dataset: ``"digits"``, ``"fashion_mnist"``, ``"mnist"`` or ``"dsprites"``.
        n: the number of examples per set (at most).
        seed: seed of the model's samples and of the data subsets.
        feature_net: a :class:`kgen.metrics.features.FeatureExtractor` to use instead of the
            cached one for ``dataset``.
        cache_dir: where the feature net is cached (see ``feature_extractor``).
        k: the neighbour of :func:`precision_recall`.

    Returns:
        dict: ``frechet_distance``, ``kernel_distance`` (KID), ``precision``, ``recall`` of the
        samples against training data; ``reference_frechet_distance``, the Fréchet distance of
        m test images to the m training images — the floor a perfect model would reach;
        ``feature_net_accuracy``, the feature classifier's test accuracy; ``num_samples``, m.
    """
    from kgen.metrics.features import feature_extractor, labelled_images  # Keras, when used

    n = check_positive_int(n, "n")
    seed = check_seed(seed)
    train = labelled_images(dataset, "train", n=n, seed=seed)[0]
    test = labelled_images(dataset, "test", n=n, seed=seed)[0]
    size = min(len(train), len(test))
    if hasattr(samples_or_model, "sample"):
        samples = np.asarray(samples_or_model.sample(size, seed=seed))
    else:
        samples = samples_or_model
    reason = "(the feature net was trained on images in [0, 1]; rescale or clip the samples)"
    samples = check_data(samples, train.shape[1:], "samples", (0.0, 1.0), reason)
    size = min(size, len(samples))
    # Last: training a feature net takes a while, and the checks above are instant.
    net = feature_net if feature_net is not None else feature_extractor(dataset, cache_dir)
    fake, real, held_out = (net(images[:size]) for images in (samples, train, test))
    return {
        "frechet_distance": frechet_distance(fake, real),
        "kernel_distance": kernel_distance(fake, real, seed=seed),
        **precision_recall(real, fake, k=k),
        "reference_frechet_distance": frechet_distance(held_out, real),
        "feature_net_accuracy": net.test_accuracy,
        "num_samples": size,
    }


# -------------------------------------------------------------------------------- helpers
def _check_features(x, name, min_samples):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(
            f"`{name}` must be a 2-D array (n, d) of n feature vectors; got shape {x.shape}."
        )
    if len(x) < min_samples:
        raise ValueError(f"`{name}` needs at least {min_samples} rows; got {len(x)}.")
    if not np.isfinite(x).all():
        bad = int(np.sum(~np.isfinite(x)))
        raise ValueError(f"`{name}` contains {bad} NaN or infinite values.")
    return x


def _check_pair(a, b, names, min_samples=2):
    a, b = _check_features(a, names[0], min_samples), _check_features(b, names[1], min_samples)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same number of columns (features); "
            f"got {a.shape[1]} and {b.shape[1]}."
        )
    return a, b


def _trace_sqrt_product(cov_a, cov_b, eps):
    """Tr (Σ_a Σ_b)^{1/2}, with the fallback of :func:`frechet_distance`."""
    root = _sqrtm(cov_a @ cov_b)
    if not _is_real_root(root):
        offset = eps * np.eye(len(cov_a))
        root = _sqrtm((cov_a + offset) @ (cov_b + offset))
        if not _is_real_root(root):
            raise ValueError(
                "The covariance product has no real square root, even with `eps`·I added "
                f"(eps={eps}); the features may be degenerate. Try a larger `eps`."
            )
    return float(np.trace(root.real))


def _sqrtm(matrix):
    """``scipy.linalg.sqrtm`` without its warning for singular matrices (covariances of fewer
    samples than features are singular; the caller checks the root itself)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinAlgWarning)
        return sqrtm(matrix)


def _is_real_root(root):
    if not np.all(np.isfinite(root)):
        return False
    if not np.iscomplexobj(root):
        return True
    return np.abs(root.imag).max() <= _IMAGINARY_TOLERANCE * max(1.0, np.abs(root.real).max())


def _squared_distances(a, b):
    """‖a_i − b_j‖², (len(a), len(b)), clipped at 0 against round-off."""
    squared = np.sum(a**2, axis=1)[:, None] + np.sum(b**2, axis=1)[None, :] - 2.0 * a @ b.T
    return np.maximum(squared, 0.0)


def _row_blocks(num_rows, num_columns):
    """Slices of rows whose blocks of ``num_columns`` entries fit in ``BLOCK_ENTRIES``."""
    step = max(1, BLOCK_ENTRIES // max(num_columns, 1))
    return [slice(start, start + step) for start in range(0, num_rows, step)]


def _kernel_mean(kernel, a, b=None):
    """Mean of kernel(a_i, b_j) over all pairs; with ``b`` None, over the pairs i ≠ j of ``a``."""
    within = b is None
    b = a if within else b
    total = 0.0
    for rows in _row_blocks(len(a), len(b)):
        block = kernel(a[rows], b)
        total += block.sum()
        if within:  # the block's diagonal entries k(a_i, a_i) sit in columns rows.start + i
            total -= np.trace(block[:, rows.start : rows.start + len(block)])
    pairs = len(a) * (len(a) - 1) if within else len(a) * len(b)
    return total / pairs


def _mmd2_from_kernel_matrices(k_xx, k_yy, k_xy):
    """The unbiased MMD² of :func:`mmd` from the kernel matrices within x, within y, across."""
    n, m = len(k_xx), len(k_yy)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (n * (n - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return within_x + within_y - 2.0 * k_xy.mean()


def _unbiased_mmd2(x, y, kernel):
    return _kernel_mean(kernel, x) + _kernel_mean(kernel, y) - 2.0 * _kernel_mean(kernel, x, y)


def _kth_neighbour_squared_radii(points, k):
    """Squared distance from each point to its k-th nearest other point of the set."""
    radii = np.empty(len(points))
    for rows in _row_blocks(len(points), len(points)):
        squared = _squared_distances(points[rows], points)
        # Position 0 of each sorted row is the point itself (distance 0), so position k is the
        # k-th nearest other point, duplicates included.
        radii[rows] = np.partition(squared, k, axis=1)[:, k]
    return radii


def _share_inside(queries, points, squared_radii):
    """Share of ``queries`` within the ball of at least one of ``points``."""
    inside = np.empty(len(queries), dtype=bool)
    for rows in _row_blocks(len(queries), len(points)):
        inside[rows] = np.any(_squared_distances(queries[rows], points) <= squared_radii, axis=1)
    return float(inside.mean())
