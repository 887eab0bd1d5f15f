"""nbgrader configuration for the kgen course (run nbgrader commands from ``course/``).

The notebooks are written and tested in ``course/`` with their reference solutions in place.
To make the student version, copy a notebook into ``source/<assignment>/`` and run
``nbgrader generate_assignment <assignment>``: see ``course/README.md``. nbgrader replaces
each ``### BEGIN SOLUTION`` … ``### END SOLUTION`` region by ``raise NotImplementedError()``
and keeps the graded cells, which call the property checks of ``kgen.testing``.
"""

c = get_config()  # noqa: F821 - injected by nbgrader's config loader

c.CourseDirectory.course_id = "kgen"

# Training output and editor leftovers are not part of an assignment.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "runs"]

# Autograding executes each submitted notebook from the top. Run it in smoke mode
# (`KGEN_SMOKE=1 nbgrader autograde ...`): a notebook then takes about a minute, and its
# graded cells test only the student's functions, never a training result.
c.Execute.timeout = 1800
