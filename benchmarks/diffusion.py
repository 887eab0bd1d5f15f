"""Benchmark: the generative learning trilemma in one table, and DDPM's and DDGAN's ``fit``
against bare TensorFlow loops.

**Sampling** (Xiao, Kreis & Vahdat 2022, "Tackling the Generative Learning Trilemma with
Denoising Diffusion GANs", Table 1 makes the same comparison on CIFAR-10). For ``--samples``
images of one resolution (default 64 of 8×8×1, the size of the digits), in one process,
interleaved round-robin after a warm-up (``_timing.interleaved``):

* DDGAN, T = 4: ``DDGAN(shape).sample(n)``, 4 generator calls;
* DDPM, ``DDPM(shape).sample(n)``: ancestral sampling over T = 1000 steps (Ho et al. 2020,
  Algorithm 2), and ``sample(n, num_steps=S)``: deterministic DDIM on S = 50 and S = 4 evenly
  spaced steps (Song, Meng & Ermon 2021);
* NCSN, its default sampler: ``NCSN(shape).sample(n)``, annealed Langevin dynamics over
  L = 10 levels × 100 steps + 1 denoising step (Song & Ermon 2019).

Each with its default networks and its default ``jit_compile`` for sampling (off for DDPM and
DDGAN, on for NCSN; ``--xla`` times DDPM and DDGAN with both). Speed does not depend on the
weights, so these models are untrained. The table gives network evaluations per sample, the
median wall and CPU time of one ``sample()`` call (until ``.numpy()`` returns) and both as
ratios to DDGAN's. The issue's target: DDGAN ≥ 200× faster than DDPM-1000.

**Quality** (``--quality``): the same samplers on trained models, on the 25-Gaussian grid of
:mod:`kgen.data.toy2d` (``--dataset``), where quality has exact references: the energy distance
to held-out data (next to the data's own, two independent draws) and the mode-coverage report
(modes hit, share of samples within 3σ of a mode; :func:`kgen.metrics.mode_coverage`). The
DDGAN and DDPM recipes are those of the slow tier (``tests/models/test_diffusion_quality.py``,
imported, so that the figures here are the test's), NCSN's that of
``tests/models/test_ncsn_quality.py``. Training takes about 8 minutes on a quiet 2-core
machine (DDGAN 4, DDPM 2, NCSN 1–2).

**fit**: one ``fit`` epoch of ``DDPM`` and of ``DDGAN`` (images of the same resolution, batch
``--batch-size``, the models' default networks and the papers' optimizers) against a bare loop:
one ``tf.function`` train step, called from ``for x in dataset``, doing the same math on copies
of the same networks (started from kgen's weights) with the same optimizers:

* DDPM: t ~ U{0..T−1}, ε ~ N(0, I), x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, the mean of (ε − ε_θ(x_t, t))²,
  one step of Adam(2e-4, global norm 1, EMA 0.9999);
* DDGAN: the discriminator's step (a real pair x_{t−1} ~ q(x_{t−1} | x_0), x_t ~ q(x_t | x_{t−1});
  a generated x_{t−1} ~ q(x_{t−1} | x_t, G(x_t, t, z)); softplus losses; R1 with γ = 0.02 on every
  15th step), then the generator's on fresh noise, then the generator's moving average.

Both sides read the same unshuffled in-memory ``tf.data.Dataset``; a kgen epoch's time is the
whole ``fit`` call. Target: kgen ≤ 1.10× the bare loop. Before timing, the script checks that
the bare losses equal kgen's on the same weights and the same draws.

Run ``python benchmarks/diffusion.py`` (sampling and fit, 3 min on the 2-core machine at load 0–2),
``--quality`` to add the trained models' figures, ``--quick`` for a smoke run.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _timing  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from vae_fit import make_dataset  # noqa: E402

TARGET_SPEED_UP = 200.0
TARGET_FIT_RATIO = 1.10
SAMPLERS = ("DDGAN T=4", "DDPM 1000", "DDPM DDIM 50", "DDPM DDIM 4", "NCSN default")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=8, help="H = W of the 1-channel images")
    parser.add_argument("--samples", type=int, default=64, help="samples per sample() call")
    parser.add_argument("--repeats", type=int, default=3, help="timed sample() calls per sampler")
    parser.add_argument("--batch-size", type=int, default=64, help="fit batch")
    parser.add_argument("--steps", type=int, default=15, help="train steps per timed fit epoch")
    parser.add_argument("--epochs", type=int, default=6, help="timed fit epochs per configuration")
    parser.add_argument("--xla", action="store_true", help="also time DDPM and DDGAN sampling with XLA")
    parser.add_argument("--quality", action="store_true", help="train on 2-D data and report quality")
    parser.add_argument("--dataset", default="25gaussians", choices=("25gaussians", "8gaussians"))
    parser.add_argument("--skip-fit", action="store_true", help="time sampling only")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: DDPM T = 50, NCSN 3 levels x 3 steps, 1 repeat, 3 fit steps "
                             "(options given explicitly keep their values)")
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in {"repeats": 1, "steps": 3, "epochs": 2, "samples": 16}.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    return args


# ------------------------------------------------------------------------------- sampling
def make_samplers(shape, quick, xla):
    """name → (model, sample options): the untrained models whose samplers are timed."""
    import keras

    from kgen.models import DDGAN, DDPM, NCSN

    keras.utils.set_random_seed(0)
    ddgan = DDGAN(shape, seed=0)
    ddpm = DDPM(shape, seed=0, **({"num_timesteps": 50} if quick else {}))
    ncsn = NCSN(shape, seed=0, **({"num_noise_levels": 3} if quick else {}))
    samplers = {
        "DDGAN T=4": (ddgan, {}),
        "DDPM 1000": (ddpm, {}),
        "DDPM DDIM 50": (ddpm, {"num_steps": 10 if quick else 50}),
        "DDPM DDIM 4": (ddpm, {"num_steps": 4}),
        "NCSN default": (ncsn, {"steps_per_level": 3} if quick else {}),
    }
    if xla:
        for name in ("DDGAN T=4", "DDPM 1000", "DDPM DDIM 50", "DDPM DDIM 4"):
            model, options = samplers[name]
            samplers[name + " XLA"] = (model, {**options, "jit_compile": True})
    return samplers


def network_evaluations(model, options):
    """Network calls per sample: T for DDGAN, T or S for DDPM, L·T + 1 for NCSN."""
    if hasattr(model, "network_evaluations"):
        return model.network_evaluations(**{k: v for k, v in options.items() if k == "num_steps"})
    from kgen.models.ncsn import PAPER_STEPS_PER_LEVEL

    return len(model.sigmas) * options.get("steps_per_level", PAPER_STEPS_PER_LEVEL) + 1


def time_sampling(samplers, n, repeats):
    runs = {name: (lambda model=model, options=options: np.asarray(model.sample(n, seed=0, **options)))
            for name, (model, options) in samplers.items()}
    _timing.interleaved(runs, 1)  # tracing (and compiling)
    return _timing.interleaved(runs, repeats)


def sampling_rows(samplers, times, quality):
    reference = {clock: _timing.median(getattr(times["DDGAN T=4"], clock)) for clock in ("wall", "cpu")}
    rows = []
    for name, (model, options) in samplers.items():
        wall, cpu = (_timing.median(getattr(times[name], clock)) for clock in ("wall", "cpu"))
        row = [name, network_evaluations(model, options), f"{wall:.3f}", f"{wall / reference['wall']:.1f}x",
               f"{cpu:.3f}", f"{cpu / reference['cpu']:.1f}x"]
        figures = quality.get(name.removesuffix(" XLA")) if quality else None
        if quality:
            row += (["-"] * 3 if figures is None else
                    [f"{figures['energy_distance']:.4f}", f"{figures['modes_hit']}/{figures['num_modes']}",
                     f"{100 * figures['high_quality_share']:.1f}%"])
        rows.append(row)
    return rows


# -------------------------------------------------------------------------------- quality
def quality_figures(dataset):
    """name → figures of the trained models' 2000 samples, and the data's own figures."""
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "models"))
    sys.path.insert(0, os.path.join(HERE, "..", "tests"))
    import test_diffusion_quality as recipes
    import test_ncsn_quality

    ddgan, ddpm = recipes.train_ddgan(dataset), recipes.train_ddpm(dataset)
    samples = {
        "DDGAN T=4": recipes.draw(ddgan),
        "DDPM 1000": recipes.draw(ddpm),
        "DDPM DDIM 50": recipes.draw(ddpm, num_steps=50),
        "DDPM DDIM 4": recipes.draw(ddpm, num_steps=4),
        "NCSN default": test_ncsn_quality.train(dataset)[0],
    }
    figures = {name: recipes.figures(dataset, x) for name, x in samples.items()}
    return figures, recipes.figures(dataset, recipes.held_out(dataset, seed=2))


# -------------------------------------------------------------------------------- the fit
def _clone(network):
    import keras

    clone = keras.models.clone_model(network)
    clone.set_weights(network.get_weights())
    return clone


def _table(values):
    return tf.constant(np.asarray(values, "float32"))


def _at(table, t):
    """table[t] shaped to broadcast over images (batch, 1, 1, 1)."""
    return tf.reshape(tf.gather(table, t), (-1, 1, 1, 1))


class BareDDPM:
    """DDPM's training step written directly in TensorFlow, on a copy of kgen's ε-network."""

    def __init__(self, model, jit_compile):
        from kgen.models.ddpm import paper_ddpm_optimizer

        self.network = _clone(model.network)
        self.num_timesteps = model.num_timesteps
        self.sqrt_ab = _table(model.diffusion._tables["sqrt_alphas_cumprod"])
        self.sqrt_1mab = _table(model.diffusion._tables["sqrt_one_minus_alphas_cumprod"])
        self.optimizer = paper_ddpm_optimizer()
        self.optimizer.build(self.network.trainable_variables)
        self.counter = tf.Variable(0, dtype=tf.int32, trainable=False)
        self.train_step = tf.function(self._train_step, jit_compile=jit_compile)

    def loss(self, x, t, noise):
        x0 = 2.0 * x - 1.0
        x_t = _at(self.sqrt_ab, t) * x0 + _at(self.sqrt_1mab, t) * noise
        eps = self.network([x_t, tf.cast(t[:, None], tf.float32)], training=True)
        return tf.reduce_mean(tf.square(noise - eps))

    def _train_step(self, x):
        self.counter.assign_add(1)
        seed = tf.stack([0, self.counter])
        t = tf.random.stateless_uniform((tf.shape(x)[0],), seed, 0, self.num_timesteps, dtype=tf.int32)
        noise = tf.random.stateless_normal(tf.shape(x), seed + [1, 0])
        with tf.GradientTape() as tape:
            loss = self.loss(x, t, noise)
        variables = self.network.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return loss


class BareDDGAN:
    """DDGAN's training step (discriminator, generator, moving average) written directly in
    TensorFlow, on copies of kgen's generator and discriminator."""

    def __init__(self, model, jit_compile):
        from kgen.models.ddgan import paper_discriminator_optimizer, paper_generator_optimizer

        self.generator, self.discriminator = _clone(model.generator), _clone(model.discriminator)
        self.ema_generator = _clone(model.generator)
        self.num_timesteps, self.latent_dim = model.num_timesteps, model.latent_dim
        self.gamma, self.interval, self.decay = model.r1_gamma, model.lazy_r1_interval, model.ema_decay
        tables = model.diffusion._tables
        self.beta = _table(tables["betas"])
        self.ab_prev = _table(tables["alphas_cumprod_prev"])
        self.sqrt_ab, self.sqrt_1mab = _table(tables["sqrt_alphas_cumprod"]), _table(tables["sqrt_one_minus_alphas_cumprod"])
        self.coef1, self.coef2 = _table(tables["posterior_mean_coef1"]), _table(tables["posterior_mean_coef2"])
        self.log_var = _table(tables["posterior_log_variance_clipped"])
        self.g_optimizer, self.d_optimizer = paper_generator_optimizer(), paper_discriminator_optimizer()
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.counter = tf.Variable(0, dtype=tf.int32, trainable=False)
        self.train_step = tf.function(self._train_step, jit_compile=jit_compile)

    def fake(self, x_t, t, z, noise):
        """x_{t−1} ~ q(x_{t−1} | x_t, x̂_0 = G(x_t, t, z)); no noise at t = 0."""
        x0 = self.generator([x_t, tf.cast(t[:, None], tf.float32), z], training=True)
        mean = _at(self.coef1, t) * x0 + _at(self.coef2, t) * x_t
        noisy = tf.reshape(tf.cast(t > 0, tf.float32), (-1, 1, 1, 1))
        return mean + noisy * tf.exp(0.5 * _at(self.log_var, t)) * noise

    def discriminate(self, x_prev, x_t, t):
        return tf.reshape(self.discriminator([x_prev, x_t, tf.cast(t[:, None], tf.float32)], training=True), (-1,))

    def discriminator_loss(self, x0, t, draws, with_r1):
        """The discriminator's objective on the real pair and one generated x_{t−1}."""
        x_prev = tf.sqrt(_at(self.ab_prev, t)) * x0 + tf.sqrt(1.0 - _at(self.ab_prev, t)) * draws["prev"]
        x_t = tf.sqrt(1.0 - _at(self.beta, t)) * x_prev + tf.sqrt(_at(self.beta, t)) * draws["t"]
        fake = tf.stop_gradient(self.fake(x_t, t, draws["z"], draws["posterior"]))
        loss = tf.reduce_mean(tf.nn.softplus(self.discriminate(fake, x_t, t)))

        def penalised():
            with tf.GradientTape() as tape:
                tape.watch(x_prev)
                logits = self.discriminate(x_prev, x_t, t)
                total = tf.reduce_sum(logits)
            gradient = tape.gradient(total, x_prev)
            r1 = tf.reduce_mean(tf.reduce_sum(tf.square(gradient), axis=[1, 2, 3]))
            return tf.reduce_mean(tf.nn.softplus(-logits)) + 0.5 * self.gamma * r1

        def plain():
            return tf.reduce_mean(tf.nn.softplus(-self.discriminate(x_prev, x_t, t)))

        return loss + tf.cond(with_r1, penalised, plain)

    def generator_loss(self, x0, t, draws):
        x_t = _at(self.sqrt_ab, t) * x0 + _at(self.sqrt_1mab, t) * draws["t"]
        fake = self.fake(x_t, t, draws["z"], draws["posterior"])
        return tf.reduce_mean(tf.nn.softplus(-self.discriminate(fake, x_t, t)))

    def _draws(self, x, salt):
        seed = tf.stack([salt, self.counter])
        batch = tf.shape(x)[0]
        t = tf.random.stateless_uniform((batch,), seed, 0, self.num_timesteps, dtype=tf.int32)
        draws = {name: tf.random.stateless_normal(tf.shape(x), seed + [0, k + 1])
                 for k, name in enumerate(("prev", "t", "posterior"))}
        draws["z"] = tf.random.stateless_normal((batch, self.latent_dim), seed + [0, 4])
        return t, draws

    def _train_step(self, x):
        x0 = 2.0 * x - 1.0
        with_r1 = tf.equal(self.d_optimizer.iterations % self.interval, 0)
        self.counter.assign_add(1)
        t, draws = self._draws(x, 0)
        with tf.GradientTape() as tape:
            d_loss = self.discriminator_loss(x0, t, draws, with_r1)
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(d_loss, variables), variables)
        t, draws = self._draws(x, 1)
        with tf.GradientTape() as tape:
            g_loss = self.generator_loss(x0, t, draws)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(g_loss, variables), variables)
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(self.decay * average + (1.0 - self.decay) * weight)
        return d_loss


def check_same_math(ddpm, bare_ddpm, ddgan, bare_ddgan, x):
    """The bare losses equal kgen's on the same weights and the same draws: DDPM's simple loss,
    DDGAN's generator loss and its discriminator loss with and without R1."""
    from keras import ops

    rng = np.random.default_rng(0)
    t = tf.constant(rng.integers(0, ddpm.num_timesteps, len(x)), tf.int32)
    noise = tf.constant(rng.standard_normal(x.shape), tf.float32)
    x_t = ddpm.diffusion.q_sample(ddpm.space.encode(x), t, noise)
    ours = ops.mean(ops.square(noise - ddpm.predict_noise(x_t, t, training=True)))
    pairs = [("DDPM loss", ours, bare_ddpm.loss(x, t, noise))]

    t = tf.constant(rng.integers(0, ddgan.num_timesteps, len(x)), tf.int32)
    draws = {name: tf.constant(rng.standard_normal(x.shape), tf.float32) for name in ("prev", "t", "posterior")}
    draws["z"] = tf.constant(rng.standard_normal((len(x), ddgan.latent_dim)), tf.float32)
    x0 = ddgan.space.encode(x)
    x_t = ddgan.diffusion.q_sample(x0, t, draws["t"])
    fake = ddgan.reverse_step(x_t, t, draws["z"], draws["posterior"], training=True)
    ours = ops.mean(ops.softplus(-ddgan.discriminate(fake, x_t, t, training=True)))
    pairs.append(("DDGAN generator loss", ours, bare_ddgan.generator_loss(x0, t, draws)))
    # The discriminator's real pair, generated x_{t−1} and R1, from kgen's own pieces.
    shape = (-1, 1, 1, 1)
    alpha_bar_prev = ops.reshape(ops.take(ddgan.diffusion.alphas_cumprod_prev, t), shape)
    beta = ops.reshape(ops.take(ddgan.diffusion.betas, t), shape)
    x_prev = ops.sqrt(alpha_bar_prev) * x0 + ops.sqrt(1.0 - alpha_bar_prev) * draws["prev"]
    x_t = ops.sqrt(1.0 - beta) * x_prev + ops.sqrt(beta) * draws["t"]
    fake = ddgan.reverse_step(x_t, t, draws["z"], draws["posterior"], training=True)
    fake_term = ops.mean(ops.softplus(ddgan.discriminate(fake, x_t, t, training=True)))
    for with_r1 in (False, True):
        logits, r1 = ddgan._real_logits_and_r1(x_prev, x_t, t, ops.convert_to_tensor(with_r1), True)
        ours = fake_term + ops.mean(ops.softplus(-logits)) + 0.5 * ddgan.r1_gamma * float(with_r1) * r1
        pairs.append((f"DDGAN discriminator loss (R1 {'on' if with_r1 else 'off'})", ours,
                      bare_ddgan.discriminator_loss(x0, t, draws, tf.constant(with_r1))))
    for name, a, b in pairs:
        if not np.isclose(float(a), float(b), rtol=1e-4, atol=1e-5):
            raise AssertionError(f"kgen {name} {float(a):.6f} != bare {float(b):.6f}")


def time_fit(args, shape):
    import keras

    from kgen.models import DDGAN, DDPM

    images = np.random.default_rng(0).random((args.steps * args.batch_size, *shape)).astype("float32")
    dataset = make_dataset(images, args.batch_size)
    keras.utils.set_random_seed(0)
    ddpm, ddgan = DDPM(shape, seed=0), DDGAN(shape, seed=0)
    bare_ddpm, bare_ddgan = BareDDPM(ddpm, False), BareDDGAN(ddgan, False)
    check_same_math(ddpm, bare_ddpm, ddgan, bare_ddgan, images[:8])
    print("check: the bare DDPM loss and DDGAN generator and discriminator losses (R1 off and on) "
          "equal kgen's on the same weights and draws")
    ddpm.compile(jit_compile=False)
    ddgan.compile(jit_compile=False)
    runs = {
        "kgen DDPM fit": lambda: ddpm.fit(dataset, epochs=1, verbose=0, shuffle=False),
        "bare DDPM loop": lambda: _timing.bare_epoch(bare_ddpm.train_step, dataset),
        "kgen DDGAN fit": lambda: ddgan.fit(dataset, epochs=1, verbose=0, shuffle=False),
        "bare DDGAN loop": lambda: _timing.bare_epoch(bare_ddgan.train_step, dataset),
    }
    _timing.interleaved(runs, 1)
    times = _timing.interleaved(runs, args.epochs)
    med = {clock: {name: 1000 * _timing.median(getattr(t, clock)) / args.steps for name, t in times.items()}
           for clock in ("wall", "cpu")}
    rows, verdicts = [], []
    for model in ("DDPM", "DDGAN"):
        kgen, bare = f"kgen {model} fit", f"bare {model} loop"
        wall, cpu = med["wall"][kgen] / med["wall"][bare], med["cpu"][kgen] / med["cpu"][bare]
        rows.extend([name, f"{med['wall'][name]:.1f}", f"{med['cpu'][name]:.1f}",
                     f"{med['wall'][name] / med['wall'][bare]:.2f}x / {med['cpu'][name] / med['cpu'][bare]:.2f}x"]
                    for name in (kgen, bare))
        verdict = "within" if wall <= TARGET_FIT_RATIO else "OVER"
        verdicts.append(f"{model}: kgen / bare = {wall:.2f}x wall, {cpu:.2f}x CPU "
                        f"({verdict} the {TARGET_FIT_RATIO:.2f}x target)")
    print()
    print(f"fit: {shape} images, batch {args.batch_size}, default networks (DDPM ε-U-Net "
          f"{ddpm.network.count_params():,} parameters; DDGAN generator {ddgan.generator.count_params():,}, "
          f"discriminator {ddgan.discriminator.count_params():,}), papers' optimizers, XLA off; "
          f"{args.epochs} timed epochs x {args.steps} steps (+1 warm-up)")
    print(_timing.table(["configuration", "wall ms/step", "CPU ms/step", "vs bare (wall/CPU)"], rows))
    for line in verdicts:
        print(line)
    return [_timing.row("diffusion", f"{model} fit vs bare tf.function loop (per step)",
                        (med["wall"][f"kgen {model} fit"] / 1e3, med["cpu"][f"kgen {model} fit"] / 1e3),
                        (med["wall"][f"bare {model} loop"] / 1e3, med["cpu"][f"bare {model} loop"] / 1e3),
                        False, TARGET_FIT_RATIO)
            for model in ("DDPM", "DDGAN")]


def run(quick=False, argv=None):
    """Run the benchmark (``argv`` as on the command line; ``quick`` adds ``--quick``), print
    its tables and return its comparisons as ``_timing.row`` dicts: DDGAN's sampling against
    DDPM-1000's (the trilemma's speed-up, target ≤ 1/200) and each fit against its bare loop."""
    args = parse_args([*(argv or []), *(["--quick"] if quick else [])])
    import kgen

    shape = (args.image_size, args.image_size, 1)
    print("diffusion: DDGAN, DDPM and NCSN samplers side by side; DDPM and DDGAN fit vs bare loops")
    print(f"machine: {_timing.machine_summary()}")
    samplers = make_samplers(shape, args.quick, args.xla)
    print(f"sampling: kgen {kgen.__version__}, {args.samples} samples of {shape} per sample() call, "
          f"untrained default networks, {args.repeats} timed calls per sampler (+1 warm-up)")
    times = time_sampling(samplers, args.samples, args.repeats)
    quality, data = ({}, None)
    if args.quality:
        quality, data = quality_figures(args.dataset)
    header = ["sampler", "network evals", "wall s", "vs DDGAN", "CPU s", "vs DDGAN"]
    if args.quality:
        header += [f"{args.dataset} energy dist.", "modes hit", "within 3σ"]
    print()
    print(_timing.table(header, sampling_rows(samplers, times, quality)))
    if data is not None:
        print(f"the data against held-out data: energy distance {data['energy_distance']:.4f}, "
              f"modes {data['modes_hit']}/{data['num_modes']}, within 3σ {100 * data['high_quality_share']:.1f}%")
    speed_up = _timing.median(times["DDPM 1000"].wall) / _timing.median(times["DDGAN T=4"].wall)
    verdict = "meets" if speed_up >= TARGET_SPEED_UP else "misses"
    print(f"DDGAN samples {speed_up:.0f}x faster than DDPM-1000 (wall; {verdict} the {TARGET_SPEED_UP:.0f}x target)")
    ddgan, ddpm = times["DDGAN T=4"], times["DDPM 1000"]
    evaluations = [network_evaluations(*samplers[name]) for name in ("DDGAN T=4", "DDPM 1000")]
    # The target 200x is for DDPM's T = 1000 steps; for a shorter DDPM (--quick: T = 50) it scales with T.
    target = 1000 / (TARGET_SPEED_UP * evaluations[1])
    results = [_timing.row("diffusion", f"DDGAN T=4 sample vs DDPM {evaluations[1]} ({evaluations[0]} vs "
                           f"{evaluations[1]} network evals)",
                           (_timing.median(ddgan.wall), _timing.median(ddgan.cpu)),
                           (_timing.median(ddpm.wall), _timing.median(ddpm.cpu)), False, target)]
    if not args.skip_fit:
        results += time_fit(args, shape)
    load = _timing.load_average()
    if load is not None:
        print(f"1-minute load average at the end: {load:.2f}")
    return results


def main(argv=None):
    run(argv=sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
