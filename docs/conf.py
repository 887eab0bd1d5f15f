"""Sphinx configuration of kgen's reference site.

Build it from the repository root, warnings as errors:

    sphinx-build -W --keep-going -b html docs docs/_build/html

The pages are the README, ARCHITECTURE.md, the course index and its notebooks (rendered by
MyST-NB, never executed, as students get them: solutions replaced by nbgrader's stubs), and an
API reference that autodoc builds from the docstrings (autosummary walks the ``kgen`` package,
so a new module appears by itself). Sphinx only reads files under ``docs/``, so the
repository's own Markdown files and notebooks are mirrored into ``docs/repo/`` (git ignores it)
before each build, with the repository's layout, which keeps their relative links working. No
pandoc or other system package is needed.
"""

import json
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # autodoc imports kgen, and so TensorFlow

from kgen import course  # noqa: E402  (standard library only: TensorFlow loads with autodoc)

#: The repository's files that the site renders, mirrored into docs/repo/ (same layout).
MIRRORED = ["README.md", "ARCHITECTURE.md", "datasets/README.md", "course/README.md",
            "course/[0-9][0-9]_*.ipynb", "docs/*.png"]


def mirror(root=ROOT, target=DOCS / "repo"):
    """Copy the files of ``MIRRORED`` under ``target``, the notebooks as students get them
    (every solution region replaced by nbgrader's stub: the site must not hand out the
    reference solutions). A copy whose content is unchanged is left alone (so Sphinx rebuilds
    only what changed), and one no longer in the repository is removed."""
    wanted = {path.relative_to(root) for pattern in MIRRORED for path in root.glob(pattern)}
    for relative in wanted:
        source, copy = root / relative, target / relative
        content = source.read_bytes()
        if source.suffix == ".ipynb":
            shown = course.without_solutions(course.read_notebook(source))
            content = (json.dumps(shown, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
        if not copy.is_file() or copy.read_bytes() != content:
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(content)
    for copy in [path for path in target.rglob("*") if path.is_file()]:
        if copy.relative_to(target) not in wanted:
            copy.unlink()


mirror()

import kgen  # noqa: E402

project = "kgen"
author = "the kgen authors"
copyright = "the kgen authors, Apache-2.0"
release = version = kgen.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/.ipynb_checkpoints"]

# MyST: $…$ and $$…$$ math in Markdown and notebooks, anchors for links to headings.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
# Notebooks are shown as committed (code and text; outputs are cleared in the repository).
nb_execution_mode = "off"

# The API reference: kgen's own docstrings only. Members inherited from Keras keep Keras'
# docstrings out (autodoc_inherit_docstrings); a package documents what it defines, and its
# re-exports are documented once, in the module that defines them (ignore-module-all).
autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = True
napoleon_custom_sections = [("Fields", "params_style")]  # a NamedTuple's fields, like Args

html_theme = "furo"
html_title = f"kgen {release}"


# ------------------------------------------------------------------ kgen's docstring notation
# kgen's docstrings write math in Unicode, where two ASCII characters mean what they mean in
# math and Python, never reStructuredText markup: ``|`` for absolute values, determinants and
# conditioning (|det ∂x/∂z|, q(z | x)), never a substitution reference; and ``*name`` for
# unpacking in shapes ((batch, *input_shape)), never the start of emphasis. Both are escaped
# before the docstrings are parsed, except inside ``literals``, `roles` and literal blocks.
_LITERAL = re.compile(r"(``.+?``|`[^`]+`)")
_UNPACKING = re.compile(r"(?:(?<=[(\[])|(?<=, ))\*(?=[A-Za-z_(])(?=[^\s*]*(?:\s|$))")


def _escape(text):
    pieces = _LITERAL.split(text)
    for index in range(0, len(pieces), 2):  # the even pieces are outside literals and roles
        pieces[index] = _UNPACKING.sub(r"\\*", pieces[index].replace("|", r"\|"))
    return "".join(pieces)


def escape_math_notation(app, what, name, obj, options, lines):
    """``autodoc-process-docstring``: escape ``|`` and unpacking ``*`` (see above), leaving
    literal blocks (after ``::`` or a code/math directive) and doctest lines alone."""
    block_indent = None
    for index, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if block_indent is not None:
            if not line.strip() or indent > block_indent:
                continue
            block_indent = None
        stripped = line.strip()
        if stripped.startswith(">>>") or stripped.startswith("..."):
            continue
        if stripped.endswith("::") or re.match(r"\.\. (code-block|code|math|sourcecode)::", stripped):
            block_indent = indent
            lines[index] = _escape(line[: len(line) - 2]) + "::" if stripped.endswith("::") else line
            continue
        lines[index] = _escape(line)


def setup(app):
    app.connect("autodoc-process-docstring", escape_math_notation)
