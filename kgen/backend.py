"""The TensorFlow-specific pieces of kgen's models, in one place.

Model files write their math with ``keras.ops`` and ``keras.random``; what Keras 3 does not
offer backend-independently lives here: gradient tapes for the players' steps, gradients with
respect to inputs (R1 penalties, Langevin updates), compiled sampling loops, ``tf.distribute``
loss scaling, the distribution strategies of ``kgen train --distribute``, the logged values of a
step under ``MultiWorkerMirroredStrategy`` (a Keras defect worked around,
:func:`logs_for_reduction`), where each worker of a multi-worker run writes its files (the
chief alone into the real folders, :func:`worker_dir`), the device check behind kgen's XLA
default, telling a traced tensor from an eager one, and the one rule of mixed precision
(:func:`full_precision`, :func:`precise_layer_arguments`). A JAX backend would add its own version
of this module and leave the models as they are.
"""

import os
import shutil

import keras
import tensorflow as tf

#: The dtype of kgen's own arithmetic under every Keras dtype policy (see :func:`full_precision`).
PRECISE_DTYPE = "float32"
_HALF_PRECISION = ("float16", "bfloat16")


def default_jit_compile():
    """kgen's XLA default: off on CPU, Keras' ``"auto"`` where a GPU is present.

    Measured on a 2-core CPU (``benchmarks/vae_fit.py``): XLA made a 64×64 conv β-VAE train step
    slower than plain graph mode (150 ms against 102 ms), while Keras' own default turns XLA on.
    """
    return "auto" if tf.config.list_physical_devices("GPU") else False


def num_replicas():
    """The number of replicas that run each step in sync (1 outside ``tf.distribute``)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def scale_for_replicas(loss):
    """Divide a per-replica loss by the number of replicas, so that ``tf.distribute``'s sum of
    gradients across replicas equals the gradient of the global-batch mean."""
    replicas = num_replicas()
    return loss if replicas == 1 else loss / replicas


def logs_for_reduction(logs):
    """What a ``train_step`` / ``test_step`` returns for ``fit`` to log: ``logs`` as they are,
    except under ``tf.distribute.MultiWorkerMirroredStrategy`` with several workers, where every
    scalar becomes shape ``(1,)``.

    Works around a Keras 3 defect (TensorFlow issue #72388, still in Keras 3.15): in multi-worker
    mode Keras' TensorFlow trainer (``reduce_per_replica``) averages a step's logged values
    across replicas with ``strategy.reduce("MEAN", value, axis=0)``, which fails on a scalar
    (``ValueError: Invalid reduction dimension 0 for input with 0 dimensions``) — every model's
    first step, a plain ``keras.Sequential``'s included. Reduced along axis 0, a ``(1,)`` value
    comes out as the mean over the replicas, a scalar again, so ``History`` and the progress bar
    see what they see elsewhere. The condition is Keras' own, so that everywhere else (one
    device, ``MirroredStrategy``, a one-worker cluster) the logs stay untouched.
    ``tests/test_multi_worker.py`` fails when this is removed.
    """
    if not in_multi_worker_mode():
        return logs

    def as_vector(value):
        value = tf.convert_to_tensor(value)
        return tf.reshape(value, (1,)) if value.shape.rank == 0 else value

    return tf.nest.map_structure(as_vector, logs)


def in_multi_worker_mode(strategy=None):
    """True under a ``MultiWorkerMirroredStrategy`` over several workers (``strategy``, or the
    current one): the condition of Keras' own multi-worker code paths."""
    strategy = strategy or tf.distribute.get_strategy()
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())


def distribution_strategy(kind):
    """The ``tf.distribute`` strategy of ``kgen train --distribute kind``: ``"none"`` the default
    (one device), ``"mirrored"`` a ``MirroredStrategy`` over this machine's GPUs (its CPU when
    there are none), ``"multi_worker"`` a ``MultiWorkerMirroredStrategy`` over the cluster that
    the ``TF_CONFIG`` environment variable describes. Create it before any other TensorFlow
    work: a multi-worker strategy starts this process's server and connects to the others."""
    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError("`kind` 'multi_worker' reads the cluster from the TF_CONFIG environment "
                             "variable, which is not set.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"`kind` must be 'none', 'mirrored' or 'multi_worker'; got {kind!r}.")


def is_chief(strategy):
    """True for the worker that writes the checkpoints and files of a multi-worker run (the
    ``chief`` task, else ``worker`` 0: ``strategy.extended.should_checkpoint``), and outside
    multi-worker training. ``strategy`` is the model's (``model.distribute_strategy``), given
    explicitly: outside its ``scope()`` the current strategy is the default one, everyone's chief.
    The same holds for :func:`worker_dir`, :func:`worker_backup_dir`, :func:`remove_worker_dir`."""
    return not in_multi_worker_mode(strategy) or bool(strategy.extended.should_checkpoint)


def worker_dir(path, strategy):
    """The folder into which this worker writes what belongs in the folder ``path``: ``path``
    itself on the chief (and outside multi-worker training); on every other worker of a
    multi-worker run a temporary folder ``path/workertemp_<task id>``, to be deleted with
    :func:`remove_worker_dir` — Keras 2's convention (``distributed_file_utils``), which Keras
    3's callbacks dropped: without it every worker writes the same ``model.keras`` and backup
    files at once. The other workers still write (into their own folder) so that every worker
    runs the same callbacks and saves. The folder is created, ``path`` too: with ``exist_ok``,
    here, rather than by two workers' callbacks racing to create it."""
    folder = path if is_chief(strategy) else _temporary_dir(path, strategy)
    os.makedirs(folder, exist_ok=True)
    return folder


def _temporary_dir(path, strategy):
    return os.path.join(path, f"workertemp_{strategy.cluster_resolver.task_id}")


def remove_worker_dir(path, strategy):
    """Delete the temporary folder that :func:`worker_dir` gave a non-chief worker for ``path``
    (nothing on the chief)."""
    if not is_chief(strategy):
        shutil.rmtree(_temporary_dir(path, strategy), ignore_errors=True)


def worker_backup_dir(backup_dir, strategy):
    """The folder this worker gives ``keras.callbacks.BackupAndRestore``: ``backup_dir`` on the
    chief; on another worker its :func:`worker_dir`, holding a copy of the chief's latest backup
    files, so that after a restart every worker resumes from the chief's backup (Keras 2's
    ``BackupAndRestore`` read the chief's backup and wrote a temporary one; Keras 3's reads and
    writes one folder). The chief's folder must be on a file system the workers share."""
    folder = worker_dir(backup_dir, strategy)
    if folder != backup_dir:
        for name in os.listdir(backup_dir):
            if os.path.isfile(os.path.join(backup_dir, name)):
                shutil.copy2(os.path.join(backup_dir, name), os.path.join(folder, name))
    return folder


def is_traced(x):
    """True for a symbolic tensor inside a traced function (its values cannot be checked)."""
    return isinstance(x, tf.Tensor) and not tf.executing_eagerly()


def gradient_tape(persistent=False):
    """A tape that records the operations run inside its ``with`` block, for gradients of one
    player's loss (``persistent=True``: of several players' losses on one forward pass)."""
    return tf.GradientTape(persistent=persistent)


def value_and_input_gradient(function, x):
    """``(function(x), ∇_x Σ function(x))``: a function's values and the gradient of their sum
    with respect to its input ``x`` — the score of a log-density, the force of an energy, the
    R1 penalty's ‖∇_x D(x)‖². Differentiable itself (a tape inside the caller's tape)."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = function(x)
        total = tf.reduce_sum(value)  # inside the tape: a sum taken after it would not be recorded
    return value, tape.gradient(total, x)


def compiled(function, jit_compile=False):
    """``function`` as one compiled TensorFlow program (``tf.function``, with XLA when
    ``jit_compile``): a sampler's whole loop runs as one graph instead of one Python step per
    network call. ``reduce_retracing`` lets new batch sizes reuse the program."""
    return tf.function(function, jit_compile=bool(jit_compile), reduce_retracing=True)


# ------------------------------------------------------------------------------ mixed precision
def full_precision(x):
    """``x`` (a tensor, or a nested structure of them) with every half-precision float tensor
    (float16, bfloat16) widened to float32; other values unchanged: the one cast of kgen's mixed
    precision, applied to every network output at the boundary where the model's math begins.

    Under ``keras.mixed_precision.set_dtype_policy("mixed_bfloat16")`` (or ``"mixed_float16"``)
    the networks — encoders, decoders, coupling conditioners, score and noise networks,
    generators, discriminators, energies — compute in half precision on float32 variables,
    while the model and its probabilistic layers (priors, likelihoods, flow layers) stay float32
    (:func:`precise_layer_arguments`): log-densities, log-determinants, KL terms, losses, Langevin
    updates and diffusion coefficients are sums of many terms, or differences of close ones,
    that an 8-bit mantissa (bfloat16) would round by whole nats.
    """

    def widen(value):
        dtype = getattr(value, "dtype", None)
        if dtype is not None and keras.backend.standardize_dtype(dtype) in _HALF_PRECISION:
            return keras.ops.cast(value, PRECISE_DTYPE)
        return value

    return keras.tree.map_structure(widen, x)


def precise_layer_arguments(kwargs, owner):
    """The ``keras.layers.Layer`` keyword arguments of a kgen model or probabilistic layer
    (``owner``, its class name for messages): ``dtype`` float32 unless given, whatever the global
    dtype policy, so that the layer's own arithmetic is float32 while its networks follow the
    policy (:func:`full_precision`). A half-precision ``dtype`` is refused: mixed precision is
    asked for with ``keras.mixed_precision.set_dtype_policy`` before the model is built (or by
    passing networks built under a mixed policy)."""
    kwargs = dict(kwargs)
    if kwargs.get("dtype") is None:
        kwargs["dtype"] = PRECISE_DTYPE
    policy = keras.dtype_policies.get(kwargs["dtype"])
    if policy.compute_dtype in _HALF_PRECISION:
        raise ValueError(
            f"{owner} computes its densities, log-determinants and losses in float32; got "
            f"dtype={policy.name!r}. For mixed precision call "
            f"keras.mixed_precision.set_dtype_policy({policy.name!r}) before building the model: its "
            f"networks then compute in {policy.compute_dtype} and the rest stays float32."
        )
    return kwargs
