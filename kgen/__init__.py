"""kgen: deep generative models in Keras 3, with TensorFlow Probability distributions.

Every method is a ``keras.Model`` that trains with ``model.fit()``; see ``kgen.models``.
"""

from kgen._backend_check import require_tensorflow_backend

require_tensorflow_backend()

__version__ = "0.1.0"

from kgen import (  # noqa: E402
    callbacks,
    data,
    distributions,
    layers,
    losses,
    metrics,
    models,
    samplers,
    viz,
)

__all__ = [
    "__version__",
    "callbacks",
    "data",
    "distributions",
    "layers",
    "losses",
    "metrics",
    "models",
    "samplers",
    "viz",
]
