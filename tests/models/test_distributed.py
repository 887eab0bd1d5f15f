"""fit() under tf.distribute.MirroredStrategy on two logical CPU devices.

Runs in a subprocess, because logical devices must be configured before TensorFlow starts.
With plain SGD the update is proportional to the gradient, so a wrong loss scaling across
replicas (a summed instead of averaged gradient) would double the step and fail the check.
"""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from kgen.models import BetaVAE

    rng = np.random.default_rng(0)
    x = (rng.random((512, 8, 8, 1)) > 0.5).astype("float32")

    def one_step(strategy):
        with strategy.scope():
            model = BetaVAE((8, 8, 1), latent_dim=2, seed=0)
            for v in model.trainable_weights:
                v.assign(np.random.default_rng(1).normal(scale=0.05, size=v.shape))
            # σ ≈ e^-10 for q(z|x): the reparameterization noise, which differs between the two
            # runs, vanishes, and the two updates must agree closely.
            bias = model.encoder.layers[-1].bias
            bias.assign(np.concatenate([bias.numpy()[:2], np.full(2, -20.0, "float32")]))
            before = [v.numpy().copy() for v in model.trainable_weights]
            model.compile(keras.optimizers.SGD(1e-3))
        history = model.fit(x, batch_size=512, epochs=1, shuffle=False, verbose=0).history
        step = np.concatenate([(v.numpy() - b).ravel() for v, b in zip(model.trainable_weights, before)])
        return step, history["loss"][0], strategy.num_replicas_in_sync

    single, loss_single, _ = one_step(tf.distribute.get_strategy())
    mirrored, loss_mirrored, replicas = one_step(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    print("replicas", replicas)
    print("relative_step_difference", np.linalg.norm(mirrored - single) / np.linalg.norm(single))
    print("relative_loss_difference", abs(loss_mirrored - loss_single) / abs(loss_single))
    with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
        model = BetaVAE((8, 8, 1), latent_dim=2, seed=0)
        model.compile(keras.optimizers.Adam(1e-2))
    history = model.fit(x, batch_size=64, epochs=3, verbose=0).history
    print("loss_fell", history["loss"][-1] < history["loss"][0])
    """
)


def test_fit_under_mirrored_strategy_matches_single_device_training():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    assert lines["replicas"] == "2"
    assert float(lines["relative_step_difference"]) < 0.05  # a summed gradient would give 1.0
    assert float(lines["relative_loss_difference"]) < 0.02
    assert lines["loss_fell"] == "True"
