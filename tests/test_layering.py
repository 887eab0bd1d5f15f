"""kgen's layering, read from the source with ``ast`` (nothing is imported).

* ``kgen/models`` does not import ``kgen.cli`` (the CLI sits on top of the models);
* ``kgen/layers`` does not import ``kgen.models`` (models are built from layers);
* TensorFlow Probability enters only through ``kgen/distributions.py`` (and the test helpers
  of ``kgen/testing``);
* TensorFlow itself is imported only by the modules of ``TENSORFLOW_ALLOWED``; the model files
  reach it through ``kgen.backend`` (``ARCHITECTURE.md``), so that they read as Keras code.

Every import counts, at module level or inside a function, ``import a.b`` and
``from a import b`` (relative imports resolved against the module's package).
"""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kgen"

#: The modules that may import ``tensorflow`` (paths relative to the repository root; a
#: trailing ``/`` allows a whole package). No model file belongs here.
TENSORFLOW_ALLOWED = (
    "kgen/backend.py",
    "kgen/callbacks.py",
    "kgen/cli.py",  # the application: starts TensorFlow with its start-up lines silenced
    "kgen/data/dsprites.py",
    "kgen/data/pipeline.py",
    "kgen/distributions.py",
    "kgen/samplers.py",
    "kgen/validation.py",
    "kgen/testing/",
)
TFP_ALLOWED = ("kgen/distributions.py", "kgen/testing/")


def module_paths():
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def relative(path):
    return path.relative_to(PACKAGE.parent).as_posix()


def imported_modules(path):
    """``[(module, line)]`` for every module that ``path`` imports, anywhere in the file;
    ``from a import b`` gives both ``a`` and ``a.b`` (``b`` may be a submodule)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = relative(path)[: -len(".py")].split("/")[:-1]  # a module's package, or an __init__'s own
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.append((module, node.lineno))
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def is_within(module, package):
    return module == package or module.startswith(package + ".")


def allowed(path, allow_list):
    name = relative(path)
    return any(name == entry or (entry.endswith("/") and name.startswith(entry)) for entry in allow_list)


def breaches(path, forbidden):
    """``"kgen/x.py:12 imports y"`` for each line of ``path`` that imports from ``forbidden``."""
    found = {}
    for module, line in imported_modules(path):
        if is_within(module, forbidden):
            found.setdefault(line, f"{relative(path)}:{line} imports {module}")
    return list(found.values())


def modules_where(condition):
    """The modules whose path satisfies ``condition``, as parameters named by their paths."""
    return [pytest.param(path, id=relative(path)) for path in module_paths() if condition(relative(path))]


def test_the_scan_sees_every_module_and_their_imports():
    """The rules below are only as good as the scan: it finds the package's modules, and in
    them the imports we know are there."""
    names = {relative(path) for path in module_paths()}
    assert {"kgen/models/base.py", "kgen/layers/score_networks.py", "kgen/backend.py", "kgen/testing/vae.py"} <= names
    base = {module for module, _ in imported_modules(PACKAGE / "models" / "base.py")}
    assert {"keras", "kgen.backend", "kgen.data.pipeline", "kgen.validation"} <= base
    assert "tensorflow" in {module for module, _ in imported_modules(PACKAGE / "backend.py")}


def test_relative_and_nested_imports_are_resolved(tmp_path, monkeypatch):
    fake = tmp_path / "kgen"
    (fake / "models").mkdir(parents=True)
    (fake / "models" / "thing.py").write_text(
        "from . import base\nfrom ..cli import main\n\ndef f():\n    import tensorflow.math as tfm\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    path = fake / "models" / "thing.py"
    modules = {module for module, _ in imported_modules(path)}
    assert {"kgen.models", "kgen.models.base", "kgen.cli", "kgen.cli.main", "tensorflow.math"} <= modules
    assert breaches(path, "kgen.cli") == ["kgen/models/thing.py:2 imports kgen.cli"]
    assert breaches(path, "tensorflow") == ["kgen/models/thing.py:5 imports tensorflow.math"]
    assert breaches(path, "tensorflow_probability") == []


@pytest.mark.parametrize("path", modules_where(lambda name: name.startswith("kgen/models/")))
def test_models_do_not_import_the_cli(path):
    found = breaches(path, "kgen.cli")
    assert not found, "kgen.models must not depend on the CLI: " + "; ".join(found)


@pytest.mark.parametrize("path", modules_where(lambda name: name.startswith("kgen/layers/")))
def test_layers_do_not_import_the_models(path):
    found = breaches(path, "kgen.models")
    assert not found, "kgen.layers must not depend on kgen.models: " + "; ".join(found)


@pytest.mark.parametrize(
    "path", modules_where(lambda name: not allowed(PACKAGE.parent / name, TFP_ALLOWED))
)
def test_only_kgen_distributions_imports_tensorflow_probability(path):
    found = breaches(path, "tensorflow_probability")
    assert not found, "reach TensorFlow Probability through kgen.distributions: " + "; ".join(found)


@pytest.mark.parametrize(
    "path", modules_where(lambda name: not allowed(PACKAGE.parent / name, TENSORFLOW_ALLOWED))
)
def test_only_the_allowed_modules_import_tensorflow(path):
    found = breaches(path, "tensorflow")
    assert not found, (
        "import TensorFlow's pieces through kgen.backend (or add the module to TENSORFLOW_ALLOWED, "
        "with a reason): " + "; ".join(found)
    )


@pytest.mark.parametrize("entry", TENSORFLOW_ALLOWED)
def test_the_tensorflow_allow_list_holds_no_model_and_no_stale_entry(entry):
    assert not entry.startswith("kgen/models"), f"{entry}: model files reach TensorFlow through kgen.backend"
    paths = [path for path in module_paths() if allowed(path, (entry,))]
    assert paths, f"{entry} is on TENSORFLOW_ALLOWED but no such module exists"
    assert any(breaches(path, "tensorflow") for path in paths), (
        f"{entry} is on TENSORFLOW_ALLOWED but imports no TensorFlow: take it off the list"
    )
