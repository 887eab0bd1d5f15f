"""Benchmark: a ``LatentEBM`` training step against the bare network passes it is made of.

One training step (Pang et al. 2020, Algorithm 1) runs K₊ posterior Langevin steps, each one
forward and backward pass of the generator and the energy with respect to z, K₋ prior steps,
each one forward and backward pass of the energy, then the parameter update: the generator's
gradient on ‖x − G(z₊)‖²/(2σ²), the energy's on mean E(z₊) − mean E(z₋), two Adam steps. If
the loops and the model's bookkeeping add almost nothing, the step costs

    reference = K₋ × t(energy pass) + K₊ × t(generator + energy pass) + t(update),

each timed on its own in the same run:

* **energy pass**: ``tf.function(model._prior_grad)`` on a batch of z, i.e. ∇_z[E(z) + ½‖z‖²]
  (the prior chain's drift);
* **generator + energy pass**: ``tf.function(model._posterior_grad)`` on (z, x), i.e.
  ∇_z[‖x − G(z)‖²/(2σ²) + E(z) + ½‖z‖²] (the posterior chain's drift);
* **update**: a ``tf.function`` that computes both players' gradients on fixed samples and
  applies both optimizers;
* **step**: ``tf.function(model.train_step)`` on a batch, i.e. the chains from N(0, I), the
  update and the metrics, as ``fit`` runs it.

Each bare pass is timed over ``--calls`` calls in a Python loop, the last result read back, and
divided by ``--calls``; the step over one call per repetition. ratio = t(step) / reference, the
target is ≤ 1.2, with XLA off and on (the step and the passes compiled alike), after a warm-up,
interleaved round-robin (``_timing.interleaved``). The sampler is timed the same way:
``prior_sample(batch)`` against K₋ energy passes. The model is untrained: speed does not depend
on the weights.

Run ``python benchmarks/latent_ebm.py`` (defaults: 8×8×1 digits-sized images, the model's
defaults — d = 100, the energy MLP 100 → 200 → 200 → 1, the conv generator, K₋ = 60, K₊ = 20 —
batch 100 as in the authors' code, 5 repeats), ``--image-size 28`` for MNIST-sized images, or
``--quick`` for a smoke run.
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

TARGET_RATIO = 1.2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=8, help="H = W of the 1-channel images")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--prior-steps", type=int, default=60, help="K₋")
    parser.add_argument("--posterior-steps", type=int, default=20, help="K₊")
    parser.add_argument("--calls", type=int, default=40, help="bare passes per timed repetition")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per configuration")
    parser.add_argument("--xla", choices=("both", "off", "on"), default="both")
    parser.add_argument("--quick", action="store_true", help="smoke run: K₋ = 6, K₊ = 2, 2 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.prior_steps, args.posterior_steps, args.calls, args.repeats = 6, 2, 5, 2
    return args


def build(args):
    import keras

    from kgen.models import LatentEBM

    shape = (args.image_size, args.image_size, 1)
    keras.utils.set_random_seed(0)
    model = LatentEBM(shape, latent_dim=args.latent_dim, prior_steps=args.prior_steps,
                      posterior_steps=args.posterior_steps, seed=0)
    model.compile()
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((args.batch_size, *shape)), tf.float32)
    z = tf.constant(rng.normal(size=(args.batch_size, args.latent_dim)), tf.float32)
    return model, x, z


def update_function(model, jit):
    """Both players' gradients on fixed samples and both optimizers' steps: the update without
    the chains."""

    def update(x, z_posterior, z_prior):
        with tf.GradientTape(persistent=True) as tape:
            terms = model.loss_terms(x, {"z_posterior": z_posterior, "z_prior": z_prior,
                                         "x_hat": model.generator(z_posterior, training=True)})
        for player in model.players():
            gradients = tape.gradient(terms[player.loss], player.variables)
            getattr(model, player.optimizer).apply(gradients, player.variables)
        return terms["loss"]

    return tf.function(update, jit_compile=jit)


def run(quick=False, argv=None):
    """Run the benchmark (``argv`` as on the command line; ``quick`` adds ``--quick``), print
    its table and return its comparisons as ``_timing.row`` dicts: the step against its passes
    and ``prior_sample`` against K₋ energy passes, per XLA setting."""
    args = parse_args([*(argv or []), *(["--quick"] if quick else [])])
    import kgen

    model, x, z = build(args)
    print("latent_ebm: LatentEBM.train_step vs K₋ energy + K₊ (generator + energy) passes + the update")
    print(f"machine: {_timing.machine_summary()}")
    print(
        f"problem: kgen {kgen.__version__} LatentEBM{tuple(model.input_shape)}, d = {model.latent_dim}, "
        f"energy {model.energy_network.count_params():,} and generator {model.generator.count_params():,} "
        f"parameters, batch {args.batch_size}; K₋ = {args.prior_steps}, K₊ = {args.posterior_steps}; "
        f"pass time = mean over {args.calls} calls; {args.repeats} timed repetitions (+1 warm-up)"
    )
    settings = {"both": (False, True), "off": (False,), "on": (True,)}[args.xla]
    runs = {}
    for jit in settings:
        prior_pass = tf.function(model._prior_grad, jit_compile=jit)
        posterior_pass = tf.function(model._posterior_grad, jit_compile=jit)
        update = update_function(model, jit)
        step = tf.function(model.train_step, jit_compile=jit)

        def calls(fn, *inputs):
            def repeat():
                for _ in range(args.calls):
                    out = fn(*inputs)
                out.numpy()
            return repeat

        def one_step(step=step):
            float(step(x)["loss"])

        def prior_sample(jit=jit):
            model.prior_sample(args.batch_size, seed=0, jit_compile=jit).numpy()

        runs[("energy", jit)] = calls(prior_pass, z)
        runs[("generator+energy", jit)] = calls(posterior_pass, z, x)
        runs[("update", jit)] = calls(update, x, z, z)
        runs[("step", jit)] = one_step
        runs[("prior_sample", jit)] = prior_sample
    warm_up = _timing.interleaved(runs, 1)
    times = _timing.interleaved(runs, args.repeats)
    return report(times, warm_up, settings, args)


def main(argv=None):
    run(argv=sys.argv[1:] if argv is None else argv)


def report(times, warm_up, settings, args):
    rows, verdicts, results = [], [], []
    for jit in settings:
        med = {}
        for clock in ("wall", "cpu"):
            per_call = {name: _timing.median(getattr(times[(name, jit)], clock)) / args.calls
                        for name in ("energy", "generator+energy", "update")}
            step = _timing.median(getattr(times[("step", jit)], clock))
            sample = _timing.median(getattr(times[("prior_sample", jit)], clock))
            reference = (args.prior_steps * per_call["energy"] + args.posterior_steps * per_call["generator+energy"]
                         + per_call["update"])
            med[clock] = (per_call, step, reference, sample, sample / (args.prior_steps * per_call["energy"]))
        per_call, step, reference, sample, sample_ratio = med["wall"]
        rows.append([
            "on" if jit else "off", f"{1000 * per_call['energy']:.2f}", f"{1000 * per_call['generator+energy']:.2f}",
            f"{1000 * per_call['update']:.2f}", f"{1000 * reference:.1f}", f"{1000 * step:.1f}",
            f"{step / reference:.2f}x", f"{med['cpu'][1] / med['cpu'][2]:.2f}x", f"{1000 * sample:.1f}",
            f"{sample_ratio:.2f}x",
        ])
        verdicts.append((jit, step / reference, med["cpu"][1] / med["cpu"][2], step))
        (_, step_cpu, reference_cpu, sample_cpu, _) = med["cpu"]
        results.append(_timing.row("latent_ebm", "LatentEBM train_step vs K- E + K+ (G+E) passes + update",
                                   (step, step_cpu), (reference, reference_cpu), jit, TARGET_RATIO))
        prior = args.prior_steps * per_call["energy"], args.prior_steps * med["cpu"][0]["energy"]
        results.append(_timing.row("latent_ebm", f"LatentEBM prior_sample vs {args.prior_steps} energy passes",
                                   (sample, sample_cpu), prior, jit, TARGET_RATIO))
    print()
    print(_timing.table(
        ["XLA", "E pass ms", "G+E pass ms", "update ms", "reference ms", "step ms", "ratio wall", "ratio CPU",
         "prior_sample ms", "sample / K₋·E"],
        rows,
    ))
    print("(medians over repetitions, wall clock unless marked CPU = process CPU time, all threads)")
    print()
    for jit, wall, cpu, _ in verdicts:
        verdict = "within" if wall <= TARGET_RATIO else "OVER"
        print(f"XLA {'on ' if jit else 'off'}: step / (K₋·E + K₊·(G+E) + update) = {wall:.2f}x wall, {cpu:.2f}x CPU "
              f"({verdict} the {TARGET_RATIO:.1f}x target)")
    if len(verdicts) == 2:
        off, on = verdicts[0][3], verdicts[1][3]
        print(f"the step is faster with XLA {'off' if off <= on else 'on'}: {1000 * off:.1f} ms off vs {1000 * on:.1f} ms on")
    for jit in settings:
        first = warm_up[("step", jit)].wall[0]
        print(f"first step with XLA {'on ' if jit else 'off'} (tracing{' + compiling' if jit else ''}): {first:.1f} s")
    load = _timing.load_average()
    if load is not None:
        print(f"1-minute load average at the end: {load:.2f}")
    return results


if __name__ == "__main__":
    main()
