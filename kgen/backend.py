"""The TensorFlow-specific pieces of kgen's models, in one place.

Model files write their math with ``keras.ops`` and ``keras.random``; what Keras 3 does not
offer backend-independently lives here: gradient tapes for the players' steps, gradients with
respect to inputs (R1 penalties, Langevin updates), compiled sampling loops, ``tf.distribute``
loss scaling, the device check behind kgen's XLA default, and telling a traced tensor from an
eager one. A JAX backend would add its own version of this module and leave the models as they
are.
"""

import tensorflow as tf


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
