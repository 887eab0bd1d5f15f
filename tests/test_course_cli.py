"""``kgen course release`` / ``check`` and ``kgen.course``, without executing a notebook.

Releasing runs nbgrader's ``generate_assignment`` (no kernel); checking and autograding execute
notebooks and are exercised on the real course by ``.ci/assignments.py`` in CI's notebook
stage. Here ``check`` is replaced by a stand-in where the CLI's handling of its result is tested.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kgen import course
from kgen.cli import main

COURSE = Path(__file__).resolve().parents[1] / "course"
SECRET = "return x * 2  # the reference solution"


@pytest.fixture(scope="module")
def nbgrader_installed():
    """nbgrader is the ``course`` extra: skip without it locally, fail in CI (``CI`` set)."""
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        message = 'nbgrader is not installed (pip install "kgen[course]")'
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must install the course extra.")
        pytest.skip(message)


def cell(cell_type, source, nbgrader=None, index=0):
    made = {"cell_type": cell_type, "id": f"cell-{index}", "metadata": {}, "source": source}
    if nbgrader is not None:
        made["metadata"]["nbgrader"] = {"schema_version": 3, **nbgrader}
    if cell_type == "code":
        made.update(outputs=[], execution_count=None)
    return made


def tiny_notebook():
    """A markdown cell, an exercise with its reference solution, its graded check, and a cell
    that uses it (with a stale output, which the student version must not keep)."""
    cells = [
        cell("markdown", "# A tiny assignment\n\nDouble a number."),
        cell("code", f"def double(x):\n    ### BEGIN SOLUTION\n    {SECRET}\n    ### END SOLUTION",
             {"grade": False, "solution": True, "locked": False, "grade_id": "double"}),
        cell("code", "assert double(2) == 4\nprint('double: all checks passed')",
             {"grade": True, "solution": False, "locked": True, "grade_id": "check_double", "points": 2}),
        cell("code", "print(double(21))"),
    ]
    cells[3]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "42\n"}]
    cells[3]["execution_count"] = 1
    for index, each in enumerate(cells):
        each["id"] = f"cell-{index}"
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                        "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture
def instructor(tmp_path):
    path = tmp_path / "instructor" / "01_tiny.ipynb"
    path.parent.mkdir()
    course.write_notebook(tiny_notebook(), path)
    return path


def run(argv):
    """``kgen ARGV`` in-process: ``(exit status, stdout, stderr)``."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            status = main(argv)
        except SystemExit as error:
            status = error.code
    return status, stdout.getvalue(), stderr.getvalue()


def by_id(notebook):
    return {course.nbgrader_metadata(each).get("grade_id"): each for each in notebook["cells"]
            if course.nbgrader_metadata(each)}


@pytest.fixture(scope="module")
def released(nbgrader_installed, tmp_path_factory):
    """``kgen course release`` of the tiny notebook, once for the tests that read the result."""
    root = tmp_path_factory.mktemp("release")
    instructor = root / "instructor" / "01_tiny.ipynb"
    instructor.parent.mkdir()
    course.write_notebook(tiny_notebook(), instructor)
    before = instructor.read_bytes()
    status, out, err = run(["course", "release", str(instructor), "--out", str(root / "student")])
    assert status == 0, err
    return {"instructor": instructor, "before": before, "stdout": out,
            "path": root / "student" / "01_tiny.ipynb"}


# ------------------------------------------------------------------------------------ release
def test_release_replaces_solutions_by_stubs_and_keeps_the_graded_cells(released):
    assert str(released["path"]) in released["stdout"]
    student = course.read_notebook(released["path"])
    text = json.dumps(student)
    assert "reference solution" not in text and "BEGIN SOLUTION" not in text
    cells = by_id(student)
    assert course.cell_source(cells["double"]) == "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    check = cells["check_double"]
    assert course.cell_source(check) == "assert double(2) == 4\nprint('double: all checks passed')"
    assert check["metadata"]["nbgrader"]["locked"] is True and check["metadata"]["nbgrader"]["checksum"]
    assert course.cell_source(student["cells"][0]).startswith("# A tiny assignment")
    assert all(each.get("outputs", []) == [] for each in student["cells"])  # the stale 42 is gone
    assert released["instructor"].read_bytes() == released["before"]  # the instructor version is untouched


def test_release_of_every_course_notebook_stubs_each_solution(nbgrader_installed, tmp_path):
    written = course.release(course.course_notebooks(COURSE), tmp_path)
    assert [path.name for path in written] == [path.name for path in course.course_notebooks(COURSE)]
    for path in written:
        student, teacher = course.read_notebook(path), course.read_notebook(COURSE / path.name)
        assert "BEGIN SOLUTION" not in json.dumps(student), path.name
        solutions = course.solution_cells(student)
        assert len(solutions) == len(course.solution_cells(teacher)) >= 2
        assert all(course.STUB in course.cell_source(each) for each in solutions)
        graded, reference = course.graded_cells(student), course.graded_cells(teacher)
        assert [course.cell_source(each) for each in graded] == [course.cell_source(each) for each in reference]
        shown = course.solution_cells(course.without_solutions(teacher))  # the site's view: nbgrader's
        assert [course.cell_source(each) for each in shown] == [course.cell_source(each) for each in solutions]


def test_release_takes_the_course_folder_by_default(nbgrader_installed, instructor, tmp_path, monkeypatch):
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "07_tiny.ipynb").write_bytes(instructor.read_bytes())
    (tmp_path / "course" / "notes.ipynb").write_bytes(instructor.read_bytes())  # not numbered: left out
    monkeypatch.chdir(tmp_path)
    status, out, err = run(["course", "release", "--out", "student"])
    assert status == 0, err
    assert sorted(path.name for path in (tmp_path / "student").iterdir()) == ["07_tiny.ipynb"]


def test_release_without_notebooks_and_without_a_course_folder_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = run(["course", "release", "--out", "student"])
    assert status == 2 and "NOTEBOOK" in err and "course/NN_*.ipynb" in err
    assert not (tmp_path / "student").exists()


def test_release_refuses_to_overwrite_the_instructor_version(instructor):
    before = instructor.read_bytes()
    status, _, err = run(["course", "release", str(instructor), "--out", str(instructor.parent)])
    assert status == 2 and "--out" in err and "overwrite the instructor version" in err
    assert instructor.read_bytes() == before


@pytest.mark.parametrize("problem", ["missing", "not_ipynb", "not_json", "no_nbgrader_cells", "twice", "out_is_file"])
def test_release_errors_name_the_argument(problem, instructor, tmp_path):
    out, notebooks, expected = tmp_path / "student", [str(instructor)], "NOTEBOOK"
    if problem == "missing":
        notebooks = [str(tmp_path / "02_missing.ipynb")]
    elif problem == "not_ipynb":
        notebooks = [str(tmp_path / "notes.md")]
    elif problem == "not_json":
        (tmp_path / "03_broken.ipynb").write_text("{not json")
        notebooks = [str(tmp_path / "03_broken.ipynb")]
    elif problem == "no_nbgrader_cells":
        plain = tiny_notebook()
        for each in plain["cells"]:
            each["metadata"] = {}
        course.write_notebook(plain, tmp_path / "04_plain.ipynb")
        notebooks = [str(tmp_path / "04_plain.ipynb")]
    elif problem == "twice":
        other = tmp_path / "elsewhere" / instructor.name
        other.parent.mkdir()
        other.write_bytes(instructor.read_bytes())
        notebooks = [str(instructor), str(other)]
    else:
        out.write_text("a file")
        expected = "--out"
    status, _, err = run(["course", "release", *notebooks, "--out", str(out)])
    assert status == 2, err
    assert err.startswith("kgen: error: ") and expected in err and len(err.strip().splitlines()) == 1
    assert not (out.is_dir() and any(out.iterdir()))


def test_missing_nbgrader_is_named_with_its_install_command(instructor, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nbgrader", None)  # import nbgrader now raises ImportError
    status, _, err = run(["course", "release", str(instructor), "--out", str(tmp_path / "student")])
    assert status == 2 and 'pip install "kgen[course]"' in err
    status, _, err = run(["course", "check", str(instructor)])
    assert status == 2 and 'pip install "kgen[course]"' in err


def test_course_help_starts_neither_tensorflow_nor_nbgrader():
    script = (
        "import contextlib, io, sys\n"
        "from kgen.cli import main\n"
        "for argv in (['course', '--help'], ['course', 'check', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            main(argv)\n"
        "        except SystemExit:\n"
        "            pass\n"
        "print('tensorflow' in sys.modules, 'nbgrader' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


# ------------------------------------------------------------------------ solutions filled in
def test_without_solutions_stubs_each_region_and_leaves_the_rest():
    notebook = tiny_notebook()
    notebook["cells"].append(cell("code", "x = 1", {"grade": False, "solution": True, "locked": False,
                                                    "grade_id": "unmarked"}))
    shown = course.without_solutions(notebook)
    assert course.cell_source(shown["cells"][1]) == "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert course.cell_source(shown["cells"][-1]) == course.CODE_STUB  # no markers: the whole cell
    assert [course.cell_source(each) for each in shown["cells"][2:4]] == [
        course.cell_source(each) for each in notebook["cells"][2:4]]
    assert SECRET in json.dumps(notebook)  # the input is not changed


def test_strip_markers_keeps_the_solution_and_its_indentation():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n"
    assert course.strip_markers(source) == "def f(x):\n    y = x + 1\n    return y"


def test_fill_in_puts_the_reference_solution_into_the_student_version(released):
    student = course.read_notebook(released["path"])
    filled = course.fill_in(student, course.read_notebook(released["instructor"]))
    assert course.cell_source(by_id(filled)["double"]) == f"def double(x):\n    {SECRET}"
    assert course.STUB in course.cell_source(by_id(student)["double"])  # the input is not changed
    assert by_id(filled)["check_double"] == by_id(student)["check_double"]  # checksum and all


def test_fill_in_refuses_a_solution_cell_the_instructor_version_lacks(instructor):
    released = tiny_notebook()
    by_id(released)["double"]["metadata"]["nbgrader"]["grade_id"] = "triple"
    with pytest.raises(course.CourseError, match="'triple'"):
        course.fill_in(released, course.read_notebook(instructor))


# --------------------------------------------------------------------------------- check
def graded(grade_id, score, points=2.0, error=""):
    return course.GradedCell(grade_id, points, score, error, 0.1)


@pytest.mark.parametrize("invert", [False, True])
def test_check_result_verdicts(invert):
    def result(cells, errors=(), changed=()):
        return course.CheckResult("n.ipynb", invert, cells, list(errors), list(changed), 1.0)

    all_pass, all_fail = [graded("a", 2.0), graded("b", 2.0)], [graded("a", 0.0), graded("b", 0.0)]
    one_passes = [graded("a", 2.0), graded("b", 0.0)]
    crash = [course.CellError(7, "model.fit(x)", "ValueError: bad")]
    assert result(all_pass).ok is not invert
    assert result(all_fail).ok is invert
    assert result(one_passes).ok is False  # neither every cell passing nor every cell failing
    assert result(all_pass, errors=crash).ok is False  # an error elsewhere fails an instructor version
    assert result(all_fail, errors=crash).ok is invert  # and is expected in a student version
    assert result(all_fail if invert else all_pass, changed=["assert double(2) == 4"]).ok is False


def test_check_prints_each_failing_cell_and_exits_1(instructor, monkeypatch):
    calls = []

    def fake_check(notebook, invert, timeout, verbose, progress):
        calls.append((notebook, invert, timeout))
        progress("running it")
        cells = [graded("check_double", 0.0, error="AssertionError: double(2) returned 5, expected 4")]
        return course.CheckResult(notebook, invert, cells, [], [], 3.0)

    monkeypatch.setattr(course, "check", fake_check)
    status, out, _ = run(["course", "check", str(instructor), "--timeout", "60"])
    assert status == 1 and calls == [(str(instructor), False, 60)]
    assert "kgen: running it" in out and "does NOT validate" in out
    assert "FAILED check_double (0/2" in out and "returned 5, expected 4" in out
    status, out, _ = run(["course", "check", str(instructor), "--invert"])
    assert status == 0 and calls[-1] == (str(instructor), True, course.DEFAULT_CELL_TIMEOUT)
    assert "validates inverted" in out


@pytest.mark.parametrize("timeout", ["0", "-5"])
def test_check_refuses_a_timeout_that_is_not_positive_before_running(timeout, instructor):
    status, _, err = run(["course", "check", str(instructor), "--timeout", timeout])
    assert status == 2 and "--timeout" in err


def test_check_refuses_a_notebook_without_graded_cells(tmp_path):
    plain = tiny_notebook()
    for each in plain["cells"]:
        each["metadata"] = {}
    course.write_notebook(plain, tmp_path / "plain.ipynb")
    status, _, err = run(["course", "check", str(tmp_path / "plain.ipynb")])
    assert status == 2 and "not an nbgrader assignment" in err and "NOTEBOOK" in err
