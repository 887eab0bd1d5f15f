"""Disentanglement metrics: perfect codes score 1, uninformative codes score at chance, the
scores ignore permutations and rescalings of the code and drop when two factors are mixed."""

import keras
import numpy as np
import pytest

from kgen.data import DSprites
from kgen.metrics import beta_vae_score, dci, evaluate, factor_vae_score, mig
from kgen.models import BetaVAE


class FactorGrid:
    """A ground-truth dataset whose "images" are the factor values themselves (as floats)."""

    factor_sizes = (8, 8, 3, 6, 10)

    def sample_factors(self, n, rng):
        return np.random.default_rng(rng).integers(0, self.factor_sizes, size=(n, len(self.factor_sizes)))

    def render(self, factors):
        return np.asarray(factors, dtype="float32")


SIZES = np.array(FactorGrid.factor_sizes)
CHANCE = 1 / len(SIZES)


def perfect(images):
    return np.asarray(images, dtype=float)


def standardized(images):
    return (np.asarray(images, dtype=float) - (SIZES - 1) / 2) / SIZES


def mixed(images):
    """Factors 0 and 1 rotated by 45° into code dimensions 0 and 1: both dimensions carry both."""
    z = standardized(images)
    z0, z1 = (z[:, 0] + z[:, 1]) / np.sqrt(2), (z[:, 0] - z[:, 1]) / np.sqrt(2)
    return np.column_stack([z0, z1, z[:, 2:]])


def permuted_and_rescaled(images):
    z = perfect(images)[:, [3, 0, 4, 2, 1]]
    return z * np.array([2.0, -0.5, 7.0, -3.0, 1.5]) + np.array([1.0, 2.0, -3.0, 0.0, 5.0])


def uninformative(images):
    return np.random.default_rng(len(images)).normal(size=(len(images), 5))


@pytest.fixture(scope="module")
def factors():
    return FactorGrid().sample_factors(3000, 0)


# -------------------------------------------------------------------------------------- MIG
def test_mig_is_one_for_the_factors_and_near_zero_for_noise(factors):
    assert mig(perfect(factors), factors) > 0.99
    assert mig(uninformative(factors), factors) < 0.03


def test_mig_ignores_permutation_and_rescaling_and_drops_when_factors_mix(factors):
    assert mig(permuted_and_rescaled(factors), factors) == pytest.approx(mig(perfect(factors), factors), abs=1e-9)
    assert mig(mixed(factors), factors) < mig(standardized(factors), factors) - 0.3


def test_mig_with_more_factor_values_than_bins_is_below_one():
    factors = np.random.default_rng(0).integers(0, 40, size=(5000, 1))
    assert 0.7 < mig(factors.astype(float), factors, num_bins=20) < 0.95  # 40 values share 20 bins
    assert mig(factors.astype(float), factors, num_bins=40) > 0.99


# -------------------------------------------------------------------------------------- DCI
def test_dci_scores_the_factors_near_one_and_noise_near_zero(factors):
    scores = dci(perfect(factors), factors, n_estimators=20)
    assert min(scores.values()) > 0.95
    noise = dci(uninformative(factors), factors, n_estimators=20)
    assert noise["disentanglement"] < 0.15 and noise["completeness"] < 0.15
    assert noise["informativeness"] < 0.3


def test_dci_ignores_permutation_and_rescaling_and_drops_when_factors_mix(factors):
    clean = dci(perfect(factors), factors, n_estimators=20)
    changed = dci(permuted_and_rescaled(factors), factors, n_estimators=20)
    for name in clean:
        assert changed[name] == pytest.approx(clean[name], abs=0.01), name
    entangled = dci(mixed(factors), factors, n_estimators=20)
    assert entangled["disentanglement"] < clean["disentanglement"] - 0.1
    assert entangled["completeness"] < clean["completeness"] - 0.1


# --------------------------------------------------------------------------- BetaVAE score
SMALL = {"batch_size": 16, "num_train": 300, "num_eval": 200}


def test_beta_vae_score_is_one_for_the_factors_and_chance_for_noise():
    assert beta_vae_score(perfect, FactorGrid(), **SMALL) > 0.99
    assert beta_vae_score(permuted_and_rescaled, FactorGrid(), **SMALL) > 0.99
    assert beta_vae_score(uninformative, FactorGrid(), **SMALL) < CHANCE + 0.12


def test_beta_vae_score_drops_when_two_factors_mix():
    clean = beta_vae_score(standardized, FactorGrid(), **SMALL)
    assert beta_vae_score(mixed, FactorGrid(), **SMALL) < clean - 0.15  # factors 0 and 1 look alike


# ------------------------------------------------------------------------- FactorVAE score
def test_factor_vae_score_is_one_for_the_factors_and_chance_for_noise():
    assert factor_vae_score(perfect, FactorGrid(), num_variance_estimate=1000, **SMALL) == 1.0
    noise = factor_vae_score(uninformative, FactorGrid(), num_variance_estimate=1000, **SMALL)
    assert noise < CHANCE + 0.15


def test_factor_vae_score_is_invariant_to_permutation_and_rescaling_and_drops_when_factors_mix():
    args = dict(num_variance_estimate=1000, **SMALL)
    clean = factor_vae_score(standardized, FactorGrid(), **args)
    assert factor_vae_score(permuted_and_rescaled, FactorGrid(), **args) == clean
    assert factor_vae_score(mixed, FactorGrid(), **args) < clean - 0.15


def test_factor_vae_score_prunes_collapsed_dimensions():
    def with_collapsed(images):
        z = perfect(images)
        return np.column_stack([z, 1e-3 * np.random.default_rng(0).normal(size=(len(z), 3))])

    args = dict(num_variance_estimate=1000, **SMALL)
    assert factor_vae_score(with_collapsed, FactorGrid(), **args) == 1.0
    assert factor_vae_score(lambda images: 1e-3 * perfect(images), FactorGrid(), **args) == 0.0


# ---------------------------------------------------------------------------------- evaluate
def test_evaluate_runs_every_metric_on_a_model_and_dsprites():
    model = BetaVAE((16, 16, 1), latent_dim=3, seed=0)
    scores = evaluate(model, DSprites(resolution=16), num_train=60, num_eval=40, batch_size=8, n_estimators=5)
    assert set(scores) == {
        "beta_vae_score", "factor_vae_score", "mig", "dci_disentanglement", "dci_completeness", "dci_informativeness"
    }
    assert all(0.0 <= value <= 1.0 for value in scores.values())
    assert evaluate(model, DSprites(resolution=16), metrics="mig", num_train=60, num_eval=40) == {
        "mig": scores["mig"]
    }


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: mig(np.zeros((5, 2)), np.zeros((4, 2), int)), ValueError, "same number of rows; got 5 and 4"),
        (lambda: mig(np.zeros((5, 2)), np.zeros((5, 2))), TypeError, "`factors` must hold integer"),
        (lambda: mig(np.full((5, 2), np.nan), np.zeros((5, 2), int)), ValueError, "NaN or infinite"),
        (lambda: mig(np.zeros(5), np.zeros((5, 2), int)), ValueError, r"`codes` must be a non-empty 2-D array"),
        (lambda: mig(np.zeros((5, 2)), np.zeros((5, 2), int), num_bins=0), ValueError, "`num_bins`"),
        (lambda: dci(np.zeros((5, 2)), np.zeros((5, 2), int), test_fraction=1.5), ValueError, "`test_fraction`"),
        (lambda: beta_vae_score("encoder", FactorGrid()), TypeError, "`represent` must be a function"),
        (lambda: factor_vae_score(perfect, object()), TypeError, "`dataset` must provide sample_factors"),
        (lambda: beta_vae_score(perfect, FactorGrid(), batch_size=1), ValueError, "`batch_size` must be at least 2"),
        (lambda: evaluate(BetaVAE((4,), 2), FactorGrid(), metrics=("sap",)), ValueError, "Unknown `metrics` 'sap'"),
        (lambda: evaluate(keras.layers.Dense(2), FactorGrid()), TypeError, "`model` must have an `encode"),
        (lambda: beta_vae_score(lambda x: x[:, 0], FactorGrid(), num_train=2, num_eval=2), ValueError,
         r"codes of shape \(n, d\)"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call()
