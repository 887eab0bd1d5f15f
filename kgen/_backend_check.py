"""Checks, at import, that Keras runs (or will run) on the TensorFlow backend.

kgen's models draw their priors and likelihoods from TensorFlow Probability, which needs
TensorFlow tensors. kgen never sets ``KERAS_BACKEND`` itself: the user's choice stands, and a
wrong choice gets a message that says how to fix it. The check reads the configuration before
Keras is imported, because importing Keras on another backend may itself fail (its numpy
backend, for one, needs JAX).
"""

import json
import os
import sys


def configured_backend() -> str:
    """The backend Keras uses or will use: Keras' own answer once imported, else its config
    (``KERAS_BACKEND``, then ``$KERAS_HOME/keras.json`` or ``~/.keras/keras.json``, else TensorFlow)."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    try:
        with open(os.path.join(home, "keras.json")) as file:
            return json.load(file).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def require_tensorflow_backend() -> None:
    """Raise ``ImportError`` unless Keras' backend is ``"tensorflow"``."""
    backend = configured_backend()
    if backend != "tensorflow":
        raise ImportError(
            f"kgen needs Keras on the TensorFlow backend, but Keras is set to {backend!r}. "
            "Set the environment variable before Python imports keras, e.g. "
            "`export KERAS_BACKEND=tensorflow` in the shell, or "
            "`os.environ['KERAS_BACKEND'] = 'tensorflow'` at the top of the notebook, "
            "or set \"backend\": \"tensorflow\" in ~/.keras/keras.json."
        )
