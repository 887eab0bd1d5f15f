"""The one registry of datasets, by name: what ``kgen list`` prints and ``--data`` accepts.

``load(name, n, split, seed)`` returns training data as a float32 NumPy array, ready for
``model.fit``: points ``(n, 2)`` for the 2-D toy sets, images ``(N, H, W, 1)`` in [0, 1] for
the image sets.

Generated sets (toy 2-D, dSprites) have no fixed split: each split is its own random stream,
drawn from ``numpy.random.default_rng([seed, 0])`` for ``train`` and ``[seed, 1]`` for
``test``, so the two never share points by construction.
"""

import numpy as np

from kgen.data.dsprites import DSprites
from kgen.data.images import IMAGE_DATASETS, SPLITS, install_hint, is_on_disk, load_images
from kgen.data.toy2d import TOY2D_EXACT_NAMES, TOY2D_NAMES, toy2d
from kgen.validation import check_choice, check_positive_int

#: Number of points drawn from a generated set when ``n`` is not given.
DEFAULT_GENERATED_SIZE = 10_000

_TOY2D_DESCRIPTIONS = {
    "8gaussians": "mixture of 8 Gaussians on a circle",
    "checkerboard": "uniform on the black cells of a 4x4 checkerboard",
    "two_moons": "two interleaved noisy half circles",
    "swiss_roll": "noisy planar swiss roll",
    "rings": "4 concentric noisy rings",
    "pinwheel": "5 curved Gaussian arms",
    "2spirals": "two interleaved noisy spirals",
    "circles": "2 concentric noisy circles",
    "25gaussians": "mixture of 25 Gaussians on a 5x5 grid",
}

#: The dSprites sets by name, as ``DSprites`` arguments. ``dsprites32_shapes`` holds orientation
#: at 0 and scale at its largest grid index: at 32x32 a rotated or small sprite is a few pixels
#: wide and shape is learnt last; upright at 8 px the three shapes show within the quick start's
#: 5 minutes (measured in the README).
DSPRITES_SETS = {
    "dsprites": {},
    "dsprites32": {"resolution": 32},
    "dsprites32_shapes": {"resolution": 32, "fixed": {"orientation": 0, "scale": 5}},
}

#: Dataset name -> one-line description.
DATASETS = {
    **{
        name: f"2-D toy: {_TOY2D_DESCRIPTIONS[name]}"
        + (" (exact log-density)" if name in TOY2D_EXACT_NAMES else "")
        for name in TOY2D_NAMES
    },
    "dsprites": "dSprites 64x64 binary, 5 known factors (generated procedurally)",
    "dsprites32": "dSprites at 32x32 binary, 5 known factors (procedural)",
    "dsprites32_shapes": "dSprites at 32x32, upright and at the largest scale: only shape, x and y "
    "vary (3 072 images; the README's quick start)",
    "fashion_mnist": "Fashion-MNIST 28x28 grey, 60 000 train / 10 000 test",
    "mnist": "MNIST 28x28 grey digits, 60 000 train / 10 000 test",
    "digits": "scikit-learn 8x8 digits, 1 500 train / 297 test",
}


def missing(name):
    """``None`` if the dataset ``name`` loads on this machine without a download, else the one
    step that makes it available (``kgen list`` prints it)."""
    check_choice(name, "name", DATASETS)
    if name in IMAGE_DATASETS and not is_on_disk(name):
        return install_hint(name)
    return None


def load(name, n=None, split="train", seed=0):
    """Load (part of) the dataset ``name`` as a float32 array.

    Args:
        name: a key of ``DATASETS``.
        n: number of examples. Generated sets draw ``n`` (default 10 000); image sets return
            all examples of the split when ``n`` is None, else ``n`` of them drawn without
            replacement using ``seed``.
        split: ``"train"`` or ``"test"``.
        seed: int seed for generated data and for the subsample.

    Returns:
        float32 array: ``(n, 2)`` for toy sets, ``(n, H, W, 1)`` in [0, 1] for image sets.
    """
    check_choice(name, "name", DATASETS)
    check_choice(split, "split", SPLITS)
    if n is not None:
        n = check_positive_int(n, "n")
    if name in IMAGE_DATASETS:
        images, _ = load_images(name, split)
        if n is None:
            return images
        if n > len(images):
            raise ValueError(f"`n`={n} exceeds the {len(images)} {split} examples of {name!r}.")
        return images[np.random.default_rng(seed).choice(len(images), n, replace=False)]
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    n = DEFAULT_GENERATED_SIZE if n is None else n
    if name in DSPRITES_SETS:
        return DSprites(**DSPRITES_SETS[name]).sample(n, rng)[0]
    return toy2d(name, n, rng)
