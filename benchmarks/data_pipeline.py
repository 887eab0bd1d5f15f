"""Benchmark: ``BetaVAE.fit`` on ``kgen.data.as_dataset`` pipelines against ``fit`` on the arrays.

One problem, one model architecture, the same steps; only the input differs:

* **arrays**: ``model.fit(x, batch_size=B, epochs=1)``, which kgen reads through its own
  resumable pipeline (``kgen.data.pipeline.resumable_batches``: a stateless permutation per
  pass, gathered batch by batch) — the reference;
* **pipeline**: ``model.fit(as_dataset(name, batch_size=B, n=N, seed=0))``, the very examples
  of ``x`` (``x = kgen.data.load(name, n=N, seed=0)``) held in memory, indices shuffled with a
  seed, gathered, prefetched;
* **stream from .npy shards**: ``x`` written with ``write_shards`` to a temporary folder (shards
  of N/4 examples) and read back record by record every epoch (``FixedLengthRecordDataset``,
  shard order and a buffer shuffled);
* **stream from the idx file** (Fashion-MNIST only): ``as_dataset(name, stream=True).take(S)``,
  the first S batches of the shuffled gzip stream of the whole 60 000-image file — each epoch
  decompresses the records it needs and refills the 10 000-example buffer, so it shows what
  streaming from a compressed file costs, on other (equally many) examples.

Every model starts from the same weights. Each configuration runs one warm-up epoch (tracing),
then ``--epochs`` timed epochs of ``--steps`` steps, interleaved round-robin with a rotating
order (``_timing.interleaved``); the table gives the median wall and process-CPU ms/step and
each configuration's ratio to the arrays, wall and CPU, measured in the same run. Target: the
in-memory pipeline within 1.05x of the arrays.

Before timing, the script checks that one pass of the pipeline and of the shard stream holds
exactly the examples of ``x``.

Run ``python benchmarks/data_pipeline.py`` (Fashion-MNIST 28x28, batch 64, latent_dim 10,
10 timed epochs x 50 steps; 8x8 digits if Fashion-MNIST is not installed) or ``--quick``.
"""

import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _timing  # noqa: E402
import numpy as np  # noqa: E402

TARGET_RATIO = 1.05
REFERENCE = "arrays (fit(x))"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50, help="train steps per timed epoch")
    parser.add_argument("--epochs", type=int, default=10, help="timed epochs per configuration")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--data", default=None, help="a catalog image set (default: fashion_mnist, else digits)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 steps, 2 epochs, batch 16")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.epochs, args.batch_size = 3, 2, 16
    return args


def one_pass(dataset):
    return np.concatenate([batch.numpy() for batch in dataset])


def check_same_examples(x, *datasets):
    """Each dataset's pass holds exactly the rows of ``x`` (in some order)."""
    expected = np.sort(x.reshape(len(x), -1), axis=0)
    for name, dataset in datasets:
        seen = one_pass(dataset)
        if not np.array_equal(np.sort(seen.reshape(len(seen), -1), axis=0), expected):
            raise AssertionError(f"one pass of the {name} does not hold the examples of x")


def run(quick=False, argv=None):
    """Run the benchmark (``argv`` as on the command line; ``quick`` adds ``--quick``)."""
    return main([*(argv or []), *(["--quick"] if quick else [])])


def main(argv=None):
    args = parse_args(argv)
    import keras

    from kgen.backend import default_jit_compile
    from kgen.data import as_dataset, load, missing, write_shards
    from kgen.models import BetaVAE

    name = args.data or ("fashion_mnist" if missing("fashion_mnist") is None else "digits")
    count = args.steps * args.batch_size
    x = load(name, n=count, seed=0)
    jit = default_jit_compile()
    print("data_pipeline: BetaVAE.fit on kgen.data.as_dataset pipelines vs on the arrays, same steps")
    print(f"machine: {_timing.machine_summary()}")
    print(f"problem: kgen.data.load({name!r}, n={count}, seed=0) -> {x.shape}; batch {args.batch_size}, "
          f"latent_dim {args.latent_dim}, Adam(1e-3), jit_compile={jit}; {args.epochs} timed epochs x "
          f"{args.steps} steps per configuration (+1 warm-up epoch)")

    with tempfile.TemporaryDirectory() as folder:
        write_shards(x, folder, examples_per_shard=max(1, count // 4))
        inputs = {
            REFERENCE: None,
            "pipeline (in memory)": as_dataset(name, batch_size=args.batch_size, n=count, seed=0),
            "stream (.npy shards)": as_dataset(folder, batch_size=args.batch_size, seed=0),
        }
        if name in ("fashion_mnist", "mnist"):
            stream = as_dataset(name, batch_size=args.batch_size, stream=True, seed=0)
            inputs["stream (gzip idx, take)"] = stream.take(args.steps)
        check_same_examples(x, ("pipeline", inputs["pipeline (in memory)"]), ("shards", inputs["stream (.npy shards)"]))
        print("check: one pass of the pipeline and of the shard stream holds exactly the examples of x")

        keras.utils.set_random_seed(0)
        start = BetaVAE(x.shape[1:], latent_dim=args.latent_dim, seed=0).get_weights()
        runs = {}
        for label, data in inputs.items():
            model = BetaVAE(x.shape[1:], latent_dim=args.latent_dim, seed=0)
            model.set_weights(start)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
            if data is None:
                runs[label] = lambda model=model: model.fit(x, batch_size=args.batch_size, epochs=1, verbose=0)
            else:
                runs[label] = lambda model=model, data=data: model.fit(data, epochs=1, verbose=0, shuffle=False)
        for fit in runs.values():  # warm-up: traces the train step of every model
            fit()
        times = _timing.interleaved(runs, args.epochs)
    return report(times, args.steps, jit)


def report(times, steps, jit):
    """Print the table and the verdict; return one ``_timing.row`` per input against the arrays."""
    per_step = {clock: {label: 1000.0 * _timing.median(getattr(t, clock)) / steps for label, t in times.items()}
                for clock in ("wall", "cpu")}
    rows = []
    for label, t in times.items():
        wall = [1000.0 * s / steps for s in t.wall]
        rows.append([
            label, f"{per_step['wall'][label]:.1f}", f"{min(wall):.0f}-{max(wall):.0f}", f"{per_step['cpu'][label]:.1f}",
            f"{per_step['wall'][label] / per_step['wall'][REFERENCE]:.3f}x / "
            f"{per_step['cpu'][label] / per_step['cpu'][REFERENCE]:.3f}x",
        ])
    print()
    print(_timing.table(["input", "wall ms/step", "wall range", "CPU ms/step", "vs arrays (wall/CPU)"], rows))
    print("(medians over timed epochs of epoch time / steps; CPU = process CPU time, all threads)")
    wall = per_step["wall"]["pipeline (in memory)"] / per_step["wall"][REFERENCE]
    cpu = per_step["cpu"]["pipeline (in memory)"] / per_step["cpu"][REFERENCE]
    verdict = "within" if max(wall, cpu) <= TARGET_RATIO else "OVER"
    print(f"\npipeline / arrays = {wall:.3f}x wall, {cpu:.3f}x CPU ({verdict} the {TARGET_RATIO:.2f}x target)")
    load = _timing.load_average()
    if load is not None:
        print(f"1-minute load average at the end: {load:.2f}")
    seconds = {label: (per_step["wall"][label] / 1e3, per_step["cpu"][label] / 1e3) for label in times}
    return [
        _timing.row("data_pipeline", f"BetaVAE.fit on {label} vs on the arrays (per step)", seconds[label],
                    seconds[REFERENCE], jit, TARGET_RATIO if label == "pipeline (in memory)" else None)
        for label in times if label != REFERENCE
    ]


if __name__ == "__main__":
    main()
