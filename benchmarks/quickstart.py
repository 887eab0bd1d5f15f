"""The README's quick start, measured: run its ``kgen train`` command, time it, and compose the
picture the README shows (``docs/quickstart.png``).

The command (``COMMAND``, which the README quotes) runs in a temporary folder as a subprocess,
exactly as a user would type it, so the time includes Python's and TensorFlow's start-up, the
data generation, training and the test figures. The script then prints the wall time (and the
1-minute load average at the start and end: on a shared machine other jobs slow training down),
the CLI's own figures from ``metrics.json`` (test ELBO and IWAE bound), and composes the run's
``samples.png``, ``reconstructions.png`` and ``traversal.png`` into one small PNG.

    python benchmarks/quickstart.py                   # writes docs/quickstart.png
    python benchmarks/quickstart.py --keep runs/qs    # also keeps the run folder
    python benchmarks/quickstart.py --picture-only runs/qs   # recompose from a finished run
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

#: The README's quick start, without its ``--out`` (the script chooses the folder).
COMMAND = [
    "kgen", "train", "beta_vae", "--data", "dsprites32_shapes", "--n", "32000", "--epochs", "16",
    "--param", "beta=2",
]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PICTURE = os.path.join(ROOT, "docs", "quickstart.png")
#: The README's picture must stay small in the repository.
MAX_PICTURE_BYTES = 150_000


def kgen_executable():
    """The ``kgen`` console script of the running Python (its venv), else the one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "kgen")
    return here if os.path.isfile(here) else shutil.which("kgen") or "kgen"


def load_average():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def run_quickstart(out):
    """Run ``COMMAND --out out``; return (wall seconds, load at start, load at end)."""
    command = [kgen_executable(), *COMMAND[1:], "--out", out]
    print("$", " ".join(COMMAND), "--out", out, flush=True)
    load_start, started = load_average(), time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started, load_start, load_average()


def compose(run_dir, path):
    """One PNG: the samples and the traversal side by side, the reconstructions below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image
    import matplotlib.pyplot as plt

    samples, reconstructions, traversal = (
        matplotlib.image.imread(os.path.join(run_dir, f"{name}.png"))
        for name in ("samples", "reconstructions", "traversal")
    )
    figure = plt.figure(figsize=(8.0, 5.9), dpi=100, layout="constrained")
    grid = figure.add_gridspec(2, 2, width_ratios=(1.0, 1.15), height_ratios=(3.2, 1.25))
    panels = [
        (grid[0, 0], samples, "samples: z ~ N(0, I), the decoder's mean"),
        (grid[0, 1], traversal, "traversal of one test image: a latent per row (most KL first)"),
        (grid[1, :], reconstructions, "test images and their reconstructions"),
    ]
    for cell, image, title in panels:
        ax = figure.add_subplot(cell)
        ax.imshow(image, interpolation="lanczos")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, format="png", pil_kwargs={"optimize": True})
    plt.close(figure)
    size = os.path.getsize(path)
    if size > MAX_PICTURE_BYTES:
        raise SystemExit(f"{path} is {size} bytes, more than {MAX_PICTURE_BYTES}: shrink it.")
    return size


def report(run_dir, wall=None, load_start=None, load_end=None):
    with open(os.path.join(run_dir, "metrics.json")) as file:
        metrics = json.load(file)
    test = metrics["test"]
    lines = [f"command: {' '.join(COMMAND)}"]
    if wall is not None:
        lines.append(f"wall time of the command: {wall / 60:.1f} min ({wall:.0f} s); "
                     f"1-min load average {load_start:.2f} at the start, {load_end:.2f} at the end, "
                     f"{os.cpu_count()} CPUs")
    lines += [
        f"kgen's own wall time (metrics.json): {metrics['wall_time_seconds']:.0f} s for "
        f"{metrics['optimizer_steps']} steps ({metrics['epochs']} epochs, "
        f"{metrics['train_examples']} training images)",
        f"test split ({test['examples']} images): ELBO {test['elbo']:.1f} nats, "
        f"IWAE bound L_{test['iwae_k']} {test['iwae_bound']:.1f} nats",
        "final training losses: " + ", ".join(
            f"{name} {value:.2f}" for name, value in metrics["final_train_losses"].items()),
    ]
    print("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--picture", default=DEFAULT_PICTURE, help="the PNG to write")
    parser.add_argument("--keep", metavar="DIR", help="keep the run folder here (must not exist)")
    parser.add_argument("--picture-only", metavar="RUN_DIR",
                        help="do not train: recompose the picture from a finished run folder")
    args = parser.parse_args(argv)
    if args.picture_only:
        report(args.picture_only)
        size = compose(args.picture_only, args.picture)
        print(f"picture: {args.picture} ({size / 1000:.0f} KB)")
        return 0
    with tempfile.TemporaryDirectory(prefix="kgen-quickstart-") as folder:
        run_dir = os.path.join(folder, "quickstart")
        wall, load_start, load_end = run_quickstart(run_dir)
        size = compose(run_dir, args.picture)
        report(run_dir, wall, load_start, load_end)
        print(f"picture: {args.picture} ({size / 1000:.0f} KB)")
        if args.keep:
            shutil.copytree(run_dir, args.keep)
            print(f"run folder kept in {args.keep}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
