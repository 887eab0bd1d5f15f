"""nbgrader configuration for the kgen course (run nbgrader commands from ``course/``).

The notebooks are written and tested in ``course/`` with their reference solutions in place.
To make the student versions, run ``kgen course release --out DIR`` from the repository root
(nbgrader in a temporary course directory), or copy a notebook into ``source/<assignment>/``
and run ``nbgrader generate_assignment <assignment>``: see ``course/README.md``. nbgrader replaces
each ``### BEGIN SOLUTION`` … ``### END SOLUTION`` region by ``raise NotImplementedError()``
and keeps the graded cells, which call the property checks of ``kgen.testing``.
"""

import os

c = get_config()  # noqa: F821 - injected by nbgrader's config loader

# nbgrader scores a graded cell that writes anything to stderr as failed, and TensorFlow's C++
# logging writes an ERROR-level line from whichever cell first runs an int32 op on a CPU without
# AVX-512 ("oneDNN supports DT_INT32 only on platforms with AVX-512"): in notebook 02 that is a
# graded cell, which then got 0 points with the reference solution. The kernels that nbgrader
# starts inherit this environment (`kgen course check` sets the same).
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

c.CourseDirectory.course_id = "kgen"

# Training output and editor leftovers are not part of an assignment.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "runs"]

# Autograding executes each submitted notebook from the top. Run it in smoke mode
# (`KGEN_SMOKE=1 nbgrader autograde ...`): a notebook then takes about a minute, and its
# graded cells test only the student's functions, never a training result.
c.Execute.timeout = 1800
