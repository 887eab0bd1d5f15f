"""Small grey-scale image sets, loaded offline first: Fashion-MNIST, MNIST, 8x8 digits.

``load_images(name, split)`` returns ``(images, labels)``: float32 images ``(N, H, W, 1)`` in
[0, 1] and int64 labels ``(N,)``.

Where the MNIST-style sets are looked for, in order:

1. the local data directory ``data_dir()``: ``$KGEN_DATA_DIR`` if set, else ``datasets/`` at the
   root of a source checkout (beside the ``kgen`` package), else Keras' cache
   ``~/.keras/datasets``. Accepted layouts: Keras' ``mnist.npz``, or a folder (``mnist/`` or
   ``fashion-mnist/``) holding the four original idx files ``train-images-idx3-ubyte.gz``,
   ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``
   (Keras' own Fashion-MNIST cache has exactly this layout);
2. for Fashion-MNIST, the Debian package ``dataset-fashion-mnist``, which installs the four
   original files in ``/usr/share/datasets/fashion-mnist/``;
3. Keras' loader ``keras.datasets.<name>.load_data()``, which reads its cache or downloads.

If all of them fail, ``DatasetNotFoundError`` says which file to put in which folder.

The 8x8 ``digits`` (1 797 images of 0..16 grey levels, UCI "Optical Recognition of Handwritten
Digits", shipped inside scikit-learn) need no files; they are divided by 16, and split
deterministically: the first 1 500 images are ``train``, the remaining 297 ``test``.

Sources: Fashion-MNIST, Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747; MNIST, LeCun, Bottou,
Bengio & Haffner (1998), http://yann.lecun.com/exdb/mnist/. See ``datasets/README.md``.
"""

import gzip
import os
from pathlib import Path

import numpy as np

from kgen.validation import check_choice

IMAGE_DATASETS = ("fashion_mnist", "mnist", "digits")
SPLITS = ("train", "test")
DIGITS_TRAIN_SIZE = 1500

#: Where ``apt-get install dataset-fashion-mnist`` puts the original files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}
_MNIST_NPZ = "mnist.npz"
_MNIST_NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
_CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is neither on disk nor downloadable; the message says how to provide it."""


def data_dir():
    """The local data directory: ``$KGEN_DATA_DIR``, else ``datasets/`` in a source checkout
    (a folder beside ``kgen/`` next to ``pyproject.toml``), else ``~/.keras/datasets``.

    The directory is not created and may not exist.
    """
    if os.environ.get("KGEN_DATA_DIR"):
        return Path(os.environ["KGEN_DATA_DIR"]).expanduser()
    checkout_data = _CHECKOUT_ROOT / "datasets"
    if (_CHECKOUT_ROOT / "pyproject.toml").is_file() and checkout_data.is_dir():
        return checkout_data
    return Path("~/.keras/datasets").expanduser()


def read_idx_header(path):
    """The shape of the array in the gzip-compressed idx file ``path`` and the header's length
    in bytes, read from the first ``4 + 4 d`` bytes only (the streaming pipeline skips them).

    The idx format (http://yann.lecun.com/exdb/mnist/): bytes 0-1 are zero, byte 2 is the
    element type (0x08 = unsigned byte, the only one MNIST-style sets use), byte 3 the number
    of dimensions d; then d big-endian uint32 sizes, then the elements in C order.

    Returns:
        ``(shape, header_bytes)``: a tuple of ints and ``4 + 4 d``.
    """
    with gzip.open(path, "rb") as file:
        magic = file.read(4)
        _check_idx_magic(path, magic)
        sizes = file.read(4 * magic[3])
    return _idx_shape(path, magic, sizes), 4 + 4 * magic[3]


def read_idx(path):
    """Read a gzip-compressed idx file of unsigned bytes (format: :func:`read_idx_header`)
    into a uint8 array."""
    with gzip.open(path, "rb") as file:
        raw = file.read()
    _check_idx_magic(path, raw[:4])
    ndim = raw[3]
    shape = _idx_shape(path, raw[:4], raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _check_idx_magic(path, magic):
    if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] != 0x08:
        raise ValueError(f"{path} is not an idx file of unsigned bytes (header {magic[:4]!r}).")


def _idx_shape(path, magic, sizes):
    if len(sizes) != 4 * magic[3]:
        raise ValueError(f"{path} ends inside its idx header.")
    return tuple(int(size) for size in np.frombuffer(sizes, ">u4"))


def idx_files(name, split="train"):
    """The local idx files ``(images, labels)`` of one split of ``"fashion_mnist"`` or
    ``"mnist"``, looked for where :func:`load_images` looks (the data directory, then the
    Debian package); raises :class:`DatasetNotFoundError` saying where to put them."""
    check_choice(name, "name", tuple(_FOLDERS))
    check_choice(split, "split", SPLITS)
    source = _local_source(name, split)
    if isinstance(source, list):
        return tuple(source)
    folder = data_dir() / _FOLDERS[name]
    found = f"only {source.name}, which is read whole" if source is not None else "none"
    raise DatasetNotFoundError(
        f"Streaming {name!r} reads its original idx files {', '.join(_IDX_FILES[split])}; "
        f"found {found}. Put them in {folder}/"
        + (" (or apt-get install dataset-fashion-mnist)." if name == "fashion_mnist" else ".")
    )


def load_images(name, split="train"):
    """Load one split of an image set as ``(images, labels)``.

    Args:
        name: ``"fashion_mnist"`` (28x28), ``"mnist"`` (28x28) or ``"digits"`` (8x8).
        split: ``"train"`` or ``"test"``.

    Returns:
        images float32 ``(N, H, W, 1)`` in [0, 1] and labels int64 ``(N,)``; N is 60 000 /
        10 000 for the MNIST-style sets and 1 500 / 297 for digits.

    Raises:
        ValueError: unknown ``name`` or ``split``.
        DatasetNotFoundError: the files are nowhere and Keras cannot download them.
    """
    check_choice(name, "name", IMAGE_DATASETS)
    check_choice(split, "split", SPLITS)
    if name == "digits":
        from sklearn.datasets import load_digits  # here: `import kgen.data` starts no scikit-learn

        digits = load_digits()
        train = np.arange(len(digits.target)) < DIGITS_TRAIN_SIZE
        keep = train if split == "train" else ~train
        images = digits.images[keep].astype(np.float32) / 16.0
        labels = digits.target[keep]
    else:
        pixels, labels = _load_mnist_style(name, split)
        images = pixels.astype(np.float32) / 255.0
    return images[..., None], labels.astype(np.int64)


def is_on_disk(name):
    """True if the image set ``name`` can be loaded without a download (``digits`` always)."""
    check_choice(name, "name", IMAGE_DATASETS)
    return name == "digits" or all(_local_source(name, split) is not None for split in SPLITS)


def install_hint(name):
    """One line that makes the image set ``name`` available offline."""
    if name == "fashion_mnist":
        return "apt-get install dataset-fashion-mnist"
    return f"put {_MNIST_NPZ} in {data_dir()}/ (or set KGEN_DATA_DIR)"


def _local_source(name, split):
    """The idx files (a pair of paths) or the ``.npz`` file holding a split on disk, or None."""
    folders = [data_dir() / _FOLDERS[name]]
    if name == "fashion_mnist":
        folders.append(DEBIAN_FASHION_MNIST_DIR)
    for folder in folders:
        paths = [folder / file_name for file_name in _IDX_FILES[split]]
        if all(path.is_file() for path in paths):
            return paths
    npz = data_dir() / _MNIST_NPZ
    return npz if name == "mnist" and npz.is_file() else None


def _load_mnist_style(name, split):
    """uint8 images ``(N, 28, 28)`` and labels, from the first source that has them."""
    source = _local_source(name, split)
    if isinstance(source, list):
        return read_idx(source[0]), read_idx(source[1])
    if source is not None:
        with np.load(source) as arrays:
            return arrays[f"x_{split}"], arrays[f"y_{split}"]
    import keras  # here: `import kgen.data` starts no TensorFlow

    try:
        train, test = getattr(keras.datasets, name).load_data()
    except Exception as error:  # Keras raises a bare Exception when the download fails
        raise DatasetNotFoundError(_missing_message(name, error)) from error
    return train if split == "train" else test


def _missing_message(name, error):
    folder = data_dir() / _FOLDERS[name]
    idx_files = ", ".join(file_name for pair in _IDX_FILES.values() for file_name in pair)
    if name == "fashion_mnist":
        options = (
            f"  - install the Debian package: sudo apt-get install dataset-fashion-mnist\n"
            f"    (it puts the files in {DEBIAN_FASHION_MNIST_DIR}/), or\n"
            f"  - put the four original files {idx_files} in {folder}/"
        )
    else:
        options = (
            f"  - put {_MNIST_NPZ} (from {_MNIST_NPZ_URL}) in {data_dir()}/, or\n"
            f"  - put the four original files {idx_files} in {folder}/"
        )
    return (
        f"Dataset {name!r} was not found on disk and Keras could not download it "
        f"({type(error).__name__}: {error}).\nTo use it offline, either\n{options}\n"
        "Set the environment variable KGEN_DATA_DIR to use another data directory."
    )
