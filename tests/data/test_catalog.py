"""The dataset registry: every name loads, with the CLI's error for unknown names."""

import importlib

import numpy as np
import pytest

from kgen.data import DATASETS, TOY2D_NAMES, DatasetNotFoundError, load, toy2d

images_module = importlib.import_module("kgen.data.images")


def test_names():
    names = {*TOY2D_NAMES, "dsprites", "dsprites32", "dsprites32_shapes", "fashion_mnist", "mnist", "digits"}
    assert set(DATASETS) == names
    assert all(isinstance(text, str) and text for text in DATASETS.values())


@pytest.mark.parametrize("name", [*TOY2D_NAMES, "dsprites", "dsprites32", "dsprites32_shapes", "digits"])
def test_generated_and_bundled_sets_load(name):
    x = load(name, n=12)
    assert x.dtype == np.float32 and len(x) == 12
    if name in TOY2D_NAMES:
        assert x.shape == (12, 2)
    else:
        assert x.ndim == 4 and x.shape[-1] == 1 and x.min() >= 0.0 and x.max() <= 1.0


def test_dsprites32_shapes_holds_orientation_and_scale():
    """Only shape, x and y vary: at most 3 x 32 x 32 distinct images, every sprite upright at the
    largest scale (all three shapes present), drawn from the same stream as DSprites itself."""
    from kgen.data.catalog import DSPRITES_SETS
    from kgen.data.dsprites import DSprites

    x = load("dsprites32_shapes", n=4000, seed=2)
    expected = DSprites(**DSPRITES_SETS["dsprites32_shapes"]).sample(4000, np.random.default_rng([2, 0]))[0]
    np.testing.assert_array_equal(x, expected)
    assert len(np.unique(x.reshape(len(x), -1), axis=0)) <= 3 * 32 * 32
    areas = x.reshape(len(x), -1).sum(axis=1)
    small = load("dsprites32", n=4000, seed=2).reshape(4000, -1).sum(axis=1)
    assert areas.min() > np.median(small)  # every sprite larger than a typical full-dSprites one
    assert len(np.unique(areas.round())) >= 3  # squares, ellipses and hearts differ in area


def test_generated_splits_and_seeds():
    train = load("8gaussians", n=50, seed=1)
    np.testing.assert_array_equal(train, load("8gaussians", n=50, seed=1))
    np.testing.assert_array_equal(train, toy2d("8gaussians", 50, np.random.default_rng([1, 0])))
    assert not np.allclose(train, load("8gaussians", n=50, split="test", seed=1))
    assert load("rings").shape == (10_000, 2)  # the default size of generated sets


def test_image_subsample():
    everything = load("digits", split="test")
    assert everything.shape == (297, 8, 8, 1)
    part = load("digits", n=40, split="test", seed=3)
    np.testing.assert_array_equal(part, load("digits", n=40, split="test", seed=3))
    assert len(np.unique(part.reshape(40, -1), axis=0)) == 40  # drawn without replacement
    with pytest.raises(ValueError, match="`n`=300 exceeds the 297 test examples"):
        load("digits", n=300, split="test")


def test_fashion_mnist(require_data):
    require_data(
        (images_module.DEBIAN_FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file()
        or (images_module.data_dir() / "fashion-mnist").is_dir(),
        "Fashion-MNIST (apt-get install dataset-fashion-mnist)",
    )
    x = load("fashion_mnist", n=64, split="test", seed=0)
    assert x.shape == (64, 28, 28, 1) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.5


def test_mnist_loads_or_says_where_to_put_it():
    """MNIST is loaded if a local copy exists; otherwise (Keras' download is disabled in these
    tests) the error names the file to provide."""
    try:
        x = load("mnist", n=16)
    except DatasetNotFoundError as error:
        assert "mnist.npz" in str(error)
    else:
        assert x.shape == (16, 28, 28, 1) and x.dtype == np.float32 and x.max() <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "cifar10"}, ValueError, r"`name` 'cifar10'.*8gaussians.*dsprites.*digits"),
        ({"name": "digits", "split": "val"}, ValueError, r"`split` 'val'.*train, test"),
        ({"name": "rings", "n": 0}, ValueError, r"`n` must be a positive int"),
        ({"name": "rings", "n": 1.5}, TypeError, r"`n` must be a positive int"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load(**kwargs)
