"""``import kgen`` refuses a non-TensorFlow Keras backend with a message that says how to fix it."""

import os
import subprocess
import sys


def test_import_fails_clearly_on_another_backend():
    env = {**os.environ, "KERAS_BACKEND": "numpy"}
    result = subprocess.run([sys.executable, "-c", "import kgen"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "kgen needs Keras on the TensorFlow backend" in result.stderr
    assert "KERAS_BACKEND=tensorflow" in result.stderr


def test_import_sets_no_keras_globals():
    code = "import keras; before = (keras.config.floatx(), keras.config.image_data_format()); import kgen; " \
           "assert (keras.config.floatx(), keras.config.image_data_format()) == before; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr
