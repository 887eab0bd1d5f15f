"""``benchmarks/run_all.py`` fits the benchmarks it runs: structure only, nothing is timed.

Its list must name scripts that exist and expose ``run(quick=False, argv=None)``, every other
script must be listed as deliberately not run (so that a new benchmark is not forgotten), and
``--help`` must answer without starting a benchmark.
"""

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS_DIR = Path(__file__).resolve().parents[1] / "benchmarks"
RUN_ALL = BENCHMARKS_DIR / "run_all.py"


@pytest.fixture(scope="module")
def run_all():
    spec = importlib.util.spec_from_file_location("run_all", RUN_ALL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_help_answers_and_names_every_benchmark(run_all):
    done = subprocess.run([sys.executable, str(RUN_ALL), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for option in ("--quick", "--only", "--markdown"):
        assert option in done.stdout
    for name in run_all.BENCHMARKS:
        assert name in done.stdout


def test_an_unknown_benchmark_is_refused_with_the_choices(run_all):
    done = subprocess.run([sys.executable, str(RUN_ALL), "--only", "no_such_benchmark"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no_such_benchmark" in done.stderr and "flows" in done.stderr


def test_every_listed_script_exists_and_exposes_run(run_all):
    assert run_all.BENCHMARKS
    for name, (script, full, quick) in run_all.BENCHMARKS.items():
        path = BENCHMARKS_DIR / script
        assert path.is_file(), f"{name}: {script} does not exist"
        functions = {node.name: node for node in ast.parse(path.read_text()).body if isinstance(node, ast.FunctionDef)}
        assert "run" in functions, f"{script} has no run()"
        arguments = [argument.arg for argument in functions["run"].args.args]
        assert arguments[:2] == ["quick", "argv"], f"{script}: run{tuple(arguments)}"
        assert all(isinstance(argument, str) for argument in [*full, *quick])


def test_every_other_script_is_listed_as_not_run(run_all):
    listed = {script for script, _, _ in run_all.BENCHMARKS.values()}
    assert not listed & set(run_all.NOT_RUN)
    scripts = {path.name for path in BENCHMARKS_DIR.glob("*.py") if not path.name.startswith("_")}
    unlisted = scripts - {"run_all.py"} - listed - set(run_all.NOT_RUN)
    assert not unlisted, f"benchmarks neither run by run_all.py nor listed in its NOT_RUN: {sorted(unlisted)}"


def test_the_markdown_table_has_one_line_per_row_and_every_column(run_all):
    header = ["a", "b|c", "d"]
    rows = [["1", "x|y", "3"], ["4", "5", "6"]]
    lines = run_all.markdown(header, rows).splitlines()
    assert len(lines) == len(rows) + 2
    for line in lines:
        assert line.replace("\\|", "").count("|") == len(header) + 1
