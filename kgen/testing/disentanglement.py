"""Checks of the disentanglement exercises (course notebook 02): FactorVAE's ``permute_dims``, the
density-ratio estimate of the total correlation, and the mutual information gap (MIG)."""

import keras
import numpy as np
import tensorflow as tf

from kgen.metrics import disentanglement, information
from kgen.testing.assertions import (
    as_float32,
    assert_allclose,
    assert_finite,
    assert_shape,
    call_student,
    function_name,
    to_numpy,
)


# -------------------------------------------------------------------------------- permute_dims
def _same_permutation(columns):
    """The column pairs (j, k) of an index table (batch, d) that use the same row order."""
    d = columns.shape[1]
    return [(j, k) for j in range(d) for k in range(j + 1, d) if np.array_equal(columns[:, j], columns[:, k])]


def check_permute_dims(fn):
    """Check ``fn(z, seed=None) → z̃``, FactorVAE's shuffle of each latent dimension across the
    batch (Kim & Mnih 2018, Algorithm 1): rows of z̃ are draws from Π_j q(z_j) when the rows of z
    are draws from q(z).

    Properties checked, in order: the shape; each column of z̃ holds the values of the same
    column of z, reordered; the order changed; every column has its own order (so no example
    keeps its code); on strongly correlated columns the correlation is gone (the joint is
    broken) while each column's values are kept; the same int ``seed`` repeats the shuffle and a
    ``keras.random.SeedGenerator`` gives a fresh one at each call; it runs inside a compiled
    (``tf.function``) training step.
    """
    name = function_name(fn, "permute_dims")
    batch, d = 64, 4
    # Row i, column j holds 1000·j + i: every value says where it came from.
    z = np.arange(batch)[:, None] + 1000.0 * np.arange(d)[None, :]
    what = f"{name}(z, seed=0) with z of shape ({batch}, {d})"
    result = call_student(fn, as_float32(z), seed=0, what=name)
    out = assert_shape(result, z.shape, what, hint="return a tensor of the shape of `z`: the same "
                       "examples and dimensions, only reordered along the batch axis.")
    columns_kept = np.array_equal(np.sort(out, axis=0), np.sort(z, axis=0))
    if not columns_kept:
        rows_kept = np.array_equal(np.sort(out, axis=1), np.sort(z, axis=1))
        hint = ("each output column must hold exactly the values of the same input column, in a new "
                "order: reorder along the batch axis (axis 0), never mix values between columns.")
        if rows_kept:
            hint = ("you reordered the dimensions within each example (axis 1); shuffle each "
                    "dimension across the batch (axis 0) instead.")
        raise AssertionError(
            f"{what}: the columns of the result are not permutations of the columns of z.\n"
            f"  input column 0 starts {z[:6, 0].tolist()}, column 1 starts {z[:6, 1].tolist()}\n"
            f"  your column 0 starts {out[:6, 0].tolist()}, column 1 starts {out[:6, 1].tolist()}\n"
            f"Hint: {hint}"
        )
    if np.array_equal(out, z):
        raise AssertionError(f"{what} returned z unchanged.\nHint: shuffle each column across the batch, "
                             "e.g. with a random order drawn by `keras.random`.")
    order = np.rint(out - 1000.0 * np.arange(d)[None, :]).astype(int)  # source row of each entry
    same = _same_permutation(order)
    if same:
        if len(same) == d * (d - 1) // 2:
            hint = ("you shuffled whole rows (one permutation for every column), so each example "
                    "keeps its whole code and the rows are still draws from q(z). Draw a separate "
                    "permutation for each column.")
        else:
            hint = ("some columns share a permutation: draw an independent one for each column, "
                    "e.g. argsort of independent uniform keys along axis 0.")
        raise AssertionError(f"{what}: columns {same[0][0]} and {same[0][1]} were shuffled with the same "
                             f"order.\nHint: {hint}")

    # The joint is broken: strongly correlated columns come out uncorrelated.
    rng = np.random.default_rng(6)
    n = 4000
    base = rng.normal(size=(n, 1))
    correlated = np.concatenate([base, 2.0 * base + 0.1 * rng.normal(size=(n, 1)), -base], axis=1)
    shuffled = to_numpy(call_student(fn, as_float32(correlated), seed=1, what=name))
    assert_allclose(np.sort(shuffled, axis=0), np.sort(correlated, axis=0),
                    f"the sorted columns of {name}(z, seed=1) with z of shape ({n}, 3)", rtol=1e-5, atol=1e-5,
                    hint="each column must keep its own values (the marginals q(z_j) stay the same).")
    corr = np.corrcoef(shuffled, rowvar=False)[np.triu_indices(3, 1)]
    if np.max(np.abs(corr)) > 5.0 / np.sqrt(n):
        raise AssertionError(
            f"{name} on {n} draws of three columns with correlations ±0.99 left correlations "
            f"{np.round(corr, 3).tolist()}; independent shuffles leave about 0 (within "
            f"{5.0 / np.sqrt(n):.2f}).\nHint: the rows of the result must be draws from the product "
            "of the marginals, so the columns must be shuffled independently of each other."
        )

    # Seeds: an int repeats; a SeedGenerator advances, also inside a compiled step.
    again = to_numpy(call_student(fn, as_float32(z), seed=0, what=name))
    if not np.array_equal(again, out):
        raise AssertionError(f"Two calls of {name} with the same seed=0 gave different shuffles.\n"
                             "Hint: pass `seed` on to the `keras.random` function that draws the order.")
    generator = keras.random.SeedGenerator(3)
    first = to_numpy(call_student(fn, as_float32(z), seed=generator, what=name))
    second = to_numpy(call_student(fn, as_float32(z), seed=generator, what=name))
    if np.array_equal(first, second):
        raise AssertionError(
            f"Two calls of {name} with the same keras.random.SeedGenerator gave the same shuffle; "
            "a training step calls it once per batch and needs a fresh one each time.\n"
            "Hint: hand the generator itself to `keras.random.uniform(..., seed=seed)` (or shuffle)."
        )
    compiled = tf.function(lambda values: fn(values, seed=generator))
    hint = ("the discriminator step of FactorVAE runs compiled: write the shuffle with "
            "`keras.random` and `keras.ops` (e.g. `ops.argsort`, `ops.take_along_axis`), not NumPy.")
    try:
        in_graph = to_numpy(compiled(as_float32(z)))
    except Exception as err:  # noqa: BLE001 - any failure of the student's code is reported
        raise AssertionError(f"Calling {name} inside a tf.function, as a training step does, raised "
                             f"{type(err).__name__}: {err}\nHint: {hint}") from err
    if not np.array_equal(np.sort(in_graph, axis=0), np.sort(z, axis=0)):
        raise AssertionError(f"{name} inside a tf.function does not return a column-wise permutation "
                             f"of z.\nHint: {hint}")


# ------------------------------------------------------------------------------ the TC estimate
def _gaussian_log_ratio_logits(n, rho, rng):
    """Draws z of a 2-D Gaussian with correlation ρ and the optimal discriminator's logits
    (log q(z), log q(z₁) + log q(z₂)); their difference is the exact log density ratio."""
    cov = np.array([[1.0, rho], [rho, 1.0]])
    z = rng.multivariate_normal(np.zeros(2), cov, size=n)
    log_joint = -np.log(2 * np.pi) - 0.5 * np.log(1 - rho**2) - 0.5 * np.einsum(
        "ni,ij,nj->n", z, np.linalg.inv(cov), z)
    log_product = -np.log(2 * np.pi) - 0.5 * np.sum(z**2, axis=1)
    return np.stack([log_joint, log_product], axis=1)


def check_tc_estimate(fn):
    """Check ``fn(logits) → TC estimate``, the density-ratio estimate of the total correlation
    (Kim & Mnih 2018, eq. 3) from a discriminator's two logits on draws z of q(z) (class 0: "drawn
    from q(z)", class 1: "drawn from Π_j q(z_j")):

        TC ≈ mean over the batch of log D(z) − log(1 − D(z)),  D = softmax(logits)[:, 0],

    which equals the mean of ℓ₀ − ℓ₁. Properties checked, in order: a scalar result; the value on
    small logits; finite and exact for logits of ±60; on a 2-D Gaussian with correlation 0.8 and
    the optimal discriminator, the estimate matches the exact TC −½ log(1 − ρ²); the gradient with
    respect to the logits (the VAE's loss needs it) is +1/n for ℓ₀ and −1/n for ℓ₁.
    """
    name = function_name(fn, "tc_estimate")
    rng = np.random.default_rng(7)
    logits = rng.normal(scale=2.0, size=(5, 2))
    what = f"{name}(logits) with logits of shape (5, 2)"
    result = call_student(fn, as_float32(logits), what=name)
    shape = to_numpy(result, what).shape
    hint = "return one number, the average over the batch of log D(z) − log(1 − D(z))."
    if shape == (5,):
        hint = "you returned one value per example; return their mean over the batch, one number."
    value = assert_shape(result, (), what, hint=hint)
    expected = float(np.mean(logits[:, 0] - logits[:, 1]))
    log_d = logits[:, 0] - np.logaddexp(logits[:, 0], logits[:, 1])
    mistakes = [
        (-expected, "the sign is flipped: class 0 (the first logit) means \"drawn from q(z)\", and the "
                    "estimate is log D − log(1 − D) with D the probability of class 0."),
        (float(np.mean(logits[:, 0])), "D is the softmax over the two logits, D = softmax(logits)[:, 0], "
                                       "not sigmoid(logits[:, 0]); then log D − log(1 − D) = ℓ₀ − ℓ₁."),
        (float(np.mean(log_d)), "you computed log D alone; the density ratio is D/(1 − D), so the "
                                "estimate is log D − log(1 − D)."),
        (float(np.mean(np.exp(logits[:, 0] - logits[:, 1]))), "take the log of the ratio: the TC is "
                                                               "the average of log(D/(1 − D)), not of D/(1 − D)."),
    ]
    hint = next((text for wrong, text in mistakes if np.isclose(value, wrong, rtol=1e-4, atol=1e-5)),
                "with D = softmax(logits)[:, 0], the estimate is mean(log D − log(1 − D)) = mean(ℓ₀ − ℓ₁).")
    assert_allclose(value, expected, what, rtol=1e-4, atol=1e-5, hint=hint, inputs={"logits": logits})

    large = np.array([[60.0, -60.0], [-30.0, 30.0], [45.0, 40.0]])
    what = f"{name}(logits) with large logits such as [60, −60]"
    hint = ("a confident discriminator gives D = 1 in float32, and log(1 − D) = log 0: compute the "
            "estimate from the logits, log D − log(1 − D) = ℓ₀ − ℓ₁ (or with `ops.log_softmax`).")
    value = assert_finite(call_student(fn, as_float32(large), what=name), what, hint=hint)
    assert_allclose(value, float(np.mean(large[:, 0] - large[:, 1])), what, rtol=1e-4, atol=1e-3, hint=hint)

    rho, n = 0.8, 20_000
    known = _gaussian_log_ratio_logits(n, rho, rng)
    exact_tc = -0.5 * np.log(1 - rho**2)
    error = 5.0 * np.std(known[:, 0] - known[:, 1]) / np.sqrt(n)
    value = float(to_numpy(call_student(fn, as_float32(known), what=name)))
    if abs(value - exact_tc) > error:
        raise AssertionError(
            f"{name} on {n} draws of a 2-D Gaussian with correlation {rho}, with the optimal "
            f"discriminator's logits (log q(z), log q(z₁) + log q(z₂)), gave {value:.4f}; the exact "
            f"total correlation is −½ log(1 − ρ²) = {exact_tc:.4f} (allowed error {error:.3f}).\n"
            "Hint: the estimate is the average of log D − log(1 − D) = ℓ₀ − ℓ₁ over the batch."
        )

    variable = tf.Variable(as_float32(logits))
    with tf.GradientTape() as tape:
        value = call_student(fn, variable, what=name)
        if not isinstance(value, (tf.Tensor, tf.Variable)):
            raise AssertionError(
                f"{name} returned a {type(value).__name__}, not a tensor, so no gradient reaches the "
                "encoder through it.\nHint: compute it with `keras.ops`, without NumPy or `.numpy()`."
            )
    gradient = tape.gradient(value, variable)
    if gradient is None:
        raise AssertionError(f"No gradient flows from {name} back to the logits.\n"
                             "Hint: use `keras.ops` on the logits; NumPy or `ops.stop_gradient` cut it.")
    assert_allclose(gradient, np.tile([[0.2, -0.2]], (5, 1)), f"the gradient of {name}(logits) with "
                    "respect to logits of shape (5, 2)", rtol=1e-4, atol=1e-5,
                    hint="the mean of ℓ₀ − ℓ₁ over 5 examples has gradient +1/5 for ℓ₀ and −1/5 for ℓ₁.")


# ---------------------------------------------------------------------------------------- MIG
def _mig_with(information_matrix, entropies):
    top = np.sort(information_matrix, axis=0)[::-1]
    return float(np.mean((top[0] - top[1]) / entropies))


def _mig_mistakes(codes, factors, num_bins):
    """The values that typical mistakes give, with their hints."""
    binned = information.discretize(codes, num_bins)
    info = information.mutual_information_matrix(binned, factors)
    entropies = np.array([information.entropy(f) for f in factors.T])
    sizes = np.array([len(np.unique(f)) for f in factors.T])
    top = np.sort(info, axis=0)[::-1]
    raw = information.mutual_information_matrix(codes, factors)
    return [
        (float(np.mean(top[0] - top[1])),
         "divide each factor's gap by its entropy H(f_j), so that the score lies in [0, 1]."),
        (float(np.mean((top[0] - top[1]) / np.log(sizes))),
         "normalise by the entropy H(f_j) computed from the factor's observed values, not by "
         "log(number of values): the two differ when the values are not equally frequent."),
        (float(np.mean(top[0] / entropies)),
         "MIG is the *gap* between the largest and the second largest mutual information: a factor "
         "captured by two code dimensions at once is not disentangled."),
        (float(np.mean((top[1] - top[0]) / entropies)),
         "sort the mutual informations in decreasing order: the gap is largest minus second largest."),
        (_mig_with(raw, entropies),
         "discretize the codes first (`discretize(codes, num_bins)`): on raw real values every code is "
         "unique, so each dimension seems to know every factor perfectly."),
    ]


def check_mig(fn):
    """Check ``fn(codes, factors, num_bins=20) → MIG``, the mutual information gap (Chen et al.
    2018, eq. 6): codes (N, d) cut into ``num_bins`` equal-width bins per dimension, then

        MIG = (1/k) Σ_j [ I(z_{a_j}; f_j) − I(z_{b_j}; f_j) ] / H(f_j),

    a_j and b_j the code dimensions with the largest and second largest mutual information with
    factor j. Compared with :func:`kgen.metrics.mig`. Properties checked, in order: a perfect code
    (the factors themselves, rescaled) scores 1; a code that copies a factor into two dimensions
    scores lower (that factor's gap is 0); a code that mixes two factors scores lower; the value on
    a noisy random code, also with ``num_bins=5``; invariance to permuting and rescaling the code's
    dimensions.
    """
    name = function_name(fn, "mig")
    rng = np.random.default_rng(8)
    n = 3000
    # Three factors, with unequal value frequencies (so that H(f) differs from log(#values)).
    factors = np.stack([rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1]), rng.integers(0, 6, n),
                        rng.choice(3, n, p=[0.6, 0.3, 0.1])], axis=1)
    unit = factors / (np.max(factors, axis=0) + 1.0)

    def graded(codes, label, num_bins=20):
        what = f"{name}({label}, factors{'' if num_bins == 20 else f', num_bins={num_bins}'})"
        value = call_student(fn, codes, factors, num_bins=num_bins, what=name,
                             hint="`codes` and `factors` are NumPy arrays: use NumPy and the functions of "
                                  "`kgen.metrics.information` (discretize, mutual_information_matrix, entropy).")
        value = assert_shape(value, (), what, hint="return one number, the average over the factors.")
        expected = disentanglement.mig(codes, factors, num_bins)
        hint = next((text for wrong, text in _mig_mistakes(codes, factors, num_bins)
                     if not np.isclose(wrong, expected, atol=1e-6) and np.isclose(value, wrong, atol=1e-6)),
                    "for each factor j, take the column j of the (d, k) matrix of I(z_i; f_j), the gap between "
                    "its largest and second largest entries, divided by H(f_j); MIG is the mean of these "
                    "over the factors, with the codes discretized into `num_bins` bins.")
        assert_allclose(value, expected, what, rtol=1e-5, atol=1e-6, hint=hint)
        return float(value)

    graded(unit * np.array([3.0, -2.0, 0.5]) + np.array([1.0, 0.0, -4.0]),
                     "codes = the 3 factors, rescaled")
    graded(np.column_stack([unit[:, 0], unit[:, 0], unit[:, 1], unit[:, 2]]),
                        "codes = (factor 0, factor 0, factor 1, factor 2)")
    angle = np.pi / 5
    graded(np.column_stack([np.cos(angle) * unit[:, 0] + np.sin(angle) * unit[:, 1],
                                    -np.sin(angle) * unit[:, 0] + np.cos(angle) * unit[:, 1], unit[:, 2]]),
                   "codes = factors 0 and 1 rotated by 36°, factor 2")
    noisy = np.column_stack([unit[:, 0] + 0.2 * rng.normal(size=n), unit[:, 1] + 0.1 * unit[:, 2],
                             rng.normal(size=n), unit[:, 2] + 0.3 * rng.normal(size=n) + 0.2 * unit[:, 0]])
    graded(noisy, "a noisy code of 4 dimensions")
    value = graded(noisy, "a noisy code of 4 dimensions", num_bins=5)
    transformed = noisy[:, [2, 0, 3, 1]] * np.array([-1.5, 4.0, 0.2, -7.0]) + 3.0
    again = float(to_numpy(call_student(fn, transformed, factors, num_bins=5, what=name)))
    if not np.isclose(again, value, atol=1e-6):
        raise AssertionError(
            f"{name} changed from {value:.6f} to {again:.6f} when the code's dimensions were permuted "
            "and rescaled; MIG must not depend on the order, scale or sign of the dimensions.\n"
            "Hint: discretize each dimension over its own range [min, max]."
        )
