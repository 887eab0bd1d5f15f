"""Benchmark: ``NCSN.sample()`` against n_calls × one call of its score network, in one run.

Annealed Langevin dynamics (``kgen.samplers.annealed_langevin``) is one compiled program: a
``tf.while_loop`` over L levels × T steps, each step one score-network call plus the update
x + (α/2)·s + √α·z with fresh noise, and one more call for the final denoising step. If the loop
adds almost nothing, sampling takes n_calls = L·T + 1 times one network call on the same batch.

* **sample**: ``model.sample(batch, steps_per_level=T, seed=0, jit_compile=...)``, timed from
  the call until the samples are read back (``.numpy()``), the initial noise included.
* **one call**: ``tf.function(lambda x: model._level_score(x, i), jit_compile=...)`` (the very
  function the sampler calls: the network and the division by σ), timed over ``--calls`` calls
  in a Python loop with the result of the last one read back, divided by ``--calls``.

ratio = time(sample) / (n_calls × time(one call)); the target is ≤ 1.2. Both are timed with
and without XLA, after a warm-up that traces and compiles them, interleaved round-robin
(``_timing.interleaved``) so that other processes on the machine slow all configurations alike.
The model is untrained: speed does not depend on the weights.

Run ``python benchmarks/ncsn.py`` (defaults: 8×8×1 digits-sized images, batch 64, the default
U-Net, L = 10 levels × T = 20 steps, 5 repeats), ``--image-size 28`` for MNIST-sized images, or
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
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--levels", type=int, default=10, help="L, noise levels")
    parser.add_argument("--steps", type=int, default=20, help="T, Langevin steps per level")
    parser.add_argument("--calls", type=int, default=50, help="network calls per timed repetition")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions per configuration")
    parser.add_argument("--xla", choices=("both", "off", "on"), default="both")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 levels x 3 steps, 2 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.levels, args.steps, args.calls, args.repeats = 3, 3, 5, 2
    return args


def run(quick=False, argv=None):
    """Run the benchmark (``argv`` as on the command line; ``quick`` adds ``--quick``), print
    its table and return one ``_timing.row`` per XLA setting (sample / n_calls × one call)."""
    args = parse_args([*(argv or []), *(["--quick"] if quick else [])])
    import kgen
    from kgen.models import NCSN

    shape = (args.image_size, args.image_size, 1)
    model = NCSN(shape, num_noise_levels=args.levels, seed=0)
    n_calls = args.levels * args.steps + 1
    x = tf.constant(np.random.default_rng(0).random((args.batch_size, *shape)), tf.float32)
    level = tf.constant(args.levels // 2)
    print("ncsn: NCSN.sample() vs (L·T + 1) × one score-network call on the same batch")
    print(f"machine: {_timing.machine_summary()}")
    print(
        f"problem: kgen {kgen.__version__} NCSN{shape}, default network "
        f"({model.network.count_params():,} parameters), batch {args.batch_size}; "
        f"L = {args.levels} levels × T = {args.steps} steps + 1 denoising step = {n_calls} "
        f"network calls per sample(); one-call time = mean over {args.calls} calls; "
        f"{args.repeats} timed repetitions per configuration (+1 warm-up)"
    )

    settings = {"both": (False, True), "off": (False,), "on": (True,)}[args.xla]
    runs = {}
    for jit in settings:
        call = tf.function(lambda x: model._level_score(x, level), jit_compile=jit)

        def calls(call=call):
            for _ in range(args.calls):
                out = call(x)
            out.numpy()

        def sample(jit=jit):
            model.sample(args.batch_size, steps_per_level=args.steps, seed=0, jit_compile=jit).numpy()

        runs[("call", jit)] = calls
        runs[("sample", jit)] = sample
    warm_up = _timing.interleaved(runs, 1)  # tracing and, with XLA, compiling
    times = _timing.interleaved(runs, args.repeats)
    rows = report(times, settings, args.calls, n_calls)
    for jit in settings:
        first = warm_up[("sample", jit)].wall[0]
        later = _timing.median(times[("sample", jit)].wall)
        print(f"first sample() call with XLA {'on ' if jit else 'off'} (tracing{' + compiling' if jit else ''}): "
              f"{first:.1f} s wall, {first - later:+.1f} s over a later call")
    return rows


def main(argv=None):
    run(argv=sys.argv[1:] if argv is None else argv)


def report(times, settings, calls_per_repeat, n_calls):
    rows, ratios, results = [], {}, []
    for jit in settings:
        med = {}
        for clock in ("wall", "cpu"):
            one_call = _timing.median(getattr(times[("call", jit)], clock)) / calls_per_repeat
            sample = _timing.median(getattr(times[("sample", jit)], clock))
            med[clock] = (one_call, sample, sample / (n_calls * one_call))
        ratios[jit] = med["wall"][2], med["cpu"][2]
        results.append(_timing.row("ncsn", f"NCSN sample vs {n_calls} x one score-network call",
                                   (med["wall"][1], med["cpu"][1]),
                                   (n_calls * med["wall"][0], n_calls * med["cpu"][0]), jit, TARGET_RATIO))
        rows.append(
            [
                "on" if jit else "off",
                f"{1000 * med['wall'][0]:.2f}",
                f"{med['wall'][1]:.2f}",
                f"{n_calls * med['wall'][0]:.2f}",
                f"{med['wall'][2]:.2f}x",
                f"{1000 * med['cpu'][0]:.2f}",
                f"{med['cpu'][1]:.2f}",
                f"{med['cpu'][2]:.2f}x",
            ]
        )
    print()
    print(
        _timing.table(
            ["XLA", "one call ms (wall)", "sample s (wall)", "n × call s (wall)", "ratio wall",
             "one call ms (CPU)", "sample s (CPU)", "ratio CPU"],
            rows,
        )
    )
    print("(medians over repetitions; CPU = process CPU time, all threads)")
    print()
    for jit, (wall, cpu) in ratios.items():
        verdict = "within" if wall <= TARGET_RATIO else "OVER"
        print(
            f"XLA {'on ' if jit else 'off'}: sample / ({n_calls} × one call) = {wall:.2f}x wall, "
            f"{cpu:.2f}x CPU ({verdict} the {TARGET_RATIO:.1f}x target)"
        )
    if len(settings) == 2:
        off = _timing.median(times[("sample", False)].wall)
        on = _timing.median(times[("sample", True)].wall)
        print(f"sample() is faster with XLA {'off' if off <= on else 'on'}: {off:.2f} s off vs {on:.2f} s on")
    load = _timing.load_average()
    if load is not None:
        print(f"1-minute load average at the end: {load:.2f}")
    return results


if __name__ == "__main__":
    main()
