"""The course notebooks' graded exercises, tested without running the notebooks.

Each notebook keeps its reference solutions between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` in cells that nbgrader marks ``"solution": true``; the cell after each
holds the graded check (``"grade": true``), which calls ``kgen.testing``. Here we parse the
``.ipynb`` JSON, execute the solution cells and grade them with those checks (fast: no
training), and check that the student version nbgrader would make (solutions replaced by
``raise NotImplementedError()``) fails its checks instead of passing them.
"""

import json
import re
from pathlib import Path

import pytest

from kgen import testing

COURSE = Path(__file__).resolve().parents[2] / "course"

# What a solution cell may use without importing it: the notebook's setup cell imports these.
PRELUDE = """
import keras
import numpy as np
import tensorflow as tf
from keras import ops

import kgen
import kgen.testing
"""

# Each notebook: its graded functions with the kgen.testing check of each, and the papers it must cite.
NOTEBOOKS = {
    "00_probability_and_keras.ipynb": {
        "checks": {
            "gaussian_log_prob": testing.check_gaussian_log_prob,
            "diagonal_gaussian_kl": testing.check_diagonal_gaussian_kl,
            "train_step": testing.check_train_step,
        },
        "papers": ("Dillon", "Kullback & Leibler", "Grathwohl", "Dinh"),
    },
    "01_vae_and_beta_vae.ipynb": {
        "checks": {
            "reparameterize": testing.check_reparameterize,
            "gaussian_kl": testing.check_gaussian_kl,
            "bernoulli_log_likelihood": testing.check_bernoulli_log_likelihood,
            "elbo": testing.check_elbo,
        },
        "papers": ("Kingma & Welling", "Rezende", "Higgins", "Burgess", "Burda"),
    },
    "02_disentanglement.ipynb": {
        "checks": {
            "permute_dims": testing.check_permute_dims,
            "tc_estimate": testing.check_tc_estimate,
            "mig": testing.check_mig,
        },
        "papers": ("Higgins", "Kim & Mnih", "Chen et al.", "Hoffman & Johnson", "Locatello", "Eastwood & Williams"),
    },
    "03_normalizing_flows.ipynb": {
        "checks": {
            "affine_coupling_forward": testing.check_affine_coupling_forward,
            "affine_coupling_inverse": testing.check_affine_coupling_inverse,
            "made_masks": testing.check_made_masks,
        },
        "papers": ("Dinh", "Kingma & Dhariwal", "Papamakarios", "Germain", "Nalisnick", "Ren"),
    },
    "04_score_matching_ncsn.ipynb": {
        "checks": {
            "dsm_loss": testing.check_dsm_loss,
            "annealed_langevin_step": testing.check_annealed_langevin_step,
        },
        "papers": ("Hyvärinen", "Vincent", "Song & Ermon", "Roberts & Tweedie"),
    },
    "05_diffusion_and_ddgan.ipynb": {
        "checks": {
            "posterior_coefficients": testing.check_posterior_coefficients,
            "ddpm_reverse_step": testing.check_ddpm_reverse_step,
            "discriminator_loss": testing.check_ddgan_discriminator_loss,
        },
        "papers": ("Ho, J.", "Sohl-Dickstein", "Xiao, Z.", "Song, J.", "Mescheder", "Székely"),
    },
    "06_latent_ebm_prior.ipynb": {
        "checks": {
            "energy_loss": testing.check_energy_loss,
            "posterior_langevin_step": testing.check_posterior_langevin_step,
        },
        "papers": ("Pang", "Han", "Nijkamp", "Hoffman & Johnson", "Tomczak & Welling", "Zenati"),
    },
    "07_evaluating_generative_models.ipynb": {
        "checks": {
            "bits_per_dim": testing.check_bits_per_dim,
            "frechet_distance_gaussians": testing.check_frechet_distance_gaussians,
            "kid_mmd2": testing.check_kid_mmd2,
        },
        "papers": ("Theis", "Burda", "Heusel", "Bińkowski", "Kynkäänniemi", "Nalisnick", "Locatello",
                   "Chong & Forsyth"),
    },
}

BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"  # nbgrader matches these anywhere in a line


def source(cell):
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.fixture(scope="module", params=sorted(NOTEBOOKS))
def notebook_name(request):
    return request.param


@pytest.fixture(scope="module")
def notebook(notebook_name):
    return json.loads((COURSE / notebook_name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def checks(notebook_name):
    return NOTEBOOKS[notebook_name]["checks"]


@pytest.fixture(scope="module")
def code_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


@pytest.fixture(scope="module")
def solution_cells(code_cells):
    return [cell for cell in code_cells if nbgrader(cell).get("solution")]


@pytest.fixture(scope="module")
def graded_cells(code_cells):
    return [cell for cell in code_cells if nbgrader(cell).get("grade")]


def run_cells(cells, namespace=None):
    namespace = {} if namespace is None else namespace
    exec(PRELUDE, namespace)
    for cell in cells:
        exec(compile(source(cell), f"<cell {nbgrader(cell).get('grade_id')}>", "exec"), namespace)
    return namespace


def strip_solutions(text):
    """What ``nbgrader generate_assignment`` does to a solution cell (ClearSolutions): the lines
    between the markers become the code stub, indented like the BEGIN marker."""
    lines, out, inside = text.splitlines(), [], False
    for line in lines:
        if BEGIN in line:
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
            inside = True
        elif END in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


@pytest.fixture(scope="module")
def solutions(solution_cells):
    return run_cells(solution_cells)


# ------------------------------------------------------------------------------- structure
def test_notebook_has_the_graded_exercises(solution_cells, graded_cells):
    assert len(solution_cells) >= 2
    ids = [nbgrader(cell)["grade_id"] for cell in solution_cells + graded_cells]
    assert len(ids) == len(set(ids)), f"nbgrader grade_ids must be unique: {ids}"
    for cell in solution_cells:
        meta = nbgrader(cell)
        assert meta == {"grade": False, "solution": True, "locked": False,
                        "schema_version": 3, "grade_id": meta["grade_id"]}
        text = source(cell)
        assert text.count(BEGIN) == 1 and text.count(END) == 1, meta["grade_id"]
        assert text.index(BEGIN) < text.index(END)
    for cell in graded_cells:
        meta = nbgrader(cell)
        assert meta["locked"] is True and meta["solution"] is False and meta["points"] > 0
        assert meta["schema_version"] == 3
        assert re.search(r"kgen\.testing\.check_\w+\(", source(cell)), meta["grade_id"]


def test_solution_markers_appear_only_in_solution_cells(notebook):
    """nbgrader looks for the markers in every cell, markdown included, and fails on a cell
    that mentions them without being a solution cell."""
    for cell in notebook["cells"]:
        if not nbgrader(cell).get("solution"):
            text = source(cell)
            assert BEGIN not in text and END not in text, text[:200]


def test_each_solution_is_followed_by_its_graded_check(code_cells):
    for index, cell in enumerate(code_cells):
        if nbgrader(cell).get("solution"):
            following = code_cells[index + 1]
            assert nbgrader(following).get("grade"), (
                f"solution cell {nbgrader(cell)['grade_id']} must be followed by a graded test cell"
            )


def test_solution_cells_define_the_exercise_functions(solutions, checks):
    for name in checks:
        assert callable(solutions.get(name)), f"the notebook defines no function `{name}`"


def test_every_graded_cell_calls_the_check_of_its_exercise(graded_cells, checks):
    called = {re.search(r"kgen\.testing\.(check_\w+)\(", source(cell)).group(1) for cell in graded_cells}
    assert called == {check.__name__ for check in checks.values()}


# ----------------------------------------------------------------------------- grading
def test_reference_solutions_pass_their_checks(solutions, checks):
    for name, check in checks.items():
        check(solutions[name])


def test_graded_cells_pass_on_the_reference_solutions(solutions, graded_cells):
    for cell in graded_cells:
        exec(source(cell), dict(solutions))


def test_student_version_fails_every_graded_cell(solution_cells, graded_cells):
    stripped = [dict(cell, source=strip_solutions(source(cell))) for cell in solution_cells]
    for cell in stripped:
        assert "raise NotImplementedError()" in source(cell)
        assert BEGIN not in source(cell)
    namespace = run_cells(stripped)
    for cell in graded_cells:
        with pytest.raises(AssertionError, match="not implemented yet"):
            exec(source(cell), dict(namespace))


# ------------------------------------------------------------------------------ hygiene
def test_notebook_is_saved_without_outputs(code_cells):
    for cell in code_cells:
        assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
            "clear the notebook's outputs before committing (Kernel → Restart & Clear Output)"
        )


def test_notebook_has_smoke_flag_seed_and_references(notebook, notebook_name):
    text = "\n".join(source(cell) for cell in notebook["cells"])
    assert 'SMOKE = bool(os.environ.get("KGEN_SMOKE") or os.environ.get("CI"))' in text
    assert "keras.utils.set_random_seed" in text
    for paper in NOTEBOOKS[notebook_name]["papers"]:
        assert paper in text, paper


def test_every_notebook_of_the_course_is_graded_here():
    assert {path.name for path in COURSE.glob("[0-9][0-9]_*.ipynb")} == set(NOTEBOOKS)
