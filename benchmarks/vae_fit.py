"""Benchmark: one ``fit`` epoch of ``kgen.models.BetaVAE`` against a bare TensorFlow training loop.

Both sides train the same networks (``kgen.layers.networks.default_encoder/default_decoder``,
built twice with identical architecture; the bare copy starts from the kgen model's initial
weights) on the same data with the same math and the same optimizer:

    encoder(x) → split (μ, log σ²) → z = μ + σ·ε → decoder(z) = logits
    loss = mean_batch[ Σ_pixels sigmoid_xent(logits, x) + β · ½ Σ_j (μ² + σ² − log σ² − 1) ]
    Adam step (``keras.optimizers.Adam``, same learning rate)

* **kgen**: ``model.compile(optimizer=Adam(lr), jit_compile=...)`` then
  ``model.fit(dataset, epochs=1, verbose=0, shuffle=False)`` per timed epoch (Keras caches the
  compiled train function, so later ``fit`` calls do not retrace). The time includes
  everything ``fit`` does in an epoch: kgen's input check, Keras' epoch iterator, callbacks,
  metric trackers.
* **bare**: one ``tf.function(jit_compile=...)`` train step (tape, loss, ``apply_gradients``),
  called from a Python ``for x in dataset`` loop; ε from ``tf.random.stateless_normal`` with a
  step counter as seed; the epoch ends by reading the loss back (``float``).

Both iterate the very same ``tf.data.Dataset``: the in-memory images,
``from_tensor_slices(x).batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)``, unshuffled,
so data handling is identical and negligible. Each configuration (kgen/bare × XLA off/on) first
runs one warm-up epoch (tracing and, with XLA, compiling), then ``--epochs`` timed epochs of
``--steps`` steps, interleaved round-robin across the four configurations with a rotating order.
The table reports the median over epochs of epoch wall time / steps, its range, and the median
process CPU time / step (all threads of this process): on a shared machine wall time swings
with other people's jobs, CPU time much less, so the ratios are given on both clocks.

Before timing, the script checks that both sides compute the same loss on the same weights
(with ε = 0), so the comparison is between two implementations of one computation.

Run ``python benchmarks/vae_fit.py`` (defaults: 64×64×1 dSprites, batch 64, latent_dim 10,
β = 4, Adam(1e-4), 8 epochs × 20 steps), or ``--quick`` for a smoke run. ``--xla on|off`` runs
one setting only.
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

TARGET_RATIO = 1.10


# ----------------------------------------------------------------------------------------- data
def make_images(n, size, seed=0):
    """``n`` binary ``size``×``size``×1 float32 images: dSprites if kgen has it, else ellipses."""
    try:
        from kgen.data import DSprites
    except ImportError:
        return random_blobs(n, size, seed), "random binary ellipses (kgen.data.DSprites not found)"
    images, _ = DSprites(resolution=size).sample(n, seed=seed)
    return images.astype(
        np.float32
    ), f"kgen.data.DSprites(resolution={size}).sample({n}, seed={seed})"


def random_blobs(n, size, seed=0):
    """One axis-aligned filled ellipse per image, at a random place and size; values in {0, 1}."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    cy, cx = rng.uniform(0.2, 0.8, (2, n, 1, 1)) * size
    ry, rx = rng.uniform(0.05, 0.2, (2, n, 1, 1)) * size
    inside = ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1.0
    return inside.astype(np.float32)[..., None]


def make_dataset(images, batch_size):
    """The one input pipeline both sides iterate: in-memory, unshuffled, full batches only."""
    return (
        tf.data.Dataset.from_tensor_slices(images)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


# ------------------------------------------------------------------------------------ kgen side
def make_kgen(image_shape, latent_dim, beta, learning_rate, jit_compile, seed=0):
    import keras

    from kgen.models import BetaVAE

    model = BetaVAE(image_shape, latent_dim=latent_dim, beta=beta, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=jit_compile)
    return model


# ------------------------------------------------------------------------------------ bare side
class BareVAE:
    """The same β-VAE step written directly in TensorFlow: one ``tf.function``, no Keras fit."""

    def __init__(
        self, image_shape, latent_dim, beta, learning_rate, jit_compile, weights_from=None
    ):
        import keras

        from kgen.layers.networks import default_decoder, default_encoder

        self.latent_dim = latent_dim
        self.beta = float(beta)
        self.encoder = default_encoder(image_shape, 2 * latent_dim)
        self.decoder = default_decoder(latent_dim, image_shape)
        if weights_from is not None:
            self.encoder.set_weights(weights_from.encoder.get_weights())
            self.decoder.set_weights(weights_from.decoder.get_weights())
        self.variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self.variables)
        self.counter = tf.Variable(0, dtype=tf.int32, trainable=False)
        self.train_step = tf.function(self._train_step, jit_compile=jit_compile)

    def loss_terms(self, x, eps):
        params = self.encoder(x, training=True)
        mean, log_var = params[:, : self.latent_dim], params[:, self.latent_dim :]
        z = mean + tf.exp(0.5 * log_var) * eps
        logits = self.decoder(z, training=True)
        xent = tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
        reconstruction = tf.reduce_mean(tf.reduce_sum(xent, axis=[1, 2, 3]))
        kl = tf.reduce_mean(
            0.5 * tf.reduce_sum(tf.square(mean) + tf.exp(log_var) - log_var - 1.0, axis=1)
        )
        return reconstruction + self.beta * kl, reconstruction, kl

    def _train_step(self, x):
        self.counter.assign_add(1)
        eps = tf.random.stateless_normal(
            [tf.shape(x)[0], self.latent_dim], seed=tf.stack([0, self.counter])
        )
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self.loss_terms(x, eps)
        gradients = tape.gradient(loss, self.variables)
        self.optimizer.apply_gradients(zip(gradients, self.variables))
        return loss


def check_same_math(model, bare, x):
    """kgen's loss terms and the bare loop's agree on the same weights with ε = 0 (z = μ)."""
    mean, log_var = model.posterior_params(x)
    terms = model.loss_terms(
        x, {"mean": mean, "log_var": log_var, "z": mean, "params": model.decoder(mean)}
    )
    bare_terms = bare.loss_terms(x, tf.zeros_like(mean))
    for name, ours, theirs in zip(
        ("loss", "reconstruction", "kl"),
        bare_terms,
        (terms["loss"], terms["reconstruction"], terms["kl"]),
    ):
        ours, theirs = float(ours), float(theirs)
        if not np.isclose(ours, theirs, rtol=1e-4, atol=1e-4):
            raise AssertionError(f"bare {name} {ours:.6f} != kgen {name} {theirs:.6f}")


# ----------------------------------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="train steps per timed epoch")
    parser.add_argument("--epochs", type=int, default=8, help="timed epochs per configuration")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=64, help="H = W of the 1-channel images")
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--beta", type=float, default=4.0)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument(
        "--xla",
        choices=("both", "off", "on"),
        default="both",
        help="which jit_compile settings to run",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 16x16 images, batch 8, 3 steps, 2 epochs"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.epochs, args.batch_size, args.image_size = 3, 2, 8, 16
    return args


def run(quick=False, argv=None):
    """Run the benchmark (``argv`` as on the command line; ``quick`` adds ``--quick``), print
    its table and return its comparisons as ``_timing.row`` dicts (kgen / bare, per step)."""
    args = parse_args([*(argv or []), *(["--quick"] if quick else [])])
    import kgen
    from kgen.backend import default_jit_compile

    print("vae_fit: kgen BetaVAE.fit vs a bare tf.function loop, one epoch")
    print(f"machine: {_timing.machine_summary()}")
    shape = (args.image_size, args.image_size, 1)
    images, source = make_images(args.steps * args.batch_size, args.image_size)
    dataset = make_dataset(images, args.batch_size)
    print(
        f"problem: {source}; images {shape}, batch {args.batch_size}, latent_dim "
        f"{args.latent_dim}, beta {args.beta:g}, Adam({args.learning_rate:g}); "
        f"{args.epochs} timed epochs x {args.steps} steps per configuration (+1 warm-up epoch)"
    )
    print(
        "data: both sides iterate the same tf.data.Dataset (in memory, unshuffled, "
        "batch(drop_remainder=True), prefetch)"
    )
    print(f"kgen {kgen.__version__}: default_jit_compile() = {default_jit_compile()!r}")

    settings = {"both": (False, True), "off": (False,), "on": (True,)}[args.xla]
    runs = {}
    for jit in settings:
        model = make_kgen(shape, args.latent_dim, args.beta, args.learning_rate, jit)
        bare = BareVAE(
            shape, args.latent_dim, args.beta, args.learning_rate, jit, weights_from=model
        )
        check_same_math(model, bare, images[: args.batch_size])
        runs[("kgen", jit)] = lambda model=model: model.fit(
            dataset, epochs=1, verbose=0, shuffle=False
        )
        runs[("bare", jit)] = lambda bare=bare: _timing.bare_epoch(bare.train_step, dataset)

    print("check: kgen and bare losses agree on the same weights (eps = 0)")
    for run in runs.values():  # warm-up: traces, and with XLA compiles, the train step
        run()
    times = _timing.interleaved(runs, args.epochs)
    return report(times, args.steps, settings)


def main(argv=None):
    run(argv=sys.argv[1:] if argv is None else argv)


def report(times, steps, settings):
    """Print the table and the verdicts; times are per epoch, reported per step (ms). Returns
    one ``_timing.row`` per XLA setting: kgen fit against the bare loop at the same setting."""
    per_step = {
        clock: {key: [1000.0 * s / steps for s in getattr(t, clock)] for key, t in times.items()}
        for clock in ("wall", "cpu")
    }
    med = {clock: {key: _timing.median(v) for key, v in d.items()} for clock, d in per_step.items()}
    fastest = {clock: min(med[clock][("bare", jit)] for jit in settings) for clock in med}

    def ratios(key, clock):
        jit = key[1]
        return med[clock][key] / med[clock][("bare", jit)], med[clock][key] / fastest[clock]

    rows = []
    for side in ("kgen", "bare"):
        for jit in settings:
            key = (side, jit)
            wall = per_step["wall"][key]
            same_w, fast_w = ratios(key, "wall")
            same_c, fast_c = ratios(key, "cpu")
            rows.append(
                [
                    "kgen fit" if side == "kgen" else "bare loop",
                    "on" if jit else "off",
                    f"{med['wall'][key]:.1f}",
                    f"{min(wall):.0f}-{max(wall):.0f}",
                    f"{med['cpu'][key]:.1f}",
                    f"{same_w:.2f}x / {same_c:.2f}x",
                    f"{fast_w:.2f}x / {fast_c:.2f}x",
                ]
            )
    print()
    print(
        _timing.table(
            [
                "configuration",
                "XLA",
                "wall ms/step",
                "wall range",
                "CPU ms/step",
                "vs bare same XLA (wall/CPU)",
                "vs fastest bare (wall/CPU)",
            ],
            rows,
        )
    )
    print("(medians over timed epochs of epoch time / steps; CPU = process CPU time, all threads)")
    print()
    for jit in settings:
        key = ("kgen", jit)
        same_w, fast_w = ratios(key, "wall")
        same_c, fast_c = ratios(key, "cpu")
        verdict = "within" if fast_w <= TARGET_RATIO else "OVER"
        print(
            f"XLA {'on ' if jit else 'off'}: kgen / fastest bare = {fast_w:.2f}x wall, "
            f"{fast_c:.2f}x CPU ({verdict} the {TARGET_RATIO:.2f}x target); "
            f"kgen / bare at the same XLA = {same_w:.2f}x wall, {same_c:.2f}x CPU"
        )
    if len(settings) == 2:
        off, on = med["wall"][("kgen", False)], med["wall"][("kgen", True)]
        off_c, on_c = med["cpu"][("kgen", False)], med["cpu"][("kgen", True)]
        faster = "off" if off <= on else "on"
        agree = (off_c <= on_c) == (off <= on)
        print(
            f"kgen is faster with XLA {faster} on this machine: {off:.1f} ms/step off vs "
            f"{on:.1f} on (on/off = {on / off:.2f}x wall, {on_c / off_c:.2f}x CPU"
            f"{'' if agree else '; CPU time disagrees'}) -> default_jit_compile() "
            f"should return {faster == 'on'} on this machine"
        )
    load = _timing.load_average()
    if load is not None:
        print(f"1-minute load average at the end: {load:.2f}")
    return [
        _timing.row("vae_fit", "BetaVAE fit vs bare tf.function loop (per step)",
                    (med["wall"][("kgen", jit)] / 1e3, med["cpu"][("kgen", jit)] / 1e3),
                    (med["wall"][("bare", jit)] / 1e3, med["cpu"][("bare", jit)] / 1e3), jit, TARGET_RATIO)
        for jit in settings
    ]


if __name__ == "__main__":
    main()
