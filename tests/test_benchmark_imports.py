"""The benchmarks still fit the package: every name a ``benchmarks/*.py`` script imports from
kgen exists.

The benchmarks take minutes, so the fast tier does not run them; their kgen imports sit inside
``main()`` (so that ``--help`` answers before TensorFlow starts) and break silently when a
refactor moves a name (``vae_fit.py`` imported ``default_jit_compile`` from ``kgen.models.base``
after it had moved to ``kgen.backend``). The imports are read with ``ast`` and resolved here.
"""

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


def kgen_imports(path):
    """``(module, name)`` for each ``from kgen… import name`` and ``(module, None)`` for each
    ``import kgen…`` in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "kgen":
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names if alias.name.split(".")[0] == "kgen"]
    return found


def test_the_benchmarks_are_found_and_import_from_kgen():
    assert len(BENCHMARKS) >= 5
    assert sum(bool(kgen_imports(path)) for path in BENCHMARKS) >= 5


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda path: path.name)
def test_every_name_a_benchmark_imports_from_kgen_exists(path):
    for module_name, name in kgen_imports(path):
        module = importlib.import_module(module_name)
        if name is not None and not hasattr(module, name):
            importlib.import_module(f"{module_name}.{name}")  # a submodule; raises if missing
