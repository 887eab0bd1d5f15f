"""Slow tier: the generative learning trilemma on the 2-D Gaussian grid, in numbers (run with
``pytest -m slow``).

Xiao, Kreis & Vahdat (2022, "Tackling the Generative Learning Trilemma with Denoising
Diffusion GANs", §3) argue that DDPM's Gaussian reverse step is accurate only for small steps:
with a few large steps the true denoising distribution q(x_{t−1} | x_t) is multimodal, which a
Gaussian cannot follow and a conditional GAN can. Three claims, on the 25-Gaussian grid of
:mod:`kgen.data.toy2d` (modes 2 apart, σ = 0.05, i.e. 40 σ between modes):

* DDGAN with T = 4 covers all 25 modes with ≥ 90 % of its samples within 3σ of a mode;
* DDPM sampled with 4 steps — deterministic DDIM (η = 0) on 4 of the 1000 steps the model was
  trained on, the sampler ``DDPM.sample(n, num_steps=4)`` gives — is worse than DDGAN by energy
  distance and by the share within 3σ;
* DDPM with all 1000 ancestral steps matches the data: its energy distance to held-out data is
  within the spread of the data's own: below the mean + 3 standard deviations of the energy
  distance between two independent draws of 2000 true points, over 20 pairs the test draws
  (measured: mean 0.0006, standard deviation 0.0025, largest 0.0057; bound 0.0081).

On the issue's second 2-D set, ``8gaussians``, DDGAN with T = 4 and the same recipe for
12 000 steps covers all 8 modes with ≥ 90 % within 3σ (its own test), and the DDPM test runs
there too: DDPM-1000 matches the data (energy distance 0.0029, 8/8, 98.5 %), DDIM-4 does not
(0.177, 71.5 %).

Each test trains one model (so that ``pytest -n`` can run them side by side); the second claim
is held through DDGAN's bounds: DDIM-4 must score above the energy distance and below the 3σ
share that the DDGAN test asserts for DDGAN.

Recipe (``train_ddpm``, ``train_ddgan``): the grid at its own scale (``data_scale=1``, as in
course notebook 05), 20 000 training points, batch 256, XLA. **DDPM**: T = 1000, linear β, the
default ε-MLP (3 × 128), Adam with a cosine-decayed learning rate 2·10⁻³ → 10⁻⁴ over 20 000
steps, no weight average. **DDGAN**: T = 4 (VP), the default MLPs (3 × 128), latent 16, EMA
0.999, R1 γ = 0.02 every 15 steps, both players Adam(5·10⁻⁴, β = (0.5, 0.9)) at a constant rate
for 30 000 steps.

How it was found (measured on this machine, seed 0): the notebook's recipe (DDGAN 12 000 steps,
DDPM 6 000) reached 20/25 modes and 79 % within 3σ for DDGAN, 17/25 and 54.5 % for DDPM-1000.
Training longer closed the gap: DDGAN hit 16/25 modes at 6 000 steps, 20 at 12 000 and 18 000,
all 25 from 24 000 on (90.9 %, 93.4 % at 30 000, 92.7 % at 36 000). The authors' code anneals
both learning rates with a cosine schedule to 10⁻⁵ (``CosineAnnealingLR`` in their
``train_ddgan.py``); on this grid that froze DDGAN at 15/25 modes (91 % within 3σ) over 30 000
steps. Wider networks (3 × 256) and a batch of 1 024 learned more slowly per second of CPU.

Figures measured on the shared 2-core CPU (2000 samples, seed 0; seed 1, from the exploration
run, in brackets): DDGAN T = 4: energy distance 0.0059 [0.0031], 25/25 modes [25/25], 93.7 %
[90.4 %] within 3σ, the rarest mode holding 2.8 % of the high-quality samples — the issue's
target is met, and asserted with margin (all modes, ≥ 87 %); DDPM-1000: 0.0030, 25/25, 96.7 %;
DDPM with 4 DDIM steps: 0.52, 1/25, 2.2 %. The whole file: 6 min 38 s wall (``pytest -n 0``, load
1 → 5), about 9 + 3.5 min of training at load 10–16.
"""

import keras
import numpy as np
import pytest

from kgen.data import toy2d
from kgen.data.toy2d import toy2d_modes
from kgen.metrics import energy_distance, mode_coverage
from kgen.models import DDGAN, DDPM

N_TRAIN = 20_000
N_SAMPLES = 2000
BATCH = 256
DDPM_STEPS = 20_000
DDPM_LEARNING_RATE = 2e-3
DDGAN_STEPS = 30_000
DDGAN_STEPS_8GAUSSIANS = 12_000
DDGAN_LEARNING_RATE = 5e-4
DDGAN_LATENT_DIM = 16
DDGAN_EMA_DECAY = 0.999
NULL_PAIRS = 20

# The bounds below, each with its measured value (seed 0; seed 1 in brackets where measured).
DDGAN_MODES = 25  # measured 25 [25]; the rarest mode held 2.8 % [2.7 %] of the high-quality samples, 3x the 0.9 % a hit needs
DDGAN_HIGH_QUALITY = 0.87  # measured 0.937 [0.904]; the target is 0.90
DDGAN_ENERGY_DISTANCE = 0.03  # measured 0.0059 [0.0031]
DDIM4_ENERGY_DISTANCE = 0.1  # measured 0.52 (0.14–1.23 at checkpoints of an exploration run)
DDIM4_HIGH_QUALITY = 0.2  # measured 0.022
DDGAN_8GAUSSIANS_HIGH_QUALITY = 0.93  # measured 0.978; the target is 0.90
DDGAN_8GAUSSIANS_ENERGY_DISTANCE = 0.04  # measured 0.0128


def held_out(name, seed=1):
    """Fresh points of the toy set, independent of the training set (seed 0)."""
    return toy2d(name, N_SAMPLES, seed=seed)


def figures(name, samples):
    """Energy distance to held-out data and the mode-coverage report of ``samples``."""
    means, std = toy2d_modes(name)
    return {"energy_distance": energy_distance(samples, held_out(name)), **mode_coverage(samples, means, std)}


def draw(model, **options):
    samples = np.asarray(model.sample(N_SAMPLES, seed=0, **options))
    assert np.isfinite(samples).all()
    return samples


def _fit(model, x, steps, **optimizers):
    """``steps`` training steps (whole epochs of batch ``BATCH``), compiled with XLA."""
    model.compile(**optimizers, jit_compile=True)
    epochs = round(steps * BATCH / len(x))
    history = model.fit(x, batch_size=BATCH, epochs=epochs, verbose=0).history
    assert all(np.all(np.isfinite(values)) for values in history.values())
    return model


def train_ddpm(name="25gaussians", seed=0):
    """DDPM, T = 1000 (linear β), default ε-MLP, on the data at their own scale; Adam with a
    cosine-decayed learning rate 2e-3 → 1e-4 over ``DDPM_STEPS`` steps, no weight average."""
    keras.utils.set_random_seed(seed)
    model = DDPM((2,), data_scale=1.0, seed=seed)
    schedule = keras.optimizers.schedules.CosineDecay(DDPM_LEARNING_RATE, DDPM_STEPS, alpha=0.05)
    return _fit(model, toy2d(name, N_TRAIN, seed=0), DDPM_STEPS, optimizer=keras.optimizers.Adam(schedule))


def train_ddgan(name="25gaussians", seed=0, steps=DDGAN_STEPS):
    """DDGAN, T = 4 (VP), default MLPs, latent 16, EMA 0.999, on the data at their own scale;
    both players Adam(5e-4, β = (0.5, 0.9)) at a constant rate for ``steps`` steps."""
    keras.utils.set_random_seed(seed)
    model = DDGAN((2,), latent_dim=DDGAN_LATENT_DIM, ema_decay=DDGAN_EMA_DECAY, data_scale=1.0, seed=seed)

    def adam():
        return keras.optimizers.Adam(DDGAN_LEARNING_RATE, beta_1=0.5, beta_2=0.9)

    return _fit(model, toy2d(name, N_TRAIN, seed=0), steps, optimizer=adam(), discriminator_optimizer=adam())


def null_energy_distances(name, pairs=NULL_PAIRS):
    """The energy distance between two independent draws of ``N_SAMPLES`` true points, ``pairs`` times."""
    return np.array([energy_distance(toy2d(name, N_SAMPLES, seed=100 + 2 * k), toy2d(name, N_SAMPLES, seed=101 + 2 * k))
                     for k in range(pairs)])


def report(label, values):
    print(f"{label}: energy distance {values['energy_distance']:.4f}, modes {values['modes_hit']}/"
          f"{values['num_modes']}, within 3σ {values['high_quality_share']:.3f}, "
          f"rarest mode {values['mode_weights'].min():.3f}")


@pytest.mark.slow
def test_ddgan_with_four_steps_covers_every_mode_of_the_grid():
    ddgan = figures("25gaussians", draw(train_ddgan()))
    report("DDGAN T=4", ddgan)
    assert ddgan["modes_hit"] >= DDGAN_MODES
    assert ddgan["high_quality_share"] >= DDGAN_HIGH_QUALITY
    assert ddgan["energy_distance"] < DDGAN_ENERGY_DISTANCE


#: Per data set: DDGAN's asserted bounds (energy distance below, share within 3σ above) and
#: DDIM-4's own (measured on 8gaussians: DDPM-1000 0.0029, 8/8, 98.5 %; DDIM-4 0.177, 71.5 %).
DDPM_CASES = {
    "25gaussians": {"ddgan": (DDGAN_ENERGY_DISTANCE, DDGAN_HIGH_QUALITY),
                    "ddim4": (DDIM4_ENERGY_DISTANCE, DDIM4_HIGH_QUALITY)},
    "8gaussians": {"ddgan": (DDGAN_8GAUSSIANS_ENERGY_DISTANCE, DDGAN_8GAUSSIANS_HIGH_QUALITY),
                   "ddim4": (0.1, 0.85)},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DDPM_CASES))
def test_ddpm_matches_the_data_with_1000_steps_and_fails_with_4_ddim_steps(name):
    ddpm = train_ddpm(name)
    ancestral, ddim4 = figures(name, draw(ddpm)), figures(name, draw(ddpm, num_steps=4))
    null = null_energy_distances(name)
    report(f"DDPM 1000, {name}", ancestral)
    report(f"DDPM DDIM 4, {name}", ddim4)
    print(f"data vs data: energy distance mean {null.mean():.4f}, std {null.std():.4f}, largest {null.max():.4f}")
    # 1000 ancestral steps: within the data's own spread, mean + 3 standard deviations of the null.
    assert ancestral["energy_distance"] < null.mean() + 3 * null.std()
    assert ancestral["modes_hit"] == ancestral["num_modes"]
    # 4 deterministic steps of the same network: worse than DDGAN's bounds on both figures (DDGAN's
    # test holds it below the energy distance bound and above the share bound).
    (ddgan_distance, ddgan_share), (ddim4_distance, ddim4_share) = DDPM_CASES[name]["ddgan"], DDPM_CASES[name]["ddim4"]
    assert ddim4["energy_distance"] > max(ddim4_distance, ddgan_distance)
    assert ddim4["high_quality_share"] < min(ddim4_share, ddgan_share)


@pytest.mark.slow
def test_ddgan_with_four_steps_covers_the_eight_gaussians():
    """The issue's second 2-D set, eight Gaussians on a circle (σ ≈ 0.35, modes 2.2 apart): the
    same recipe for 12 000 steps (3.5 min) — measured 8/8 modes, 97.8 % within 3σ, energy
    distance 0.0128 (the data's own: mean 0.0004, standard deviation 0.0025 over 20 pairs)."""
    ddgan = figures("8gaussians", draw(train_ddgan("8gaussians", steps=DDGAN_STEPS_8GAUSSIANS)))
    report("DDGAN T=4, 8gaussians", ddgan)
    assert ddgan["modes_hit"] == ddgan["num_modes"] == 8
    assert ddgan["high_quality_share"] >= DDGAN_8GAUSSIANS_HIGH_QUALITY
    assert ddgan["energy_distance"] < DDGAN_8GAUSSIANS_ENERGY_DISTANCE
