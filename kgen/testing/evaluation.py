"""Checks of the evaluation exercises (course notebook 07): bits per dimension from a
negative log-likelihood in nats (with the dequantization offset), the Fréchet distance between
two Gaussians, and KID's unbiased MMD² estimate with the cubic polynomial kernel.

The references here are written independently of :mod:`kgen.metrics`: the matrix square root
by symmetric eigendecompositions (no ``scipy.linalg.sqrtm``), the MMD² by explicit sums over
pairs. Every check runs in a few milliseconds.
"""

import math

import numpy as np

from kgen.testing.assertions import (
    assert_allclose,
    assert_shape,
    call_student,
    function_name,
    to_numpy,
)


def _real_number(result, what):
    """``result`` as a float64 NumPy array, refusing complex values (a matrix square root's
    round-off) with a hint, before :func:`to_numpy` would drop their imaginary part."""
    try:
        array = None if result is None else np.asarray(result)
    except (TypeError, ValueError):
        array = None  # to_numpy reports what it cannot read
    if array is not None and np.iscomplexobj(array) and array.size:
        raise AssertionError(
            f"{what} is a complex number ({complex(array.ravel()[0]):.6g}); expected a real "
            "float.\nHint: `scipy.linalg.sqrtm` returns a complex matrix when round-off gives its "
            "eigenvalues tiny imaginary parts; take the real part of the square root "
            "(`sqrtm(...).real`) before the trace."
        )
    return to_numpy(result, what)


def _scalar(result, what, hint):
    value = _real_number(result, what)
    if value.shape != ():
        raise AssertionError(f"{what} has shape {value.shape}; expected a single number (shape ()).\nHint: {hint}")
    return value


# ---------------------------------------------------------------------------- bits per dim
def check_bits_per_dim(fn):
    """Check ``fn(nll, num_dims, num_bins) → bits``, the negative log-likelihood of discrete
    data in bits per dimension, from ``nll`` = −log p(y) in nats of the dequantized data
    y = (k + u)/L ∈ [0, 1)^D (Theis, van den Oord & Bethge 2016, §3.1; Dinh et al. 2017):

        bits/dim = (nll + D·log L) / (D·log 2),

    for ``nll`` a NumPy array (any shape, e.g. one value per example), ``num_dims`` = D and
    ``num_bins`` = L; the result has the shape of ``nll``. The D·log L converts the density of
    y on bins of width 1/L into the probability of the discrete pixels (a bound on it).

    Properties checked, in order: the shape and the values for several D and L (with a hint
    for each usual mistake: the offset's sign or its absence, nats instead of bits, a total
    instead of a per-dimension figure, log(L − 1), log₁₀); the uniform density on [0, 1)^D
    (nll = 0) scores log₂ L bits per dimension, the cost of guessing each pixel uniformly among
    L levels; one more nat per example adds exactly 1/(D·log 2) bits per dimension.
    """
    name = function_name(fn, "bits_per_dim")
    nll = np.array([-35.2, 10.0, 0.0, 123.4])
    cases = [(nll, 64, 17, "digits: D = 64 pixels, L = 17 grey levels"),
             (nll * 12.0, 784, 256, "Fashion-MNIST: D = 784, L = 256"),
             (np.array(2.5), 3, 2, "a scalar nll, D = 3, L = 2")]
    for values, dims, bins, description in cases:
        what = f"{name}(nll, num_dims={dims}, num_bins={bins}) for {description}"
        result = call_student(fn, values.copy(), dims, bins, what=name)
        got = assert_shape(result, values.shape, what,
                           hint="one figure per value of `nll`: keep its shape (NumPy broadcasts for you).")
        expected = (values + dims * math.log(bins)) / (dims * math.log(2))
        per_dim = dims * math.log(2)
        mistakes = [
            ((values - dims * math.log(bins)) / per_dim, "the offset is +D·log L: the density of y lives on bins "
                                                         "of width 1/L, so the probability of a discrete image is "
                                                         "about p(y)/L^D, and its NLL is nll + D·log L."),
            (values / per_dim, "add the dequantization offset D·log L (in nats) to the NLL before converting: "
                               "without it you report the density of the continuous y, not of the pixels."),
            ((values + dims * math.log(bins)) / dims, "convert nats to bits: divide by log 2 (`math.log(2)`)."),
            ((values + dims * math.log(bins)) / math.log(2), "divide by the number of dimensions D as well: the "
                                                             "figure is per dimension."),
            ((values + dims * math.log(bins - 1)) / per_dim, "the bins are L = num_bins wide intervals of width "
                                                             "1/L: the offset is D·log L, not D·log(L − 1)."),
            ((values + dims * math.log(bins)) / (dims * math.log(10)), "bits are base-2: divide by log 2, not "
                                                                       "log 10."),
            ((values + math.log(bins)) / per_dim, "the offset is D·log L, one log L per dimension, not log L "
                                                  "once."),
            (values / per_dim + math.log(bins), "convert the offset too: (nll + D·log L)/(D·log 2), i.e. "
                                               "nll/(D·log 2) + log₂ L."),
        ]
        hint = next((text for wrong, text in mistakes if np.allclose(got, wrong, rtol=1e-6, atol=1e-9)),
                    "bits/dim = (nll + D·log L) / (D·log 2).")
        assert_allclose(got, expected, what, rtol=1e-6, atol=1e-9, hint=hint, inputs={"nll": values})

    uniform = to_numpy(call_student(fn, np.zeros(3), 64, 17, what=name), f"{name}(np.zeros(3), 64, 17)")
    assert_allclose(uniform, np.full(3, math.log2(17)), f"{name}(np.zeros(3), 64, 17), the uniform density on "
                    "[0, 1)^64", rtol=1e-6, atol=1e-9,
                    hint="a model that knows nothing spreads its mass evenly over the L levels of each pixel: "
                         "log₂ L bits each. That is the offset D·log L of the dequantization, divided by D·log 2.")

    plus_one = to_numpy(call_student(fn, nll + 1.0, 64, 17, what=name), f"{name}(nll + 1, 64, 17)")
    base = to_numpy(call_student(fn, nll.copy(), 64, 17, what=name), f"{name}(nll, 64, 17)")
    assert_allclose(plus_one - base, np.full(nll.shape, 1.0 / (64 * math.log(2))),
                    f"{name}(nll + 1, 64, 17) − {name}(nll, 64, 17)", rtol=1e-6, atol=1e-9,
                    hint="bits/dim is affine in the NLL: one more nat per example is 1/(D·log 2) more bits per "
                         "dimension.")


# ------------------------------------------------------------------- Fréchet distance
def _symmetric_sqrt(matrix):
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _trace_sqrt_product(cov_a, cov_b):
    """Tr (Σ_a Σ_b)^{1/2} = Tr (Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}: the two matrices are similar, and
    the second is symmetric positive semi-definite, so its root comes from ``eigh``."""
    root_a = _symmetric_sqrt(cov_a)
    inner = root_a @ cov_b @ root_a
    return float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0.0, None))))


def _frechet(mean_a, cov_a, mean_b, cov_b):
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
                 - 2.0 * _trace_sqrt_product(cov_a, cov_b))


def _random_covariance(rng, dims):
    factor = rng.normal(size=(dims, dims))
    return factor @ factor.T / dims + 0.1 * np.eye(dims)


def check_frechet_distance_gaussians(fn):
    """Check ``fn(mean_a, cov_a, mean_b, cov_b) → d²``, the squared Fréchet (2-Wasserstein)
    distance between N(μ_a, Σ_a) and N(μ_b, Σ_b) (Dowson & Landau 1982; the formula of FID,
    Heusel et al. 2017):

        d² = ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2}),

    for NumPy arrays: means (d,), covariances (d, d); a real number.

    Properties checked, in order: a real scalar; the 1-D case (μ_a − μ_b)² + (σ_a − σ_b)²;
    general covariances that do not commute (with a hint for each usual mistake: the element-wise
    square root of Σ_a Σ_b, the product of the two roots, the missing 2, the root of the traces,
    the mean term's square, the distance d instead of d²); 0 for two equal Gaussians; diagonal
    covariances, Σ_i (√a_i − √b_i)² plus the mean term; symmetry in a and b; invariance under a
    rotation of both Gaussians.
    """
    name = function_name(fn, "frechet_distance_gaussians")
    rng = np.random.default_rng(70)

    def student(mean_a, cov_a, mean_b, cov_b, description):
        what = f"{name}(mean_a, cov_a, mean_b, cov_b) for {description}"
        result = call_student(fn, mean_a.copy(), cov_a.copy(), mean_b.copy(), cov_b.copy(), what=name,
                              hint="the inputs are NumPy arrays: means (d,), covariances (d, d); "
                                   "`scipy.linalg.sqrtm` takes a matrix square root.")
        value = _scalar(result, what, "return one number, d² (a float), not a matrix or a vector.")
        return value, what

    value, what = student(np.array([1.0]), np.array([[4.0]]), np.array([-0.5]), np.array([[0.25]]),
                          "N(1, 2²) and N(−0.5, 0.5²) in 1-D")
    expected = 1.5**2 + (2.0 - 0.5) ** 2
    one_d = [(1.5 + 1.5**2, "the mean term is the *squared* distance ‖μ_a − μ_b‖²."),
             (1.5**2 + 4.25 - 2 * 1.0, "the square root is of the product Σ_a Σ_b: √(4 · 0.25) = 1, and "
                                       "the trace term is σ_a² + σ_b² − 2σ_aσ_b."),
             (1.5**2 + 4.25 - 1.0, "the cross term is −2·Tr (Σ_a Σ_b)^{1/2}: you forgot the 2."),
             (math.sqrt(expected), "return the squared distance d² (the figure FID reports), not d."),
             ((2.0 - 0.5) ** 2, "add the mean term ‖μ_a − μ_b‖².")]
    hint = next((text for wrong, text in one_d if np.isclose(value, wrong, rtol=1e-6)),
                "in 1-D, d² = (μ_a − μ_b)² + (σ_a − σ_b)².")
    assert_allclose(value, expected, what, rtol=1e-6, atol=1e-9, hint=hint)

    cov_a, cov_b = _random_covariance(rng, 5), _random_covariance(rng, 5)
    mean_a, mean_b = rng.normal(size=5), rng.normal(size=5)
    general = (mean_a, cov_a, mean_b, cov_b)
    value, what = student(mean_a, cov_a, mean_b, cov_b, "two 5-D Gaussians whose covariances do not commute")
    general_value = value
    expected = _frechet(mean_a, cov_a, mean_b, cov_b)
    base = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b)
    product = cov_a @ cov_b
    mistakes = [
        (base - 2.0 * np.trace(np.sqrt(np.abs(product))),
         "`np.sqrt` takes the square root of each entry; (Σ_a Σ_b)^{1/2} is the *matrix* square root "
         "(`scipy.linalg.sqrtm`): the matrix R with R·R = Σ_a Σ_b."),
        (base - 2.0 * np.trace(_symmetric_sqrt(cov_a) @ _symmetric_sqrt(cov_b)),
         "(Σ_a Σ_b)^{1/2} is not Σ_a^{1/2} Σ_b^{1/2} unless the two matrices commute: take the square root "
         "of the product."),
        (base - _trace_sqrt_product(cov_a, cov_b), "the cross term is −2·Tr (Σ_a Σ_b)^{1/2}: you forgot the 2."),
        (base - 2.0 * math.sqrt(np.trace(cov_a) * np.trace(cov_b)),
         "the cross term is the trace of the matrix root, Tr (Σ_a Σ_b)^{1/2}, not √(Tr Σ_a · Tr Σ_b)."),
        (expected - np.sum((mean_a - mean_b) ** 2) + np.linalg.norm(mean_a - mean_b),
         "the mean term is the *squared* distance ‖μ_a − μ_b‖²."),
        (math.sqrt(max(expected, 0.0)), "return the squared distance d² (the figure FID reports), not d."),
        (expected - np.sum((mean_a - mean_b) ** 2), "add the mean term ‖μ_a − μ_b‖²."),
    ]
    hint = next((text for wrong, text in mistakes if np.isclose(value, wrong, rtol=1e-5)),
                "d² = ‖μ_a − μ_b‖² + Tr(Σ_a) + Tr(Σ_b) − 2·Tr (Σ_a Σ_b)^{1/2}, with the matrix square root.")
    assert_allclose(value, expected, what, rtol=1e-5, atol=1e-8, hint=hint,
                    inputs={"mean_a": mean_a, "mean_b": mean_b})

    mean, cov = rng.normal(size=3), _random_covariance(rng, 3)
    value, what = student(mean, cov, mean, cov, "two equal 3-D Gaussians")
    if not np.isclose(value, 0.0, atol=1e-6 * np.trace(cov)):
        raise AssertionError(
            f"{what} is {float(value):.6g}; expected 0: a distribution is at distance 0 from itself.\nHint: with "
            "Σ_a = Σ_b = Σ, (Σ Σ)^{1/2} = Σ, so Tr(Σ + Σ − 2Σ) = 0: the factor 2 and the matrix square root "
            "of the *product* are both needed."
        )

    var_a, var_b = np.array([1.0, 4.0, 0.5, 2.0]), np.array([2.0, 1.0, 0.5, 9.0])
    mu_a, mu_b = rng.normal(size=4), rng.normal(size=4)
    value, what = student(mu_a, np.diag(var_a), mu_b, np.diag(var_b), "two 4-D Gaussians with diagonal covariances")
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert_allclose(value, expected, what, rtol=1e-6, atol=1e-9,
                    hint="for diagonal covariances, d² = ‖μ_a − μ_b‖² + Σ_i (√a_i − √b_i)².",
                    inputs={"var_a": var_a, "var_b": var_b})

    mean_a, cov_a, mean_b, cov_b = general
    swapped, what_swapped = student(mean_b, cov_b, mean_a, cov_a, "the 5-D Gaussians, a and b swapped")
    assert_allclose(swapped, general_value, what_swapped, rtol=1e-5, atol=1e-8,
                    hint="a distance is symmetric: d(a, b) = d(b, a). Tr (Σ_a Σ_b)^{1/2} = Tr (Σ_b Σ_a)^{1/2}.")

    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    rotated, what_rotated = student(rotation @ mean_a, rotation @ cov_a @ rotation.T, rotation @ mean_b,
                                    rotation @ cov_b @ rotation.T, "the 5-D Gaussians, both rotated")
    assert_allclose(rotated, general_value, what_rotated, rtol=1e-5, atol=1e-8,
                    hint="rotating both Gaussians (μ → Rμ, Σ → RΣRᵀ) keeps their distance: use only traces, "
                         "norms and the matrix square root, nothing element-wise.")


# ---------------------------------------------------------------------------- KID's MMD²
def _cubic(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _mmd2(a, b, kernel=_cubic, unbiased=True, cross_weight=2.0):
    k_aa, k_bb, k_ab = kernel(a, a), kernel(b, b), kernel(a, b)
    n, m = len(a), len(b)
    if unbiased:
        within_a = (k_aa.sum() - np.trace(k_aa)) / (n * (n - 1))
        within_b = (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
    else:
        within_a, within_b = k_aa.mean(), k_bb.mean()
    return within_a + within_b - cross_weight * k_ab.mean()


def check_kid_mmd2(fn):
    """Check ``fn(features_a, features_b) → mmd2``, the unbiased estimate of the squared maximum
    mean discrepancy with KID's cubic polynomial kernel (Bińkowski, Sutherland, Arbel & Gretton
    2018; the estimator of Gretton et al. 2012, lemma 6):

        k(x, y) = (xᵀy / d + 1)³,
        MMD²_u = 1/(n(n−1)) Σ_{i≠j} k(a_i, a_j) + 1/(m(m−1)) Σ_{i≠j} k(b_i, b_j) − 2/(nm) Σ_{i,j} k(a_i, b_j),

    for NumPy arrays (n, d) and (m, d); a number.

    Properties checked, in order: a real scalar; the value for sets of different sizes (with a
    hint for each usual mistake: the i = j terms kept (the biased V-statistic), the 1/d, the +1,
    the cube, the 2 of the cross term, one normalisation for both sets); symmetry in the two sets
    and invariance to the order of the rows; unbiasedness: averaged over 400 pairs of small
    samples of one distribution the estimate is 0 within its standard error.
    """
    name = function_name(fn, "kid_mmd2")
    rng = np.random.default_rng(71)
    a, b = rng.normal(size=(7, 3)), rng.normal(0.4, 1.3, size=(5, 3))

    def student(x, y, description):
        what = f"{name}(features_a, features_b) for {description}"
        result = call_student(fn, x.copy(), y.copy(), what=name,
                              hint="the inputs are NumPy arrays (n, d) and (m, d) of feature vectors.")
        return _scalar(result, what, "return one number, the MMD² estimate."), what

    value, what = student(a, b, "features_a (7, 3) and features_b (5, 3)")
    expected = _mmd2(a, b)

    def power(p):
        return lambda x, y: (x @ y.T / x.shape[1] + 1.0) ** p

    def pooled(x, y):  # one normaliser for both within-set sums
        k_aa, k_bb = _cubic(x, x), _cubic(y, y)
        pairs = len(x) * (len(x) - 1) + len(y) * (len(y) - 1)
        return (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / pairs * 2 - 2 * _cubic(x, y).mean()

    mistakes = [
        (_mmd2(a, b, unbiased=False), "leave out the i = j terms k(a_i, a_i) of the within-set sums and divide "
                                      "by n(n − 1): keeping them gives the biased V-statistic, which is positive "
                                      "even for two samples of one distribution."),
        (_mmd2(a, b, kernel=lambda x, y: (x @ y.T + 1.0) ** 3), "the cubic kernel divides the dot product by the "
                                                                 "dimension d: (xᵀy/d + 1)³."),
        (_mmd2(a, b, kernel=lambda x, y: (x @ y.T / x.shape[1]) ** 3), "the kernel is (xᵀy/d + 1)³: add the 1 "
                                                                        "before cubing."),
        (_mmd2(a, b, kernel=power(2)), "KID's kernel is cubic: (xᵀy/d + 1)³, not squared."),
        (_mmd2(a, b, cross_weight=1.0), "the cross term counts twice: −2/(nm)·Σ k(a_i, b_j)."),
        (pooled(a, b), "normalise each within-set sum by its own number of pairs: n(n − 1) for a and "
                       "m(m − 1) for b."),
        (_mmd2(a, b, kernel=lambda x, y: (x @ y.T / x.shape[0] + 1.0) ** 3),
         "d is the number of features (columns), not of examples: `features.shape[1]`."),
    ]
    hint = next((text for wrong, text in mistakes if np.isclose(value, wrong, rtol=1e-6, atol=1e-9)),
                "MMD²_u = mean_{i≠j} k(a_i, a_j) + mean_{i≠j} k(b_i, b_j) − 2·mean_{i,j} k(a_i, b_j).")
    assert_allclose(value, expected, what, rtol=1e-6, atol=1e-9, hint=hint)

    swapped, what_swapped = student(b, a, "the same sets swapped")
    assert_allclose(swapped, expected, what_swapped, rtol=1e-6, atol=1e-9,
                    hint="MMD² is symmetric in the two sets.")
    shuffled, what_shuffled = student(a[::-1], b[[2, 0, 4, 1, 3]], "the same sets with their rows reordered")
    assert_allclose(shuffled, expected, what_shuffled, rtol=1e-6, atol=1e-9,
                    hint="the estimate depends on the sets, not on the order of their rows.")

    # Unbiased: two samples of one distribution score 0 on average (the V-statistic does not).
    draws = 400
    estimates = np.array([_scalar(call_student(fn, rng.normal(size=(6, 4)), rng.normal(size=(8, 4)), what=name),
                                  f"{name} on two samples of N(0, I)", "return one number.")
                          for _ in range(draws)])
    mean, error = estimates.mean(), estimates.std() / math.sqrt(draws)
    if abs(mean) > 4 * error:
        raise AssertionError(
            f"Averaged over {draws} pairs of samples of the *same* distribution (6 and 8 rows of N(0, I) in 4-D), "
            f"{name} gives {mean:.4g} ± {error:.2g}; an unbiased estimate averages 0.\nHint: leave out the "
            "i = j terms of the within-set sums and divide by n(n − 1) and m(m − 1)."
        )
