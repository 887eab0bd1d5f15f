"""The course's assignments end to end through nbgrader, for every notebook of ``course/``.

For each notebook, in smoke mode (``KGEN_SMOKE=1``):

1. **instructor** — the notebook as committed validates (``kgen course check``): every graded
   cell passes and no other cell raises;
2. **released** — its student version (``kgen course release``: nbgrader's
   ``generate_assignment``) fails validation on its stubs: ``validate --invert`` passes, i.e.
   no graded cell passes;
3. **solved** — that student version with each stub replaced by the reference solution, as a
   student who solved every exercise would submit it, gets full marks from
   ``nbgrader autograde``.

It prints a line per step with its time, the time of every graded cell (they must never train:
nbgrader's own default cell timeout is 30 s; a slower one is flagged), and a table at the end;
it exits 1 if any step fails. Run from the repository root:

    python .ci/assignments.py                      # every course/NN_*.ipynb
    python .ci/assignments.py course/04_score_matching_ncsn.ipynb
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from kgen import course

#: nbgrader's default ``Execute.timeout``: a graded cell slower than this is flagged.
GRADED_CELL_BUDGET = 30


def duration(seconds):
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {round(seconds % 60)} s"


def graded_times(cells):
    return ", ".join(f"{cell.grade_id} {cell.seconds:.1f} s" if cell.seconds is not None else cell.grade_id
                     for cell in cells)


def slow_graded(cells):
    return [cell for cell in cells if cell.seconds is not None and cell.seconds > GRADED_CELL_BUDGET]


def round_trip(path, out, timeout):
    """The three steps for one notebook; returns ``{step: (ok, seconds, detail)}``."""
    steps = {}

    def step(name, ok, seconds, detail, cells):
        steps[name] = (ok, seconds, detail)
        print(f"  {name:10} {'ok' if ok else 'FAILED'} in {duration(seconds)}: {detail}", flush=True)
        if cells:
            print(f"             graded cells: {graded_times(cells)}", flush=True)
        for cell in slow_graded(cells):
            print(f"             WARNING: graded cell {cell.grade_id} ran {cell.seconds:.0f} s, over nbgrader's "
                  f"default {GRADED_CELL_BUDGET} s cell timeout: graded cells must not train", flush=True)

    instructor = course.check(path, timeout=timeout)
    step("instructor", instructor.ok, instructor.seconds,
         f"{instructor.score:g}/{instructor.points:g} points, "
         f"{len(instructor.errors)} cells with errors", instructor.graded)
    if not instructor.ok:
        print(instructor.report())

    started = time.perf_counter()
    (released_path,) = course.release([path], out / "release")
    released = course.check(released_path, invert=True, timeout=timeout)
    passed = [cell.grade_id for cell in released.graded if cell.passed]
    step("released", released.ok, time.perf_counter() - started,
         f"{len(released.graded) - len(passed)} of {len(released.graded)} graded cells fail on their stubs"
         + (f"; passing: {', '.join(passed)}" if passed else ""), [])
    if not released.ok:
        print(released.report())

    solved_path = out / "solved" / path.name
    solved_path.parent.mkdir(parents=True, exist_ok=True)
    course.write_notebook(course.fill_in(course.read_notebook(released_path), course.read_notebook(path)),
                          solved_path)
    grade = course.autograde(path, solved_path, timeout=timeout)
    step("solved", grade.full_marks and not grade.errors, grade.seconds,
         f"autograde {grade.score:g}/{grade.points:g} points, "
         f"{len(grade.errors)} cells with errors", grade.graded)
    for cell in grade.graded:
        if not cell.passed:
            print(f"             {cell.grade_id}: {cell.score:g}/{cell.points:g}: {cell.error}")
    for error in grade.errors:
        print(f"             error in cell {error.index} ({error.first_line}): {error.error}")
    return steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="default: course/NN_*.ipynb")
    parser.add_argument("--timeout", type=int, default=course.DEFAULT_CELL_TIMEOUT,
                        help=f"seconds per cell (default {course.DEFAULT_CELL_TIMEOUT})")
    args = parser.parse_args(argv)
    paths = [Path(name) for name in args.notebooks] or course.course_notebooks()
    started, results = time.perf_counter(), {}
    with tempfile.TemporaryDirectory(prefix="kgen-assignments-") as out:
        for path in paths:
            print(f"{path}:", flush=True)
            try:
                results[path.name] = round_trip(path, Path(out) / path.stem, args.timeout)
            except course.CourseError as error:
                print(f"  FAILED: {error}", flush=True)
                results[path.name] = {"error": (False, 0.0, str(error))}
    print(f"\n{'notebook':32} {'instructor':>12} {'released':>12} {'solved':>12}")
    for name, steps in results.items():
        cells = [f"{'ok' if steps[s][0] else 'FAILED'} {steps[s][1]:4.0f} s" if s in steps else "-"
                 for s in ("instructor", "released", "solved")]
        print(f"{name:32} {cells[0]:>12} {cells[1]:>12} {cells[2]:>12}")
    failed = [name for name, steps in results.items() if not all(ok for ok, _, _ in steps.values())]
    print(f"all notebooks in {duration(time.perf_counter() - started)}")
    print(f"assignments: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
