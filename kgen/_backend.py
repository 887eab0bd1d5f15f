"""Checks, once at import, that Keras runs on the TensorFlow backend.

kgen's models draw their priors and likelihoods from TensorFlow Probability, which needs
TensorFlow tensors. kgen never sets ``KERAS_BACKEND`` itself: the user's choice stands, and a
wrong choice gets a message that says how to fix it.
"""

import keras


def require_tensorflow_backend() -> None:
    """Raise ``ImportError`` unless ``keras.backend.backend()`` is ``"tensorflow"``."""
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ImportError(
            f"kgen needs Keras on the TensorFlow backend, but Keras is running on {backend!r}. "
            "Set the environment variable before Python imports keras, e.g. "
            "`export KERAS_BACKEND=tensorflow` in the shell, or "
            "`os.environ['KERAS_BACKEND'] = 'tensorflow'` at the top of the notebook, "
            "or set \"backend\": \"tensorflow\" in ~/.keras/keras.json."
        )
