"""The ``kgen`` command: list, train, sample and evaluate models, and make the course's
assignments (``kgen course release|check``, see :mod:`kgen.course`), from the shell.

    kgen list
    kgen train beta_vae --data dsprites --epochs 10 --param beta=4.0 --param latent_dim=10
    kgen sample runs/beta_vae-dsprites/model.keras --n 64 --out samples.png
    kgen evaluate runs/beta_vae-dsprites/model.keras --data dsprites --split test

``kgen train`` is ``model.fit`` with the course's defaults around it: it builds the model from
the data (``Model.from_data``), compiles it with the model's own optimizers (``--lr`` changes
their learning rate), holds out a test split, draws a sample grid after every epoch, and keeps
a backup of the training state (``keras.callbacks.BackupAndRestore``) after every epoch.
Re-running the same command after an interruption resumes exactly where the last completed
epoch ended (weights, optimizers, noise and the order of the batches); re-running it with a
larger ``--epochs`` continues training; re-running a finished run says so and stops. The run
folder then holds ``model.keras``, ``samples.png``, ``metrics.json`` (final training losses, the
model's own evaluation figures on the test split — ``Model.evaluation_figures`` — and versions),
``history.csv`` (one row per epoch, across resumptions), ``run.json`` (the options, which a
resumed run must repeat) and ``samples/`` (the grid after each epoch).

``--distribute mirrored`` trains on this machine's GPUs (``tf.distribute.MirroredStrategy``),
``--distribute multi_worker`` on the cluster that ``TF_CONFIG`` describes, one ``kgen train``
process per worker (``MultiWorkerMirroredStrategy``; issue 14 of kgen, and TensorFlow issue
#72388 for the Keras defect :func:`kgen.backend.logs_for_reduction` works around). The model is
built and compiled inside the strategy's scope, ``--batch-size`` is the global batch (split
over the replicas), and the chief alone writes the run folder, which the workers must share:
the others write into a temporary folder inside it, deleted at the end, and restore from the
chief's backup when restarted.

The CLI is an application: it starts TensorFlow only for the commands that need it (``list``,
``--help`` and argument errors answer at once) and silences TensorFlow's C++ start-up logging
unless ``--verbose`` (or ``KGEN_VERBOSE=1``) is given. Mistakes (an unknown model, dataset or
``--param``, a bad option value, a file that is not a kgen model) end with a one-line
``kgen: error: ...`` on stderr and exit status 2.
"""

import argparse
import ast
import contextlib
import csv
import json
import os
import sys
import time
import zipfile
from importlib import metadata

import numpy as np

from kgen import data
from kgen.catalog import declared_models
from kgen.validation import check_choice, check_positive_float, check_positive_int, check_seed

#: At most 1000 held-out test examples, else 10% of the data.
MAX_TEST_EXAMPLES = 1000
#: Examples ``kgen evaluate`` scores unless ``--n`` says otherwise (under a minute on 2 cores).
DEFAULT_EVALUATE_EXAMPLES = 500
#: Options that ``kgen train`` may change when it resumes a run; all others must repeat.
RESUMABLE_OPTIONS = ("epochs",)
#: ``kgen train --distribute`` choices: one device, this machine's GPUs, a ``TF_CONFIG`` cluster
#: (those of :func:`kgen.backend.distribution_strategy`, kept here so that ``--help`` starts no TensorFlow).
DISTRIBUTE_CHOICES = ("none", "mirrored", "multi_worker")
#: The files of a run folder, as ``kgen train`` names them in its summary.
RUN_FILES = ("model.keras", "samples.png", "samples/", "metrics.json", "history.csv")


class UsageError(Exception):
    """A mistake on the command line: reported in one line, with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors become :class:`UsageError` (one line, no usage dump)."""

    def error(self, message):
        command = self.prog.removeprefix("kgen").strip()
        raise UsageError(f"{command}: {message}" if command else message)


@contextlib.contextmanager
def user_errors(context=""):
    """Turn the ``ValueError``/``TypeError``/``OSError`` of kgen's input checks, raised inside
    the block, into a :class:`UsageError` (prefixed with ``context``)."""
    try:
        yield
    except (ValueError, TypeError, OSError) as error:
        raise UsageError(f"{context}{error}") from error


# ------------------------------------------------------------------------------------ helpers
def parse_pairs(pairs, accepted, option, owner):
    """``["KEY=VALUE", ...]`` → a dict; values are Python literals when they parse as one
    (``4``, ``0.5``, ``None``, ``(1, 2)``), else the raw string (``gaussian``). Keys must be in
    ``accepted`` (when given)."""
    params = {}
    for pair in pairs:
        key, equals, raw = pair.partition("=")
        key = key.strip()
        if not equals or not key:
            raise UsageError(f"{option} expects KEY=VALUE; got {pair!r}.")
        if accepted is not None and key not in accepted:
            raise UsageError(f"unknown {option} {key!r} for {owner}; accepted: {', '.join(accepted)}.")
        try:
            params[key] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            params[key] = raw.strip()
    return params


def check_dataset_here(name, option="--data"):
    """The dataset name, if it is known and on this machine; else a one-line error."""
    with user_errors():
        check_choice(name, option, tuple(data.DATASETS))
    hint = data.missing(name)
    if hint is not None:
        raise UsageError(f"{option} {name} is not on this machine; to get it: {hint}")
    return name


def check_distribute(kind):
    """``--distribute``, checked before TensorFlow starts: ``multi_worker`` needs ``TF_CONFIG``
    (JSON naming the cluster and this process's task), which the strategy reads."""
    if kind != "multi_worker":
        return kind
    raw = os.environ.get("TF_CONFIG")
    example = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}\'')
    if not raw:
        raise UsageError(f"--distribute multi_worker needs the TF_CONFIG environment variable, the "
                         f"cluster and this worker's place in it, e.g. {example}; it is not set.")
    try:
        config = json.loads(raw)
    except ValueError as error:
        raise UsageError(f"--distribute multi_worker: TF_CONFIG is not JSON ({error}); e.g. {example}.") from None
    if not (isinstance(config, dict) and isinstance(config.get("cluster"), dict) and isinstance(config.get("task"), dict)):
        raise UsageError(f"--distribute multi_worker: TF_CONFIG needs a \"cluster\" and a \"task\" "
                         f"object; got {raw!r}, e.g. {example}.")
    return kind


def hold_out(x, seed):
    """Shuffle ``x`` with ``seed`` and split off 10% (at most ``MAX_TEST_EXAMPLES``) as a test set."""
    if len(x) < 2:
        raise UsageError(f"need at least 2 examples to hold out a test split; got {len(x)}.")
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = min(MAX_TEST_EXAMPLES, max(1, len(x) // 10))
    return x[order[n_test:]], x[order[:n_test]]


def start_tensorflow(verbose):
    """Import Keras (and so TensorFlow) and let it find its devices — with the C++ start-up
    lines it writes on the way (CUDA probing that reads as an error on every CPU machine, CPU
    feature notes) silenced, unless ``verbose`` or ``KGEN_VERBOSE=1``.

    TensorFlow 2.21 writes those lines before its logging is initialised, where
    ``TF_CPP_MIN_LOG_LEVEL`` does not reach them, so the process's standard error is pointed at
    ``/dev/null`` for the duration (the CLI's own process only; ``import kgen`` does not do this).
    """
    if verbose or os.environ.get("KGEN_VERBOSE") == "1":
        import keras
    else:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            import keras
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    return keras


def progress_verbosity():
    """Keras' ``verbose``: 1 (a live progress bar) on a terminal, 2 (one line at the end) else."""
    return 1 if sys.stdout.isatty() else 2


def load_model(path, verbose=False):
    """Load a kgen ``.keras`` file, uncompiled (sampling and evaluating need no optimizer),
    with a clear error for a missing file, a file that is not a ``.keras`` archive, and a
    ``.keras`` file of another library."""
    if not os.path.isfile(path):
        raise UsageError(f"model file {path!r} not found.")
    if not zipfile.is_zipfile(path):
        raise UsageError(f"{path!r} is not a .keras file (a zip archive written by model.save).")
    with zipfile.ZipFile(path) as archive:
        try:
            config = json.loads(archive.read("config.json"))
        except (KeyError, ValueError):
            raise UsageError(f"{path!r} is a zip archive but not a .keras file (no config.json).") from None
    registered = str(config.get("registered_name") or config.get("class_name"))
    if not registered.startswith("kgen>"):
        raise UsageError(f"{path!r} holds a {registered} model, not a kgen model.")
    keras = start_tensorflow(verbose)
    import kgen.models  # noqa: F401 (registers kgen's classes for loading)

    with user_errors(f"cannot load {path!r}: "):
        return keras.models.load_model(path, compile=False)


def output_path(path, allowed_root=None):
    """``path`` for a file to write: its folder must exist, or lie under ``allowed_root`` (the
    run folder), where it is created."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        root = None if allowed_root is None else os.path.abspath(allowed_root)
        if root is None or os.path.commonpath([folder, root]) != root:
            raise UsageError(f"--out {path!r}: the folder {os.path.dirname(path) or '.'!r} does not exist.")
        os.makedirs(folder)
    return path


def sample_count(input_shape):
    """64 images (an 8×8 grid), or 1000 points for a scatter plot of 2-D data."""
    return 1000 if tuple(input_shape) == (2,) else 64


def final_losses(history_csv):
    """The last row of a ``keras.callbacks.CSVLogger`` file, or ``{}``; the logger's ``epoch``
    column and its ``NA`` placeholders (for validation losses never computed) are left out."""
    if not os.path.isfile(history_csv):
        return {}
    with open(history_csv, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        return {}
    return {key: float(value) for key, value in rows[-1].items() if key != "epoch" and value != "NA"}


def versions():
    """The versions of kgen and of what it runs on, read without importing them."""
    return {name: metadata.version(name) for name in ("kgen", "keras", "tensorflow", "tensorflow-probability")}


def describe_figures(figures):
    """``elbo -105.9, iwae_bound -95.0`` — the figures of ``evaluation_figures`` in one line."""
    return ", ".join(f"{name} {value:.4g}" if isinstance(value, float) else f"{name} {value}"
                     for name, value in figures.items() if name != "examples")


def duration(seconds):
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {round(seconds % 60)} s"


def _write_json(path, value):
    with open(path, "w") as file:
        json.dump(value, file, indent=2)
        file.write("\n")


def _read_json(path):
    if not os.path.isfile(path):
        return None
    with open(path) as file:
        return json.load(file)


def _check_same_run(saved, run, out):
    """A run folder's backup may only be resumed with the same options (``--epochs`` aside)."""
    changed = [
        f"{key} {saved.get(key)!r} → {run.get(key)!r}"
        for key in sorted(set(saved) | set(run))
        if key not in RESUMABLE_OPTIONS and saved.get(key) != run.get(key)
    ]
    if changed:
        raise UsageError(
            f"{out} holds the backup of a run with other options ({'; '.join(changed)}); "
            "repeat them to resume, or choose another --out."
        )


def print_summary(metrics, out):
    test = metrics.get("test")
    epochs = metrics["epochs"]
    print(f"kgen: {metrics['model']} on {metrics['dataset']}: {metrics['optimizer_steps']} steps in "
          f"{epochs} epoch{'s' if epochs != 1 else ''}, {duration(metrics['wall_time_seconds'])}")
    if test:
        print(f"kgen: test split ({test['examples']} examples): {describe_figures(test)}")
    pictures = [name for name in metrics.get("pictures", []) if name != "samples.png"]
    print(f"kgen: wrote {', '.join(os.path.join(out, name) for name in (*RUN_FILES, *pictures))}")


# ----------------------------------------------------------------------------------- commands
def run_list(args):
    """Print the models and datasets by name, with one-line descriptions; datasets that are not
    on this machine are marked with the step that installs them."""
    models = declared_models()
    width = max(map(len, [*models, *data.DATASETS]))
    print("models:")
    for name, model in models.items():
        print(f"  {name:<{width}}  {model.description}")
    print("datasets:")
    for name, description in data.DATASETS.items():
        hint = data.missing(name)
        print(f"  {name:<{width}}  {description}" + (f"  [not on this machine: {hint}]" if hint else ""))
    return 0


def run_train(args):
    """Train MODEL on --data, resumably, and write the model, samples and figures."""
    started = time.perf_counter()
    models = declared_models()
    with user_errors():
        check_choice(args.model, "MODEL", tuple(models))
        epochs = check_positive_int(args.epochs, "--epochs")
        batch_size = check_positive_int(args.batch_size, "--batch-size")
        steps = None if args.steps is None else check_positive_int(args.steps, "--steps")
        n = None if args.n is None else check_positive_int(args.n, "--n")
        lr = None if args.lr is None else check_positive_float(args.lr, "--lr")
        seed = check_seed(args.seed, "--seed")
    distribute = check_distribute(args.distribute)
    check_dataset_here(args.data)
    params = parse_pairs(args.param, models[args.model].arguments, "--param", args.model)
    eval_params = parse_pairs(args.eval_param, None, "--eval-param", args.model)
    out = args.out or os.path.join("runs", f"{args.model}-{args.data}")
    run = json.loads(json.dumps({
        "model": args.model, "data": args.data, "params": params, "n": n, "seed": seed,
        "batch_size": batch_size, "steps": steps, "lr": lr, "epochs": epochs, "eval_params": eval_params,
    }))
    history_csv, backup = os.path.join(out, "history.csv"), os.path.join(out, "backup")
    saved_run, metrics_path = _read_json(os.path.join(out, "run.json")), os.path.join(out, "metrics.json")
    if saved_run == run and os.path.isfile(metrics_path) and os.path.isfile(os.path.join(out, "model.keras")):
        print(f"kgen: {out} already holds this run, trained to the end; pass a larger --epochs to "
              f"continue, or another --out to start over.")
        print_summary(_read_json(metrics_path), out)
        return 0
    # A backup with files in it (a multi-worker run creates the folder before the first epoch).
    resuming = os.path.isdir(backup) and any(os.path.isfile(os.path.join(backup, name)) for name in os.listdir(backup))
    if resuming and saved_run is not None:
        _check_same_run(saved_run, run, out)

    start_tensorflow(args.verbose)  # not earlier: see the module docstring
    from kgen import backend

    with user_errors("--distribute: "):  # first: a multi-worker strategy must precede other work
        strategy = backend.distribution_strategy(distribute)
    chief = backend.is_chief(strategy)
    if chief and not resuming and os.path.isfile(history_csv):
        os.remove(history_csv)  # left by a run whose backup was deleted: start afresh
    written, backup_written = backend.worker_dir(out, strategy), backend.worker_backup_dir(backup, strategy)
    try:
        _train_into(written, backup_written, args, run, strategy, started, resuming)
    finally:
        backend.remove_worker_dir(out, strategy)  # a non-chief worker's files; nothing on the chief
        backend.remove_worker_dir(backup, strategy)
    if chief:
        print_summary(_read_json(metrics_path), out)
    else:
        print(f"kgen: not the chief of the cluster: this worker wrote into {written} and "
              f"{backup_written}, now deleted; the chief writes {out}")
    return 0


def _train_into(out, backup, args, run, strategy, started, resuming):
    """``kgen train``'s model, fit and files once the options are checked and TensorFlow runs:
    ``out`` and ``backup`` are this worker's folders (the run's own on the chief)."""
    import keras

    from kgen.callbacks import SampleGrid
    from kgen.models import registered_models
    from kgen.viz import save_png

    seed, batch_size, epochs, history_csv = run["seed"], run["batch_size"], run["epochs"], os.path.join(out, "history.csv")
    keras.utils.set_random_seed(seed)
    with user_errors(f"cannot load --data {args.data}: "):
        train, test = hold_out(data.load(args.data, n=run["n"], seed=seed), seed)
    with strategy.scope():
        with user_errors(f"cannot build {args.model}: "):
            model = registered_models()[args.model].from_data(train, seed=seed, **run["params"])
        with user_errors("--lr: "):
            model.compile(**model.default_optimizers(learning_rate=run["lr"]))
    steps = run["steps"] or max(1, len(train) // batch_size)
    _write_json(os.path.join(out, "run.json"), run)
    callbacks = [
        SampleGrid(os.path.join(out, "samples"), n=sample_count(model.input_shape), seed=seed),
        keras.callbacks.CSVLogger(history_csv, append=True),
        keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False),
    ]
    replicas = strategy.num_replicas_in_sync
    print(
        f"kgen: {'resuming' if resuming else 'training'} {args.model} on {args.data} "
        f"({len(train)} train / {len(test)} test examples): {epochs} epochs × {steps} steps × "
        f"batch {batch_size}" + (f" over {replicas} replicas ({args.distribute})" if replicas > 1 else "")
        + (f", from the backup in {backup}" if resuming else "")
    )
    try:
        history = model.fit(train, batch_size=batch_size, epochs=epochs, steps_per_epoch=steps,
                            callbacks=callbacks, verbose=progress_verbosity())
    except KeyboardInterrupt:
        print(f"\nkgen: interrupted; run the same command again to resume from the last completed "
              f"epoch (backup in {backup}).", file=sys.stderr)
        raise SystemExit(130) from None
    if not history.epoch:
        print(f"kgen: all {epochs} epochs were trained before; pass a larger --epochs to continue.")

    model.save(os.path.join(out, "model.keras"))
    samples = keras.ops.convert_to_numpy(model.sample(sample_count(model.input_shape), seed=seed))
    save_png(samples, os.path.join(out, "samples.png"), ncols=8)
    pictures = model.pictures(test, seed=seed)
    for name, picture in pictures.items():
        save_png(picture, os.path.join(out, f"{name}.png"))
    optimizer_steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    print(f"kgen: evaluating on the {len(test)} test examples")
    with user_errors("--eval-param: "):
        test_figures = model.evaluation_figures(test, seed=seed, verbose=progress_verbosity(), **run["eval_params"])
    metrics = {
        "model": args.model,
        "dataset": args.data,
        "params": run["params"],
        "epochs": epochs,
        "optimizer_steps": optimizer_steps,
        "examples_seen": optimizer_steps * batch_size,
        "train_examples": len(train),
        "distribute": {"strategy": args.distribute, "replicas": replicas},
        "final_train_losses": final_losses(history_csv),
        "test": test_figures,
        "pictures": [f"{name}.png" for name in ("samples", *pictures)],
        "wall_time_seconds": round(time.perf_counter() - started, 2),
        "versions": versions(),
    }
    _write_json(os.path.join(out, "metrics.json"), metrics)


def run_sample(args):
    """Draw --n samples from a saved model into a PNG file."""
    with user_errors():
        n = check_positive_int(args.n, "--n")
        seed = check_seed(args.seed, "--seed")
    out = output_path(args.out, allowed_root=os.path.dirname(args.model_file))
    model = load_model(args.model_file, args.verbose)
    import keras

    from kgen.viz import save_png

    print(f"kgen: drawing {n} samples from {args.model_file} ({type(model).__name__})")
    samples = keras.ops.convert_to_numpy(model.sample(n, seed=seed))
    with user_errors(f"cannot write {out!r}: "):
        path = save_png(samples, out)
    print(f"kgen: {n} samples -> {path}")
    return 0


def run_evaluate(args):
    """Print a saved model's own evaluation figures on a dataset split, as JSON."""
    with user_errors():
        n = check_positive_int(args.n, "--n")
        seed = check_seed(args.seed, "--seed")
    check_dataset_here(args.data)
    eval_params = parse_pairs(args.eval_param, None, "--eval-param", args.model_file)
    model = load_model(args.model_file, args.verbose)
    with user_errors(f"cannot load --data {args.data}: "):
        generated = args.data not in data.IMAGE_DATASETS
        x = data.load(args.data, n=n if generated else None, split=args.split, seed=seed)[:n]
    with user_errors(f"--data {args.data} does not fit {args.model_file}: "):
        model.check_data(x)
    print(f"kgen: evaluating {args.model_file} ({type(model).__name__}) on {len(x)} {args.split} "
          f"examples of {args.data} (--n for more)", file=sys.stderr)
    with user_errors("--eval-param: "), contextlib.redirect_stdout(sys.stderr):  # stdout is the JSON
        figures = model.evaluation_figures(x, seed=seed, verbose=1 if sys.stderr.isatty() else 2, **eval_params)
    result = {"model_file": args.model_file, "dataset": args.data, "split": args.split, **figures}
    print(json.dumps(result, indent=2))
    return 0


def run_course_release(args):
    """Make the student versions of the course notebooks with nbgrader (kgen.course.release)."""
    from kgen import course

    with user_errors():
        written = course.release(args.notebooks, args.out)
    for path in written:
        print(f"kgen: student version (nbgrader generate_assignment) -> {path}")
    return 0


def run_course_check(args):
    """Run a notebook with nbgrader validate in smoke mode (kgen.course.check); exit 1 if it
    does not validate."""
    from kgen import course

    verbose = args.verbose or os.environ.get("KGEN_VERBOSE") == "1"
    with user_errors():
        result = course.check(args.notebook, invert=args.invert, timeout=args.timeout,
                              verbose=verbose, progress=lambda line: print(f"kgen: {line}", flush=True))
    print(result.report())
    return 0 if result.ok else 1


# ------------------------------------------------------------------------------------- parser
def build_parser():
    parser = _Parser(prog="kgen", description="Train, sample and evaluate kgen's generative models.")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up logging (also KGEN_VERBOSE=1)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser("list", help="list the models and datasets")
    listing.set_defaults(run=run_list)

    train = commands.add_parser("train", help="train a model on a dataset (resumable)")
    train.add_argument("model", metavar="MODEL", help="a model name (see `kgen list`)")
    train.add_argument("--data", required=True, metavar="NAME", help="a dataset name")
    train.add_argument("--epochs", type=int, default=10, help="epochs (default 10)")
    train.add_argument("--steps", type=int, metavar="STEPS_PER_EPOCH",
                       help="optimizer steps per epoch (default: one pass over the training split)")
    train.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    train.add_argument("--n", type=int, metavar="N_EXAMPLES",
                       help="examples to load, test split included (default: the dataset's)")
    train.add_argument("--lr", type=float,
                       help="learning rate of every optimizer (default: the model's own optimizers)")
    train.add_argument("--out", metavar="DIR", help="run folder (default runs/MODEL-DATA)")
    train.add_argument("--seed", type=int, default=0, help="seed of data, weights and samples")
    train.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                       help="a model constructor argument, e.g. beta=4.0 (repeatable)")
    train.add_argument("--eval-param", action="append", default=[], metavar="KEY=VALUE",
                       help="an option of the model's test figures, e.g. iwae_k=10 (repeatable)")
    train.add_argument("--distribute", default="none", choices=DISTRIBUTE_CHOICES,
                       help="none (default), mirrored (this machine's GPUs) or multi_worker (the cluster "
                            "in TF_CONFIG, one process per worker); --batch-size is the global batch")
    train.set_defaults(run=run_train)

    sample = commands.add_parser("sample", help="draw samples from a saved model")
    sample.add_argument("model_file", metavar="MODEL_FILE", help="a .keras file")
    sample.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    sample.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    sample.add_argument("--out", default="samples.png", help="PNG file (default samples.png)")
    sample.set_defaults(run=run_sample)

    evaluate = commands.add_parser("evaluate", help="a saved model's evaluation figures on a dataset")
    evaluate.add_argument("model_file", metavar="MODEL_FILE", help="a .keras file")
    evaluate.add_argument("--data", required=True, metavar="NAME", help="a dataset name")
    evaluate.add_argument("--n", type=int, default=DEFAULT_EVALUATE_EXAMPLES,
                          help=f"examples to evaluate (default {DEFAULT_EVALUATE_EXAMPLES})")
    evaluate.add_argument("--split", default="test", choices=("train", "test"))
    evaluate.add_argument("--seed", type=int, default=0, help="seed of data and of the model's draws")
    evaluate.add_argument("--eval-param", action="append", default=[], metavar="KEY=VALUE",
                          help="an option of the model's figures, e.g. iwae_k=10 (repeatable)")
    evaluate.set_defaults(run=run_evaluate)

    from kgen.course import DEFAULT_CELL_TIMEOUT  # kgen.course loads nbgrader only when it runs

    course = commands.add_parser("course", help="make and check the course's assignments (nbgrader)")
    course_commands = course.add_subparsers(dest="course_command", metavar="{release,check}",
                                            required=True, parser_class=_Parser)
    release = course_commands.add_parser("release", help="the student versions of notebooks")
    release.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                         help="instructor notebooks (default: course/NN_*.ipynb)")
    release.add_argument("--out", required=True, metavar="DIR", help="folder for the student versions")
    release.set_defaults(run=run_course_release)
    check = course_commands.add_parser("check", help="run a notebook with nbgrader validate, in smoke mode")
    check.add_argument("notebook", metavar="NOTEBOOK", help="an .ipynb file with graded cells")
    check.add_argument("--invert", action="store_true",
                       help="require every graded cell to fail, as in an untouched student version")
    check.add_argument("--timeout", type=int, default=DEFAULT_CELL_TIMEOUT, metavar="SECONDS",
                       help=f"seconds each cell may run (default {DEFAULT_CELL_TIMEOUT})")
    check.set_defaults(run=run_course_check)
    return parser


def main(argv=None):
    """Entry point of the ``kgen`` console script; returns 0 or exits with status 2 on mistakes."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.run(args)
    except UsageError as error:
        print(f"kgen: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
