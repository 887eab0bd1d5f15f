"""Shared fixtures: quiet TensorFlow, fixed seeds, small offline data."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def fixed_seeds():
    """Every test starts from the same global seeds (NumPy, Python, TensorFlow)."""
    keras.utils.set_random_seed(0)


@pytest.fixture
def binary_images():
    """128 binary 8×8 images: a bright square at a random place, so there is structure to learn."""
    rng = np.random.default_rng(0)
    images = np.zeros((128, 8, 8, 1), dtype="float32")
    corners = rng.integers(0, 5, size=(128, 2))
    for image, (row, col) in zip(images, corners):
        image[row : row + 4, col : col + 4] = 1.0
    return images
