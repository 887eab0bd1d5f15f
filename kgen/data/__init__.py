"""Datasets that work offline: 2-D toy densities, procedural dSprites, small image sets.

* ``toy2d(name, n, seed)`` draws from the 2-D toy sets (``TOY2D_NAMES``) and
  ``toy2d_log_prob(name, x)`` gives the exact log-density of those that have one
  (``TOY2D_EXACT_NAMES``), ``toy2d_modes(name)`` the means and std of the mixtures.
* ``DSprites`` renders dSprites images at any factor values on the original grid.
* ``load_images(name, split)`` loads Fashion-MNIST, MNIST and scikit-learn's 8x8 digits from
  local files (``data_dir()``, the Debian ``dataset-fashion-mnist`` package) before trying
  Keras' downloader.
* ``load(name, n, split, seed)`` is the single entry point by name, over ``DATASETS``;
  ``missing(name)`` says what to install when a set is not on this machine.
* ``as_dataset(name_or_array_or_folder, batch_size, …)`` is the same data as a ``tf.data``
  pipeline of shuffled batches (seeded, prefetched); ``stream=True``, or a folder of ``.npy``
  shards written by ``write_shards(x, folder)``, reads data too large for memory from files
  record by record (``kgen.data.pipeline``).

Provenance, licenses and checksums: ``datasets/README.md``.
"""

from kgen.data.catalog import DATASETS, load, missing
from kgen.data.dsprites import DSprites
from kgen.data.images import IMAGE_DATASETS, DatasetNotFoundError, data_dir, load_images, read_idx
from kgen.data.shards import write_shards
from kgen.data.toy2d import (
    TOY2D_EXACT_NAMES,
    TOY2D_MIXTURE_NAMES,
    TOY2D_NAMES,
    toy2d,
    toy2d_log_prob,
    toy2d_modes,
)

__all__ = [
    "DATASETS",
    "IMAGE_DATASETS",
    "TOY2D_EXACT_NAMES",
    "TOY2D_MIXTURE_NAMES",
    "TOY2D_NAMES",
    "DSprites",
    "as_dataset",
    "DatasetNotFoundError",
    "data_dir",
    "load",
    "load_images",
    "missing",
    "read_idx",
    "toy2d",
    "toy2d_log_prob",
    "toy2d_modes",
    "write_shards",
]


def __getattr__(name):
    """``as_dataset`` loads TensorFlow, so it is imported on first use (PEP 562):
    ``import kgen.data`` starts no TensorFlow."""
    if name == "as_dataset":
        from kgen.data.pipeline import as_dataset

        return as_dataset
    raise AttributeError(f"module 'kgen.data' has no attribute {name!r}")
