"""kgen.course_runs: a training run is trained once, kept whole or not at all, and loaded after."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

import kgen
from kgen import course_runs
from kgen.course_runs import RunProgress, run_key, train_or_load
from kgen.models import RealNVP

POINTS = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
SETTINGS = {"smoke": True, "epochs": 2, "seed": 1, "model": "realnvp"}


@pytest.fixture(autouse=True)
def no_retrain(monkeypatch):
    monkeypatch.delenv(course_runs.RETRAIN_VARIABLE, raising=False)


class Counted:
    """``build`` and ``fit`` of a small RealNVP that count their calls."""

    def __init__(self, fail_after_epoch=None):
        self.builds = self.fits = 0
        self.fail_after_epoch = fail_after_epoch

    def build(self):
        self.builds += 1
        keras.utils.set_random_seed(1)
        model = RealNVP((2,), num_couplings=2, hidden_units=8, seed=1)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        return model

    def fit(self, model, folder):
        self.fits += 1
        (folder / "note.txt").write_text("written during fit")
        callbacks = [RunProgress()]
        if self.fail_after_epoch is not None:
            callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=self._maybe_fail))
        return model.fit(POINTS, batch_size=16, epochs=2, verbose=0, callbacks=callbacks)

    def _maybe_fail(self, epoch, logs):
        if epoch == self.fail_after_epoch:
            raise RuntimeError("interrupted")


def test_the_second_call_loads_without_fitting(tmp_path, capsys):
    counted = Counted()
    first = train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path)
    assert "trained in" in capsys.readouterr().out
    second = train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path)
    out = capsys.readouterr().out
    assert (counted.builds, counted.fits) == (1, 1)
    assert not first.loaded and second.loaded
    assert second.folder == first.folder and first.folder.parent == tmp_path
    assert "loaded the cached run" in out and "KGEN_RETRAIN=1" in out and str(first.folder) in out
    assert second.timing.startswith("loaded from cache") and first.timing.startswith("trained in")
    # Not a speed check: the training time is metadata of the run, written once and read back.
    assert second.seconds == pytest.approx(first.seconds)
    assert (second.folder / "note.txt").read_text() == "written during fit"   # the fit's own files stay


def test_the_loaded_model_is_the_trained_one(tmp_path):
    counted = Counted()
    trained = train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path)
    loaded = train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path)
    assert isinstance(loaded.model, RealNVP) and loaded.model is not trained.model
    np.testing.assert_allclose(ops.convert_to_numpy(loaded.model.log_prob(POINTS)),
                               ops.convert_to_numpy(trained.model.log_prob(POINTS)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(loaded.model.sample(5, seed=3), trained.model.sample(5, seed=3), atol=1e-6)
    assert int(loaded.model.optimizer.iterations) == int(trained.model.optimizer.iterations) == 2 * 4


def test_the_history_round_trips(tmp_path):
    counted = Counted()
    trained = train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path)
    loaded = train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path)
    assert set(trained.history) >= {"loss"} and len(trained.history["loss"]) == 2
    assert loaded.history == trained.history
    assert trained.history["loss"] == [float(v) for v in trained.model.history.history["loss"]]
    kgen.viz.plot_history(loaded.history)                     # loss curves still draw from a cache


def test_other_settings_train_in_another_folder(tmp_path):
    counted = Counted()
    smoke = train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path)
    full = train_or_load("flow", {**SETTINGS, "smoke": False}, counted.build, counted.fit, folder=tmp_path)
    other = train_or_load("other", SETTINGS, counted.build, counted.fit, folder=tmp_path)
    assert counted.fits == 3 and not full.loaded and not other.loaded
    assert len({smoke.folder, full.folder, other.folder}) == 3
    assert json.loads((full.folder / "run.json").read_text())["settings"]["smoke"] is False


def test_the_key_is_stable_and_covers_settings_functions_and_version(monkeypatch):
    def step_a(x):
        return x + 1

    def step_b(x):
        return x + 2

    key = run_key("flow", SETTINGS)
    assert key == run_key("flow", dict(reversed(SETTINGS.items())))      # order does not matter
    assert len(key) == 12 and int(key, 16) >= 0
    assert key != run_key("flow", {**SETTINGS, "epochs": 3})
    assert key == run_key("flow", {**SETTINGS, "epochs": np.int64(2)})    # NumPy scalars are numbers
    assert run_key("f", {"sigmas": np.array([1.0, 0.5])}) == run_key("f", {"sigmas": [1.0, 0.5]})
    assert run_key("f", {"step": step_a}) == run_key("f", {"step": step_a})
    assert run_key("f", {"step": step_a}) != run_key("f", {"step": step_b})
    class StepA:
        def train_step(self, data):
            return data

    class StepB:
        def train_step(self, data):
            return data + 1

    StepB.__qualname__ = StepA.__qualname__
    assert run_key("f", {"model": StepA}) != run_key("f", {"model": StepB})   # its methods' source counts
    monkeypatch.setattr(kgen, "__version__", "999.0")
    assert run_key("flow", SETTINGS) != key


def test_an_exception_during_fit_leaves_no_cache(tmp_path):
    failing = Counted(fail_after_epoch=0)
    with pytest.raises(RuntimeError, match="interrupted"):
        train_or_load("flow", SETTINGS, failing.build, failing.fit, folder=tmp_path)
    assert list(tmp_path.iterdir()) == []                     # neither the run nor a partial folder
    counted = Counted()
    run = train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path)
    assert counted.fits == 1 and not run.loaded


def test_retrain_variable_retrains_and_replaces_the_cache(tmp_path, monkeypatch):
    counted = Counted()
    first = train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path)
    monkeypatch.setenv("KGEN_RETRAIN", "0")                   # "0" means no
    assert train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path).loaded
    monkeypatch.setenv("KGEN_RETRAIN", "1")
    again = train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path)
    assert counted.fits == 2 and not again.loaded and again.folder == first.folder
    assert [path.name for path in tmp_path.iterdir()] == [first.folder.name]   # the old run is gone


def test_the_folder_is_created_when_missing(tmp_path):
    counted = Counted()
    run = train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path / "runs" / "00")
    assert (run.folder / "model.keras").is_file() and (run.folder / "history.json").is_file()


@keras.saving.register_keras_serializable(package="test_course_runs")
class MeanModel(keras.Model):
    """A keras.Model of one's own with a custom train_step, as in notebook 00: learns the data's mean."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.mean = self.add_weight(shape=(2,), initializer="zeros", name="mean")
        self.tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.tracker]

    def call(self, x):
        return x - self.mean

    def train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = ops.mean(ops.sum(ops.square(self(data)), axis=-1))
        self.optimizer.apply(tape.gradient(loss, [self.mean]), [self.mean])
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}


class Unregistered(MeanModel):
    pass


@keras.saving.register_keras_serializable(package="test_course_runs")
class WithoutConfig(MeanModel):
    def __init__(self, values, **kwargs):       # an array argument: Keras cannot write its config itself
        super().__init__(**kwargs)
        self.values = values


def test_a_registered_model_of_ones_own_with_a_custom_train_step(tmp_path):
    def build():
        model = MeanModel()
        model.compile(optimizer=keras.optimizers.Adam(0.1))
        return model

    def fit(model, folder):
        return model.fit(POINTS + 3.0, batch_size=16, epochs=3, verbose=0)

    trained = train_or_load("mean", {"epochs": 3}, build, fit, folder=tmp_path)
    loaded = train_or_load("mean", {"epochs": 3}, build, fit, folder=tmp_path)
    assert loaded.loaded and type(loaded.model) is MeanModel
    assert float(np.abs(trained.model.mean.numpy()).max()) > 0.1      # it did train
    np.testing.assert_allclose(loaded.model.mean.numpy(), trained.model.mean.numpy())


def test_an_unloadable_model_is_refused_before_training(tmp_path):
    fits = []

    def build():
        model = Unregistered()
        model.compile(optimizer="adam")
        model(POINTS[:1])
        return model

    with pytest.raises(TypeError, match="register_keras_serializable.*custom_objects"):
        train_or_load("mean", {}, build, lambda model, folder: fits.append(1), folder=tmp_path)
    assert fits == [] and list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match="get_config"):
        train_or_load("mean", {}, lambda: WithoutConfig(np.ones(2)), lambda model, folder: fits.append(1),
                      folder=tmp_path)
    assert fits == [] and list(tmp_path.iterdir()) == []
    run = train_or_load("mean", {}, build, lambda model, folder: model.fit(POINTS, epochs=2, verbose=0),
                        folder=tmp_path, custom_objects={"Unregistered": Unregistered})
    loaded = train_or_load("mean", {}, build, lambda model, folder: None, folder=tmp_path,
                           custom_objects={"Unregistered": Unregistered})
    assert loaded.loaded and type(loaded.model) is Unregistered and len(run.history["loss"]) == 2


def test_a_fit_may_return_the_history_dict_or_nothing(tmp_path):
    counted = Counted()

    def fit_returning_nothing(model, folder):
        counted.fit(model, folder)

    as_dict = train_or_load("a", SETTINGS, counted.build, lambda m, f: counted.fit(m, f).history, folder=tmp_path)
    nothing = train_or_load("b", SETTINGS, counted.build, fit_returning_nothing, folder=tmp_path)
    assert len(as_dict.history["loss"]) == len(nothing.history["loss"]) == 2


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"settings": {"data": object()}}, TypeError, r"settings\['data'\].*not JSON-serializable"),
        ({"settings": {"sizes": [1, {2}]}}, TypeError, r"settings\['sizes'\]\[1\]"),
        ({"settings": {1: "a"}}, TypeError, "string keys"),
        ({"settings": [("smoke", True)]}, TypeError, "`settings` must be a dict"),
        ({"name": "my run/1"}, ValueError, "`name` must be a folder-safe name"),
        ({"name": ""}, ValueError, "`name`"),
        ({"build": "model"}, TypeError, "`build` must be a function"),
        ({"fit": None}, TypeError, "`fit` must be a function"),
        ({"folder": 3}, TypeError, "`folder` must be a path"),
        ({"custom_objects": ["A"]}, TypeError, "`custom_objects` must be a dict"),
        ({"build": lambda: "not a model"}, TypeError, r"`build\(\)` must return a keras.Model"),
    ],
)
def test_bad_arguments_are_named(tmp_path, arguments, error, match):
    counted = Counted()
    given = {"name": "flow", "settings": SETTINGS, "build": counted.build, "fit": counted.fit,
             "folder": tmp_path, **arguments}
    with pytest.raises(error, match=match):
        train_or_load(**given)
    assert counted.fits == 0


def test_a_fit_that_returns_something_else_is_refused(tmp_path):
    counted = Counted()
    with pytest.raises(TypeError, match="must return what model.fit returns"):
        train_or_load("flow", SETTINGS, counted.build, lambda model, folder: 42, folder=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_run_progress_draws_one_bar_over_every_step(capsys):
    model = Counted().build()
    model.fit(POINTS, batch_size=16, epochs=3, verbose=0, callbacks=[RunProgress(interval=0)])
    out = capsys.readouterr().out
    assert "12/12" in out and "/4 " not in out and "loss" in out
    with pytest.raises(ValueError, match="`interval`"):
        RunProgress(interval=-1)


def test_a_fresh_process_loads_a_kgen_model_without_importing_kgen_models_first(tmp_path):
    counted = Counted()
    trained = train_or_load("flow", SETTINGS, counted.build, counted.fit, folder=tmp_path)
    # As in a notebook run a second time: its build() (the only user of kgen.models) is not called.
    script = (
        "import sys\n"
        "from kgen.course_runs import train_or_load\n"
        "def fail(*args):\n"
        "    raise AssertionError('trained again')\n"
        f"run = train_or_load('flow', {SETTINGS!r}, fail, fail, folder={str(tmp_path)!r})\n"
        "print(type(run.model).__name__, run.loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "RealNVP True"
    assert trained.folder.name in done.stdout
