"""The ``kgen`` command: list, train, sample and evaluate models from the shell.

    kgen list
    kgen train beta_vae --data dsprites --epochs 10 --param beta=4.0 --param latent_dim=10
    kgen sample runs/beta_vae-dsprites/model.keras --n 64 --out samples.png
    kgen evaluate runs/beta_vae-dsprites/model.keras --data dsprites --split test

``kgen train`` is ``model.fit`` with the course's defaults around it: it holds out a test split,
draws a sample grid after every epoch, and keeps a backup of the training state
(``keras.callbacks.BackupAndRestore``) after every epoch. Re-running the same command after an
interruption resumes from the last completed epoch; re-running it with a larger ``--epochs``
continues training. The run folder then holds ``model.keras``, ``samples.png``,
``metrics.json`` (final training losses; on the test split a VAE's ELBO and IWAE bound, or a
flow's exact NLL, in nats per example, and its bits/dim; versions), ``history.csv`` (one row
per epoch, across resumptions), ``run.json`` (the options, which a resumed run must repeat)
and ``samples/`` (the grid after each epoch).

Mistakes (an unknown model, dataset or ``--param``, a bad option value, a missing model file)
end with a one-line ``kgen: error: ...`` on stderr and exit status 2.
"""

import argparse
import ast
import contextlib
import csv
import inspect
import json
import math
import os
import re
import sys
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import kgen
from kgen.callbacks import SampleGrid
from kgen.models import MODELS
from kgen.validation import check_choice, check_positive_float, check_positive_int, check_seed
from kgen.viz import save_png

#: At most 1000 held-out test examples, else 10% of the data.
MAX_TEST_EXAMPLES = 1000
#: Importance samples of the IWAE bound, as in Burda et al. (2016).
IWAE_K = 50
#: Options that ``kgen train`` may change when it resumes a run; all others must repeat.
RESUMABLE_OPTIONS = ("epochs", "iwae_k")
#: The constructor arguments that take the shape of one example, one per model family:
#: ``input_shape`` (VAEs, NCSN), ``event_shape`` (RealNVP), ``image_shape`` (Glow), ``event_dim`` (MAF).
SHAPE_ARGUMENTS = ("input_shape", "event_shape", "image_shape", "event_dim")


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
def _summary(obj):
    """The first line of ``obj``'s docstring, with Sphinx roles (``:class:`X```) as plain names."""
    doc = inspect.getdoc(obj)
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", doc.splitlines()[0]) if doc else ""


def model_options(model_class):
    """The constructor arguments ``--param`` may set: all but the example's shape and ``seed``,
    which ``kgen train`` sets from the data and ``--seed``."""
    return [
        name
        for name, parameter in inspect.signature(model_class.__init__).parameters.items()
        if name not in ("self", "seed", *SHAPE_ARGUMENTS)
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]


def data_arguments(model_class, example_shape, train_examples):
    """The constructor arguments ``kgen train`` takes from the data: the shape of one example,
    under the name the model uses for it, and ``dataset_size`` (N) for a model that needs it
    (β-TCVAE's estimate of q(z)); ``--param`` may override the latter."""
    parameters = inspect.signature(model_class.__init__).parameters
    name = next(name for name in SHAPE_ARGUMENTS if name in parameters)
    if name != "event_dim":
        arguments = {name: tuple(example_shape)}
    elif len(example_shape) == 1:
        arguments = {name: example_shape[0]}
    else:
        raise UsageError(f"{model_class.__name__} models vectors; the data's examples have shape "
                         f"{tuple(example_shape)}.")
    if "dataset_size" in parameters:
        arguments["dataset_size"] = train_examples
    return arguments


def parse_params(pairs, model_name):
    """``["KEY=VALUE", ...]`` → a dict; values are Python literals when they parse as one
    (``4``, ``0.5``, ``None``, ``(1, 2)``), else the raw string (``gaussian``)."""
    accepted = model_options(MODELS[model_name])
    params = {}
    for pair in pairs:
        key, equals, raw = pair.partition("=")
        key = key.strip()
        if not equals or not key:
            raise UsageError(f"--param expects KEY=VALUE; got {pair!r}.")
        if key not in accepted:
            raise UsageError(
                f"unknown --param {key!r} for {model_name}; accepted: {', '.join(accepted)}."
            )
        try:
            params[key] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            params[key] = raw.strip()
    return params


def hold_out(x, seed):
    """Shuffle ``x`` with ``seed`` and split off 10% (at most ``MAX_TEST_EXAMPLES``) as a test set."""
    if len(x) < 2:
        raise UsageError(f"need at least 2 examples to hold out a test split; got {len(x)}.")
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = min(MAX_TEST_EXAMPLES, max(1, len(x) // 10))
    return x[order[n_test:]], x[order[:n_test]]


def load_model(path):
    """Load a ``.keras`` file (uncompiled: sampling and evaluating need no optimizer)."""
    if not os.path.isfile(path):
        raise UsageError(f"model file {path!r} not found.")
    with user_errors(f"cannot load {path!r}: "):
        return keras.models.load_model(path, compile=False)


def sample_count(data_shape):
    """64 images (an 8×8 grid), or 1000 points for a scatter plot of 2-D data."""
    return 1000 if tuple(data_shape) == (2,) else 64


def default_iwae_k(examples_seen, test_examples):
    """k = 50 importance samples (Burda et al. 2016), fewer after a short run: the test IWAE
    bound then decodes no more examples than training did, so that a smoke run of a few steps
    does not spend minutes on its evaluation."""
    return max(1, min(IWAE_K, examples_seen // test_examples))


def evaluate_likelihood(model, x, iwae_k=IWAE_K, seed=0):
    """The model's likelihood figures on ``x``, repeatable from ``seed``, or None if it has none.

    * Latent-variable models: mean ELBO and IWAE bound L_k (Burda et al. 2016), nats per example.
    * Flows: the exact mean negative log-likelihood, nats per example, and bits per dimension
      (for images the dequantized bound on the discrete NLL, see ``Flow.bits_per_dim``).
    """
    if hasattr(model, "elbo") and hasattr(model, "iwae_bound"):
        seed_generator = keras.random.SeedGenerator(seed)
        return {
            "examples": len(x),
            "elbo": float(np.mean(keras.ops.convert_to_numpy(model.elbo(x, seed=seed_generator)))),
            "iwae_bound": float(np.mean(keras.ops.convert_to_numpy(
                model.iwae_bound(x, k=iwae_k, seed=seed_generator)))),
            "iwae_k": iwae_k,
            "unit": "nats per example",
        }
    if hasattr(model, "bits_per_dim"):
        bits = float(np.mean(keras.ops.convert_to_numpy(model.bits_per_dim(x, seed=seed))))
        return {"examples": len(x), "nll": bits * model.event_size * math.log(2.0), "bits_per_dim": bits,
                "unit": "nll in nats per example"}
    return None


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
    return {
        "kgen": kgen.__version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "tensorflow_probability": tfp.__version__,
    }


def _write_json(path, value):
    with open(path, "w") as file:
        json.dump(value, file, indent=2)
        file.write("\n")


def _check_same_run(out, run):
    """A run folder's backup may only be resumed with the same options (``--epochs`` aside)."""
    run_file = os.path.join(out, "run.json")
    if not os.path.isfile(run_file):
        return
    with open(run_file) as file:
        saved = json.load(file)
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


# ----------------------------------------------------------------------------------- commands
def run_list(args):
    """Print the models and datasets by name, with one-line descriptions."""
    width = max(map(len, [*MODELS, *kgen.data.DATASETS]))
    print("models:")
    for name, model_class in MODELS.items():
        print(f"  {name:<{width}}  {_summary(model_class)}")
    print("datasets:")
    for name, description in kgen.data.DATASETS.items():
        print(f"  {name:<{width}}  {description}")
    return 0


def run_train(args):
    """Train MODEL on --data, resumably, and write the model, samples and metrics."""
    started = time.perf_counter()
    with user_errors():
        check_choice(args.model, "MODEL", tuple(MODELS))
        check_choice(args.data, "--data", tuple(kgen.data.DATASETS))
        epochs = check_positive_int(args.epochs, "--epochs")
        batch_size = check_positive_int(args.batch_size, "--batch-size")
        steps = None if args.steps is None else check_positive_int(args.steps, "--steps")
        n = None if args.n is None else check_positive_int(args.n, "--n")
        lr = check_positive_float(args.lr, "--lr")
        seed = check_seed(args.seed, "--seed")
        iwae_k = None if args.iwae_k is None else check_positive_int(args.iwae_k, "--iwae-k")
    params = parse_params(args.param, args.model)
    out = args.out or os.path.join("runs", f"{args.model}-{args.data}")
    run = json.loads(json.dumps({
        "model": args.model, "data": args.data, "params": params, "n": n, "seed": seed,
        "batch_size": batch_size, "steps": steps, "lr": lr, "epochs": epochs, "iwae_k": iwae_k,
    }))
    history_csv = os.path.join(out, "history.csv")
    backup = os.path.join(out, "backup")
    resuming = os.path.isdir(backup)
    if resuming:
        _check_same_run(out, run)
    elif os.path.isfile(history_csv):
        os.remove(history_csv)  # left by a run whose backup was deleted: start afresh

    keras.utils.set_random_seed(seed)
    with user_errors(f"cannot load --data {args.data}: "):
        train, test = hold_out(kgen.data.load(args.data, n=n, seed=seed), seed)
    model_class = MODELS[args.model]
    with user_errors(f"cannot build {args.model}: "):
        arguments = {**data_arguments(model_class, train.shape[1:], len(train)), **params}
        model = model_class(seed=seed, **arguments)
    model.compile(optimizer=keras.optimizers.Adam(lr))
    steps = steps or max(1, len(train) // batch_size)
    dataset = (
        tf.data.Dataset.from_tensor_slices(train)
        .shuffle(len(train), seed=seed)
        .repeat()
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    os.makedirs(out, exist_ok=True)
    _write_json(os.path.join(out, "run.json"), run)
    callbacks = [
        SampleGrid(os.path.join(out, "samples"), n=sample_count(model.data_shape), seed=seed),
        keras.callbacks.CSVLogger(history_csv, append=True),
        keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False),
    ]
    print(
        f"kgen: {'resuming' if resuming else 'training'} {args.model} on {args.data} "
        f"({len(train)} train / {len(test)} test examples): {epochs} epochs × {steps} steps × "
        f"batch {batch_size}" + (f", from the backup in {backup}" if resuming else "")
    )
    try:
        history = model.fit(dataset, epochs=epochs, steps_per_epoch=steps, callbacks=callbacks,
                            shuffle=False, verbose=1 if sys.stdout.isatty() else 2)
    except KeyboardInterrupt:
        print(f"\nkgen: interrupted; run the same command again to resume from the last completed "
              f"epoch (backup in {backup}).", file=sys.stderr)
        raise SystemExit(130) from None
    if not history.epoch:
        print(f"kgen: all {epochs} epochs were trained before; pass a larger --epochs to continue, "
              f"or delete {out} to start over.")

    model_path = os.path.join(out, "model.keras")
    model.save(model_path)
    samples = keras.ops.convert_to_numpy(model.sample(sample_count(model.data_shape), seed=seed))
    samples_path = save_png(samples, os.path.join(out, "samples.png"), ncols=8)
    optimizer_steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    metrics = {
        "model": args.model,
        "dataset": args.data,
        "params": params,
        "epochs": epochs,
        "optimizer_steps": optimizer_steps,
        "examples_seen": optimizer_steps * batch_size,
        "train_examples": len(train),
        "final_train_losses": final_losses(history_csv),
    }
    k = iwae_k or default_iwae_k(optimizer_steps * batch_size, len(test))
    test_figures = evaluate_likelihood(model, test, k, seed)
    if test_figures is not None:
        metrics["test"] = test_figures
    metrics["wall_time_seconds"] = round(time.perf_counter() - started, 2)
    metrics["versions"] = versions()
    metrics_path = os.path.join(out, "metrics.json")
    _write_json(metrics_path, metrics)
    for what, path in [("model", model_path), ("samples", samples_path),
                       ("samples per epoch", os.path.join(out, "samples")),
                       ("metrics", metrics_path), ("history", history_csv)]:
        print(f"kgen: {what:<17} -> {path}")
    return 0


def run_sample(args):
    """Draw --n samples from a saved model into a PNG file."""
    with user_errors():
        n = check_positive_int(args.n, "--n")
        seed = check_seed(args.seed, "--seed")
    model = load_model(args.model_file)
    samples = keras.ops.convert_to_numpy(model.sample(n, seed=seed))
    with user_errors(f"cannot write {args.out!r}: "):
        path = save_png(samples, args.out)
    print(f"kgen: {n} samples -> {path}")
    return 0


def run_evaluate(args):
    """Print a saved model's likelihood figures on a dataset split, as JSON: the ELBO and IWAE
    bound of a VAE, the exact NLL and bits/dim of a flow."""
    with user_errors():
        check_choice(args.data, "--data", tuple(kgen.data.DATASETS))
        n = None if args.n is None else check_positive_int(args.n, "--n")
        seed = check_seed(args.seed, "--seed")
        iwae_k = check_positive_int(args.iwae_k, "--iwae-k")
    model = load_model(args.model_file)
    if not (hasattr(model, "elbo") or hasattr(model, "bits_per_dim")):
        raise UsageError(f"{type(model).__name__} has no likelihood or bound to evaluate "
                         "(a VAE's ELBO, a flow's NLL).")
    with user_errors(f"cannot load --data {args.data}: "):
        x = kgen.data.load(args.data, n=n, split=args.split, seed=seed)
    with user_errors(f"--data {args.data} does not fit {args.model_file}: "):
        model.check_data(x)
    result = {"model_file": args.model_file, "dataset": args.data, "split": args.split,
              **evaluate_likelihood(model, x, iwae_k, seed)}
    print(json.dumps(result, indent=2))
    return 0


# ------------------------------------------------------------------------------------- parser
def build_parser():
    parser = _Parser(prog="kgen", description="Train, sample and evaluate kgen's generative models.")
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
    train.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    train.add_argument("--out", metavar="DIR", help="run folder (default runs/MODEL-DATA)")
    train.add_argument("--seed", type=int, default=0, help="seed of data, weights and samples")
    train.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                       help="a model constructor argument, e.g. beta=4.0 (repeatable)")
    train.add_argument("--iwae-k", type=int,
                       help=f"importance samples of the test IWAE bound (default {IWAE_K}, "
                       "fewer after a short run)")
    train.set_defaults(run=run_train)

    sample = commands.add_parser("sample", help="draw samples from a saved model")
    sample.add_argument("model_file", metavar="MODEL_FILE", help="a .keras file")
    sample.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    sample.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    sample.add_argument("--out", default="samples.png", help="PNG file (default samples.png)")
    sample.set_defaults(run=run_sample)

    evaluate = commands.add_parser("evaluate", help="likelihood figures of a saved model (ELBO/IWAE, flow NLL)")
    evaluate.add_argument("model_file", metavar="MODEL_FILE", help="a .keras file")
    evaluate.add_argument("--data", required=True, metavar="NAME", help="a dataset name")
    evaluate.add_argument("--n", type=int, help="examples to evaluate (default: the whole split)")
    evaluate.add_argument("--split", default="test", choices=("train", "test"))
    evaluate.add_argument("--seed", type=int, default=0, help="seed of data and posterior draws")
    evaluate.add_argument("--iwae-k", type=int, default=IWAE_K,
                          help=f"importance samples of the IWAE bound (default {IWAE_K})")
    evaluate.set_defaults(run=run_evaluate)
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
