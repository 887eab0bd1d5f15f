"""Assignments from the course notebooks, made, checked and graded by nbgrader itself.

The notebooks in ``course/`` are the instructor versions: each exercise is an nbgrader
solution cell whose reference solution sits between nbgrader's solution markers, followed by a
locked, graded test cell that calls a ``kgen.testing`` check (``course/README.md``). This
module runs nbgrader on them, so that what students get and how they are graded is exactly
what nbgrader does:

* :func:`release` makes the student versions (``nbgrader generate_assignment``, in a temporary
  course directory): every solution region replaced by a stub that raises
  ``NotImplementedError``, outputs cleared, checksums of the locked cells recorded;
* :func:`check` runs a notebook with ``nbgrader validate`` in smoke mode (``KGEN_SMOKE=1``) and
  reports each graded cell, and every other cell that raised an error; with ``invert=True`` it
  asks instead that every graded cell fail, as in a student version nobody has worked on;
* :func:`fill_in` puts the reference solutions into a released copy, as a student who solved
  every exercise would, and :func:`autograde` grades such a copy with ``nbgrader autograde``.

The ``kgen course release`` and ``kgen course check`` commands call :func:`release` and
:func:`check`; ``.ci/assignments.py`` runs the whole round trip on every notebook.

nbgrader is an optional dependency (``pip install "kgen[course]"``), imported only when one of
these functions runs. Nothing here imports TensorFlow: the notebooks' kernels do.
"""

import contextlib
import copy
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
import types
from datetime import datetime
from pathlib import Path

#: How to get nbgrader, named by every error about it.
INSTALL_HINT = 'pip install "kgen[course]"'
#: Seconds one cell may run in :func:`check` and :func:`autograde` (nbgrader's ``Execute.timeout``).
#: In smoke mode the slowest cell of the course takes well under a minute on 2 busy cores;
#: nbgrader's own default, 30 s, is for graded cells, which never train.
DEFAULT_CELL_TIMEOUT = 300
#: nbgrader's solution markers (it matches them anywhere in a line) and the stub it writes.
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
STUB = "raise NotImplementedError()"
#: What nbgrader writes in place of a solution region (its ``ClearSolutions`` defaults).
CODE_STUB, TEXT_STUB = f"# YOUR CODE HERE\n{STUB}", "YOUR ANSWER HERE"
#: The student id under which :func:`autograde` files a submission.
STUDENT = "student"


class CourseError(ValueError):
    """A notebook, an option or an installation that the course commands cannot work with;
    the message names the argument (the CLI prints it in one line)."""


# ---------------------------------------------------------------------------------- notebooks
def read_notebook(path, argument="NOTEBOOK"):
    """The JSON of the ``.ipynb`` file ``path`` as a dict, with a clear error naming
    ``argument`` for a missing file, another kind of file, or a file that is not a notebook."""
    path = Path(path)
    if path.suffix != ".ipynb":
        raise CourseError(f"{argument} {str(path)!r} is not a notebook (an .ipynb file).")
    if not path.is_file():
        raise CourseError(f"{argument} {str(path)!r} not found.")
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise CourseError(f"{argument} {str(path)!r} is not valid notebook JSON: {error}") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise CourseError(f"{argument} {str(path)!r} is not a Jupyter notebook (no list of cells).")
    return notebook


def write_notebook(notebook, path):
    """Write ``notebook`` (a dict) as nbformat does: indent 1, sorted keys, UTF-8."""
    Path(path).write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                          encoding="utf-8")


def cell_source(cell):
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def nbgrader_metadata(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_cells(notebook):
    """The cells nbgrader marks ``"solution": true``, in order."""
    return [cell for cell in notebook["cells"] if nbgrader_metadata(cell).get("solution")]


def graded_cells(notebook):
    """The cells nbgrader marks ``"grade": true`` (the tests that give points), in order."""
    return [cell for cell in notebook["cells"] if nbgrader_metadata(cell).get("grade")]


def _assignment_notebook(path, argument="NOTEBOOK"):
    """``read_notebook(path)``, refused unless it has solution cells and graded cells."""
    notebook = read_notebook(path, argument)
    if not solution_cells(notebook) or not graded_cells(notebook):
        raise CourseError(
            f"{argument} {str(path)!r} is not an nbgrader assignment: it needs solution cells "
            '(cell metadata "nbgrader": {"solution": true, ...}) and graded test cells '
            '("grade": true, "points": N); see course/README.md.'
        )
    return notebook


def strip_markers(source):
    """A solution cell's source as a student who solved it would write it: the reference
    solution kept, the lines holding nbgrader's solution markers dropped."""
    lines = source.splitlines()
    kept = [line for line in lines if BEGIN_SOLUTION not in line and END_SOLUTION not in line]
    return "\n".join(kept)


def without_solutions(notebook):
    """A copy of ``notebook`` in which every solution region is replaced by nbgrader's stub,
    indented like its ``BEGIN SOLUTION`` line (a solution cell without markers is replaced
    whole), as nbgrader's ``ClearSolutions`` does — for *showing* a notebook as students get it,
    e.g. on the reference site. The student versions to hand out come from :func:`release`."""
    shown = copy.deepcopy(notebook)
    for cell in shown["cells"]:
        source = cell_source(cell)
        if BEGIN_SOLUTION not in source and not nbgrader_metadata(cell).get("solution"):
            continue
        stub = (CODE_STUB if cell["cell_type"] == "code" else TEXT_STUB).split("\n")
        if BEGIN_SOLUTION not in source:
            cell["source"] = "\n".join(stub)
            continue
        lines, inside = [], False
        for line in source.split("\n"):
            if BEGIN_SOLUTION in line:
                indent = line[: len(line) - len(line.lstrip())]
                lines += [indent + stub_line for stub_line in stub]
                inside = True
            elif END_SOLUTION in line:
                inside = False
            elif not inside:
                lines.append(line)
        cell["source"] = "\n".join(lines)
    return shown


def fill_in(released, instructor):
    """A copy of the student version ``released`` (a notebook dict, as :func:`release` wrote it)
    with the source of each solution cell replaced by the reference solution of the cell with
    the same ``grade_id`` in ``instructor``, without the markers (:func:`strip_markers`).
    Everything else — the locked cells, their checksums, the cell ids — stays as released."""
    solutions = {nbgrader_metadata(cell)["grade_id"]: cell for cell in solution_cells(instructor)}
    filled = copy.deepcopy(released)
    stubs = solution_cells(filled)
    if not stubs:
        raise CourseError("the released notebook has no solution cells to fill in.")
    for cell in stubs:
        grade_id = nbgrader_metadata(cell).get("grade_id")
        if grade_id not in solutions:
            raise CourseError(f"the released notebook's solution cell {grade_id!r} is not in the "
                              f"instructor version (its solution cells: {', '.join(solutions)}).")
        cell["source"] = strip_markers(cell_source(solutions[grade_id]))
    return filled


# ---------------------------------------------------------------------------------- nbgrader
def _nbgrader():
    """nbgrader's pieces, imported now; a :class:`CourseError` naming the install command if
    nbgrader is missing."""
    try:
        from nbconvert.preprocessors import Preprocessor
        from nbgrader import utils
        from nbgrader.api import Gradebook
        from nbgrader.converters import Autograde, GenerateAssignment
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.validator import Validator
        from traitlets.config import Config
    except ImportError as error:
        raise CourseError(f"the course commands need nbgrader, which is not installed here "
                          f"({error}); install it with: {INSTALL_HINT}") from None
    return types.SimpleNamespace(
        Autograde=Autograde, Config=Config, CourseDirectory=CourseDirectory,
        GenerateAssignment=GenerateAssignment, Gradebook=Gradebook, Preprocessor=Preprocessor,
        Validator=Validator, utils=utils)


#: The environment the notebooks' kernels get from :func:`check` and :func:`autograde`: smoke
#: mode, and TensorFlow's C++ logging at errors-and-above silenced. nbgrader scores a graded
#: cell that writes anything to stderr as failed, and TensorFlow writes an ERROR-level line
#: ("oneDNN supports DT_INT32 only on platforms with AVX-512") from whichever cell first runs
#: an int32 op on a CPU without AVX-512 — in notebook 02 that is a graded cell, which then got
#: 0 points with the reference solution.
KERNEL_ENVIRONMENT = {"KGEN_SMOKE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


@contextlib.contextmanager
def _kernel_environment():
    """:data:`KERNEL_ENVIRONMENT` in this process's environment, which the kernels inherit."""
    saved = {name: os.environ.get(name) for name in KERNEL_ENVIRONMENT}
    os.environ.update(KERNEL_ENVIRONMENT)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _kernel_log(verbose):
    """Unless ``verbose``, point this process's standard error (file descriptor 2, which the
    notebooks' kernels inherit) at a temporary file for the duration: TensorFlow's C++ start-up
    lines and the kernel's own warnings go there, not to the terminal. Yields a function that
    returns the file's last lines, for error messages."""
    if verbose:
        yield lambda: ""
        return
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as log:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)

        def tail(lines=20):
            log.flush()
            log.seek(0)
            kept = log.read().splitlines()[-lines:]
            return "\n".join(["the kernel's last lines on stderr:", *kept]) if kept else ""

        try:
            yield tail
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _check_timeout(timeout):
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise CourseError(f"timeout (--timeout) must be a positive number of seconds; got {timeout!r}.")
    return timeout


def _course_config(nbg, root, timeout=None):
    config = nbg.Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.course_id = "kgen"
    config.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "runs"]
    if timeout is not None:
        config.Execute.timeout = timeout
    return config


def _run(nbg, app, what, path):
    """``app.start()`` with nbgrader's log captured; a :class:`CourseError` with that log if it fails."""
    result = nbg.utils.capture_log(app)
    if not result["success"]:
        raise CourseError(f"nbgrader {what} failed on {path}:\n{result.get('log', '')}{result['error']}")
    return result


def _generate(nbg, path, root):
    """``nbgrader generate_assignment`` of the notebook ``path`` as the assignment ``path.stem``
    in the course directory ``root``; returns the student version's path."""
    path, assignment = Path(path), Path(path).stem
    source = Path(root, "source", assignment)
    source.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, source / path.name)
    config = _course_config(nbg, root)
    coursedir = nbg.CourseDirectory(config=config)
    coursedir.assignment_id = assignment
    app = nbg.GenerateAssignment(coursedir=coursedir, config=config)
    app.force, app.create_assignment = True, True
    _run(nbg, app, "generate_assignment", path)
    return Path(root, "release", assignment, path.name)


def _check_student_version(released, path):
    """What nbgrader's release must give: a stub in every solution cell and no marker left."""
    for cell in released["cells"]:
        text = cell_source(cell)
        if BEGIN_SOLUTION in text or END_SOLUTION in text:
            raise CourseError(f"the student version of {path} still holds a solution marker in "
                              f"cell {cell.get('id')!r}; mention the markers only in solution cells.")
    for cell in solution_cells(released):
        if cell["cell_type"] == "code" and STUB not in cell_source(cell):
            raise CourseError(f"the student version of {path} has no stub in solution cell "
                              f"{nbgrader_metadata(cell).get('grade_id')!r}.")


def course_notebooks(folder="course"):
    """The numbered notebooks ``NN_*.ipynb`` of ``folder``, in order; a :class:`CourseError`
    if there are none."""
    found = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise CourseError(f"NOTEBOOK: none given, and no {folder}/NN_*.ipynb in the current folder "
                          f"({os.getcwd()}); name the notebooks.")
    return found


def release(notebooks, out):
    """Make the student version of each notebook in ``notebooks`` (none: every
    :func:`course_notebooks`) with nbgrader's ``generate_assignment`` and write it to the folder
    ``out`` (created if missing) under the notebook's own file name. Returns the written paths.

    Each notebook is its own assignment, named after the file. The course directory nbgrader
    needs (``source/``, ``release/``, the gradebook) is temporary; to autograde submissions,
    keep a course directory of your own (``course/README.md``).
    """
    paths = [Path(notebook) for notebook in notebooks] if notebooks else course_notebooks()
    for path in paths:
        _assignment_notebook(path)
    names = [path.name for path in paths]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CourseError(f"NOTEBOOK: {', '.join(repeated)} given twice; the student versions "
                          f"would overwrite each other in --out.")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CourseError(f"--out {str(out)!r} is a file, not a folder.")
    for path in paths:
        if out.resolve() == path.resolve().parent:
            raise CourseError(f"--out {str(out)!r} is the folder of {str(path)!r}: the student version "
                              f"would overwrite the instructor version; choose another folder.")
    nbg = _nbgrader()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="kgen-course-") as root:
        for path in paths:
            student_version = _generate(nbg, path, root)
            _check_student_version(read_notebook(student_version), path)
            target = out / path.name
            shutil.copyfile(student_version, target)
            written.append(target)
    return written


# ------------------------------------------------------------------------------------ results
@dataclasses.dataclass
class GradedCell:
    """One graded test cell after execution: its points, its score, its error and its time."""

    grade_id: str
    points: float
    score: float
    error: str = ""
    seconds: float | None = None

    @property
    def passed(self):
        return self.score >= self.points


@dataclasses.dataclass
class CellError:
    """An ungraded code cell that raised an error."""

    index: int
    first_line: str
    error: str


@dataclasses.dataclass
class CheckResult:
    """What :func:`check` found: the graded cells, errors elsewhere, locked cells changed."""

    notebook: str
    invert: bool
    graded: list
    errors: list
    changed: list
    seconds: float
    #: ``(cell index, seconds)`` of the cell that ran longest, or ``None``.
    slowest: tuple | None = None

    @property
    def ok(self):
        """Validated: no locked cell changed, and every graded cell passed and no other cell
        raised (or, inverted, no graded cell passed)."""
        if self.changed:
            return False
        if self.invert:
            return not any(cell.passed for cell in self.graded)
        return all(cell.passed for cell in self.graded) and not self.errors

    @property
    def score(self):
        return sum(cell.score for cell in self.graded)

    @property
    def points(self):
        return sum(cell.points for cell in self.graded)

    def report(self):
        """A few lines for a person: the verdict, then each graded cell and each error."""
        verdict = ("validates" if self.ok else "does NOT validate") + (
            " inverted (every graded cell must fail)" if self.invert else "")
        slowest = "" if self.slowest is None else f"; slowest cell {self.slowest[0]}: {self.slowest[1]:.1f} s"
        lines = [f"{self.notebook} {verdict}: {_points(self.score)} of {_points(self.points)} points, "
                 f"{len(self.errors)} other cell(s) with errors, in {_duration(self.seconds)}{slowest}"]
        if self.changed:
            lines.append(f"  {len(self.changed)} locked cell(s) changed since release (their checksums "
                         "differ); restore them from the student version:")
            lines += [f"    {_first_line(source)}" for source in self.changed]
        for cell in self.graded:
            if self.invert:  # failing is what a student version's graded cells should do
                state = "PASSED, should fail" if cell.passed else "fails"
            else:
                state = "passed" if cell.passed else "FAILED"
            lines.append(f"  {state:6} {cell.grade_id} ({_points(cell.score)}/{_points(cell.points)}"
                         f"{'' if cell.seconds is None else f', {cell.seconds:.1f} s'})")
            if cell.error and not (self.invert or cell.passed):
                lines += [f"         {line}" for line in cell.error.splitlines()]
        for error in self.errors:
            lines.append(f"  error in cell {error.index} ({error.first_line}): {error.error.splitlines()[0]}")
        return "\n".join(lines)


@dataclasses.dataclass
class GradeResult:
    """What :func:`autograde` found: the gradebook's score of each graded cell."""

    notebook: str
    graded: list
    errors: list
    seconds: float
    slowest: tuple | None = None

    @property
    def score(self):
        return sum(cell.score for cell in self.graded)

    @property
    def points(self):
        return sum(cell.points for cell in self.graded)

    @property
    def full_marks(self):
        return self.score >= self.points > 0


def _points(value):
    return f"{value:g}"


def _duration(seconds):
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {round(seconds % 60)} s"


def _first_line(source, width=60):
    line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def _error_text(cell):
    """``Name: message`` of the first error a cell's outputs hold (stderr, as nbgrader counts
    it as a failure too, when there is no error)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            text = output.get("text", "")
            text = text if isinstance(text, str) else "".join(text)
            return f"wrote to stderr, which nbgrader counts as a failure: {text.strip()}"
    return ""


def _has_error(cell):
    return any(output.get("output_type") == "error" for output in cell.get("outputs", []))


def _seconds(cell):
    """How long a cell ran, from the timestamps nbclient records in its metadata."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    return (datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


def _slowest(executed):
    """``(index, seconds)`` of the code cell of ``executed`` that ran longest, or ``None``."""
    times = [(seconds, index) for index, cell in enumerate(executed.cells)
             if (seconds := _seconds(cell)) is not None]
    return (max(times)[1], max(times)[0]) if times else None


def _executed_cells(nbg, executed):
    """The graded cells (scored as nbgrader scores them) and the other code cells that raised."""
    graded, errors = [], []
    for index, cell in enumerate(executed.cells):
        if nbg.utils.is_grade(cell):
            score, points = nbg.utils.determine_grade(cell)
            graded.append(GradedCell(cell.metadata.nbgrader.grade_id, points, score or 0.0,
                                     _error_text(cell), _seconds(cell)))
        elif cell.cell_type == "code" and _has_error(cell):
            errors.append(CellError(index, _first_line(cell.source), _error_text(cell)))
    return graded, errors


# ------------------------------------------------------------------------------ check, grade
def check(notebook, invert=False, timeout=DEFAULT_CELL_TIMEOUT, verbose=False, progress=None):
    """Run ``notebook`` from the top with nbgrader's ``validate`` in smoke mode
    (``KGEN_SMOKE=1``), each cell allowed ``timeout`` seconds, and return a
    :class:`CheckResult`. It validates (``.ok``) when every graded cell passes and no other cell
    raises an error — an instructor version — or, with ``invert=True``, when no graded cell
    passes — a student version before any work. Locked cells whose checksums changed since
    release fail it either way, as in nbgrader.

    The notebook runs in its own folder, where it may write its training pictures (``runs/``).
    The kernel's own standard error (TensorFlow's start-up lines) is kept off the terminal
    unless ``verbose``. ``progress``, if given, is called with one line when the run starts.
    """
    path = Path(notebook)
    _assignment_notebook(path)
    timeout = _check_timeout(timeout)
    nbg = _nbgrader()

    class KeepExecuted(nbg.Preprocessor):
        """Hands the executed notebook to the validator (its ``validate`` does not return it)."""

        def preprocess(self, nb, resources):
            self.parent.kgen_executed = nb
            return nb, resources

    config = nbg.Config()
    config.Execute.timeout = timeout
    config.Validator.invert = bool(invert)
    validator = nbg.Validator(config=config)
    validator.preprocessors = [*validator.preprocessors, KeepExecuted]
    validator.kgen_executed = None
    if progress is not None:
        progress(f"running {path} with nbgrader validate{' --invert' if invert else ''} in smoke mode "
                 f"(KGEN_SMOKE=1), at most {timeout} s per cell")
    started = time.perf_counter()
    with _kernel_environment(), _kernel_log(verbose) as kernel_log:
        try:
            results = validator.validate(str(path))
        except Exception as error:  # nbgrader's own failures: old metadata, a kernel that died
            raise CourseError(f"nbgrader validate failed on {path}: {type(error).__name__}: {error}\n"
                              f"{kernel_log()}") from error
    seconds = time.perf_counter() - started
    if results.get("type_changed"):
        changed = [f"a {cell['old_type']} cell that nbgrader knows as {cell['new_type']}: {cell['source']}"
                   for cell in results["type_changed"]]
        return CheckResult(str(path), bool(invert), [], [], changed, seconds)
    executed = validator.kgen_executed
    graded, errors = _executed_cells(nbg, executed)
    changed = [cell["source"] for cell in results.get("changed", [])]
    return CheckResult(str(path), bool(invert), graded, errors, changed, seconds, _slowest(executed))


def autograde(notebook, submission, timeout=DEFAULT_CELL_TIMEOUT, verbose=False):
    """Grade ``submission`` (a student version of the instructor notebook ``notebook``, worked
    on) with nbgrader's ``autograde`` in smoke mode, in a temporary course directory whose
    assignment is generated from ``notebook``; returns a :class:`GradeResult` with the
    gradebook's score of each graded cell. ``timeout`` and ``verbose`` as in :func:`check`."""
    path, submission = Path(notebook), Path(submission)
    instructor = _assignment_notebook(path)
    read_notebook(submission, "submission")
    timeout = _check_timeout(timeout)
    nbg = _nbgrader()
    import nbformat  # a dependency of nbgrader

    assignment = path.stem
    with tempfile.TemporaryDirectory(prefix="kgen-course-") as root:
        _generate(nbg, path, root)
        submitted = Path(root, "submitted", STUDENT, assignment)
        submitted.mkdir(parents=True)
        shutil.copyfile(submission, submitted / path.name)
        config = _course_config(nbg, root, timeout)
        coursedir = nbg.CourseDirectory(config=config)
        coursedir.assignment_id, coursedir.student_id = assignment, STUDENT
        app = nbg.Autograde(coursedir=coursedir, config=config)
        app.force, app.create_student = True, True
        started = time.perf_counter()
        with _kernel_environment(), _kernel_log(verbose) as kernel_log:
            result = nbg.utils.capture_log(app)
            if not result["success"]:
                raise CourseError(f"nbgrader autograde failed on {submission}:\n{result.get('log', '')}"
                                  f"{result['error']}\n{kernel_log()}")
        seconds = time.perf_counter() - started
        autograded = nbformat.read(Path(root, "autograded", STUDENT, assignment, path.name), as_version=4)
        executed, errors = _executed_cells(nbg, autograded)
        with nbg.Gradebook(coursedir.db_url) as gradebook:
            scores = {grade.name: (grade.score or 0.0, grade.max_score)
                      for grade in gradebook.find_submission_notebook(assignment, assignment, STUDENT).grades}
    # the gradebook's scores, in the notebook's order, with each cell's error and time
    graded = [dataclasses.replace(cell, score=scores[cell.grade_id][0], points=scores[cell.grade_id][1])
              for cell in executed if cell.grade_id in scores]
    missing = [nbgrader_metadata(cell)["grade_id"] for cell in graded_cells(instructor)
               if nbgrader_metadata(cell)["grade_id"] not in scores]
    if missing:
        raise CourseError(f"nbgrader autograde recorded no score for {', '.join(missing)} of {submission}.")
    return GradeResult(str(path), graded, errors, seconds, _slowest(autograded))
