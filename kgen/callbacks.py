"""Keras callbacks that show a model learning and schedule its KL weight during ``fit``.

Pictures, written after every ``every`` epochs to PNG files and/or TensorBoard:

* :class:`SampleGrid`: samples from a fixed seed, so that successive grids show the same
  latents decoded by an improving model;
* :class:`LatentTraversal`: a traversal of one reference example (:func:`kgen.viz.plot_traversal`).

Schedules of the KL term of a (β-)VAE, assigned to the model's non-trainable ``beta`` or
``capacity`` variable before every training step (before every ``steps_per_execution`` steps,
when Keras runs several per call), which the compiled step reads when it runs:

* :class:`BetaSchedule`: any function step → β;
* :class:`KLWarmup`: β rises linearly from ``start_beta`` to its target over the first steps,
  so that the decoder learns to use z before the KL term pulls q(z | x) onto the prior and the
  posterior collapses (Bowman et al. 2016, "Generating Sentences from a Continuous Space";
  Sønderby et al. 2016, "Ladder Variational Autoencoders");
* :class:`CyclicalKLAnnealing`: the warm-up repeated in cycles (Fu et al. 2019, "Cyclical
  Annealing Schedule: A Simple Approach to Mitigating KL Vanishing");
* :class:`CapacityAnnealing`: the capacity C of the loss β·|KL − C| raised linearly from 0
  (Burgess et al. 2018, "Understanding disentangling in β-VAE").

A schedule is a pure function of the optimizer's step counter ``model.optimizer.iterations``,
which Keras saves with the model and restores with ``keras.callbacks.BackupAndRestore``: a
resumed run continues its schedule where it stopped, and the callbacks keep no counters of
their own. Each schedule writes its current value into the logs, so that the progress bar and
``History`` show ``beta`` or ``capacity`` next to the losses.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from kgen import viz
from kgen.validation import check_positive_float, check_positive_int, check_seed


# ---------------------------------------------------------------------------------- pictures
class _EpochPicture(keras.callbacks.Callback):
    """Writes ``picture()`` after every ``every`` epochs as ``{out_dir}/{prefix}_epoch_NNN.png``
    and as a TensorBoard image summary named ``prefix`` in ``log_dir``."""

    prefix = "picture"

    def __init__(self, out_dir=None, log_dir=None, every=1):
        super().__init__()
        if out_dir is None and log_dir is None:
            raise ValueError(
                f"{type(self).__name__} writes its pictures to `out_dir` (PNG files) and/or "
                "`log_dir` (TensorBoard); give at least one."
            )
        self.out_dir = None if out_dir is None else os.fspath(out_dir)
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.every = check_positive_int(every, "every")
        self._writer = None

    def picture(self):
        """A batch of images, 2-D points or a ``Figure`` (anything :func:`kgen.viz.save_png` takes)."""
        raise NotImplementedError

    def path(self, epoch):
        """The PNG file written after ``epoch`` (0-based, as Keras counts)."""
        return os.path.join(self.out_dir, f"{self.prefix}_epoch_{epoch + 1:03d}.png")

    def on_train_begin(self, logs=None):
        if self.log_dir is not None:
            self._writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        picture = self.picture()
        if self.out_dir is not None:
            viz.save_png(picture, self.path(epoch))
        if self._writer is not None:
            with self._writer.as_default():
                tf.summary.image(self.prefix, viz.as_image(picture)[None], step=epoch + 1)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class SampleGrid(_EpochPicture):
    """Save a grid of ``n`` samples, ``model.sample(n, seed=seed)``, after every ``every`` epochs.

    With an int ``seed`` every grid decodes the same prior draws, so the files
    ``samples_epoch_001.png``, ``samples_epoch_002.png``, … show one set of latents through
    training. Models of 2-D data get a scatter plot instead of a grid.

    Args:
        out_dir: folder of the PNG files (created when needed), or ``None``.
        log_dir: TensorBoard log folder for an image summary ``samples``, or ``None``.
        n: number of samples.
        seed: int seed of the draws (``None``: fresh draws each time).
        every: write after every ``every``-th epoch.
        sample_kwargs: more keyword arguments of the model's ``sample``, e.g.
            ``{"steps_per_level": 10}`` for a cheaper preview from an NCSN (whose full sampler
            costs 1 001 network passes).
    """

    prefix = "samples"

    def __init__(self, out_dir=None, log_dir=None, n=64, seed=0, every=1, sample_kwargs=None):
        super().__init__(out_dir, log_dir, every)
        self.n = check_positive_int(n, "n")
        self.seed = check_seed(seed)
        if sample_kwargs is not None and not isinstance(sample_kwargs, dict):
            raise TypeError(
                f"`sample_kwargs` must be a dict of keyword arguments for `model.sample`; got "
                f"{type(sample_kwargs).__name__}."
            )
        if sample_kwargs and {"n", "seed"} & set(sample_kwargs):
            raise ValueError("`sample_kwargs` must not hold `n` or `seed`: pass them to SampleGrid itself.")
        self.sample_kwargs = dict(sample_kwargs or {})

    def picture(self):
        return keras.ops.convert_to_numpy(self.model.sample(self.n, seed=self.seed, **self.sample_kwargs))


class LatentTraversal(_EpochPicture):
    """Save a latent traversal of the reference example ``x`` after every ``every`` epochs.

    Rows are latent coordinates, columns values from −2.5 to 2.5 (:func:`kgen.viz.plot_traversal`);
    files are ``traversal_epoch_NNN.png``, the TensorBoard summary is ``traversal``.

    Args:
        x: one example, of the model's data shape (or a batch of one).
        out_dir, log_dir, every: as for :class:`SampleGrid`.
        dims: latent coordinates to show (``None``: all).
    """

    prefix = "traversal"

    def __init__(self, x, out_dir=None, log_dir=None, dims=None, every=1):
        super().__init__(out_dir, log_dir, every)
        self.x = np.asarray(keras.ops.convert_to_numpy(x), dtype="float32")
        self.dims = dims

    def on_train_begin(self, logs=None):
        # A one-value traversal checks the model, x and dims before training rather than after
        # the first epoch.
        viz.latent_traversal(self.model, self.x, self.dims, values=[0.0])
        super().on_train_begin(logs)

    def picture(self):
        return viz.plot_traversal(self.model, self.x, self.dims)


# --------------------------------------------------------------------------------- schedules
class _VariableSchedule(keras.callbacks.Callback):
    """Assigns ``value(step)`` to the model's variable ``variable`` before each training step,
    where ``step`` is ``model.optimizer.iterations``, and logs it under the same name."""

    variable = None

    def value(self, step):
        raise NotImplementedError

    def check_model(self, model):
        if not isinstance(getattr(model, self.variable, None), keras.Variable):
            raise TypeError(
                f"{type(self).__name__} schedules the model's `{self.variable}`, but "
                f"{type(model).__name__} has no `{self.variable}` variable; use it with a model "
                "that weighs its KL term, such as kgen.models.BetaVAE."
            )

    def on_train_begin(self, logs=None):
        self.check_model(self.model)

    def on_train_batch_begin(self, batch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        getattr(self.model, self.variable).assign(self.value(step))

    def _log(self, logs):
        if logs is not None:
            logs[self.variable] = float(keras.ops.convert_to_numpy(getattr(self.model, self.variable)))

    def on_train_batch_end(self, batch, logs=None):
        self._log(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._log(logs)


class BetaSchedule(_VariableSchedule):
    """Set the model's β to ``schedule(step)`` before every training step.

    Args:
        schedule: a function of the optimizer step (an int ≥ 0, counted over all of training,
            resumed runs included) returning β ≥ 0.
    """

    variable = "beta"

    def __init__(self, schedule):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"`schedule` must be a function step → beta; got {type(schedule).__name__}.")
        self.schedule = schedule

    def value(self, step):
        return check_positive_float(self.schedule(step), f"schedule({step})", allow_zero=True)


class _BetaTowardsTarget(BetaSchedule):
    """A β schedule that rises to ``target_beta``; ``None`` takes the β the model has when the
    callback is first attached to it (before ``BackupAndRestore`` may restore a mid-schedule β)."""

    def __init__(self, target_beta=None):
        super().__init__(self.beta_at)
        self.target_beta = (
            None if target_beta is None else check_positive_float(target_beta, "target_beta", True)
        )

    def set_model(self, model):
        super().set_model(model)
        if self.target_beta is None and isinstance(getattr(model, "beta", None), keras.Variable):
            self.target_beta = float(keras.ops.convert_to_numpy(model.beta))

    def beta_at(self, step):
        raise NotImplementedError


class KLWarmup(_BetaTowardsTarget):
    """Linear KL warm-up: β = start + (target − start) · min(1, step / warmup_steps).

    Bowman et al. (2016) and Sønderby et al. (2016) raise the KL weight from 0 to 1 so that
    the decoder learns to rely on z before the KL term can pull every q(z | x) onto the prior.

    Args:
        warmup_steps: optimizer steps to reach the target.
        target_beta: final β; ``None``: the model's own β (e.g. 4.0 for ``BetaVAE(beta=4.0)``).
        start_beta: β at step 0.
    """

    def __init__(self, warmup_steps, target_beta=None, start_beta=0.0):
        super().__init__(target_beta)
        self.warmup_steps = check_positive_int(warmup_steps, "warmup_steps")
        self.start_beta = check_positive_float(start_beta, "start_beta", allow_zero=True)

    def beta_at(self, step):
        progress = min(1.0, step / self.warmup_steps)
        return self.start_beta + (self.target_beta - self.start_beta) * progress


class CyclicalKLAnnealing(_BetaTowardsTarget):
    """Cyclical annealing (Fu et al. 2019): β restarts from 0 every ``cycle_steps`` steps.

    Within each cycle, τ = (step mod cycle_steps) / cycle_steps and β = target · min(1, τ / R)
    with R = ``ramp_fraction``: a linear rise over the first R of the cycle, then the target.
    Fu et al. use R = 0.5 (and 4 cycles over training).

    Args:
        cycle_steps: optimizer steps per cycle.
        target_beta: β at the top of each cycle; ``None``: the model's own β.
        ramp_fraction: fraction R ∈ (0, 1] of each cycle spent rising.
    """

    def __init__(self, cycle_steps, target_beta=None, ramp_fraction=0.5):
        super().__init__(target_beta)
        self.cycle_steps = check_positive_int(cycle_steps, "cycle_steps")
        self.ramp_fraction = check_positive_float(ramp_fraction, "ramp_fraction")
        if self.ramp_fraction > 1:
            raise ValueError(f"`ramp_fraction` must lie in (0, 1]; got {ramp_fraction}.")

    def beta_at(self, step):
        phase = (step % self.cycle_steps) / self.cycle_steps
        return self.target_beta * min(1.0, phase / self.ramp_fraction)


class CapacityAnnealing(_VariableSchedule):
    """Raise the capacity C of the loss β·|KL − C| linearly from 0 to ``max_capacity`` nats.

    Burgess et al. (2018) let the KL grow towards a target C that rises during training (to
    25 nats for dSprites, with β = γ = 1000): the code gains information gradually, one factor
    after another, and so learns disentangled latents with good reconstructions. The model must
    be built with ``capacity=`` (e.g. ``BetaVAE(..., beta=1000.0, capacity=0.0)``).

    Args:
        max_capacity: final C in nats.
        steps: optimizer steps to reach it.
    """

    variable = "capacity"

    def __init__(self, max_capacity, steps):
        super().__init__()
        self.max_capacity = check_positive_float(max_capacity, "max_capacity")
        self.steps = check_positive_int(steps, "steps")

    def check_model(self, model):
        super().check_model(model)
        if not getattr(model, "use_capacity", False):
            raise ValueError(
                f"CapacityAnnealing needs a model built with `capacity=` (the loss β·|KL − C|), "
                f"e.g. {type(model).__name__}(..., capacity=0.0); this model uses the plain "
                "β-weighted KL and would ignore C."
            )

    def value(self, step):
        return self.max_capacity * min(1.0, step / self.steps)
