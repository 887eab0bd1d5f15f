"""Training runs of the course notebooks: trained once, then loaded in seconds.

A notebook trains a model in a cell; run again, it should not spend the same minutes on the
same result. :func:`train_or_load` keys a training run by the notebook's settings (the smoke
flag, sizes, epochs, seeds, the model's name — whatever decides what is trained) and by kgen's
version, and keeps it under ``runs/<name>-<key>/`` (relative to the current folder, which in
Jupyter and nbgrader is the notebook's folder: ``course/runs/`` for the course)::

    def build():
        keras.utils.set_random_seed(SEED)
        model = kgen.models.BetaVAE(input_shape=(32, 32, 1), latent_dim=10, seed=SEED)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        return model

    def fit(model, folder):               # folder: files written here are kept with the run
        return model.fit(x_train, epochs=EPOCHS, verbose=0,
                         callbacks=[RunProgress(), SampleGrid(out_dir=folder / "samples")])

    run = train_or_load("beta_vae", {"smoke": SMOKE, "epochs": EPOCHS, "seed": SEED}, build, fit)
    run.model, run.history, run.folder, run.timing   # "trained in 42 s" / "loaded from cache (...)"

The first call builds and fits the model and saves it (``model.keras``, with the optimizer and
the model's seed stream), its ``History.history`` (``history.json``, so that loss curves can
still be drawn) and what it was trained with (``run.json``); later calls with the same settings
load them. Different settings give a different folder, so a smoke run and a full run never
share one. The run is written to a temporary folder next to its final one and renamed into
place once complete: an interrupted or failed run leaves no cache behind. To retrain, delete
the folder or set the environment variable ``KGEN_RETRAIN=1``.

Any ``keras.Model`` can be cached, provided Keras can load it back: kgen's models are
registered; a class of the notebook's own must be decorated with
``@keras.saving.register_keras_serializable(package=...)`` (or passed in ``custom_objects``).
:func:`train_or_load` checks this before training, not after.

:class:`RunProgress` is the progress bar of a training run: one ``keras.utils.Progbar`` over
every step of a ``fit``, whatever its number of epochs (``verbose=1`` draws one bar per epoch,
which for the course's runs of hundreds of short epochs is hundreds of lines).
"""

import dataclasses
import hashlib
import importlib
import inspect
import json
import numbers
import os
import re
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np

import kgen

#: Set this environment variable (to anything but ``""`` or ``"0"``) to retrain every run.
RETRAIN_VARIABLE = "KGEN_RETRAIN"
#: Where runs are kept, relative to the current folder (the notebook's, in Jupyter).
DEFAULT_FOLDER = "runs"
MODEL_FILE, HISTORY_FILE, RUN_FILE = "model.keras", "history.json", "run.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _duration(seconds):
    return f"{seconds:.1f} s" if seconds < 10 else (
        f"{seconds:.0f} s" if seconds < 60 else f"{int(seconds // 60)} min {round(seconds % 60)} s")


@dataclasses.dataclass
class Run:
    """A training run, trained now or loaded from its folder.

    Attributes:
        name: the run's name, as given to :func:`train_or_load`.
        model: the trained model.
        history: ``History.history`` of the fit: each logged name → its value per epoch.
        folder: the run's folder (``model.keras``, ``history.json``, ``run.json`` and the files
            the fit wrote there).
        loaded: whether it was loaded from the cache rather than trained now.
        seconds: how long the fit took (when loaded: the fit that made the cache).
        settings: the settings it is keyed by, as saved (functions as their source code).
    """

    name: str
    model: keras.Model
    history: dict
    folder: Path
    loaded: bool
    seconds: float
    settings: dict

    @property
    def timing(self):
        """``"trained in 42 s"``, or ``"loaded from cache (trained in 42 s)"``: what to print
        where a notebook reports a training time."""
        trained = f"trained in {_duration(self.seconds)}"
        return f"loaded from cache ({trained})" if self.loaded else trained


# ---------------------------------------------------------------------------------- the key
def _source(function):
    """A function's source code; for one whose source cannot be read, its qualified name and
    bytecode."""
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        code = getattr(function, "__code__", None)
        digest = hashlib.sha256(code.co_code).hexdigest() if code is not None else ""
        return f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', repr(function))} {digest}"


def _plain(value, where):
    """``value`` as plain JSON data (dicts with string keys, lists, numbers, strings, booleans,
    None; a function as its source code); a TypeError naming ``where`` otherwise."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, dict):
        plain = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"`{where}` must have string keys, as JSON does; got the key {key!r} "
                                f"({type(key).__name__}).")
            plain[key] = _plain(item, f"{where}[{key!r}]")
        return plain
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if inspect.isfunction(value) or inspect.ismethod(value):
        return {"source": _source(value)}
    if inspect.isclass(value):   # a notebook's class: its methods' source (a class's own may not be found)
        methods = {name: _source(member) for name, member in sorted(vars(value).items())
                   if inspect.isfunction(member)}
        return {"class": value.__qualname__, "methods": methods}
    raise TypeError(
        f"`{where}` is a {type(value).__name__} ({value!r:.60}), which is not JSON-serializable: "
        "settings must hold numbers, strings, booleans, None, lists and dicts (NumPy scalars and "
        "arrays too; functions and classes stand for their source code)."
    )


def run_key(name, settings):
    """The short stable key of a run: the first 12 hex digits of the SHA-256 of ``name``,
    ``settings`` (as sorted JSON) and kgen's version. A TypeError naming the setting that is
    not JSON-serializable."""
    if not isinstance(settings, dict):
        raise TypeError(f"`settings` must be a dict of the notebook's settings (e.g. "
                        f"{{'smoke': SMOKE, 'epochs': EPOCHS}}); got {type(settings).__name__}.")
    plain = _plain(settings, "settings")
    text = json.dumps({"name": name, "settings": plain, "kgen": kgen.__version__}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def retrain_requested():
    """Whether ``KGEN_RETRAIN`` asks to retrain (set, and neither ``""`` nor ``"0"``)."""
    return os.environ.get(RETRAIN_VARIABLE, "").strip() not in ("", "0")


# ----------------------------------------------------------------------------- train or load
def _check_arguments(name, build, fit, folder, custom_objects):
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"`name` must be a folder-safe name (letters, digits, '_', '-', '.', starting "
                         f"with a letter or digit), e.g. 'beta_vae'; got {name!r}.")
    for argument, function in (("build", build), ("fit", fit)):
        if not callable(function):
            raise TypeError(f"`{argument}` must be a function; got {type(function).__name__}.")
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"`folder` must be a path (str or pathlib.Path); got {type(folder).__name__}.")
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"`custom_objects` must be a dict name → class, as for keras.saving.load_model; "
                        f"got {type(custom_objects).__name__}.")


def _check_loadable(model, custom_objects):
    """A TypeError, before training, for a model Keras could save but not load back."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"`build()` must return a keras.Model; got {type(model).__name__}.")
    try:
        config = keras.saving.serialize_keras_object(model)
    except NotImplementedError:
        raise TypeError(f"`build()` returned a {type(model).__name__}, which Keras cannot save: its "
                        "constructor's arguments are not plain values, so it needs a get_config() "
                        "returning them (see notebook 00, §3.2).") from None
    if (config.get("module") or "").split(".")[0] == "keras":     # one of Keras' own classes
        return
    # Keras finds any other class by name among custom_objects and the registered classes.
    registered = config.get("registered_name") or config.get("class_name")
    found = [keras.saving.get_registered_object(name, custom_objects=custom_objects)
             for name in (registered, config.get("class_name"))]
    if type(model) not in found:
        cls = type(model).__name__
        raise TypeError(
            f"`build()` returned a {cls}, which Keras cannot load back from the cache: decorate the "
            f"class with @keras.saving.register_keras_serializable(package=...) or pass "
            f"custom_objects={{{registered!r}: {cls}}}."
        )


def _history_of(result, model):
    """The fit's ``History.history`` as a dict of lists of floats."""
    if result is None:
        result = getattr(model, "history", None) or {}
    if isinstance(result, keras.callbacks.History):
        result = result.history
    if not isinstance(result, dict):
        raise TypeError(f"`fit(model, folder)` must return what model.fit returns (a History) or its "
                        f".history dict; got {type(result).__name__}.")
    return {str(key): _numbers(values, key) for key, values in result.items()}


def _numbers(values, key):
    try:
        return [float(value) for value in np.ravel(np.asarray(values, dtype="float64"))]
    except (TypeError, ValueError):
        raise TypeError(f"`fit`'s history[{key!r}] must be a list of numbers; got {values!r:.60}.") from None


def _load(run_dir, custom_objects):
    # kgen's models register their classes with Keras when kgen.models is first imported, which a
    # notebook that only loads (its build() never ran in this kernel) may not have done yet.
    importlib.import_module("kgen.models")
    try:
        model = keras.saving.load_model(run_dir / MODEL_FILE, custom_objects=custom_objects)
    except TypeError as error:
        raise TypeError(f"the cached run {run_dir} holds a model Keras cannot load here ({error}); define "
                        f"(and register) its class before this cell, or delete the folder to retrain.") from None
    history = json.loads((run_dir / HISTORY_FILE).read_text(encoding="utf-8"))
    record = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    return model, history, record


def train_or_load(name, settings, build, fit, folder=DEFAULT_FOLDER, custom_objects=None):
    """Load the run ``name`` trained with ``settings`` from ``folder``, or train and keep it.

    Args:
        name: the run's name, part of its folder's name (``"realnvp"``, ``"beta_vae_beta4"``).
        settings: a dict of what decides the run — smoke flag, sizes, epochs, seeds, model
            name, learning rate… — as JSON data. A function among its values stands for its
            source code (a class for its methods'): pass the student's functions that a custom
            ``train_step`` calls, and the run retrains when they change. The key also covers
            ``name`` and kgen's version (:func:`run_key`).
        build: ``build()`` returns the compiled model, untrained (seed it inside: a loaded run
            does not call it).
        fit: ``fit(model, folder)`` trains it, with a progress bar (``verbose=2`` or
            :class:`RunProgress`), and returns ``model.fit``'s History (or its ``.history``).
            ``folder`` (a ``pathlib.Path``) is where the run may write files of its own
            (sample grids, arrays), kept with the run and found again in ``Run.folder``.
        folder: where runs are kept, created if missing; relative paths are relative to the
            current folder, which in Jupyter and nbgrader is the notebook's own.
        custom_objects: as for ``keras.saving.load_model``, for classes not registered.

    Returns:
        a :class:`Run`. It prints one line: how long the run trained and where it was saved, or
        that it was loaded from the cache and how to retrain (delete its folder, or set
        ``KGEN_RETRAIN=1``).
    """
    _check_arguments(name, build, fit, folder, custom_objects)
    key = run_key(name, settings)
    plain = _plain(settings, "settings")
    folder = Path(folder)
    run_dir = folder / f"{name}-{key}"
    if not retrain_requested() and (run_dir / MODEL_FILE).is_file():
        model, history, record = _load(run_dir, custom_objects)
        seconds = float(record.get("seconds", 0.0))
        print(f"{name}: loaded the cached run {run_dir} (trained in {_duration(seconds)}); to retrain, "
              f"delete that folder or set {RETRAIN_VARIABLE}=1")
        return Run(name, model, history, run_dir, True, seconds, plain)

    model = build()
    _check_loadable(model, custom_objects)
    folder.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{name}-{key}.", suffix=".partial", dir=folder))
    try:
        started = time.perf_counter()
        result = fit(model, partial)
        seconds = time.perf_counter() - started
        history = _history_of(result, model)
        model.save(partial / MODEL_FILE)
        (partial / HISTORY_FILE).write_text(json.dumps(history), encoding="utf-8")
        record = {"name": name, "key": key, "settings": plain, "seconds": seconds,
                  "kgen": kgen.__version__, "keras": keras.__version__,
                  "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        (partial / RUN_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")
        old = None
        if run_dir.exists():                      # KGEN_RETRAIN, or a cache left incomplete by hand
            old = Path(tempfile.mkdtemp(prefix=f".{name}-{key}.", suffix=".old", dir=folder))
            run_dir.rename(old / "run")
        partial.rename(run_dir)
    except BaseException:                         # an interrupted run leaves no half cache
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    print(f"{name}: trained in {_duration(seconds)}; saved to {run_dir} (loaded from there next time)")
    return Run(name, model, history, run_dir, False, seconds, plain)


# ------------------------------------------------------------------------------ progress bar
class RunProgress(keras.callbacks.Callback):
    """One Keras progress bar over every step of a ``fit`` (use with ``verbose=0``).

    The bar counts steps over all epochs when Keras knows the number of steps per epoch, and
    epochs otherwise; it shows the running values of the logged metrics, and ends with the
    last epoch's. ``keras.utils.Progbar`` redraws it at most every
    ``interval`` seconds, so that runs of many tiny steps are not slowed by it.
    """

    def __init__(self, interval=0.5):
        super().__init__()
        if isinstance(interval, bool) or not isinstance(interval, numbers.Real) or interval < 0:
            raise ValueError(f"`interval` must be a number of seconds >= 0; got {interval!r}.")
        self.interval = float(interval)
        self.bar = None

    def on_train_begin(self, logs=None):
        self.bar, self.epoch = None, 0
        self.steps = self.params.get("steps")
        self.epochs = self.params.get("epochs") or 1

    def _update(self, current, logs, finalize=False):
        values = list((logs or {}).items())
        if self.bar is None:
            target = self.epochs * self.steps if self.steps else self.epochs
            self.bar = keras.utils.Progbar(target, interval=self.interval, stateful_metrics=[],
                                           unit_name="step" if self.steps else "epoch")
        # Keras' logs are running means already: shown as they are, not averaged again.
        self.bar.stateful_metrics.update(key for key, _ in values)
        self.bar.update(current, values, finalize=finalize)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.steps:
            self._update(self.epoch * self.steps + batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        last = epoch + 1 == self.epochs
        self._update((epoch + 1) * self.steps if self.steps else epoch + 1, logs, finalize=last)
