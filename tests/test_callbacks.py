"""kgen.callbacks: picture callbacks write what they promise; KL schedules follow the optimizer step."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgen.callbacks import (
    BetaSchedule,
    CapacityAnnealing,
    CyclicalKLAnnealing,
    KLWarmup,
    LatentTraversal,
    SampleGrid,
)
from kgen.models import BetaVAE


def _model(run_eagerly=False, **kwargs):
    """A tiny β-VAE; ``run_eagerly`` skips tracing for tests of schedule arithmetic (the warm-up
    test keeps graph mode, to check that the compiled step reads the assigned β)."""
    model = BetaVAE((8, 8, 1), latent_dim=2, seed=0, **kwargs)
    model.compile(keras.optimizers.Adam(1e-3), run_eagerly=run_eagerly)
    return model


def _fit(model, images, epochs, callbacks, steps_per_epoch=2):
    return model.fit(tf.data.Dataset.from_tensor_slices(images).repeat().batch(16), epochs=epochs,
                     steps_per_epoch=steps_per_epoch, callbacks=callbacks, shuffle=False, verbose=0)


class _Recorder(keras.callbacks.Callback):
    """Records the model's β when each step starts (after the schedules have set it) and the
    logs of each step."""

    def __init__(self):
        super().__init__()
        self.betas, self.batch_logs = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.betas.append(float(self.model.beta))

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append(dict(logs))


def _run_epochs(callback, model, epochs):
    """Drive ``callback`` through the epoch hooks of ``fit`` without training."""
    callback.set_model(model)
    callback.on_train_begin()
    for epoch in range(epochs):
        callback.on_epoch_end(epoch, {})
    callback.on_train_end()


def _summary_tags(log_dir):
    tags = []
    for name in os.listdir(log_dir):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(log_dir, name)):
            tags += [(value.tag, event.step) for value in event.summary.value]
    return tags


def test_sample_grid_writes_the_same_grid_for_the_same_seed(tmp_path):
    model = _model()
    _run_epochs(SampleGrid(tmp_path / "a", n=9, seed=3), model, epochs=2)
    _run_epochs(SampleGrid(tmp_path / "b", n=9, seed=4), model, epochs=1)
    first, second = (tmp_path / "a" / f"samples_epoch_00{i}.png" for i in (1, 2))
    assert first.read_bytes() == second.read_bytes()  # same seed, same weights: same picture
    assert (tmp_path / "b" / "samples_epoch_001.png").read_bytes() != first.read_bytes()


def test_sample_grid_passes_sample_kwargs_to_the_model(tmp_path):
    class Recording(BetaVAE):
        def sample(self, n, seed=None, **kwargs):
            self.calls = [*getattr(self, "calls", []), kwargs]
            return super().sample(n, seed=seed)

    model = Recording((8, 8, 1), latent_dim=2, seed=0)
    _run_epochs(SampleGrid(tmp_path, n=4, sample_kwargs={"steps_per_level": 3}), model, epochs=2)
    assert model.calls == [{"steps_per_level": 3}] * 2
    assert len(os.listdir(tmp_path)) == 2


def test_sample_grid_every_and_tensorboard(tmp_path):
    _run_epochs(SampleGrid(tmp_path / "png", log_dir=tmp_path / "logs", n=4, every=2), _model(), 4)
    assert sorted(os.listdir(tmp_path / "png")) == ["samples_epoch_002.png", "samples_epoch_004.png"]
    assert _summary_tags(tmp_path / "logs") == [("samples", 2), ("samples", 4)]


def test_latent_traversal_writes_pngs_and_checks_its_example_before_training(tmp_path, binary_images):
    _run_epochs(LatentTraversal(binary_images[0], tmp_path, dims=[1]), _model(), epochs=1)
    assert os.listdir(tmp_path) == ["traversal_epoch_001.png"]
    callback = LatentTraversal(binary_images[0], tmp_path, dims=[5])
    callback.set_model(_model())
    with pytest.raises(ValueError, match="dims"):
        callback.on_train_begin()


def test_kl_warmup_ramps_beta_from_zero_to_the_models_beta(binary_images):
    model, recorder = _model(beta=4.0), _Recorder()
    history = _fit(model, binary_images, 3, [KLWarmup(warmup_steps=4), recorder])
    assert recorder.betas == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0, 4.0])
    assert history.history["beta"] == pytest.approx([1.0, 3.0, 4.0])  # β of each epoch's last step
    # The train step reads the variable: with β = 0 the loss is the reconstruction term alone.
    first = recorder.batch_logs[0]
    assert first["kl"] > 0 and first["loss"] == pytest.approx(first["reconstruction"])
    assert first["beta"] == 0.0


def test_kl_schedules_resume_from_the_restored_optimizer_step(binary_images, tmp_path):
    """An interrupted run restarted with BackupAndRestore continues the warm-up: β is a function
    of ``optimizer.iterations``, which the backup restores, not of a counter in the callback."""

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("interrupted")

    backup = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        _fit(_model(True, beta=4.0), binary_images, 3,
             [keras.callbacks.BackupAndRestore(backup), KLWarmup(warmup_steps=8), Interrupt()])
    model, recorder = _model(True, beta=4.0), _Recorder()  # as in a new process: all afresh
    _fit(model, binary_images, 3,
         [keras.callbacks.BackupAndRestore(backup), KLWarmup(warmup_steps=8), recorder])
    assert recorder.betas == pytest.approx([2.0, 2.5])  # steps 4 and 5 of 8 towards β = 4
    assert int(model.optimizer.iterations) == 6


def test_cyclical_annealing_restarts_every_cycle():
    schedule = CyclicalKLAnnealing(cycle_steps=4, target_beta=2.0, ramp_fraction=0.5)
    assert [schedule.value(step) for step in range(9)] == pytest.approx([0, 1, 2, 2, 0, 1, 2, 2, 0])


def test_beta_schedule_checks_the_values_of_its_function():
    assert BetaSchedule(lambda step: 0.5 * step).value(4) == 2.0
    with pytest.raises(ValueError, match="schedule"):
        BetaSchedule(lambda step: -1.0).value(0)
    with pytest.raises(TypeError, match="schedule"):
        BetaSchedule(2.0)


def test_capacity_annealing_raises_capacity_linearly(binary_images):
    model = _model(True, beta=10.0, capacity=0.0)
    history = _fit(model, binary_images, 2, [CapacityAnnealing(max_capacity=8.0, steps=4)])
    assert history.history["capacity"] == pytest.approx([2.0, 6.0])


def test_capacity_annealing_needs_a_model_built_with_capacity(binary_images):
    with pytest.raises(ValueError, match="capacity="):
        _fit(_model(), binary_images, 1, [CapacityAnnealing(max_capacity=25.0, steps=100)])


def test_schedules_need_a_model_with_beta():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match="no `beta` variable"):
        model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0, callbacks=[KLWarmup(10)])


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: KLWarmup(0), ValueError),
        (lambda: KLWarmup(10.5), TypeError),
        (lambda: KLWarmup(10, target_beta=-1.0), ValueError),
        (lambda: CyclicalKLAnnealing(10, ramp_fraction=1.5), ValueError),
        (lambda: CapacityAnnealing(-1.0, 10), ValueError),
        (lambda: CapacityAnnealing(25.0, 0), ValueError),
        (lambda: SampleGrid(), ValueError),
        (lambda: SampleGrid("out", n=0), ValueError),
        (lambda: SampleGrid("out", every=0), ValueError),
        (lambda: SampleGrid("out", sample_kwargs=[("steps_per_level", 2)]), TypeError),
        (lambda: SampleGrid("out", sample_kwargs={"seed": 1}), ValueError),
    ],
)
def test_arguments_are_checked_when_the_callback_is_made(make, error):
    with pytest.raises(error):
        make()
