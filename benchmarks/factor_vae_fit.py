"""Benchmark: one ``fit`` epoch of ``kgen.models.FactorVAE`` against a bare two-optimizer TensorFlow loop.

Both sides train the same networks (the default conv encoder/decoder and the 6×1000 LeakyReLU
discriminator of ``kgen.layers.networks``, built twice; the bare copy starts from the kgen
model's weights) on the same ``tf.data.Dataset`` with the same math and optimizers. Each
batch of ``2B`` images is split in halves (kgen's FactorVAE does the same):

    first half:  encoder → z = μ + σ·ε → decoder; VAE loss = NLL + KL + γ · mean(D(z)₀ − D(z)₁)
    second half: encoder → z' → permute each column across the batch → z̃
    discriminator loss = −½ mean[log softmax(D(z))₀ + log softmax(D(z̃))₁]  (z, z̃ held fixed)
    one Adam step per player (VAE Adam(1e-4, 0.9, 0.999), discriminator Adam(1e-4, 0.5, 0.9))

* **kgen**: ``model.fit(dataset, epochs=1, verbose=0, shuffle=False)`` per timed epoch.
* **bare FactorVAE**: one ``tf.function`` step (persistent tape, two ``apply_gradients``),
  called from ``for x in dataset``; noise from stateless RNG with a step counter.
* **bare β-VAE half**: the VAE part alone (first half of the batch, no discriminator), to show
  what the second player costs.

Configurations run interleaved (``_timing.interleaved``) after one warm-up epoch each; the
table gives the median ms/step on the wall and CPU clocks and the ratios kgen / bare FactorVAE
(target ≤ 1.10) and bare FactorVAE / bare VAE half.

Before timing, the script checks that both sides compute the same losses on the same weights
with ε = 0 and without the permutation.

Run ``python benchmarks/factor_vae_fit.py`` (64×64 dSprites, batch 128 = the paper's 64 per VAE
step, latent_dim 10, γ = 35, 6 timed epochs × 10 steps) or ``--quick`` for a smoke run.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _timing  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from vae_fit import make_dataset, make_images  # noqa: E402

TARGET_RATIO = 1.10


class BareFactorVAE:
    """The FactorVAE step written directly in TensorFlow, on copies of kgen's networks."""

    def __init__(self, model, gamma, jit_compile, with_discriminator=True):
        import keras

        from kgen.layers.networks import default_decoder, default_encoder, tc_discriminator

        self.latent_dim, self.gamma = model.latent_dim, float(gamma)
        self.encoder = default_encoder(model.input_shape, 2 * model.latent_dim)
        self.decoder = default_decoder(model.latent_dim, model.input_shape)
        self.discriminator = tc_discriminator(model.latent_dim)
        for mine, theirs in ((self.encoder, model.encoder), (self.decoder, model.decoder),
                             (self.discriminator, model.discriminator)):
            mine.set_weights(theirs.get_weights())
        self.vae_variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        self.discriminator_variables = self.discriminator.trainable_variables
        self.vae_optimizer = keras.optimizers.Adam(1e-4, beta_1=0.9, beta_2=0.999)
        self.discriminator_optimizer = keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)
        self.vae_optimizer.build(self.vae_variables)
        self.discriminator_optimizer.build(self.discriminator_variables)
        self.counter = tf.Variable(0, dtype=tf.int32, trainable=False)
        step = self._train_step if with_discriminator else self._vae_step
        self.train_step = tf.function(step, jit_compile=jit_compile)

    def _encode(self, x, eps):
        params = self.encoder(x, training=True)
        mean, log_var = params[:, : self.latent_dim], params[:, self.latent_dim :]
        return mean, log_var, mean + tf.exp(0.5 * log_var) * eps

    def vae_terms(self, x, eps, with_tc=True):
        mean, log_var, z = self._encode(x, eps)
        logits = self.decoder(z, training=True)
        xent = tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
        reconstruction = tf.reduce_mean(tf.reduce_sum(xent, axis=[1, 2, 3]))
        kl = tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - log_var - 1.0, axis=1))
        loss = reconstruction + kl
        tc = tf.constant(0.0)
        if with_tc:
            logits_d = self.discriminator(z)
            tc = tf.reduce_mean(logits_d[:, 0] - logits_d[:, 1])
            loss = loss + self.gamma * tc
        return loss, z, tc

    def discriminator_loss(self, z, z_permuted):
        joint = tf.nn.log_softmax(self.discriminator(tf.stop_gradient(z)))
        permuted = tf.nn.log_softmax(self.discriminator(z_permuted))
        return tf.reduce_mean(-0.5 * (joint[:, 0] + permuted[:, 1]))

    def _noise(self, shape, salt):
        return tf.random.stateless_normal(shape, seed=tf.stack([salt, self.counter]))

    def _train_step(self, x):
        self.counter.assign_add(1)
        half = tf.shape(x)[0] // 2
        x_vae, x_other = x[:half], x[half : 2 * half]
        shape = [half, self.latent_dim]
        with tf.GradientTape(persistent=True) as tape:
            vae_loss, z, _ = self.vae_terms(x_vae, self._noise(shape, 0))
            _, _, z_other = self._encode(x_other, self._noise(shape, 1))
            keys = tf.random.stateless_uniform(shape, seed=tf.stack([2, self.counter]))
            z_permuted = tf.experimental.numpy.take_along_axis(
                tf.stop_gradient(z_other), tf.argsort(keys, axis=0), axis=0)
            d_loss = self.discriminator_loss(z, z_permuted)
        self.vae_optimizer.apply_gradients(zip(tape.gradient(vae_loss, self.vae_variables), self.vae_variables))
        self.discriminator_optimizer.apply_gradients(
            zip(tape.gradient(d_loss, self.discriminator_variables), self.discriminator_variables))
        return vae_loss

    def _vae_step(self, x):
        self.counter.assign_add(1)
        half = tf.shape(x)[0] // 2
        with tf.GradientTape() as tape:
            loss, _, _ = self.vae_terms(x[:half], self._noise([half, self.latent_dim], 0), with_tc=False)
        self.vae_optimizer.apply_gradients(zip(tape.gradient(loss, self.vae_variables), self.vae_variables))
        return loss


def check_same_math(model, bare, x):
    """kgen's and the bare losses agree on the same weights with ε = 0 and an unpermuted z̃ = z."""
    mean, log_var = model.posterior_params(x)
    outputs = {"mean": mean, "log_var": log_var, "z": mean, "params": model.decoder(mean)}
    ours = model.loss_terms(x, outputs)
    ours_d = model.discriminator_terms(mean, mean)
    loss, z, tc = bare.vae_terms(x, tf.zeros_like(mean))
    pairs = [("loss", ours["loss"], loss), ("tc", ours["tc"], tc),
             ("discriminator_loss", ours_d["discriminator_loss"], bare.discriminator_loss(z, z))]
    for name, a, b in pairs:
        if not np.isclose(float(a), float(b), rtol=1e-4, atol=1e-4):
            raise AssertionError(f"kgen {name} {float(a):.6f} != bare {name} {float(b):.6f}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="train steps per timed epoch")
    parser.add_argument("--epochs", type=int, default=6, help="timed epochs per configuration")
    parser.add_argument("--batch-size", type=int, default=128, help="images per step (half per player)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--gamma", type=float, default=35.0)
    parser.add_argument("--xla", choices=("off", "on"), default="off", help="jit_compile of both sides")
    parser.add_argument("--quick", action="store_true", help="smoke run: 16x16, batch 16, 3 steps, 2 epochs")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.epochs, args.batch_size, args.image_size = 3, 2, 16, 16
    return args


def run(quick=False, argv=None):
    """Run the benchmark (``argv`` as on the command line; ``quick`` adds ``--quick``), print
    its table and return its comparison as a ``_timing.row`` (kgen / bare FactorVAE, per step)."""
    args = parse_args([*(argv or []), *(["--quick"] if quick else [])])
    import keras

    from kgen.models import FactorVAE

    jit = args.xla == "on"
    print("factor_vae_fit: kgen FactorVAE.fit vs a bare two-optimizer tf.function loop, one epoch")
    print(f"machine: {_timing.machine_summary()}")
    shape = (args.image_size, args.image_size, 1)
    images, source = make_images(args.steps * args.batch_size, args.image_size)
    dataset = make_dataset(images, args.batch_size)
    print(f"problem: {source}; batch {args.batch_size} ({args.batch_size // 2} per player), latent_dim "
          f"{args.latent_dim}, gamma {args.gamma:g}, paper Adam settings, XLA {args.xla}; "
          f"{args.epochs} timed epochs x {args.steps} steps (+1 warm-up epoch)")
    keras.utils.set_random_seed(0)
    model = FactorVAE(shape, latent_dim=args.latent_dim, gamma=args.gamma, seed=0)
    bare = BareFactorVAE(model, args.gamma, jit)
    bare_vae = BareFactorVAE(model, args.gamma, jit, with_discriminator=False)
    check_same_math(model, bare, images[: args.batch_size // 2])
    print("check: kgen and bare losses agree on the same weights (eps = 0, no permutation)")
    model.compile(jit_compile=jit)
    runs = {
        "kgen FactorVAE fit": lambda: model.fit(dataset, epochs=1, verbose=0, shuffle=False),
        "bare FactorVAE loop": lambda: _timing.bare_epoch(bare.train_step, dataset),
        "bare VAE half (no discriminator)": lambda: _timing.bare_epoch(bare_vae.train_step, dataset),
    }
    for run_once in runs.values():
        run_once()
    times = _timing.interleaved(runs, args.epochs)
    med = {clock: {name: 1000 * _timing.median(getattr(t, clock)) / args.steps for name, t in times.items()}
           for clock in ("wall", "cpu")}
    reference = "bare FactorVAE loop"
    rows = [[name, f"{med['wall'][name]:.1f}", f"{med['cpu'][name]:.1f}",
             f"{med['wall'][name] / med['wall'][reference]:.2f}x / {med['cpu'][name] / med['cpu'][reference]:.2f}x"]
            for name in runs]
    print()
    print(_timing.table(["configuration", "wall ms/step", "CPU ms/step", "vs bare FactorVAE (wall/CPU)"], rows))
    ratio_w = med["wall"]["kgen FactorVAE fit"] / med["wall"][reference]
    ratio_c = med["cpu"]["kgen FactorVAE fit"] / med["cpu"][reference]
    verdict = "within" if ratio_w <= TARGET_RATIO else "OVER"
    print(f"\nkgen / bare FactorVAE = {ratio_w:.2f}x wall, {ratio_c:.2f}x CPU ({verdict} the {TARGET_RATIO:.2f}x target)")
    second = med["cpu"][reference] / med["cpu"]["bare VAE half (no discriminator)"]
    print(f"bare FactorVAE / bare VAE half = {second:.2f}x CPU: the cost of the second player "
          "(the discriminator's forward/backward passes and the second encoder pass)")
    load = _timing.load_average()
    if load is not None:
        print(f"1-minute load average at the end: {load:.2f}")
    kgen = "kgen FactorVAE fit"
    return [_timing.row("factor_vae_fit", "FactorVAE fit vs bare two-optimizer loop (per step)",
                        (med["wall"][kgen] / 1e3, med["cpu"][kgen] / 1e3),
                        (med["wall"][reference] / 1e3, med["cpu"][reference] / 1e3), jit, TARGET_RATIO)]


def main(argv=None):
    run(argv=sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
