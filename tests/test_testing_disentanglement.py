"""kgen.testing's disentanglement checks (notebook 02): each passes correct functions and fails,
with the hint that names the mistake, on the errors students typically make."""

import keras
import numpy as np
import pytest
from keras import ops

from kgen import losses, metrics, testing
from kgen.metrics.information import (
    discretize,
    entropy,
    mutual_information,
    mutual_information_matrix,
)


# -------------------------------------------------------------------------------- permute_dims
def permute_reference(z, seed=None):
    return losses.permute_dims(z, seed=seed)


def permute_column_by_column(z, seed=None):
    generator = keras.random.SeedGenerator(seed) if isinstance(seed, int) else seed
    columns = [keras.random.shuffle(z[:, j], seed=generator) for j in range(z.shape[1])]
    return ops.stack(columns, axis=1)


def permute_rows(z, seed=None):
    return keras.random.shuffle(z, axis=0, seed=seed)


def permute_within_rows(z, seed=None):
    return keras.random.shuffle(z, axis=1, seed=seed)


def permute_identity(z, seed=None):
    return z


def permute_shared_order_for_two_columns(z, seed=None):
    order = ops.argsort(keras.random.uniform(ops.shape(z), seed=seed), axis=0)
    order = ops.concatenate([order[:, :1], order[:, :1], order[:, 2:]], axis=1)
    return ops.take_along_axis(z, order, axis=0)


def permute_numpy(z, seed=None):
    rng = np.random.default_rng(seed if isinstance(seed, int) else None)
    z = np.asarray(z)
    return np.stack([rng.permutation(column) for column in z.T], axis=1)


def permute_ignoring_seed(z, seed=None):
    return losses.permute_dims(z, seed=None)


def permute_fixed_seed(z, seed=None):
    return losses.permute_dims(z, seed=0)


@pytest.mark.parametrize("fn", [permute_reference, permute_column_by_column])
def test_check_permute_dims_passes_correct_functions(fn):
    testing.check_permute_dims(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (permute_rows, "shuffled whole rows"),
        (permute_within_rows, "within each example"),
        (permute_identity, "unchanged"),
        (permute_shared_order_for_two_columns, "some columns share a permutation"),
        (permute_numpy, "compiled"),
        (permute_ignoring_seed, "same seed=0"),
        (permute_fixed_seed, "SeedGenerator"),
    ],
)
def test_check_permute_dims_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_permute_dims(wrong)


def test_check_permute_dims_sees_a_joint_left_intact():
    """Whole rows shuffled, then in column j > 0 the entries 0 and j swapped: every column has
    its own order, yet almost every example keeps its code. Only the correlation check sees it."""

    def rows_then_one_swap_per_column(z, seed=None):
        order = ops.argsort(keras.random.uniform(ops.shape(z)[:1], seed=seed))
        position = ops.arange(ops.shape(z)[0])
        columns = [ops.take(z[:, 0], order)]
        for j in range(1, z.shape[1]):
            swapped = ops.where(position == 0, order[j], ops.where(position == j, order[0], order))
            columns.append(ops.take(z[:, j], swapped))
        return ops.stack(columns, axis=1)

    with pytest.raises(AssertionError, match="shuffled independently"):
        testing.check_permute_dims(rows_then_one_swap_per_column)


# ------------------------------------------------------------------------------ the TC estimate
def tc_reference(logits):
    return ops.mean(losses.density_ratio_total_correlation(logits))


def tc_from_log_softmax(logits):
    log_p = ops.log_softmax(logits, axis=-1)
    return ops.mean(log_p[:, 0] - log_p[:, 1])


def tc_flipped(logits):
    return -tc_reference(logits)


def tc_sigmoid_of_first_logit(logits):
    d = ops.sigmoid(logits[:, 0])
    return ops.mean(ops.log(d) - ops.log(1.0 - d))


def tc_log_d_only(logits):
    return ops.mean(ops.log_softmax(logits, axis=-1)[:, 0])


def tc_ratio_without_log(logits):
    d = ops.softmax(logits, axis=-1)[:, 0]
    return ops.mean(d / (1.0 - d))


def tc_per_example(logits):
    return losses.density_ratio_total_correlation(logits)


def tc_naive_probabilities(logits):
    d = ops.softmax(logits, axis=-1)[:, 0]
    return ops.mean(ops.log(d) - ops.log(1.0 - d))


def tc_numpy(logits):
    logits = np.asarray(logits)
    return float(np.mean(logits[:, 0] - logits[:, 1]))


def tc_stopped(logits):
    return ops.stop_gradient(tc_reference(logits))


@pytest.mark.parametrize("fn", [tc_reference, tc_from_log_softmax])
def test_check_tc_estimate_passes_correct_functions(fn):
    testing.check_tc_estimate(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (tc_flipped, "sign is flipped"),
        (tc_sigmoid_of_first_logit, "not sigmoid"),
        (tc_log_d_only, "log D alone"),
        (tc_ratio_without_log, "take the log"),
        (tc_per_example, "one value per example"),
        (tc_naive_probabilities, "log 0"),
        (tc_numpy, "not a tensor"),
        (tc_stopped, "No gradient"),
    ],
)
def test_check_tc_estimate_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_tc_estimate(wrong)


# ---------------------------------------------------------------------------------------- MIG
def mig_reference(codes, factors, num_bins=20):
    return metrics.mig(codes, factors, num_bins)


def mig_written_out(codes, factors, num_bins=20):
    binned = discretize(codes, num_bins)
    gaps = []
    for factor in np.asarray(factors).T:
        info = sorted((mutual_information(column, factor) for column in binned.T), reverse=True)
        gaps.append((info[0] - info[1]) / entropy(factor))
    return float(np.mean(gaps))


def _parts(codes, factors, num_bins):
    info = mutual_information_matrix(discretize(codes, num_bins), factors)
    return np.sort(info, axis=0)[::-1], np.array([entropy(f) for f in np.asarray(factors).T])


def mig_unnormalised(codes, factors, num_bins=20):
    top, _ = _parts(codes, factors, num_bins)
    return float(np.mean(top[0] - top[1]))


def mig_log_of_sizes(codes, factors, num_bins=20):
    top, _ = _parts(codes, factors, num_bins)
    sizes = np.array([len(np.unique(f)) for f in np.asarray(factors).T])
    return float(np.mean((top[0] - top[1]) / np.log(sizes)))


def mig_no_gap(codes, factors, num_bins=20):
    top, entropies = _parts(codes, factors, num_bins)
    return float(np.mean(top[0] / entropies))


def mig_ascending(codes, factors, num_bins=20):
    top, entropies = _parts(codes, factors, num_bins)
    return float(np.mean((top[1] - top[0]) / entropies))


def mig_not_discretized(codes, factors, num_bins=20):
    info = mutual_information_matrix(codes, factors)
    top = np.sort(info, axis=0)[::-1]
    return float(np.mean((top[0] - top[1]) / np.array([entropy(f) for f in np.asarray(factors).T])))


def mig_fixed_bins(codes, factors, num_bins=20):
    return metrics.mig(codes, factors, 20)


def mig_global_bins(codes, factors, num_bins=20):
    """One set of bin edges for the whole code instead of one per dimension."""
    codes = np.asarray(codes, dtype=float)
    edges = np.histogram_bin_edges(codes, bins=num_bins)
    binned = np.digitize(codes, edges[1:-1])
    top = np.sort(mutual_information_matrix(binned, factors), axis=0)[::-1]
    return float(np.mean((top[0] - top[1]) / np.array([entropy(f) for f in np.asarray(factors).T])))


def mig_per_factor(codes, factors, num_bins=20):
    top, entropies = _parts(codes, factors, num_bins)
    return (top[0] - top[1]) / entropies


@pytest.mark.parametrize("fn", [mig_reference, mig_written_out])
def test_check_mig_passes_correct_functions(fn):
    testing.check_mig(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (mig_unnormalised, "divide each factor's gap by its entropy"),
        (mig_log_of_sizes, "not by log\\(number of values\\)"),
        (mig_no_gap, "\\*gap\\*"),
        (mig_ascending, "decreasing order"),
        (mig_not_discretized, "discretize the codes first"),
        (mig_fixed_bins, "num_bins=5"),
        (mig_global_bins, "not what was expected"),
        (mig_per_factor, "return one number"),
    ],
)
def test_check_mig_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_mig(wrong)
