"""Small timing helpers shared by kgen's benchmarks.

A benchmark builds one zero-argument callable per configuration (one "repetition": e.g. one
training epoch) and hands them to :func:`interleaved`, which calls them round-robin, rotating
the order each round, so that noise from other processes on the machine hits every
configuration alike. Report :func:`median` of the per-repetition times.

Each callable must block until its work is finished (read a result back to Python, e.g.
``float(loss)``), or the clock stops before the computation does.

Every timing benchmark exposes ``run(quick=False, argv=None)``: it runs the script as its
command line would (``argv``; ``quick`` adds ``--quick``), prints what the script prints, and
returns the measured comparisons as :func:`row` dicts, which ``benchmarks/run_all.py`` gathers
into one table.
"""

import contextlib
import os
import platform
import statistics
import time
from typing import NamedTuple


def interleaved(runs, repeats):
    """Call each of ``runs`` (name → callable) ``repeats`` times, round-robin.

    Round r starts at configuration ``r mod len(runs)``, so over a multiple of ``len(runs)``
    rounds every configuration runs equally often in every position.

    Returns:
        dict name → :class:`Times` with one wall-clock and one process-CPU duration (seconds,
        all threads of this process) per call. CPU time is the steadier number on a shared
        machine: time spent waiting for other processes' turn on a core does not count.
    """
    names = list(runs)
    times = {name: Times([], []) for name in names}
    for round_index in range(repeats):
        start = round_index % len(names)
        for name in names[start:] + names[:start]:
            wall, cpu = time.perf_counter(), time.process_time()
            runs[name]()
            times[name].cpu.append(time.process_time() - cpu)
            times[name].wall.append(time.perf_counter() - wall)
    return times


def bare_epoch(train_step, dataset):
    """One epoch of a bare loop: ``train_step`` on every batch of ``dataset``; returns the last
    loss as a float, which waits for the work to finish."""
    loss = None
    for x in dataset:
        loss = train_step(x)
    return float(loss)


class Times(NamedTuple):
    wall: list
    cpu: list


def median(values):
    return statistics.median(values)


def row(benchmark, compared, kgen, reference, xla=None, target=None):
    """One measured comparison, as ``run`` returns it: ``kgen`` and ``reference`` are
    ``(wall, cpu)`` seconds per unit of work (a step, a call, a sample batch), and the ratios
    are kgen / reference on each clock (< 1: kgen is faster; for a lower bound, the overhead).

    Args:
        benchmark: the script's name (``"flows"``).
        compared: what is compared, e.g. ``"maf log_prob vs tfb.MaskedAutoregressiveFlow"``.
        xla: ``True``/``False`` for the ``jit_compile`` setting of both sides, ``None`` if n/a.
        target: the ratio kgen aims to stay under (``1.10``), if any.
    """
    (kgen_wall, kgen_cpu), (reference_wall, reference_cpu) = kgen, reference
    return {
        "benchmark": benchmark,
        "compared": compared,
        "kgen_ms": 1e3 * kgen_wall,
        "reference_ms": 1e3 * reference_wall,
        "ratio_wall": kgen_wall / reference_wall,
        "ratio_cpu": kgen_cpu / reference_cpu,
        "xla": "-" if xla is None else ("on" if xla else "off"),
        "device": device(),
        "target": target,
        "load": load_average(),
    }


def device():
    """Where TensorFlow places ops by default: ``"GPU (name)"`` when it sees one, else ``"CPU"``."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU ({details.get('device_name', gpus[0].name)})"


def machine_summary():
    """One line on the machine: CPU model and count, load, Python and library versions."""
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    parts = [f"{_cpu_model()}, {cpus} CPUs ({usable} usable)"]
    if hasattr(os, "getloadavg"):
        parts.append("load avg {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    parts.append(f"Python {platform.python_version()}")
    for label, module in (
        ("TF", "tensorflow"),
        ("Keras", "keras"),
        ("TFP", "tensorflow_probability"),
    ):
        with contextlib.suppress(ImportError):
            parts.append(f"{label} {__import__(module).__version__}")
    return "; ".join(parts)


def load_average():
    """The 1-minute load average, or ``None`` where the OS does not report it."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def table(header, rows):
    """A plain-text table: columns padded to their widest cell, numbers right-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) for i in range(len(header))]

    def line(row):
        return "  ".join(
            cell.rjust(w) if num else cell.ljust(w) for cell, w, num in zip(row, widths, numeric)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def _is_number(text):
    try:
        float(text.rstrip("x×%"))
        return True
    except ValueError:
        return False


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for row in f:
                if row.startswith("model name"):
                    return row.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
