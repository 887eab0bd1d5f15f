"""Input checks name the argument, the expectation and what was given."""

import numpy as np
import pytest
import tensorflow as tf

from kgen import validation


def test_check_data_accepts_a_valid_batch():
    x = np.zeros((2, 4, 4, 1), "float32")
    assert validation.check_data(x, (4, 4, 1), value_range=(0, 1)) is x


@pytest.mark.parametrize(
    "x, error, message",
    [
        (np.zeros((2, 4, 4, 1), "uint8"), TypeError, r"`x` must hold floating-point values; got dtype uint8.*/ 255"),
        (np.zeros((2, 4, 4), "float32"), ValueError, r"shape \(batch, 4, 4, 1\); got \(2, 4, 4\).*x\[\.\.\., None\]"),
        (np.zeros((2, 5, 5, 1), "float32"), ValueError, r"got \(2, 5, 5, 1\)"),
        (np.full((2, 4, 4, 1), np.nan, "float32"), ValueError, "32 NaN or infinite"),
        (np.full((2, 4, 4, 1), 2.0, "float32"), ValueError, r"lie in \[0, 1\] for a test; got values in \[2, 2\]"),
        ([[0.0]], TypeError, "NumPy array or a tensor"),
    ],
)
def test_check_data_rejects_bad_batches(x, error, message):
    with pytest.raises(error, match=message):
        validation.check_data(x, (4, 4, 1), value_range=(0, 1), range_reason="for a test")


def test_check_dataset_reads_spec_and_first_batch():
    good = tf.data.Dataset.from_tensor_slices(np.zeros((8, 3), "float32")).batch(4)
    validation.check_dataset(good, (3,))
    unbatched = tf.data.Dataset.from_tensor_slices(np.zeros((8, 3), "float32"))
    with pytest.raises(ValueError, match="forget `.batch"):
        validation.check_dataset(unbatched, (3,))
    bad = tf.data.Dataset.from_tensor_slices(np.full((8, 3), np.inf, "float32")).batch(4)
    with pytest.raises(ValueError, match="infinite"):
        validation.check_dataset(bad, (3,))


@pytest.mark.parametrize("value, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)])
def test_check_positive_int(value, error):
    with pytest.raises(error, match="`n` must be a positive integer"):
        validation.check_positive_int(value, "n")


def test_check_seed():
    assert validation.check_seed(None) is None and validation.check_seed(0) == 0
    with pytest.raises(ValueError, match="non-negative"):
        validation.check_seed(-1)
    with pytest.raises(TypeError, match="non-negative integer; got '3'"):
        validation.check_seed("3")
