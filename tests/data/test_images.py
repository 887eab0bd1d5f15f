"""Loading the image sets offline, and the messages when they are missing."""

import gzip
import importlib

import numpy as np
import pytest

from kgen.data import DatasetNotFoundError, data_dir, load_images, read_idx

images_module = importlib.import_module("kgen.data.images")


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def test_digits():
    train_x, train_y = load_images("digits", "train")
    test_x, test_y = load_images("digits", "test")
    assert train_x.shape == (1500, 8, 8, 1) and test_x.shape == (297, 8, 8, 1)
    assert train_x.dtype == np.float32 and train_y.dtype == np.int64
    assert train_x.min() == 0.0 and train_x.max() == 1.0
    assert set(np.unique(train_y)) == set(np.unique(test_y)) == set(range(10))
    np.testing.assert_array_equal(load_images("digits")[1], train_y)  # deterministic split


def test_fashion_mnist_from_debian_package(monkeypatch, tmp_path, require_data):
    debian = images_module.DEBIAN_FASHION_MNIST_DIR
    require_data(
        (debian / "t10k-images-idx3-ubyte.gz").is_file(),
        "Fashion-MNIST (apt-get install dataset-fashion-mnist)",
    )
    monkeypatch.setenv("KGEN_DATA_DIR", str(tmp_path))  # an empty data dir: Debian files only
    train_x, train_y = load_images("fashion_mnist", "train")
    test_x, test_y = load_images("fashion_mnist", "test")
    assert train_x.shape == (60_000, 28, 28, 1) and test_x.shape == (10_000, 28, 28, 1)
    assert train_x.dtype == np.float32 and train_y.dtype == np.int64
    assert train_x.min() == 0.0 and train_x.max() == 1.0
    np.testing.assert_array_equal(np.bincount(train_y), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(test_y), np.full(10, 1000))


def test_idx_folder_in_data_dir(monkeypatch, tmp_path):
    """A folder of the original idx files in KGEN_DATA_DIR is read (here: a made-up MNIST)."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    pixels = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", pixels)
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.array([7, 0, 3]))
    monkeypatch.setenv("KGEN_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    images, labels = load_images("mnist", "test")
    np.testing.assert_allclose(images[..., 0], pixels / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(labels, [7, 0, 3])
    np.testing.assert_array_equal(read_idx(folder / "t10k-labels-idx1-ubyte.gz"), [7, 0, 3])


def test_keras_npz_in_data_dir(monkeypatch, tmp_path):
    pixels = np.full((2, 28, 28), 255, np.uint8)
    np.savez(
        tmp_path / "mnist.npz",
        x_train=pixels,
        y_train=np.array([1, 2], np.uint8),
        x_test=pixels[:1],
        y_test=np.array([4], np.uint8),
    )
    monkeypatch.setenv("KGEN_DATA_DIR", str(tmp_path))
    images, labels = load_images("mnist", "train")
    assert images.shape == (2, 28, 28, 1) and np.all(images == 1.0)
    assert labels.dtype == np.int64 and labels.tolist() == [1, 2]


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist"])
def test_missing_data_message(monkeypatch, tmp_path, name):
    """Empty data dir, no Debian files, Keras' download failing (the autouse ``offline``
    fixture): the error says which file goes in which folder, and what to install."""
    monkeypatch.setenv("KGEN_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(images_module, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    with pytest.raises(DatasetNotFoundError) as caught:
        load_images(name, "train")
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert "train-images-idx3-ubyte.gz" in message and "KGEN_DATA_DIR" in message
    if name == "fashion_mnist":
        assert "sudo apt-get install dataset-fashion-mnist" in message
        assert f"{tmp_path / 'fashion-mnist'}/" in message
    else:
        assert "mnist.npz (from https://" in message and f"in {tmp_path}/" in message


def test_unknown_name_and_bad_split():
    with pytest.raises(ValueError, match=r"`name` 'cifar10'.*fashion_mnist, mnist, digits"):
        load_images("cifar10")
    with pytest.raises(ValueError, match=r"`split` 'validation'.*train, test"):
        load_images("digits", split="validation")


def test_data_dir_defaults_to_checkout(monkeypatch):
    monkeypatch.delenv("KGEN_DATA_DIR", raising=False)
    root = images_module._CHECKOUT_ROOT
    expected = root / "datasets" if (root / "pyproject.toml").is_file() else None
    if expected is not None and expected.is_dir():
        assert data_dir() == expected
    else:
        assert data_dir().parts[-2:] == (".keras", "datasets")
