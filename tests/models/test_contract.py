"""The model contract (``kgen/models/base.py``, ``ARCHITECTURE.md``), checked for every registered
model on the small model of ``factories.py``: configs and ``.keras`` files round-trip exactly,
seeds repeat, ``fit`` reports the declared terms, bad data fails before training, interrupted
runs resume exactly, MirroredStrategy and XLA train, ``from_data`` builds a model that fits.

Each test is parametrized by the registered names, so a new model is checked as soon as it is
registered, and fails until ``factories.py`` has a factory for it.
"""

import copy
import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from contract import (
    assert_resuming_matches_an_uninterrupted_run,
    interrupted_and_resumed_runs,
    optimizers_of,
    run_with_two_cpu_replicas,
)
from keras import ops

from kgen.data.pipeline import resumable_batches
from kgen.models import registered_models
from models.factories import BATCH_SIZE, FACTORIES

NAMES = list(registered_models())
each_model = pytest.mark.parametrize("name", NAMES)


def make(name):
    """The factory's model and data, from fixed global seeds (Keras' initializers draw from them)."""
    keras.utils.set_random_seed(0)
    return FACTORIES[name]()


def compile_with_adam(model, learning_rate=1e-2, **kwargs):
    """Compile with an Adam of its own for every player."""
    model.compile(**{p.optimizer: keras.optimizers.Adam(learning_rate) for p in model.players()}, **kwargs)
    return model


def as_json(config):
    """The config as a ``.keras`` file holds it (Keras' own configs mix tuples and lists)."""
    return json.loads(json.dumps(config))


def sample(name, model, n=4, **kwargs):
    return ops.convert_to_numpy(model.sample(n, **FACTORIES[name].sample_options, **kwargs))


def is_deterministic(model, x):
    """Whether two training-mode passes over ``x`` give the same loss (no noise in the objective)."""
    state = ops.copy(model.seed_generator.state)
    first, second = (float(model.player_terms(x, None, training=True)["loss"]) for _ in range(2))
    model.seed_generator.state.assign(state)
    return first == second


def first_step_loss(model, x, **fit_kwargs):
    """``fit`` on ``x``; return the loss Keras logged after the first step, and the history."""
    logged = []
    callback = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: logged.append(float(logs["loss"])))
    history = model.fit(x, verbose=0, callbacks=[callback], **fit_kwargs).history
    return logged[0], history


# ------------------------------------------------------------------------------------ registry
def test_every_registered_model_has_a_factory_and_every_factory_a_model():
    assert set(FACTORIES) == set(NAMES), (
        f"registered without a factory in tests/models/factories.py: {sorted(set(NAMES) - set(FACTORIES))}; "
        f"factories of no registered model: {sorted(set(FACTORIES) - set(NAMES))}"
    )


@each_model
def test_the_factory_makes_the_registered_class_under_its_name(name):
    model, x = make(name)
    assert type(model) is registered_models()[name] and type(model).registered_name == name
    assert model.built and model.input_shape == x.shape[1:]


# ------------------------------------------------------------------------------ serialization
@each_model
def test_get_config_then_from_config_rebuilds_the_same_model(name):
    model, _ = make(name)
    config = model.get_config()
    expected = copy.deepcopy(config)  # (from_config consumes nested configs: see the next test)
    clone = type(model).from_config(config)
    assert type(clone) is type(model)
    assert as_json(clone.get_config()) == as_json(expected)
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in model.weights]


@pytest.mark.parametrize("name", NAMES)
def test_from_config_leaves_the_config_unchanged_so_it_can_build_twice(name):
    model, _ = make(name)
    config = model.get_config()
    expected = copy.deepcopy(config)
    type(model).from_config(config)
    assert as_json(config) == as_json(expected)
    assert as_json(type(model).from_config(config).get_config()) == as_json(expected)


@each_model
def test_keras_file_round_trip_is_exact_after_training_and_the_loaded_model_trains_on(name, tmp_path):
    model, x = make(name)
    compile_with_adam(model)
    model.fit(x, batch_size=BATCH_SIZE, epochs=1, verbose=0)
    steps = len(x) // BATCH_SIZE
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")

    assert type(loaded) is type(model)
    assert as_json(loaded.get_config()) == as_json(model.get_config())
    assert len(loaded.weights) == len(model.weights)
    for saved, restored in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(restored.numpy(), saved.numpy(), err_msg=saved.path)
    saved_optimizers, loaded_optimizers = optimizers_of(model), optimizers_of(loaded)
    assert list(loaded_optimizers) == list(saved_optimizers)
    for player, optimizer in saved_optimizers.items():
        restored = loaded_optimizers[player]
        assert type(restored) is type(optimizer) and restored.get_config() == optimizer.get_config(), player
        assert int(restored.iterations) == int(optimizer.iterations) == steps, player
        assert len(restored.variables) == len(optimizer.variables), player
        for saved, loaded_variable in zip(optimizer.variables, restored.variables):
            np.testing.assert_array_equal(loaded_variable.numpy(), saved.numpy(), err_msg=f"{player}: {saved.path}")
    np.testing.assert_array_equal(sample(name, loaded, seed=0), sample(name, model, seed=0))
    assert loaded.evaluation_figures(x, seed=0) == model.evaluation_figures(x, seed=0)

    # Both continue alike: the seed generator, the data order and every optimizer were restored.
    history = loaded.fit(x, batch_size=BATCH_SIZE, epochs=1, verbose=0).history
    model.fit(x, batch_size=BATCH_SIZE, epochs=1, verbose=0)
    assert np.isfinite(history["loss"]).all()
    for player, optimizer in optimizers_of(loaded).items():
        assert int(optimizer.iterations) == 2 * steps, player
    for continued, reference in zip(loaded.weights, model.weights):
        np.testing.assert_allclose(continued.numpy(), reference.numpy(), atol=1e-6, err_msg=reference.path)


# ---------------------------------------------------------------------------------- sampling
@each_model
def test_the_same_seed_gives_the_same_samples_and_unseeded_calls_differ(name):
    model, x = make(name)
    first = sample(name, model, seed=0)
    assert first.shape == (4, *x.shape[1:]) and np.isfinite(first).all()
    np.testing.assert_array_equal(sample(name, model, seed=0), first)
    assert not np.array_equal(sample(name, model, seed=1), first)
    assert not np.array_equal(sample(name, model), sample(name, model))


# ----------------------------------------------------------------------------------- fitting
@each_model
@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_fit_reports_exactly_the_declared_terms_with_and_without_xla(name, jit_compile):
    """``fit``'s history holds ``loss`` and each of ``loss_names``, finite, with XLA on and off;
    the first step's loss is the model's own objective on the first batch (unshuffled), computed
    eagerly: exactly in graph mode (the same random draws) and, for models whose objective has
    no noise, under XLA too (XLA draws other random numbers)."""
    model, x = make(name)
    compile_with_adam(model, jit_compile=jit_compile)
    first_batch = x[:BATCH_SIZE]
    deterministic = is_deterministic(model, first_batch)
    state = ops.copy(model.seed_generator.state)
    expected = float(model.player_terms(first_batch, None, training=True)["loss"])
    model.seed_generator.state.assign(state)

    logged, history = first_step_loss(model, x, batch_size=BATCH_SIZE, epochs=2, shuffle=False)
    assert set(history) == {"loss", *model.loss_names}
    for term, values in history.items():
        assert len(values) == 2 and np.isfinite(values).all(), term
    if deterministic or not jit_compile:
        assert logged == pytest.approx(expected, rel=1e-5)
    for player, optimizer in optimizers_of(model).items():
        assert int(optimizer.iterations) == 2 * len(x) // BATCH_SIZE, player


@each_model
def test_from_data_builds_a_model_that_fits_the_data(name):
    factory = FACTORIES[name]
    x = factory.data()
    cls = registered_models()[name]
    data_arguments = cls.data_arguments(x)
    assert data_arguments["input_shape"] == x.shape[1:]
    assert set(data_arguments) <= {"input_shape", *cls.constructor_arguments()}
    others = {key: value for key, value in factory.arguments().items() if key not in data_arguments}
    keras.utils.set_random_seed(0)
    model = cls.from_data(x, **others)
    assert type(model) is cls and model.input_shape == x.shape[1:]
    config = model.get_config()
    for key, value in data_arguments.items():
        assert as_json(config[key]) == as_json(value), key
    model.check_data(x)
    compile_with_adam(model, run_eagerly=True)  # (one eager step: no tracing to pay for)
    history = model.fit(x, batch_size=BATCH_SIZE, epochs=1, steps_per_epoch=1, verbose=0).history
    assert set(history) == {"loss", *model.loss_names} and np.isfinite(history["loss"]).all()


# --------------------------------------------------------------------------------- bad data
def _bad_data(x, kind):
    if kind == "shape":
        return x[..., :-1] if x.shape[-1] > 1 else x[:, :, :-1]
    if kind == "nan":
        bad = x.copy()
        bad.flat[3] = np.nan
        return bad
    if kind == "integer":
        return np.round(x).astype("int32")
    raise AssertionError(kind)


def _assert_rejected_before_training(model, bad, error, message):
    compile_with_adam(model)
    with pytest.raises(error, match=message):
        model.fit(bad, batch_size=BATCH_SIZE, epochs=1, verbose=0)
    with pytest.raises(error, match=message):
        model.evaluation_figures(bad)
    for player, optimizer in optimizers_of(model).items():
        assert int(optimizer.iterations) == 0, player
    assert int(model.batches_seen.numpy()) == 0


@each_model
@pytest.mark.parametrize("kind", ["shape", "nan", "integer"])
def test_bad_data_is_rejected_with_a_clear_error_before_training(name, kind):
    model, x = make(name)
    bad = _bad_data(x, kind)
    dims = ", ".join(str(d) for d in x.shape[1:])
    error, message = {
        "shape": (ValueError, rf"`x` must have shape \(batch, {dims}\); got \({', '.join(map(str, bad.shape))}\)"),
        "nan": (ValueError, r"`x` contains 1 NaN or infinite value\(s\)"),
        "integer": (TypeError, "`x` must hold floating-point values; got dtype int32"),
    }[kind]
    _assert_rejected_before_training(model, bad, error, message)


@each_model
def test_data_outside_the_declared_input_range_is_rejected_and_other_data_accepted(name):
    model, x = make(name)
    bounds = model.input_range
    if bounds is None:  # nothing is declared, so nothing is imposed: far-off finite data pass
        far = x * 100.0 - 1000.0
        np.testing.assert_array_equal(model.check_data(far), far)
        return
    low, high, why = bounds
    assert low < high and isinstance(why, str) and why
    model.check_data(x)  # the factory's data lie in range
    for outside in (high + 0.5, low - 0.5):
        bad = x.copy()
        bad.flat[0] = outside
        _assert_rejected_before_training(model, bad, ValueError, re.escape(f"`x` must lie in [{low}, {high}] {why}"))


@each_model
def test_the_base_arguments_are_checked_clearly(name):
    factory = FACTORIES[name]
    cls = factory.model_class
    with pytest.raises(TypeError, match="`input_shape` must be a tuple of positive ints"):
        cls(**{**factory.arguments(), "input_shape": 64})
    with pytest.raises(ValueError, match="`seed` must be None or a non-negative integer; got -2"):
        cls(**{**factory.arguments(), "seed": -2})
    model, _ = make(name)
    with pytest.raises(ValueError, match="`n` must be a positive integer; got 0"):
        model.sample(0)
    with pytest.raises(ValueError, match="computes its own loss"):
        model.compile(loss="mse")
    players = model.players()
    if len(players) > 1:
        shared = keras.optimizers.Adam()
        with pytest.raises(ValueError, match="needs an optimizer object of its own"):
            model.compile(**{p.optimizer: shared for p in players})


# -------------------------------------------------------------------------------- resuming
@each_model
def test_an_interrupted_shuffled_fit_resumed_by_backup_and_restore_ends_at_the_uninterrupted_weights(
    name, tmp_path
):
    def make_compiled_model():
        return compile_with_adam(FACTORIES[name]()[0], learning_rate=1e-3)

    assert_resuming_matches_an_uninterrupted_run(make_compiled_model, FACTORIES[name].data(), tmp_path)


@each_model
def test_a_fit_interrupted_inside_an_epoch_resumes_exactly_from_a_backup_taken_there(name, tmp_path):
    """``BackupAndRestore(save_freq=1)``, interrupted two steps into the second of three epochs:
    Keras restores the epoch counter only, and kgen skips the steps that epoch had taken, so the
    resumed run takes the uninterrupted run's steps, no more, on the same batches."""

    def make_compiled_model():
        return compile_with_adam(FACTORIES[name]()[0], learning_rate=1e-3)

    x = FACTORIES[name].data()
    steps_per_epoch = len(x) // BATCH_SIZE
    assert_resuming_matches_an_uninterrupted_run(make_compiled_model, x, tmp_path, BATCH_SIZE, epochs=3,
                                                 interrupt_after_batch=steps_per_epoch + 2)


def test_a_second_fit_after_one_stopped_inside_an_epoch_skips_nothing():
    """Without a backup to restore, a new ``fit`` starts a new epoch where the last one stopped:
    no step is skipped and no batch read twice."""
    model = compile_with_adam(FACTORIES["vae"]()[0])
    x = FACTORIES["vae"].data()

    class StopAfterTwoSteps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    model.fit(x, batch_size=BATCH_SIZE, epochs=1, verbose=0, callbacks=[StopAfterTwoSteps()])
    assert int(model.batches_seen.numpy()) == 2
    model.fit(x, batch_size=BATCH_SIZE, epochs=1, verbose=0)
    steps = 2 + len(x) // BATCH_SIZE
    assert int(model.optimizer.iterations.numpy()) == int(model.batches_seen.numpy()) == steps


def test_resuming_exactly_needs_the_resumable_pipeline_a_plain_shuffled_dataset_restarts_its_order(tmp_path):
    """The same interrupted run fed by ``shuffle(seed).repeat()``: the restarted pipeline hands
    the resumed epochs the first epochs' batches again (its shuffling state is not part of the
    backup), so the run ends measurably away from the uninterrupted one."""
    x = FACTORIES["vae"].data()

    def dataset():
        return tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=0).batch(BATCH_SIZE).repeat()

    def make_compiled_model():
        return compile_with_adam(FACTORIES["vae"]()[0], learning_rate=1e-2)

    uninterrupted, resumed = interrupted_and_resumed_runs(
        make_compiled_model, dataset, tmp_path, batch_size=None, steps_per_epoch=len(x) // BATCH_SIZE,
        shuffle=False,  # the dataset shuffles itself
    )
    assert int(resumed.optimizer.iterations) == int(uninterrupted.optimizer.iterations) == 4 * len(x) // BATCH_SIZE
    distance = max(float(np.max(np.abs(a.numpy() - b.numpy()))) for a, b in zip(uninterrupted.weights, resumed.weights))
    assert distance > 1e-3


@pytest.mark.parametrize("jit_compile", [pytest.param(False, id="graph"), pytest.param(True, id="xla")])
def test_a_shuffled_fit_trains_on_the_pipelines_batches_from_the_first_on(jit_compile):
    """Each step of ``fit(x, shuffle=True)`` trains on the next batch of
    :func:`resumable_batches` from position 0: every pass over the data is one permutation,
    cut into ``len(x) // batch_size`` batches. Seen through a flow (its loss has no noise) at
    frozen weights: the loss logged at each step is the loss of that step's batch."""
    model, x = make("realnvp")
    model.compile(keras.optimizers.SGD(0.0), jit_compile=jit_compile)
    steps = 2 * len(x) // BATCH_SIZE
    start = keras.Variable(0, dtype="int64")
    batches = resumable_batches(x, BATCH_SIZE, model.input_order_seed, start).take(steps)
    expected = [float(model.player_terms(batch)["loss"]) for batch in batches]
    running = []
    callback = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: running.append(float(logs["loss"])))
    model.fit(x, batch_size=BATCH_SIZE, epochs=2, verbose=0, callbacks=[callback])
    per_epoch = len(x) // BATCH_SIZE
    logged = []  # Keras logs the running mean of the epoch: undo it
    for step, mean in enumerate(running):
        k = step % per_epoch
        logged.append(mean if k == 0 else (k + 1) * mean - k * running[step - 1])
    np.testing.assert_allclose(logged, expected, rtol=1e-4)


# ------------------------------------------------------------------------- MirroredStrategy
_MIRRORED_SCRIPT = """
import sys, time
sys.path.insert(0, {factories_dir!r})
import keras, numpy as np
from factories import BATCH_SIZE, FACTORIES

def deltas(model, before):
    return np.concatenate([(v.numpy() - b).ravel() for v, b in zip(model.trainable_variables, before)])

def loss_at_fixed_noise(model, x):
    state = keras.ops.copy(model.seed_generator.state)
    model.seed_generator.state.assign(keras.random.SeedGenerator(0).state)
    loss = float(model.player_terms(x, None, training=False)["loss"])
    model.seed_generator.state.assign(state)
    return loss

def compiled(name, strategy, initial=None):
    # The factory's model built for 32 copies of its data in one batch (where the noise of
    # the noisy models' gradients is smaller), compiled with plain SGD for every player.
    keras.utils.set_random_seed(0)
    factory = FACTORIES[name]
    x = factory.data()
    x_step = np.concatenate([x] * 32)
    with strategy.scope():
        taken_from_data = factory.model_class.data_arguments(x_step)
        model = factory.model_class.from_data(
            x_step, **{{k: v for k, v in factory.arguments().items() if k not in taken_from_data}})
        if initial is not None:
            model.set_weights(initial)
        model.compile(**{{p.optimizer: keras.optimizers.SGD(1e-2) for p in model.players()}})
    return model, x, x_step

for name in {names!r}:
    started = time.perf_counter()
    # One SGD step on 32 copies of the data set, on one device and on two replicas, from equal
    # weights.
    single, x, x_step = compiled(name, tf.distribute.get_strategy())
    state = keras.ops.copy(single.seed_generator.state)
    terms = [float(single.player_terms(x, None, training=True)["loss"]) for _ in range(2)]
    single.seed_generator.state.assign(state)
    initial = [w.numpy() for w in single.weights]
    before = [v.numpy().copy() for v in single.trainable_variables]
    single.fit(x_step, batch_size=len(x_step), epochs=1, shuffle=False, verbose=0)
    single_step = deltas(single, before)
    mirrored, _, _ = compiled(name, strategy, initial)
    start_loss = loss_at_fixed_noise(mirrored, x)
    mirrored.fit(x_step, batch_size=len(x_step), epochs=1, shuffle=False, verbose=0)
    mirrored_step = deltas(mirrored, before)
    print(name + ".replicas", strategy.num_replicas_in_sync)
    print(name + ".deterministic", terms[0] == terms[1])
    print(name + ".relative_step_difference",
          np.linalg.norm(mirrored_step - single_step) / np.linalg.norm(single_step))
    print(name + ".step_norm_ratio", np.linalg.norm(mirrored_step) / np.linalg.norm(single_step))

    # More steps under the strategy, with Adam, from the resumable shuffled pipeline.
    with strategy.scope():
        mirrored.compile(**{{p.optimizer: keras.optimizers.Adam(1e-2) for p in mirrored.players()}})
    history = mirrored.fit(x, batch_size=BATCH_SIZE, epochs=3, verbose=0).history
    print(name + ".finite", all(np.isfinite(v).all() for v in history.values())
          and all(np.isfinite(w.numpy()).all() for w in mirrored.weights))
    print(name + ".loss_fell", loss_at_fixed_noise(mirrored, x) < start_loss)
    print(name + ".steps", sorted({{int(getattr(mirrored, p.optimizer).iterations.numpy()) for p in mirrored.players()}}))
    initialized = [layer.initialized for layer in getattr(mirrored, "flow_layers", []) if hasattr(layer, "initialized")]
    print(name + ".data_dependent_init_done", all(float(flag.numpy()) == 1.0 for flag in initialized))
    print(name + ".seconds", time.perf_counter() - started)
"""


@pytest.fixture(scope="module")
def mirrored():
    """What the one MirroredStrategy subprocess printed for every model: ``{"name.key": value}``."""
    script = _MIRRORED_SCRIPT.format(factories_dir=str(Path(__file__).parent), names=NAMES)
    return run_with_two_cpu_replicas(script)


@each_model
def test_fit_under_mirrored_strategy_on_two_cpus_matches_one_device(name, mirrored):
    """With plain SGD the update is proportional to the gradient, so a wrong loss scaling across
    replicas (a summed instead of averaged gradient) would double the step. Models without noise
    in their loss take the same step to 1e-4. The others draw other noise on each replica, so
    their steps agree only roughly; the step is taken on 32 copies of the data in one batch to
    keep that noise small (measured: step lengths agree to 3 %, directions to 0.2 relative
    difference at most, the latent EBM's energy step being the noisiest). The β-VAE's exact
    step, with its posterior noise switched off, is checked in ``test_distributed.py``. Then a
    few Adam epochs under the strategy: the loss at fixed noise falls, everything stays finite,
    every player takes every step."""
    assert mirrored[f"{name}.replicas"] == "2"
    difference = float(mirrored[f"{name}.relative_step_difference"])
    if mirrored[f"{name}.deterministic"] == "True":
        assert difference < 1e-4
    else:
        # A summed gradient would give a step twice as long, a relative difference of 1.
        assert difference < 0.5
        assert 1 / 1.2 < float(mirrored[f"{name}.step_norm_ratio"]) < 1.2
    assert mirrored[f"{name}.finite"] == "True"
    assert mirrored[f"{name}.loss_fell"] == "True"
    assert mirrored[f"{name}.steps"] == str([3 * FACTORIES[name].data().shape[0] // BATCH_SIZE])
    assert mirrored[f"{name}.data_dependent_init_done"] == "True"

