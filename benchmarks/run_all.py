"""Run kgen's speed benchmarks and print one table of kgen against its references.

Each benchmark script exposes ``run(quick=False, argv=None)``, which runs it as its command line
would, prints its own report and returns its comparisons as ``_timing.row`` dicts: a kgen time
and a reference time per unit of work (a step, a call, a batch of samples), both measured in
the same run, interleaved round-robin, and their ratio kgen / reference on the wall clock and
on the process-CPU clock. The references:

* ``fit`` (vae_fit, factor_vae_fit, diffusion, data_pipeline): the same training step written
  as a bare ``tf.function`` loop (data_pipeline: ``fit`` on the arrays);
* sampling (ncsn, latent_ebm): its lower bound, the network evaluations it is made of, each
  timed alone; diffusion: DDGAN's 4 evaluations against DDPM's T;
* flows: TFP's bijectors driven by the same networks, and each flow's ``log_prob`` against its
  conditioner networks called alone (the limit of the architecture).

Every benchmark runs in a subprocess of its own (``--child``), so that TensorFlow state, XLA
caches and memory do not carry over from one to the next; the table's peak memory is that
process's peak resident set size (``resource.getrusage``, the whole process: TensorFlow's
runtime, the data and the models — not the increment of one step), and on a GPU the device's
peak allocation too. The device column says where TensorFlow placed the work: the same command
on a GPU machine gives the GPU table.

``--quick`` runs every benchmark at small but not degenerate sizes (the ``QUICK`` arguments
below, a few repetitions each): under 10 minutes on 2 CPU cores, with noisy ratios; without it,
each script's defaults. Left out: ``latent_ebm_anomaly.py`` and ``disentanglement.py`` measure
quality, not speed (minutes to hours of training), and so does ``diffusion_images.py``;
``quickstart.py`` times the README's command on its own.

Run ``python benchmarks/run_all.py --quick``; ``--only flows ncsn`` picks benchmarks;
``--markdown`` prints the table as Markdown (for ``benchmarks/README.md``).
"""

import argparse
import datetime
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import _timing  # noqa: E402

#: name → (script, arguments of a full run, arguments of a --quick run), in running order.
BENCHMARKS = {
    "flows": ("flows.py", [], ["--steps", "8", "--repeats", "4"]),
    "vae_fit": ("vae_fit.py", [], ["--image-size", "32", "--batch-size", "32", "--steps", "8", "--epochs", "4"]),
    "factor_vae_fit": ("factor_vae_fit.py", [],
                       ["--image-size", "32", "--batch-size", "64", "--steps", "5", "--epochs", "3"]),
    "ncsn": ("ncsn.py", [], ["--levels", "5", "--steps", "5", "--calls", "20", "--repeats", "3"]),
    "diffusion": ("diffusion.py", [], ["--quick", "--repeats", "2", "--steps", "5", "--epochs", "3"]),
    "latent_ebm": ("latent_ebm.py", [],
                   ["--prior-steps", "20", "--posterior-steps", "6", "--calls", "10", "--repeats", "3"]),
    "data_pipeline": ("data_pipeline.py", [], ["--steps", "10", "--epochs", "3", "--batch-size", "32"]),
}
#: Scripts that are not run: they measure quality, or time one command on its own.
NOT_RUN = {
    "latent_ebm_anomaly.py": "quality (AUROC/AUPRC of anomaly scores), not speed",
    "disentanglement.py": "a long quality study (disentanglement metrics after training)",
    "quickstart.py": "times the README's quick start command on its own",
    "diffusion_images.py": "quality (Fréchet distance of trained DDPM/DDGAN samples on images)",
}
COLUMNS = ["benchmark", "compared", "kgen ms", "reference ms", "ratio wall", "ratio CPU", "target", "XLA",
           "device", "peak RSS MB", "load"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few repeats: < 10 min on 2 cores")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=tuple(BENCHMARKS),
                        help=f"run only these benchmarks (of {', '.join(BENCHMARKS)})")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--log-dir", help="where each benchmark's own output goes (default: a new temporary folder)")
    parser.add_argument("--child", metavar="NAME", choices=tuple(BENCHMARKS), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ------------------------------------------------------------------------------------ the child
def child(name, arguments, out):
    """Run one benchmark in this process; write its rows, peak memory and duration to ``out``."""
    script = BENCHMARKS[name][0]
    module = importlib.import_module(os.path.splitext(script)[0])
    start = time.perf_counter()
    rows = module.run(argv=arguments) or []
    seconds = time.perf_counter() - start
    result = {"rows": rows, "seconds": seconds, "peak_rss_mb": peak_rss_mb(), "gpu_peak_mb": gpu_peak_mb(),
              "machine": _timing.machine_summary()}
    with open(out, "w") as f:
        json.dump(result, f)


def peak_rss_mb():
    """This process's peak resident set size in MB (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def gpu_peak_mb():
    """The first GPU's peak allocation by TensorFlow in MB, or None without a GPU."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


# ----------------------------------------------------------------------------------- the parent
def run_benchmark(name, quick, log_dir):
    """One benchmark in a subprocess; returns (result dict or None, seconds, log path)."""
    script, full, quick_arguments = BENCHMARKS[name]
    log = os.path.join(log_dir, f"{name}.log")
    out = os.path.join(log_dir, f"{name}.json")
    command = [sys.executable, os.path.abspath(__file__), "--child", name, "--out", out, "--",
               *(quick_arguments if quick else full)]
    start = time.perf_counter()
    with open(log, "w") as f:
        code = subprocess.call(command, stdout=f, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if code != 0 or not os.path.exists(out):
        return None, seconds, log
    with open(out) as f:
        return json.load(f), seconds, log


def cells(row, result):
    memory = f"{result['peak_rss_mb']:.0f}"
    if result.get("gpu_peak_mb") is not None:
        memory += f" (GPU {result['gpu_peak_mb']:.0f})"
    target = row.get("target")
    return [row["benchmark"], row["compared"], f"{row['kgen_ms']:.2f}", f"{row['reference_ms']:.2f}",
            f"{row['ratio_wall']:.3f}x", f"{row['ratio_cpu']:.3f}x",
            "-" if target is None else f"≤ {target:.3g}x", row["xla"], row["device"], memory,
            "-" if row.get("load") is None else f"{row['load']:.1f}"]


def markdown(header, rows):
    """A Markdown table; a ``|`` inside a cell is escaped."""
    def line(cells):
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), "|" + "|".join("---" for _ in header) + "|", *map(line, rows)])


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        arguments = args.args[1:] if args.args[:1] == ["--"] else args.args
        return child(args.child, arguments, args.out)
    names = args.only or list(BENCHMARKS)
    log_dir = args.log_dir or tempfile.mkdtemp(prefix="kgen-benchmarks-")
    os.makedirs(log_dir, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = _timing.load_average()
    begin = time.perf_counter()
    rows, failures, durations, machine = [], [], [], None
    for name in names:
        print(f"[run_all] {name} ...", file=sys.stderr, flush=True)
        result, seconds, log = run_benchmark(name, args.quick, log_dir)
        durations.append(f"{name} {seconds:.0f} s")
        if result is None:
            failures.append(f"{name} failed: see {log}")
            continue
        if not result["rows"]:
            failures.append(f"{name} returned no rows (its run() reports none yet): see {log}")
        rows += [cells(row, result) for row in result["rows"]]
        machine = machine or result["machine"]
    total = time.perf_counter() - begin
    print(f"kgen benchmarks{' --quick' if args.quick else ''}, {started:%Y-%m-%d %H:%M} UTC, total {total / 60:.1f} min")
    # The machine line of the first benchmark's process (it has TensorFlow loaded: this one does not).
    print(f"machine: {machine or 'unknown (no benchmark finished)'}")
    if load_start is not None:
        print(f"load average (1 min) at the start {load_start:.2f}, at the end {_timing.load_average():.2f}")
    print()
    print(markdown(COLUMNS, rows) if args.markdown else _timing.table(COLUMNS, rows))
    print()
    print("ratio = kgen / reference per unit of work (< 1: kgen faster; against a lower bound, the overhead), "
          "wall and process-CPU clocks, medians over repetitions interleaved in the same run; peak RSS: the "
          "benchmark process's peak resident memory; load: 1-minute load average when the benchmark ended.")
    print("times: " + ", ".join(durations))
    print(f"not run: {'; '.join(f'{script} ({why})' for script, why in NOT_RUN.items())}")
    print(f"each benchmark's own output: {log_dir}")
    for failure in failures:
        print(f"WARNING: {failure}")
    return 1 if len(failures) == len(names) else 0


if __name__ == "__main__":
    sys.exit(main())
