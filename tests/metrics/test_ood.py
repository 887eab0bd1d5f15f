"""OOD scores: AUROC extremes, ties and invariances; typicality flags the too-likely mode of a
high-dimensional Gaussian that the likelihood test misses; perturbation rate; bad input."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from kgen.metrics import ood


def test_auroc_is_one_zero_and_a_half_at_its_extremes_and_counts_ties_half():
    low, high = np.arange(5.0), np.arange(10.0, 15.0)
    assert ood.auroc(low, high) == 1.0
    assert ood.auroc(high, low) == 0.0
    assert ood.auroc(low, low) == 0.5
    assert ood.auroc([0.0, 1.0], [1.0, 2.0]) == pytest.approx((1 + 0.5 + 1 + 1) / 4)


def test_auroc_is_invariant_to_increasing_maps_and_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(0.5, 1.0, size=150).round(1)
    pairwise = ((b[None, :] > a[:, None]) + 0.5 * (b[None, :] == a[:, None])).mean()
    assert ood.auroc(a, b) == pytest.approx(pairwise)
    assert ood.auroc(np.exp(a), np.exp(b)) == pytest.approx(pairwise)


def test_typicality_flags_the_mode_of_a_gaussian_that_the_likelihood_test_calls_typical():
    dims, rng = 100, np.random.default_rng(1)
    gaussian = multivariate_normal(np.zeros(dims), np.eye(dims))
    train, inliers = rng.normal(size=(2000, dims)), rng.normal(size=(500, dims))
    near_mode = 0.1 * rng.normal(size=(500, dims))  # far more likely than any typical sample
    nll_train, nll_in, nll_out = (-gaussian.logpdf(x) for x in (train, inliers, near_mode))
    assert ood.auroc(ood.likelihood_score(nll_in), ood.likelihood_score(nll_out)) < 0.01
    typicality = ood.auroc(ood.typicality_score(nll_in, nll_train), ood.typicality_score(nll_out, nll_train))
    assert typicality > 0.99


def test_typicality_over_groups_averages_each_group_and_grows_more_powerful():
    nll = np.array([1.0, 3.0, 2.0, 2.0])
    np.testing.assert_allclose(ood.typicality_score(nll, [2.0], group_size=2), [0.0, 0.0])
    rng = np.random.default_rng(2)
    train = rng.normal(0.0, 1.0, 4000)
    inliers, outliers = rng.normal(0.0, 1.0, 4000), rng.normal(0.3, 1.0, 4000)
    single = ood.auroc(ood.typicality_score(inliers, train), ood.typicality_score(outliers, train))
    grouped = ood.auroc(ood.typicality_score(inliers, train, 50), ood.typicality_score(outliers, train, 50))
    assert grouped > single + 0.2


def test_likelihood_ratio_subtracts_the_background_and_perturb_replaces_the_given_fraction():
    np.testing.assert_allclose(ood.likelihood_ratio_score([5.0, 1.0], [4.0, 3.0]), [1.0, -2.0])
    x = np.full((200, 28, 28, 1), 0.5, "float32")  # 0.5 is no level k/255, so every redrawn value differs
    changed = ood.perturb(x, rate=0.2, seed=0) != 0.5
    assert abs(changed.mean() - 0.2) < 0.005
    np.testing.assert_array_equal(ood.perturb(x, 0.2, seed=3), ood.perturb(x, 0.2, seed=3))


def test_auprc_is_one_at_best_the_positives_share_by_chance_and_matches_scikit_learn():
    from sklearn.metrics import average_precision_score

    low, high = np.arange(5.0), np.arange(10.0, 13.0)
    assert ood.auprc(low, high) == 1.0
    assert ood.auprc(high, low) == pytest.approx(np.mean([1 / 4, 2 / 5, 3 / 6, 4 / 7, 5 / 8]))
    rng = np.random.default_rng(3)
    chance = ood.auprc(rng.normal(size=4000), rng.normal(size=1000))
    assert abs(chance - 0.2) < 0.03
    a, b = rng.normal(size=300).round(1), rng.normal(0.7, 1.0, size=100).round(1)  # with ties
    expected = average_precision_score(np.r_[np.zeros(300), np.ones(100)], np.r_[a, b])
    assert ood.auprc(a, b) == pytest.approx(expected, rel=1e-12)
    assert ood.auprc(np.exp(a), np.exp(b)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ood.auroc([], [1.0]), "`in_scores` must be a non-empty 1-D array"),
        (lambda: ood.auroc([1.0], [np.nan]), "`out_scores` contains NaN"),
        (lambda: ood.auprc([1.0], []), "`out_scores` must be a non-empty 1-D array"),
        (lambda: ood.typicality_score([1.0, 2.0, 3.0], [1.0], group_size=2), "not a multiple of `group_size`=2"),
        (lambda: ood.likelihood_ratio_score([1.0], [1.0, 2.0]), "same shape"),
        (lambda: ood.perturb(np.zeros(3), rate=1.5), r"`rate` must lie in \(0, 1\]"),
        (lambda: ood.perturb(np.zeros(3), rate=0.5, num_bins=1), "`num_bins` must be at least 2"),
    ],
)
def test_bad_input_is_rejected_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _labelled(n=103, classes=5, seed=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    x = np.stack([np.arange(n), y], axis=1)  # each row names its index and its label
    return x, y


def test_anomaly_split_keeps_the_held_out_class_out_of_training_and_cuts_the_normal_ones_once():
    x, y = _labelled()
    train, test_normal, test_anomalous = ood.anomaly_split(x, y, held_out=2, train_share=0.8, seed=0)
    n_normal = int((y != 2).sum())
    assert len(train) == int(0.8 * n_normal) and len(train) + len(test_normal) == n_normal
    assert not (train[:, 1] == 2).any() and not (test_normal[:, 1] == 2).any()
    assert (test_anomalous[:, 1] == 2).all() and len(test_anomalous) == int((y == 2).sum())
    normal_indices = np.sort(np.r_[train[:, 0], test_normal[:, 0]])
    np.testing.assert_array_equal(normal_indices, np.flatnonzero(y != 2))  # each exactly once
    assert not np.array_equal(train[:, 0], np.sort(train[:, 0]))  # shuffled, not the first 80 %


def test_anomaly_split_is_deterministic_for_a_seed_and_changes_with_it():
    x, y = _labelled()
    first, again, other = (ood.anomaly_split(x, y, 4, seed=s) for s in (7, 7, 8))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    np.testing.assert_array_equal(first[2], other[2])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"held_out": 9}, ValueError, "is not a label of `y`"),
        ({"held_out": 1, "train_share": 1.0}, ValueError, r"`train_share` must lie in \(0, 1\)"),
        ({"held_out": 1, "train_share": 0}, ValueError, r"`train_share` must lie in \(0, 1\)"),
        ({"held_out": 1, "train_share": "0.8"}, TypeError, "`train_share` must be a number"),
        ({"held_out": 1.0}, TypeError, "`held_out` must be an int"),
    ],
)
def test_anomaly_split_rejects_bad_arguments_clearly(kwargs, error, message):
    x, y = np.zeros((4, 2)), np.array([0, 1, 1, 2])
    with pytest.raises(error, match=message):
        ood.anomaly_split(x, y, **kwargs)


def test_anomaly_split_rejects_mismatched_lengths_float_labels_and_an_all_anomalous_set():
    with pytest.raises(ValueError, match="same length"):
        ood.anomaly_split(np.zeros((5, 2)), np.zeros(4, int), 0)
    with pytest.raises(TypeError, match="integer class labels"):
        ood.anomaly_split(np.zeros((3, 2)), np.array([0.0, 1.0, 1.0]), 0)
    with pytest.raises(ValueError, match="nothing is normal"):
        ood.anomaly_split(np.zeros((3, 2)), np.ones(3, int), 1)
