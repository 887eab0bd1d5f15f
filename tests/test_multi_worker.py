"""Multi-worker training for real: two worker processes on 127.0.0.1, each with its own
``TF_CONFIG``, train kgen models under ``tf.distribute.MultiWorkerMirroredStrategy`` (issue 14).

One loopback cluster (``cluster`` fixture) trains a single-player model (``BetaVAE``) and a
multi-player one (``FactorVAE``: the VAE and its total-correlation discriminator, one shared
forward pass) for two epochs of four steps with the models' own optimizers, under
``BackupAndRestore`` and ``ModelCheckpoint`` in folders the workers share, then evaluates.
Meanwhile one process trains the same models on the same global batch of 16: the β-VAE on one
device, its posterior noise switched off (σ = e⁻²⁰; the two runs draw different noise, which
would otherwise move the weights by 1e-3), and the FactorVAE, whose in-batch permutation of
the codes cannot equal one drawn over the whole batch, under ``MirroredStrategy`` over two
logical CPUs — the same two replicas in one process. Both workers must end with identical
weights and logs, equal to the one-process run's to 1e-6, and the chief alone must write the
model file and the backups (the other worker writes into a temporary folder, deleted after).

Keras 3.15 needs :func:`kgen.backend.logs_for_reduction` for any of this (TensorFlow issue
#72388); the same cluster shows that a plain Keras model still fails without it, so the test
says when an upgraded Keras makes the workaround unnecessary. Every registered model is trained
by such a cluster in the slow tier.
"""

import json
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from models.factories import BATCH_SIZE, FACTORIES, NUM_EXAMPLES
from processes import finish, printed_pairs, start_cluster, two_cpu_replicas_process

MODELS = ("beta_vae", "factor_vae")
EPOCHS = 2
STEPS = EPOCHS * NUM_EXAMPLES // BATCH_SIZE

_TRAINING = """
import json, os, sys, time
sys.path.insert(0, {tests_dir!r})
import keras, numpy as np
import tensorflow as tf
from kgen import backend
from models.factories import BATCH_SIZE, FACTORIES

def quiet_posterior(model):
    # σ = e^-20 for q(z|x): the reparameterization noise, which differs between runs that
    # split the batch differently, vanishes.
    bias = model.encoder.layers[-1].bias
    half = bias.shape[0] // 2
    bias.assign(np.concatenate([bias.numpy()[:half], np.full(half, -40.0, "float32")]))

def train(name, strategy, out, results):
    started = time.perf_counter()
    keras.utils.set_random_seed(0)
    factory = FACTORIES[name]
    x = factory.data()
    with strategy.scope():
        model = factory.model_class(**factory.arguments())
        if name == "beta_vae":
            quiet_posterior(model)
        model.compile(**model.default_optimizers())
    callbacks = []
    if out is not None:
        folder, backup = os.path.join(out, name), os.path.join(out, name, "backup")
        written, backup_written = backend.worker_dir(folder, strategy), backend.worker_backup_dir(backup, strategy)
        callbacks = [keras.callbacks.BackupAndRestore(backup_written, delete_checkpoint=False),
                     keras.callbacks.ModelCheckpoint(os.path.join(written, "model.keras"))]
    history = model.fit(x, batch_size=BATCH_SIZE, epochs={epochs}, verbose=0, callbacks=callbacks).history
    evaluated = model.evaluate(x, batch_size=BATCH_SIZE, verbose=0, return_dict=True)
    np.savez(os.path.join(results, name + ".npz"), *[w.numpy() for w in model.weights])
    print(name + ".history", json.dumps({{k: [float(v) for v in values] for k, values in history.items()}}))
    print(name + ".evaluated", json.dumps({{k: float(v) for k, v in evaluated.items()}}))
    print(name + ".weight_paths", json.dumps([w.path for w in model.weights]))
    print(name + ".steps", sorted({{int(getattr(model, p.optimizer).iterations.numpy()) for p in model.players()}}))
    if out is not None:
        print(name + ".wrote", json.dumps({{"folder": written, "backup": backup_written,
            "files": sorted(os.listdir(written)), "backup_files": sorted(os.listdir(backup_written))}}))
        backend.remove_worker_dir(folder, strategy)
        backend.remove_worker_dir(backup, strategy)
    print(name + ".seconds", time.perf_counter() - started)
"""

_WORKER = _TRAINING + """
strategy = tf.distribute.MultiWorkerMirroredStrategy()
print("replicas", strategy.num_replicas_in_sync)
print("chief", backend.is_chief(strategy))
results = os.path.join(sys.argv[1], str(strategy.cluster_resolver.task_id))
os.makedirs(results)
for name in {names!r}:
    train(name, strategy, {out!r}, results)

# Keras' defect, on the smallest model with a step of its own: a scalar in its logs fails the
# first step; reshaped by kgen's workaround, it trains.
class ScalarLogs(keras.Model):
    def __init__(self):
        super().__init__()
        self.w = self.add_weight(shape=(), initializer="ones", name="w")
        self.built = True

    def train_step(self, data):
        return {{"value": keras.ops.mean(self.w * data)}}

class Reshaped(ScalarLogs):
    def train_step(self, data):
        return backend.logs_for_reduction(super().train_step(data))

ones = tf.data.Dataset.from_tensor_slices(np.ones((32, 2), "float32")).batch(16)
for kind, model_class in [("plain", ScalarLogs), ("reshaped", Reshaped)]:
    with strategy.scope():
        model = model_class()
        model.compile("sgd")
    try:
        print(kind + ".value", model.fit(ones, epochs=1, verbose=0).history["value"][0])
    except ValueError as error:
        print(kind + ".error", " ".join(str(error).split())[:300])
"""

_ONE_PROCESS = _TRAINING + """
os.makedirs({results!r}, exist_ok=True)
for name, replicas in [("beta_vae", 1), ("factor_vae", 2)]:
    train(name, strategy if replicas == 2 else tf.distribute.get_strategy(), None, {results!r})
"""


def _script(template, **values):
    return textwrap.dedent(template).format(tests_dir=str(Path(__file__).parent), epochs=EPOCHS, **values)


def run_cluster(names, out, results):
    """Train ``names`` on a loopback cluster of two workers sharing the folder ``out``; each
    saves its final weights in ``results/<task index>/``. Started, not waited for."""
    script = _script(_WORKER, names=list(names), out=str(out))
    return start_cluster([sys.executable, "-c", script, str(results)])


def weights(results, name):
    with np.load(results / f"{name}.npz") as saved:
        return [saved[key] for key in sorted(saved.files, key=lambda key: int(key.split("_")[1]))]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``(printouts, weights, out)``: what the chief, the other worker and the one-process run
    printed (``{"chief"|"worker"|"one": {key: value}}``), their final weights by model name, and
    the folder the workers shared."""
    out, results = tmp_path_factory.mktemp("shared"), tmp_path_factory.mktemp("results")
    processes = [*run_cluster(MODELS, out, results),
                 two_cpu_replicas_process(_script(_ONE_PROCESS, results=str(results / "one")))]
    printouts = dict(zip(("chief", "worker", "one"), map(printed_pairs, finish(processes))))
    folders = {"chief": results / "0", "worker": results / "1", "one": results / "one"}
    return printouts, {run: {name: weights(folder, name) for name in MODELS} for run, folder in folders.items()}, out


def test_both_workers_train_on_two_replicas_to_identical_weights_and_logs(cluster):
    printouts, final, _ = cluster
    assert printouts["chief"]["replicas"] == printouts["worker"]["replicas"] == "2"
    for name in MODELS:
        for key in ("history", "evaluated", "steps"):
            assert printouts["chief"][f"{name}.{key}"] == printouts["worker"][f"{name}.{key}"], (name, key)
        assert printouts["chief"][f"{name}.steps"] == str([STEPS])
        history = json.loads(printouts["chief"][f"{name}.history"])
        assert set(history) == {"loss", *FACTORIES[name].model_class.loss_names}
        assert all(len(values) == EPOCHS and np.isfinite(values).all() for values in history.values())
        for a, b in zip(final["chief"][name], final["worker"][name], strict=True):
            np.testing.assert_allclose(a.astype("float64"), b, atol=1e-6, rtol=0, err_msg=name)


@pytest.mark.parametrize("name", MODELS)
def test_the_cluster_ends_where_one_process_on_the_same_global_batch_ends(cluster, name):
    printouts, final, _ = cluster
    differences = [np.abs(a.astype("float64") - b).max() for a, b in zip(final["chief"][name], final["one"][name], strict=True)]
    assert max(differences) < 1e-6, name
    chief, one = (json.loads(printouts[run][f"{name}.history"]) for run in ("chief", "one"))
    for key in chief:
        np.testing.assert_allclose(chief[key], one[key], rtol=1e-5, err_msg=key)


@pytest.mark.parametrize("name", MODELS)
def test_only_the_chief_writes_the_model_file_and_the_backups(cluster, name):
    """The chief writes into the shared folders; the other worker, running the same callbacks,
    writes into ``workertemp_1`` folders inside them, which it deletes after (Keras 2's
    convention): what is left is the chief's files alone, its model file the final weights."""
    import keras

    printouts, final, out = cluster
    chief, worker = (json.loads(printouts[run][f"{name}.wrote"]) for run in ("chief", "worker"))
    folder = out / name
    assert (chief["folder"], chief["backup"]) == (str(folder), str(folder / "backup"))
    assert (worker["folder"], worker["backup"]) == (str(folder / "workertemp_1"), str(folder / "backup" / "workertemp_1"))
    backup_files = ["latest.weights.h5", "training_metadata.json"]
    assert worker["files"] == ["model.keras"] and worker["backup_files"] == backup_files  # it did write
    assert sorted(os.listdir(folder)) == ["backup", "model.keras"]  # no worker's folder left
    assert sorted(os.listdir(folder / "backup")) == backup_files
    assert json.loads((folder / "backup" / "training_metadata.json").read_text())["epoch"] == EPOCHS
    saved = keras.models.load_model(folder / "model.keras")
    for a, b in zip(saved.get_weights(), final["chief"][name], strict=True):
        np.testing.assert_array_equal(a, b)


def test_keras_still_needs_the_workaround_scalar_logs_fail_and_reshaped_logs_train(cluster):
    """Keras 3.15 fails the first multi-worker step of a model whose step logs a scalar (every
    Keras model's does; TensorFlow issue #72388); the same step with its logs passed through
    :func:`kgen.backend.logs_for_reduction` trains and logs the mean over the replicas, as every
    kgen model does above. When the first assertion fails, Keras has fixed the defect and the
    workaround can go."""
    printouts, _, _ = cluster
    for run in ("chief", "worker"):
        assert "Invalid reduction dimension 0 for input with 0 dimensions" in printouts[run]["plain.error"]
        assert "plain.value" not in printouts[run]
        assert printouts[run]["reshaped.value"] == "1.0"  # mean(w · 1) with w = 1, a scalar again


@pytest.mark.slow
def test_every_registered_model_trains_on_a_loopback_cluster_to_identical_weights(tmp_path):
    """The two- and three-player models (DDGAN, LatentEBM) and every other registered model:
    both workers take every step of every player and end with identical, finite weights, logs
    and evaluation."""
    names = sorted(FACTORIES)
    (tmp_path / "results").mkdir()
    chief, worker = map(printed_pairs, finish(run_cluster(names, tmp_path / "shared", tmp_path / "results")))
    for name in names:
        for key in ("history", "evaluated", "steps"):
            assert chief[f"{name}.{key}"] == worker[f"{name}.{key}"], (name, key)
        assert chief[f"{name}.steps"] == str([STEPS]), name
        assert all(np.isfinite(values).all() for values in json.loads(chief[f"{name}.history"]).values()), name
        paths = json.loads(chief[f"{name}.weight_paths"])
        pairs = zip(paths, weights(tmp_path / "results" / "0", name), weights(tmp_path / "results" / "1", name), strict=True)
        for path, a, b in pairs:
            assert np.isfinite(a).all(), (name, path)
            np.testing.assert_allclose(a.astype("float64"), b, atol=1e-6, rtol=0, err_msg=f"{name} {path}")
