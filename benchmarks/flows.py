"""Benchmark: kgen's RealNVP and MAF against TFP's ``tfb.RealNVP`` / ``tfb.MaskedAutoregressiveFlow``.

Both sides compute the same flow with the same Keras 3 networks (the TFP bijectors are driven by
conditioners built from kgen's own networks, so sizes, initial weights and math match):

* **RealNVP**: ``--layers`` couplings with alternating half masks, each with a 2-hidden-layer MLP
  (``--hidden`` units) giving shift and log-scale = a·tanh(h) (a a learned per-feature factor);
  TFP alternates with ``num_masked = ±D/2``.
* **MAF**: ``--layers`` MADEs (same hidden units), α = 7·tanh(a/7), the variables reversed
  between MADEs (``tfb.Permute`` on the TFP side, ``kgen.layers.Permutation`` in kgen).

Measured, for each flow and both sides, with XLA off and on:

* ``train``: one training step on a batch (tape, −mean log p, ``Adam.apply_gradients``), in one
  ``tf.function``: the same outer code for both sides, only the flow differs;
* ``log_prob``: log p of a batch (one ``tf.function`` call);
* ``sample`` (MAF only): drawing a batch. MAF samples by inverting each MADE one dimension at a
  time, D passes per MADE, so sampling costs about D times a density evaluation; the table
  shows that ratio too.

Each configuration warms up (tracing, XLA compilation), then ``--repeats`` repetitions of
``--steps`` calls run interleaved round-robin (``_timing.interleaved``). Reported: median wall and
process-CPU time per call, and the TFP/kgen ratio (> 1: kgen faster). Before timing, the script
checks that both sides give the same log p on the same weights.

Run ``python benchmarks/flows.py`` (D = 16, batch 256, 4 layers of 2×64 units) or ``--quick``.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from benchmarks._timing import interleaved, machine_summary, median, table  # noqa: E402
from kgen.layers.made import ALPHA_BOUND  # noqa: E402
from kgen.models import MAF, RealNVP  # noqa: E402

tfb, tfd = tfp.bijectors, tfp.distributions


def tfp_realnvp(flow):
    """tfb.RealNVP couplings driven by the kgen flow's own conditioner networks (same weights)."""
    bijectors = []
    for coupling in flow.flow_layers:  # data → latent order; a Chain lists bijectors last-applied first
        def shift_and_log_scale(x0, output_units, coupling=coupling):
            shift, raw = tf.split(coupling.network(x0), 2, axis=-1)  # output_units each
            return shift, coupling.scale_factor * tf.tanh(raw)

        half = flow.input_shape[0] // 2
        bijectors.append(tfb.RealNVP(num_masked=half if coupling.parity == 0 else -half,
                                     shift_and_log_scale_fn=shift_and_log_scale))
    return tfb.Chain(bijectors)  # Chain([b_0, …, b_K]): forward applies b_K first, inverse b_0 first


def tfp_maf(flow):
    """tfb.MaskedAutoregressiveFlow layers driven by the kgen flow's own MADEs (same weights)."""
    bijectors = []
    for layer in flow.flow_layers:
        if hasattr(layer, "made"):
            def shift_and_log_scale(x, made=layer.made):
                shift, unbounded = made.parameters(x)
                return shift, ALPHA_BOUND * tf.tanh(unbounded / ALPHA_BOUND)

            bijectors.append(tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=shift_and_log_scale))
        else:
            bijectors.append(tfb.Permute(layer.permutation))
    return tfb.Chain(bijectors)


def tfp_distribution(bijector, dims):
    return tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0.0, 1.0), [dims]), bijector)


def runs_for(name, flow, bijector, x, steps, jit):
    """Zero-argument callables timing ``steps`` calls each, for kgen and TFP."""
    dims = flow.input_shape[0]
    distribution = tfp_distribution(bijector, dims)
    log_probs = {"kgen": flow._log_prob, "tfp": distribution.log_prob}
    runs = {}
    for side, log_prob in log_probs.items():
        optimizer = keras.optimizers.Adam(1e-4)
        optimizer.build(flow.trainable_variables)

        @tf.function(jit_compile=jit)
        def train_step(batch, log_prob=log_prob, optimizer=optimizer):
            with tf.GradientTape() as tape:
                loss = -tf.reduce_mean(log_prob(batch))
            optimizer.apply_gradients(zip(tape.gradient(loss, flow.trainable_variables), flow.trainable_variables))
            return loss

        score = tf.function(log_prob, jit_compile=jit)
        runs[(name, "train", side)] = _repeat(train_step, x, steps)
        runs[(name, "log_prob", side)] = _repeat(score, x, steps)
    if name == "maf":
        batch = x.shape[0]
        # Both sides draw their noise at run time: kgen from the model's seed generator, TFP from
        # a seed passed in as a tensor (a constant seed would let XLA precompute TFP's noise).
        kgen_sample = tf.function(lambda: flow.generate(batch, flow.seed_generator), jit_compile=jit)
        tfp_sample = tf.function(lambda seed: distribution.sample(batch, seed=seed), jit_compile=jit)
        runs[(name, "sample", "kgen")] = _repeat(kgen_sample, None, steps)
        runs[(name, "sample", "tfp")] = _repeat(tfp_sample, tf.constant([1, 2]), steps)
    return runs, distribution


def _repeat(function, x, steps):
    def run():
        for _ in range(steps):
            out = function(x) if x is not None else function()
        float(tf.reduce_sum(out))

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, default=16)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--xla", choices=("on", "off", "both"), default="both")
    parser.add_argument("--flows", default="realnvp,maf", help="comma-separated subset of realnvp,maf")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 steps × 2 repeats")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats = 3, 2
    print(machine_summary())
    print(f"D={args.dims}, batch {args.batch}, {args.layers} layers of 2×{args.hidden} units, "
          f"{args.repeats} repeats × {args.steps} calls")
    keras.utils.set_random_seed(0)
    x = tf.constant(np.random.default_rng(0).normal(size=(args.batch, args.dims)).astype("float32"))
    hidden_units = (args.hidden, args.hidden)
    flows = {
        "realnvp": (RealNVP((args.dims,), num_couplings=args.layers, hidden_units=hidden_units, seed=0), tfp_realnvp),
        "maf": (MAF((args.dims,), num_mades=args.layers, hidden_units=hidden_units, seed=0), tfp_maf),
    }
    unknown = set(args.flows.split(",")) - set(flows)
    if unknown:
        parser.error(f"--flows: unknown {sorted(unknown)}; choose from {sorted(flows)}")
    flows = {name: flows[name] for name in args.flows.split(",")}
    settings = {"off": [False], "on": [True], "both": [False, True]}[args.xla]
    rows = []
    for jit in settings:
        runs = {}
        for name, (flow, make_bijector) in flows.items():
            rng = np.random.default_rng(1)  # move off the identity start, the same weights for both sides
            for weight in flow.trainable_weights:
                weight.assign(weight.numpy() + rng.normal(scale=0.05, size=weight.shape).astype("float32"))
            flow_runs, distribution = runs_for(name, flow, make_bijector(flow), x, args.steps, jit)
            gap = np.abs(flow._log_prob(x).numpy() - distribution.log_prob(x).numpy()).max()
            assert gap < 1e-3, f"{name}: kgen and TFP disagree on log p by {gap}"
            runs.update(flow_runs)
        for run in runs.values():  # warm-up: tracing and compilation
            run()
        times = interleaved(runs, args.repeats)
        per_call = {key: (median(t.wall) / args.steps, median(t.cpu) / args.steps) for key, t in times.items()}
        for name, task, side in runs:
            if side != "kgen":
                continue
            kgen_wall, kgen_cpu = per_call[(name, task, "kgen")]
            tfp_wall, tfp_cpu = per_call[(name, task, "tfp")]
            rows.append([name, task, "on" if jit else "off", f"{1e3 * kgen_wall:.2f}", f"{1e3 * tfp_wall:.2f}",
                         f"{tfp_wall / kgen_wall:.2f}x", f"{tfp_cpu / kgen_cpu:.2f}x"])
        if "maf" in flows:
            sample_wall = per_call[("maf", "sample", "kgen")][0]
            density_wall = per_call[("maf", "log_prob", "kgen")][0]
            print(f"XLA {'on' if jit else 'off'}: kgen MAF sampling / log_prob time = "
                  f"{sample_wall / density_wall:.1f} (D = {args.dims} sequential passes per MADE)")
    print(table(["flow", "task", "XLA", "kgen ms", "tfp ms", "tfp/kgen wall", "tfp/kgen cpu"], rows))


if __name__ == "__main__":
    main()
