"""The course notebooks follow DESIGN.md's template, cache what they train and show a progress bar.

Read from the ``.ipynb`` JSON (nothing is executed): the template's sections in order; every
Keras training run (a ``fit`` with ``epochs=``) shows a Keras progress bar — ``RunProgress()``
among its callbacks, or ``verbose=1``/``2`` — and sits in a cell that trains through
``kgen.course_runs.train_or_load`` (the resuming demo of notebook 00 trains on purpose); every
run is kept under ``RUN_DIR``, a folder under ``runs/`` relative to the notebook's own; and no
graded cell trains (nbgrader's cell timeout is 30 s).

Notebooks 00–07.
"""

import ast
import json
import re
from pathlib import Path

import pytest

COURSE = Path(__file__).resolve().parents[2] / "course"
NOTEBOOKS = sorted(path.name for path in COURSE.glob("0[0-7]_*.ipynb"))
#: The template's sections (DESIGN.md §7) that every notebook has, in this order.
SECTIONS = ("Learning objectives", "Prerequisites and time", "Setup", "Summary", "References")


def source(cell):
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def code(cell):
    """A code cell's source as Python: IPython's magics (``%matplotlib``) dropped."""
    return "\n".join(line for line in source(cell).splitlines() if not line.lstrip().startswith(("%", "!")))


@pytest.fixture(params=NOTEBOOKS)
def notebook(request):
    return json.loads((COURSE / request.param).read_text(encoding="utf-8"))


def code_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def calls(tree, name):
    """The calls of ``name(...)`` or ``x.name(...)`` in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == name) or (isinstance(func, ast.Attribute) and func.attr == name):
                found.append(node)
    return found


def keyword(call, name):
    return next((item.value for item in call.keywords if item.arg == name), None)


def keras_fits(tree):
    """The ``.fit(...)`` calls with ``epochs=``: Keras training runs (not scikit-learn's fit)."""
    return [call for call in calls(tree, "fit") if keyword(call, "epochs") is not None]


def test_the_list_of_notebooks_is_complete():
    assert len(NOTEBOOKS) == 8 and NOTEBOOKS[0].startswith("00_") and NOTEBOOKS[-1].startswith("07_")


def test_the_template_sections_in_order(notebook):
    headings = [line.lstrip("#").strip() for cell in notebook["cells"] if cell["cell_type"] == "markdown"
                for line in source(cell).splitlines() if re.match(r"#{1,3} ", line)]
    assert re.match(r"\d\d · ", headings[0]), f"the first heading is the title 'NN · …'; got {headings[0]!r}"
    positions = []
    for section in SECTIONS:
        matching = [index for index, heading in enumerate(headings)
                    if re.sub(r"^[\d.]+\s+", "", heading).startswith(section)]      # "9. Summary" too
        assert matching, f"no '## {section}' section; the headings are {headings}"
        positions.append(matching[0])
    assert positions == sorted(positions), f"sections out of order: {dict(zip(SECTIONS, positions))}"
    assert sum("exercise" in heading.lower() for heading in headings) >= 1


def test_every_training_run_shows_a_keras_progress_bar(notebook):
    fits = [call for cell in code_cells(notebook) for call in keras_fits(ast.parse(code(cell)))]
    assert fits, "no training run found"
    for call in fits:
        verbose = keyword(call, "verbose")
        callbacks = keyword(call, "callbacks")
        with_bar = callbacks is not None and any(
            isinstance(item, ast.Call) and getattr(item.func, "id", None) == "RunProgress"
            for item in getattr(callbacks, "elts", []))
        loud = isinstance(verbose, ast.Constant) and verbose.value in (1, 2)
        assert with_bar or loud, f"a fit without a progress bar: {ast.unparse(call)[:200]}"


def test_every_training_run_is_cached_under_run_dir(notebook):
    cells = code_cells(notebook)
    setup = next(code(cell) for cell in cells if "SMOKE =" in source(cell))
    assert re.search(r'RUN_DIR = os\.path\.join\("runs", "[0-9]{2}_\w+"\)', setup), \
        "the setup cell sets RUN_DIR = os.path.join('runs', 'NN_…'): relative to the notebook's folder"
    for cell in cells:
        tree = ast.parse(code(cell))
        for call in calls(tree, "train_or_load"):
            assert ast.unparse(keyword(call, "folder")) == "RUN_DIR", ast.unparse(call)[:200]
        if keras_fits(tree) and "BackupAndRestore" not in source(cell):
            assert calls(tree, "train_or_load"), \
                f"a cell trains without train_or_load: {source(cell)[:120]!r}"


def test_graded_cells_never_train(notebook):
    graded = [cell for cell in notebook["cells"] if cell.get("metadata", {}).get("nbgrader", {}).get("grade")]
    assert graded
    for cell in graded:
        tree = ast.parse(code(cell))
        assert not calls(tree, "fit") and not calls(tree, "train_or_load") and not calls(tree, "train"), source(cell)
