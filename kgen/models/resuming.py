"""Exact resumption of ``fit`` from a ``keras.callbacks.BackupAndRestore`` backup, mid-epoch too.

A kgen model reads a shuffled array through :func:`kgen.data.pipeline.resumable_batches`, whose
position is the model's ``batches_seen`` counter, saved with the weights. Two callbacks put
``fit`` back where a backup was taken:

* :class:`MarkEpochStart` (first of the callbacks) records, at the end of every epoch, where
  the next one starts, in the model's ``epoch_start_batch`` variable — before
  ``BackupAndRestore`` saves that epoch's backup, so that the backup holds it.
* :class:`ResumeInput` (last of the callbacks, after ``BackupAndRestore`` has restored the
  variables) starts the pipeline at the interrupted epoch's first batch. For a backup taken at an
  epoch's end (``save_freq="epoch"``) that is where training continues. For one taken inside an
  epoch (``save_freq=N`` batches), Keras 3 restores only the epoch counter (its
  ``BackupAndRestore`` saves the batch but does not use it), so ``fit`` runs the interrupted
  epoch from its first step again: :class:`ResumeInput` lets the first
  ``batches_seen − epoch_start_batch`` of those steps read their batch and do nothing else. The
  resumed run then takes exactly the uninterrupted run's steps, on its batches.
"""

import warnings

import keras


class MarkEpochStart(keras.callbacks.Callback):
    """At each epoch's end, ``epoch_start_batch ← batches_seen``: where the next epoch starts."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.epoch_start_batch.assign(self.model.batches_seen.value)


class ResumeInput(keras.callbacks.Callback):
    """At the start of ``fit``: start the input ``position`` at the current epoch's first batch,
    and skip the steps of that epoch a restored mid-epoch backup had already taken."""

    def __init__(self, position):
        super().__init__()
        self.position = position

    def on_train_begin(self, logs=None):
        model = self.model
        done = int(model.batches_seen.numpy()) - int(model.epoch_start_batch.numpy())
        self.position.assign(model.epoch_start_batch.value)
        if done <= 0:
            return
        if model.steps_per_execution != 1:
            warnings.warn(
                f"Resuming from a backup taken {done} batches into an epoch with steps_per_execution="
                f"{model.steps_per_execution}: kgen skips the steps already taken only for "
                "steps_per_execution=1, so this run repeats them (back up at epoch ends to avoid it).",
                stacklevel=2,
            )
            self.position.assign(model.batches_seen.value)
            return
        train_function = model.train_function

        def skip_a_step_taken_before_the_backup(iterator):
            nonlocal done
            next(iterator)
            done -= 1
            if done == 0:
                model.train_function = train_function
            return {}

        model.train_function = skip_a_step_taken_before_the_backup
