"""Slow tier: a trained NCSN's samples match 2-D toy data (run with ``pytest -m slow``).

Setting: the paper's schedule shape (L = 10 geometric levels down to σ_L = 0.01, T = 100
Langevin steps per level) with σ_1 from the data (NCSNv2 technique 1, ≈ 8 for 8gaussians) and ε
from NCSNv2 technique 4 (:func:`kgen.models.ncsn.recommended_step_size`); the default
conditional MLP trained with Adam and a cosine-decayed learning rate, 20 000 training points.

The statistics are those of ``tests/test_samplers.py``: the unbiased MMD² with a Gaussian kernel
and, for 8gaussians, the fraction of samples nearest to each mode. Bounds, measured between two
independent sets of 2000 true samples over 20 pairs:

* 8gaussians, bandwidth 1: null standard deviation 1.9·10⁻⁴, largest 2.5·10⁻⁴; bound 1.5·10⁻³.
  Samples spread on a ring around the modes (an under-trained score) score ≈ 4·10⁻³.
* swiss_roll, bandwidth 1: null standard deviation 4·10⁻⁴, largest 1.1·10⁻³; bound 2.5·10⁻³.

Figures reached (2 shared CPU cores): 8gaussians after 100 epochs (7 900 steps, about a minute):
MMD² ≈ 1.0·10⁻³, mode weights within 0.015 of 1/8, ≈ 97 % of samples within three standard
deviations of a mode centre (98.9 % for the data).
"""

import keras
import numpy as np
import pytest
from test_samplers import mmd2, nearest_mode_weights

from kgen.data import toy2d
from kgen.models import NCSN
from kgen.models.ncsn import recommended_step_size, sigma_max_from_data

# 8gaussians as documented in kgen.data.toy2d: means R·(cos kπ/4, sin kπ/4), R = 4/√2, std 0.5/√2.
MODE_MEANS = 4 / np.sqrt(2) * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)
MODE_STD = 0.5 / np.sqrt(2)
EPOCHS = 100
BATCH = 256
N_TRAIN = 20_000
N_SAMPLES = 2000


def train(name):
    x = toy2d(name, N_TRAIN, seed=0)
    model = NCSN((2,), sigma_max=sigma_max_from_data(x), sigma_min=0.01, num_noise_levels=10, seed=0)
    steps = EPOCHS * -(-N_TRAIN // BATCH)
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, steps, alpha=0.03)
    model.compile(keras.optimizers.Adam(schedule))
    history = model.fit(x, batch_size=BATCH, epochs=EPOCHS, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    samples = model.sample(N_SAMPLES, step_size=recommended_step_size(model.sigmas, 100), seed=0)
    assert np.all(np.isfinite(samples))
    return samples.numpy(), toy2d(name, N_SAMPLES, seed=1)


@pytest.mark.slow
def test_trained_ncsn_reproduces_8gaussians():
    samples, data = train("8gaussians")
    statistic = mmd2(samples, data)
    weights = nearest_mode_weights(samples, MODE_MEANS)
    distance = np.sqrt(((samples[:, None] - MODE_MEANS[None]) ** 2).sum(-1).min(1))
    near = np.mean(distance < 3 * MODE_STD)
    print(f"8gaussians: MMD² {statistic:.2e}, mode weights {np.round(weights, 3)}, near a mode {near:.3f}")
    assert statistic < 1.5e-3
    np.testing.assert_allclose(weights, 1 / 8, atol=0.03)  # ≈ 4 standard errors
    assert near > 0.95


@pytest.mark.slow
def test_trained_ncsn_reproduces_the_swiss_roll():
    samples, data = train("swiss_roll")
    statistic = mmd2(samples, data)
    print(f"swiss_roll: MMD² {statistic:.2e}")
    assert statistic < 2.5e-3
