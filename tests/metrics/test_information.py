"""Entropy and mutual information of discrete variables, and the histogram discretizer."""

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from kgen.metrics.information import (
    discretize,
    entropy,
    mutual_information,
    mutual_information_matrix,
)


def test_entropy_of_a_uniform_variable_is_log_of_its_size():
    assert entropy(np.repeat(np.arange(8), 5)) == pytest.approx(np.log(8))
    assert entropy(np.zeros(10, int)) == 0.0


def test_mutual_information_extremes_and_symmetry():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 6, 20000), rng.integers(0, 4, 20000)
    assert mutual_information(a, a) == pytest.approx(entropy(a))
    assert mutual_information(a, 10 - 3 * a) == pytest.approx(entropy(a))  # any relabelling
    assert 0 <= mutual_information(a, b) < 0.002  # independent: the plug-in bias (5·3)/(2N) only
    c = (a + b) % 6
    assert mutual_information(a, c) == pytest.approx(mutual_information(c, a))


def test_mutual_information_agrees_with_the_plug_in_estimate_of_scikit_learn():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5, 500)
    b = (a + rng.integers(0, 3, 500)) % 7
    assert mutual_information(a, b) == pytest.approx(mutual_info_score(a, b), rel=1e-10)
    assert mutual_information_matrix(np.stack([a, b], 1), np.stack([b], 1)).shape == (2, 1)


def test_discretize_cuts_each_column_into_equal_width_bins_with_the_maximum_in_the_last():
    u = np.random.default_rng(0).random(2000)
    values = np.stack([u, 20.0 * u - 5.0, np.full(2000, 3.0)], 1)
    binned = discretize(values, num_bins=20)
    assert binned.min() == 0 and binned[:, :2].max() == 19 and binned[np.argmax(u), 0] == 19
    np.testing.assert_array_equal(binned[:, 0], binned[:, 1])  # an affine map changes nothing
    assert len(np.unique(binned[:, 2])) == 1
    np.testing.assert_array_equal(binned[:, 0], np.minimum((u - u.min()) / np.ptp(u) * 20, 19).astype(int))
