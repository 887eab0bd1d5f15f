"""The ``kgen`` command, called in-process: list, a tiny train on 8×8 digits, resume, sample,
evaluate, and one-line errors with exit status 2."""

import contextlib
import io
import json
import math
import os
import shutil
import subprocess
import sys

import keras
import matplotlib.image
import numpy as np
import pytest

import kgen
from kgen.cli import main
from kgen.models import MODELS

TRAIN = ["train", "beta_vae", "--data", "digits", "--epochs", "1", "--steps", "3", "--n", "256",
         "--batch-size", "32", "--param", "latent_dim=4", "--param", "beta=2.0"]


def _train(out, *extra):
    """Run ``kgen train`` into ``out``; return its stdout."""
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main([*TRAIN, "--out", str(out), *extra]) == 0
    return stdout.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny training run, shared by the tests that read its files (which none of them change)."""
    out = tmp_path_factory.mktemp("run")
    stdout = _train(out)
    with open(out / "metrics.json") as file:
        return {"out": out, "stdout": stdout, "metrics": json.load(file)}


def test_list_prints_every_model_and_dataset(capsys):
    assert main(["list"]) == 0
    printed = capsys.readouterr().out
    for name in [*MODELS, *kgen.data.DATASETS]:
        assert f"  {name} " in printed


def test_train_writes_model_samples_and_finite_metrics(run):
    out, metrics = run["out"], run["metrics"]
    for name in ("model.keras", "samples.png", "metrics.json", "reconstructions.png", "traversal.png"):
        assert str(out / name) in run["stdout"] and (out / name).exists()
    assert metrics["pictures"] == ["samples.png", "reconstructions.png", "traversal.png"]
    assert (metrics["model"], metrics["dataset"]) == ("beta_vae", "digits")
    assert metrics["params"] == {"latent_dim": 4, "beta": 2.0}
    assert (metrics["optimizer_steps"], metrics["examples_seen"]) == (3, 96)
    assert metrics["train_examples"] == 256 - 25  # 10% held out
    assert {"loss", "reconstruction", "kl"} <= set(metrics["final_train_losses"])
    test = metrics["test"]
    numbers = [*metrics["final_train_losses"].values(), test["elbo"], test["iwae_bound"]]
    assert all(math.isfinite(value) for value in numbers)
    assert test["examples"] == 25 and test["iwae_k"] == 50  # the model's default (Burda et al. 2016)
    assert f"elbo {test['elbo']:.4g}" in run["stdout"]  # the summary states the test figures
    model = keras.models.load_model(out / "model.keras")
    assert model.latent_dim == 4 and float(model.beta) == 2.0
    grid = matplotlib.image.imread(out / "samples.png")
    assert grid.shape[:2] == (4 * 73, 4 * 73)  # 8×8 tiles of 8×8 pixels, padding 1, enlarged 4×
    assert os.listdir(out / "samples") == ["samples_epoch_001.png"]


def test_train_resumes_from_its_backup(run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(run["out"], out)
    trained = keras.models.load_model(out / "model.keras")
    os.remove(out / "model.keras")
    shutil.rmtree(out / "samples")

    stdout = _train(out)  # the same command: every epoch is done, nothing retrains
    assert "resuming" in stdout and "trained before" in stdout
    restored = keras.models.load_model(out / "model.keras")
    for before, after in zip(trained.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not (out / "samples").exists()

    _train(out, "--epochs", "2")  # one more epoch continues from the backup's optimizer step
    assert os.listdir(out / "samples") == ["samples_epoch_002.png"]
    with open(out / "metrics.json") as file:
        assert json.load(file)["optimizer_steps"] == 6
    assert len((out / "history.csv").read_text().splitlines()) == 1 + 2


def test_sample_writes_a_grid_of_n(run, tmp_path, capsys):
    path = tmp_path / "six.png"
    assert main(["sample", str(run["out"] / "model.keras"), "--n", "6", "--out", str(path)]) == 0
    assert str(path) in capsys.readouterr().out
    assert matplotlib.image.imread(path).shape[:2] == (10 * 19, 10 * 28)  # 2 rows of 3, enlarged


def test_evaluate_prints_bounds_as_json(run, capsys):
    argv = ["evaluate", str(run["out"] / "model.keras"), "--data", "digits", "--n", "20",
            "--eval-param", "iwae_k=4"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["split"], result["examples"], result["iwae_k"]) == ("test", 20, 4)
    assert math.isfinite(result["elbo"]) and math.isfinite(result["iwae_bound"])


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["train", "gan9000", "--data", "digits"], ["gan9000", "beta_vae"]),
        (["train", "vae", "--data", "cifar99"], ["cifar99", "digits"]),
        (["train", "beta_vae", "--data", "digits", "--param", "latnt_dim=3"], ["latnt_dim", "latent_dim"]),
        (["train", "vae", "--data", "digits", "--epochs", "-1"], ["--epochs", "-1"]),
        (["train", "vae", "--data", "digits", "--lr", "0"], ["--lr"]),
        (["train", "vae", "--data", "digits", "--param", "likelihood=poisson"], ["likelihood", "poisson"]),
        (["sample", "no_such_model.keras"], ["no_such_model.keras", "not found"]),
        (["train", "vae", "--data", "digits", "--eval-param", "iwae"], ["--eval-param", "KEY=VALUE"]),
        (["train", "vae"], ["--data"]),
    ],
)
def test_mistakes_exit_2_with_one_line_naming_the_problem(argv, names, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(tmp_path)] if argv[0] == "train" else argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("kgen: error: ") and err.count("\n") == 1
    for name in names:
        assert name in err


def test_evaluate_on_data_of_another_shape_exits_2(run, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(run["out"] / "model.keras"), "--data", "two_moons", "--n", "10"])
    assert exit_info.value.code == 2
    assert "does not fit" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("model", "data", "params"),
    [
        ("maf", "two_moons", ["num_mades=2", "hidden_units=(8, 8)"]),
        ("realnvp", "two_moons", ["num_couplings=2", "hidden_units=8"]),
        ("glow", "digits", ["num_scales=2", "steps_per_scale=1", "hidden_units=8"]),
    ],
)
def test_flows_train_and_evaluate_by_their_exact_likelihood(model, data, params, tmp_path, capsys):
    out = tmp_path / model
    argv = ["train", model, "--data", data, "--epochs", "1", "--steps", "2", "--n", "200", "--out", str(out)]
    assert main([*argv, *(option for param in params for option in ("--param", param))]) == 0
    with open(out / "metrics.json") as file:
        test = json.load(file)["test"]
    flow = keras.models.load_model(out / "model.keras")
    # The NLL in nats and the bits/dim are one figure in two units.
    assert test["nll"] == pytest.approx(test["bits_per_dim"] * flow.event_size * math.log(2.0), rel=1e-5)
    assert test["examples"] == 20 and math.isfinite(test["nll"])
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.keras"), "--data", data, "--n", "20", "--seed", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["bits_per_dim"] == pytest.approx(test["bits_per_dim"], abs=0.5)


def test_dataset_size_comes_from_the_data_unless_given(tmp_path):
    base = ["train", "beta_tcvae", "--data", "digits", "--epochs", "1", "--steps", "1", "--n", "200",
            "--param", "latent_dim=2"]
    assert main([*base, "--out", str(tmp_path / "default")]) == 0
    assert keras.models.load_model(tmp_path / "default" / "model.keras").dataset_size == 180  # 200 − 20 held out
    assert main([*base, "--param", "dataset_size=1000", "--out", str(tmp_path / "given")]) == 0
    assert keras.models.load_model(tmp_path / "given" / "model.keras").dataset_size == 1000


def test_a_vector_flow_on_images_exits_2_naming_the_shapes(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "maf", "--data", "digits", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "MAF models vectors" in err and "(8, 8, 1)" in err


def test_a_finished_run_run_again_says_so_and_writes_nothing(run):
    model_file = run["out"] / "model.keras"
    before = model_file.stat().st_mtime_ns
    printed = _train(run["out"])
    assert "already holds this run" in printed and "test split" in printed
    assert model_file.stat().st_mtime_ns == before


def test_resumed_training_through_the_cli_ends_at_the_uninterrupted_weights(tmp_path):
    """``kgen train … --epochs 1`` then the same with ``--epochs 3`` equals ``--epochs 3`` at once:
    the backup restores the weights, optimizer and noise, and the shuffled input resumes at the
    batch it had reached (a restarted ``shuffle().repeat()`` pipeline would replay epoch 1)."""
    base = ["train", "beta_vae", "--data", "digits", "--steps", "4", "--n", "300", "--batch-size", "16",
            "--param", "latent_dim=2", "--eval-param", "iwae_k=1"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*base, "--epochs", "3", "--out", str(tmp_path / "straight")]) == 0
        assert main([*base, "--epochs", "1", "--out", str(tmp_path / "resumed")]) == 0
        assert main([*base, "--epochs", "3", "--out", str(tmp_path / "resumed")]) == 0
    straight = keras.models.load_model(tmp_path / "straight" / "model.keras")
    resumed = keras.models.load_model(tmp_path / "resumed" / "model.keras")
    assert int(resumed.optimizer.iterations) == int(straight.optimizer.iterations) == 12
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, err_msg=a.path)


def test_list_answers_without_starting_tensorflow_and_marks_missing_datasets(tmp_path):
    script = (
        "import contextlib, io, sys\n"
        "from kgen.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    main(['list'])\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'scipy' in sys.modules)\n"
        "print(out.getvalue())\n"
    )
    env = {**os.environ, "KGEN_DATA_DIR": str(tmp_path)}  # an empty data folder: MNIST is missing
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    imported, listing = result.stdout.split("\n", 1)
    assert imported == "False False False"  # SciPy alone takes ≈ 0.3 s to import
    mnist = next(line for line in listing.splitlines() if line.strip().startswith("mnist "))
    assert "not on this machine" in mnist and str(tmp_path) in mnist
    assert "``" not in listing and ":class:" not in listing  # plain text, no markup
    for name in MODELS:
        assert f"  {name} " in listing


def test_an_argument_error_answers_without_starting_tensorflow():
    script = (
        "import sys\n"
        "from kgen.cli import main\n"
        "try:\n"
        "    main(['train', 'vae', '--data', 'digits', '--epochs', '-3'])\n"
        "except SystemExit as error:\n"
        "    print(error.code, 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.split() == ["2", "False"], result.stderr
    assert "--epochs" in result.stderr


def test_files_that_are_not_kgen_models_get_a_clear_error(tmp_path, capsys):
    text = tmp_path / "m.keras"
    text.write_text("not a model")
    other = tmp_path / "other.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(other)
    for path, expected in [(text, "is not a .keras file"), (other, "not a kgen model")]:
        with pytest.raises(SystemExit) as exit_info:
            main(["sample", str(path), "--out", str(tmp_path / "s.png")])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert expected in err and str(path) in err


def test_an_out_file_in_a_missing_folder_is_refused_outside_the_run_folder(run, tmp_path, capsys):
    model_file = str(run["out"] / "model.keras")
    with pytest.raises(SystemExit):
        main(["sample", model_file, "--out", str(tmp_path / "missing" / "s.png")])
    assert "does not exist" in capsys.readouterr().err
    inside = run["out"] / "more" / "s.png"
    assert main(["sample", model_file, "--n", "4", "--out", str(inside)]) == 0
    assert inside.is_file()
    shutil.rmtree(run["out"] / "more")


def test_the_catalog_read_from_source_matches_the_registry():
    from kgen.catalog import declared_models
    from kgen.models import registered_models

    declared, registered = declared_models(), registered_models()
    assert set(declared) == set(registered)
    for name, model_class in registered.items():
        assert declared[name].class_name == model_class.__name__
        assert declared[name].description == model_class.description
        assert list(declared[name].arguments) == model_class.constructor_arguments()


@pytest.mark.parametrize(
    ("tf_config", "names"),
    [
        (None, ["--distribute multi_worker", "TF_CONFIG", "not set"]),
        ("{cluster: 1", ["--distribute multi_worker", "TF_CONFIG is not JSON"]),
        ('{"task": {"type": "worker", "index": 0}}', ["--distribute multi_worker", '"cluster"', '"task"']),
    ],
)
def test_multi_worker_without_a_usable_tf_config_exits_2_naming_it(tf_config, names, monkeypatch, capsys, tmp_path):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(SystemExit) as exit_info:
        main([*TRAIN, "--distribute", "multi_worker", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("kgen: error: ") and err.count("\n") == 1
    for name in names:
        assert name in err
    assert not os.listdir(tmp_path)  # refused before anything is written


def test_two_workers_through_the_cli_train_resume_and_write_as_one_process_does(tmp_path):
    """The loopback test of ``tests/test_multi_worker.py`` through ``kgen train --distribute
    multi_worker`` (issue 14): two worker processes on 127.0.0.1 share one run folder, train one
    epoch, then are started again with ``--epochs 2`` — a restarted cluster, every worker
    restoring the chief's backup — and end as ``kgen train --epochs 2`` in one process on the
    same global batch (a RealNVP: no noise in its loss, so the runs agree to float precision).
    The chief alone writes the run folder; the other worker's temporary folders are gone."""
    from processes import finish, start_cluster

    argv = ["train", "realnvp", "--data", "two_moons", "--steps", "3", "--n", "200", "--batch-size", "32",
            "--param", "num_couplings=2", "--param", "hidden_units=8"]
    kgen_command = [sys.executable, "-c", "import sys; from kgen.cli import main; sys.exit(main(sys.argv[1:]))"]
    shared, one = tmp_path / "shared", tmp_path / "one"

    def cluster(epochs):
        return start_cluster([*kgen_command, *argv, "--epochs", str(epochs), "--distribute", "multi_worker",
                              "--out", str(shared)])

    first = cluster(1)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*argv, "--epochs", "2", "--out", str(one)]) == 0  # meanwhile, in this process
    finish(first)
    chief, worker = finish(cluster(2))

    assert "over 2 replicas (multi_worker)" in chief and "resuming" in chief and f"wrote {shared}" in chief
    assert "resuming" in worker and "not the chief" in worker and str(shared / "workertemp_1") in worker
    assert sorted(os.listdir(shared)) == sorted(os.listdir(one))  # no workertemp_1 left
    assert sorted(os.listdir(shared / "backup")) == sorted(os.listdir(one / "backup"))
    metrics = {}
    for run in (shared, one):
        with open(run / "metrics.json") as file:
            metrics[run] = json.load(file)
    assert metrics[shared]["distribute"] == {"strategy": "multi_worker", "replicas": 2}
    assert metrics[one]["distribute"] == {"strategy": "none", "replicas": 1}
    assert metrics[shared]["optimizer_steps"] == metrics[one]["optimizer_steps"] == 6
    assert metrics[shared]["examples_seen"] == 6 * 32  # --batch-size is the global batch
    for key, value in metrics[one]["final_train_losses"].items():
        assert metrics[shared]["final_train_losses"][key] == pytest.approx(value, rel=1e-5), key
    assert metrics[shared]["test"]["nll"] == pytest.approx(metrics[one]["test"]["nll"], rel=1e-5)
    assert len((shared / "history.csv").read_text().splitlines()) == 1 + 2
    cluster_model, one_model = (keras.models.load_model(run / "model.keras") for run in (shared, one))
    for a, b in zip(cluster_model.weights, one_model.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=a.path)


def test_mirrored_builds_and_trains_the_model_inside_the_strategy(tmp_path):
    """``--distribute mirrored`` on this machine's devices (its CPU here: one replica); the
    batch counts as the global batch."""
    _train(tmp_path, "--distribute", "mirrored")
    with open(tmp_path / "metrics.json") as file:
        metrics = json.load(file)
    assert metrics["distribute"] == {"strategy": "mirrored", "replicas": 1}
    assert (metrics["optimizer_steps"], metrics["examples_seen"]) == (3, 96)
    assert all(math.isfinite(value) for value in metrics["final_train_losses"].values())
    assert not [name for name in os.listdir(tmp_path) if name.startswith("workertemp")]
