"""Checks shared by the model and layer tests: the model contract (``ARCHITECTURE.md``: resuming,
MirroredStrategy) and the autodiff Jacobian that flow log-determinants are tested against."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from processes import run_with_two_cpu_replicas  # noqa: F401 (the model tests' MirroredStrategy runner)


def jacobian_log_det(function, x):
    """log |det ∂f(x)/∂x| per example from the autodiff Jacobian of the flattened map (float64)."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reshape(function(x), (x.shape[0], -1))
    jacobian = tf.reshape(tape.batch_jacobian(y, x), (x.shape[0], y.shape[1], -1))
    return np.linalg.slogdet(jacobian.numpy().astype("float64"))[1]


class _Interrupt(keras.callbacks.Callback):
    """Raise ``KeyboardInterrupt`` at the end of epoch ``after_epoch`` (0-based) or, given
    ``after_batch``, after that many training steps of the run."""

    def __init__(self, after_epoch=None, after_batch=None):
        super().__init__()
        self.after_epoch, self.after_batch, self.steps = after_epoch, after_batch, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == self.after_batch:
            raise KeyboardInterrupt

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.after_epoch:
            raise KeyboardInterrupt


def optimizers_of(model):
    """``{player name: optimizer}`` of a compiled kgen model, one per player."""
    return {player.name: getattr(model, player.optimizer) for player in model.players()}


def interrupted_and_resumed_runs(make_compiled_model, data, backup_dir, batch_size=16, epochs=4,
                                 interrupt_after_batch=None, **fit_kwargs):
    """Train three times from the same seeds: without interruption; interrupted under
    ``BackupAndRestore`` after the second epoch (backups at epoch ends) or, given
    ``interrupt_after_batch``, after that many steps (a backup after every step); then resumed
    from the backup, as a restarted process would (a fresh model, and fresh data from
    ``data()`` when ``data`` is a function, e.g. a ``tf.data`` pipeline). Returns
    ``(uninterrupted, resumed)``.

    ``make_compiled_model()`` returns a fresh compiled model; ``fit`` gets ``data`` (an array is
    shuffled, kgen's default) and ``fit_kwargs``.
    """
    if interrupt_after_batch is None:
        save_freq, interrupt = "epoch", _Interrupt(after_epoch=1)
    else:
        save_freq, interrupt = 1, _Interrupt(after_batch=interrupt_after_batch)

    def train(callbacks):
        keras.utils.set_random_seed(0)
        model = make_compiled_model()
        x = data() if callable(data) else data
        model.fit(x, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=callbacks, **fit_kwargs)
        return model

    uninterrupted = train([])
    with pytest.raises(KeyboardInterrupt):
        train([keras.callbacks.BackupAndRestore(backup_dir, save_freq=save_freq), interrupt])
    resumed = train([keras.callbacks.BackupAndRestore(backup_dir, save_freq=save_freq)])
    return uninterrupted, resumed


def assert_resuming_matches_an_uninterrupted_run(make_compiled_model, x, backup_dir, batch_size=16, epochs=4,
                                                 interrupt_after_batch=None):
    """An interrupted ``fit`` on the shuffled array ``x``, resumed by ``BackupAndRestore``,
    ends at the uninterrupted run's weights (1e-6) and random state, every player's optimizer
    having taken all of its ``epochs · len(x) // batch_size`` steps."""
    uninterrupted, resumed = interrupted_and_resumed_runs(make_compiled_model, x, backup_dir, batch_size, epochs,
                                                          interrupt_after_batch)
    steps = epochs * (len(x) // batch_size)
    for name, optimizer in optimizers_of(resumed).items():
        assert int(optimizer.iterations) == int(optimizers_of(uninterrupted)[name].iterations) == steps, name
    assert int(resumed.batches_seen.numpy()) == steps
    for a, b in zip(uninterrupted.weights, resumed.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, err_msg=a.path)
    np.testing.assert_array_equal(uninterrupted.seed_generator.state.numpy(), resumed.seed_generator.state.numpy())
