"""kgen: deep generative models in Keras 3, with TensorFlow Probability distributions.

Every method is a ``keras.Model`` that trains with ``model.fit()``; see ``kgen.models``.

The submodules load when first used (``kgen.models``, ``from kgen import data``, …), so that
``import kgen`` — and the ``kgen`` command's ``list``, ``--help`` and argument errors — start
no TensorFlow.
"""

import importlib

from kgen._backend_check import require_tensorflow_backend

require_tensorflow_backend()

__version__ = "0.1.0"

_SUBMODULES = ("callbacks", "data", "diffusion", "distributions", "layers", "losses", "metrics", "models",
               "samplers", "viz")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name):
    """Import the submodule ``name`` on first access (PEP 562)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"kgen.{name}")
    raise AttributeError(f"module 'kgen' has no attribute {name!r}")
