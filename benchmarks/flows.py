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
  time, D passes per MADE (kgen's passes compute only their dimension's outputs, TFP's call
  the whole MADE), so sampling costs several density evaluations; the table shows that ratio;
* ``log_prob`` against the flow's **conditioner networks called alone**, the limit of the
  architecture: RealNVP's coupling MLPs, MAF's MADEs, each called once in the flow's order on
  the output of the one before (so the calls run in sequence, as in the flow), with nothing
  else: what the flow adds on top (the affine maps, the bound on the log-scales, the
  permutations, the log-determinant and the Gaussian) is the ratio above 1. Target for both
  flows: ≤ 1.15x.

Each configuration warms up (tracing, XLA compilation), then ``--repeats`` repetitions of
``--steps`` calls run interleaved round-robin (``_timing.interleaved``). Reported: median wall and
process-CPU time per call, the TFP/kgen ratio (> 1: kgen faster) and kgen/networks (≥ 1: the
flow's overhead over its networks). Before timing, the script checks that both sides give the
same log p on the same weights.

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

from benchmarks._timing import interleaved, load_average, machine_summary, median, row, table  # noqa: E402
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


def networks_alone(name, flow):
    """The flow's conditioner networks and nothing else, called in the flow's order, each on
    (a slice of) the previous one's output: the limit of ``log_prob`` for the architecture."""
    if name == "maf":
        mades = [layer.made for layer in flow.flow_layers if hasattr(layer, "made")]

        def run(x):
            h = x
            for made in mades:
                h = made.parameters(h)[0]  # μ, shape (batch, D): the next MADE's input
            return h

        return run
    couplings = flow.flow_layers

    def run(x):
        h = x
        for coupling in couplings:
            kept = coupling.network.input_shape[-1]
            h = coupling.network(h[:, :kept])  # (batch, 2 × changed): sliced to the next input
        return h

    return run


TARGET_OVER_NETWORKS = 1.15


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
    runs[(name, "log_prob", "networks")] = _repeat(tf.function(networks_alone(name, flow), jit_compile=jit), x, steps)
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


def parse_args(argv=None):
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
    args = parser.parse_args(argv)
    unknown = set(args.flows.split(",")) - {"realnvp", "maf"}
    if unknown:
        parser.error(f"--flows: unknown {sorted(unknown)}; choose from ['maf', 'realnvp']")
    if args.quick:
        args.steps, args.repeats = 3, 2
    return args


def run(quick=False, argv=None):
    """Run the benchmark (``argv`` as on the command line; ``quick`` adds ``--quick``), print
    its tables and return its comparisons as ``_timing.row`` dicts (kgen / reference)."""
    args = parse_args([*(argv or []), *(["--quick"] if quick else [])])
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
    flows = {name: flows[name] for name in args.flows.split(",")}
    settings = {"off": [False], "on": [True], "both": [False, True]}[args.xla]
    lines, rows, network_lines, results = [], [], [], []
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
        for run_once in runs.values():  # warm-up: tracing and compilation
            run_once()
        times = interleaved(runs, args.repeats)
        per_call = {key: (median(t.wall) / args.steps, median(t.cpu) / args.steps) for key, t in times.items()}
        xla = "on" if jit else "off"
        for name, task, side in runs:
            if side != "kgen":
                continue
            kgen_time, tfp_time = per_call[(name, task, "kgen")], per_call[(name, task, "tfp")]
            rows.append([name, task, xla, f"{1e3 * kgen_time[0]:.2f}", f"{1e3 * tfp_time[0]:.2f}",
                         f"{tfp_time[0] / kgen_time[0]:.2f}x", f"{tfp_time[1] / kgen_time[1]:.2f}x"])
            bijector = "tfb.RealNVP" if name == "realnvp" else "tfb.MaskedAutoregressiveFlow"
            results.append(row("flows", f"{name} {task} vs {bijector}", kgen_time, tfp_time, jit, target=1.0))
        for name in flows:
            kgen_time, networks = per_call[(name, "log_prob", "kgen")], per_call[(name, "log_prob", "networks")]
            wall, cpu = kgen_time[0] / networks[0], kgen_time[1] / networks[1]
            verdict = "within" if wall <= TARGET_OVER_NETWORKS else "OVER"
            network_lines.append([name, xla, f"{1e3 * kgen_time[0]:.2f}", f"{1e3 * networks[0]:.2f}",
                                  f"{wall:.2f}x", f"{cpu:.2f}x", verdict])
            label = "MADEs" if name == "maf" else "coupling networks"
            results.append(row("flows", f"{name} log_prob vs its {label} alone", kgen_time, networks, jit,
                               target=TARGET_OVER_NETWORKS))
        if "maf" in flows:
            sample_wall = per_call[("maf", "sample", "kgen")][0]
            density_wall = per_call[("maf", "log_prob", "kgen")][0]
            lines.append(f"XLA {xla}: kgen MAF sampling / log_prob time = "
                         f"{sample_wall / density_wall:.1f} (D = {args.dims} sequential passes per MADE)")
    print("\n".join(lines))
    print(table(["flow", "task", "XLA", "kgen ms", "tfp ms", "tfp/kgen wall", "tfp/kgen cpu"], rows))
    print()
    print(f"log_prob against the conditioner networks called alone (target ≤ {TARGET_OVER_NETWORKS:.2f}x):")
    print(table(["flow", "XLA", "kgen ms", "networks ms", "kgen/networks wall", "kgen/networks cpu", "target"],
                network_lines))
    load = load_average()
    if load is not None:
        print(f"1-minute load average at the end: {load:.2f}")
    return results


def main(argv=None):
    run(argv=sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
