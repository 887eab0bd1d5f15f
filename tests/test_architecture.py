"""ARCHITECTURE.md's "adding a model" example runs as written and follows the contract.

The example is run in a subprocess: it registers a model, which must not join the registry
that the contract suite of this process checks.
"""

import re
import subprocess
import sys
from pathlib import Path

ARCHITECTURE = Path(__file__).resolve().parents[1] / "ARCHITECTURE.md"

CHECKS = """
import numpy as np, keras, tempfile, os
from kgen.models import registered_models

x = np.random.default_rng(0).normal([1.0, -2.0], [0.5, 2.0], size=(2000, 2)).astype("float32")
model = DiagonalGaussianExample.from_data(x, seed=0)
model.compile(keras.optimizers.Adam(0.05))
history = model.fit(x, batch_size=200, epochs=30, verbose=0).history
print("registered", registered_models()["diagonal_gaussian_example"] is DiagonalGaussianExample)
print("keys", sorted(history))
print("loss_fell", history["loss"][-1] < history["loss"][0])
print("mean", *np.round(model.mean.numpy(), 1))
print("scale", *np.round(np.exp(model.log_scale.numpy()), 1))
path = os.path.join(tempfile.mkdtemp(), "m.keras")
model.save(path)
loaded = keras.models.load_model(path)
print("round_trip", bool(np.array_equal(loaded.sample(5, seed=3), model.sample(5, seed=3))))
print("figures", sorted(model.evaluation_figures(x)))
"""


def test_the_adding_a_model_example_learns_and_round_trips():
    code = re.search(r"```python\n(.*?)```", ARCHITECTURE.read_text(encoding="utf-8"), re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code + CHECKS], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    assert printed["registered"] == "True"
    assert printed["keys"] == "['loss', 'mean_squared_distance']"
    assert printed["loss_fell"] == "True"
    assert printed["mean"] == "1.0 -2.0" and printed["scale"] == "0.5 2.0"
    assert printed["round_trip"] == "True"
    assert printed["figures"] == "['examples', 'loss', 'mean_squared_distance']"
