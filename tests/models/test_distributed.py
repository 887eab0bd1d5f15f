"""The β-VAE's step under tf.distribute.MirroredStrategy on two logical CPU devices equals the
one-device step (in a subprocess: logical devices must be configured before TensorFlow starts).

With plain SGD the update is proportional to the gradient, so a wrong loss scaling across
replicas (a summed instead of averaged gradient) would double the step and fail the check.
The VAE's posterior noise, which differs between the runs, is switched off here, so the check is
tight; every registered model is trained under the strategy in ``test_contract.py``.
"""

from contract import run_with_two_cpu_replicas


def test_fit_under_mirrored_strategy_matches_single_device_training():
    printed = run_with_two_cpu_replicas(
        """
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
        mirrored, loss_mirrored, replicas = one_step(strategy)
        print("replicas", replicas)
        print("relative_step_difference", np.linalg.norm(mirrored - single) / np.linalg.norm(single))
        print("relative_loss_difference", abs(loss_mirrored - loss_single) / abs(loss_single))
        """
    )
    assert printed["replicas"] == "2"
    assert float(printed["relative_step_difference"]) < 0.05  # a summed gradient would give 1.0
    assert float(printed["relative_loss_difference"]) < 0.02
