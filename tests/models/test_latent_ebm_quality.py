"""Slow tier: a LatentEBM trained on the 8×8 digits learns, fills the prior hole of a Gaussian
prior and samples better than the Gaussian-prior generator trained the same way (run with
``pytest -m slow``).

Setting (the course notebook's, §2–§6): the 1 500 training digits scaled to [−1, 1] as in the
authors' code (σ = 0.3), a 2-D latent space, kgen's default conv decoder as the generator, the
paper's chains (K₋ = 60 at s = 0.4, K₊ = 20 at s = 0.1) and Adam(β = 0.5, 0.999) with the
paper's learning rates times 10 (1e-3 for G, 2e-4 for E), batch 64, 200 epochs (4 600 steps).

Measured on a 2-core CPU (seed 0; about 3 minutes for the EBM, 2 for the baseline):

* aggregate posterior (one posterior sample per training digit) vs N(0, I), energy distance:
  0.138 for the Gaussian-prior generator, 0.046 for the latent EBM; vs the EBM's own prior
  (as many short-run samples): 0.011. Two sets of 1 500 draws of one 2-D distribution give
  ≈ 0 ± 0.001 (``test_latent_ebm.py``).
* Fréchet distance on kgen's digits classifier features (297 samples against 297 training
  images; the test images' floor ≈ 10): 84 for the Gaussian prior, 44 for the EBM prior.
* reconstruction ‖x − G(z₊)‖² per image: 29.5 after the first epoch, 12.8 after the last.
"""

import keras
import numpy as np
import pytest

import kgen
from kgen.metrics import energy_distance, sample_quality
from kgen.models import LatentEBM

EPOCHS = 200


def digits():
    x_train, _ = kgen.data.load_images("digits", split="train")
    return 2 * x_train - 1


def train(energy):
    keras.utils.set_random_seed(0)
    model = LatentEBM((8, 8, 1), latent_dim=2, energy=energy, seed=0)
    optimizers = {"optimizer": keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.999)}
    if energy is None:
        optimizers["energy_optimizer"] = keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.999)
    model.compile(**optimizers)
    history = model.fit(digits(), batch_size=64, epochs=EPOCHS, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    return model, history


def frechet(model):
    samples = np.clip((np.asarray(model.sample(1500, seed=0)) + 1) / 2, 0, 1)
    return sample_quality(samples, "digits", n=1500, seed=0)["frechet_distance"]


@pytest.mark.slow
def test_the_latent_ebm_learns_fills_the_prior_hole_and_beats_the_gaussian_prior():
    x = digits()
    gaussian = np.random.default_rng(3).normal(size=(len(x), 2))
    baseline, _ = train("zero")
    ebm, history = train(None)

    assert history["reconstruction"][-1] < 0.6 * history["reconstruction"][0]
    codes_baseline = baseline.posterior_sample(x, seed=1).numpy()
    codes = ebm.posterior_sample(x, seed=1).numpy()
    prior = ebm.prior_sample(len(x), seed=2).numpy()
    hole_baseline = energy_distance(codes_baseline, gaussian)
    hole_gaussian, hole_ebm = energy_distance(codes, gaussian), energy_distance(codes, prior)
    fd_baseline, fd_ebm = frechet(baseline), frechet(ebm)
    print(f"aggregate posterior vs N(0, I): baseline {hole_baseline:.4f}, EBM model {hole_gaussian:.4f}; "
          f"vs the EBM prior {hole_ebm:.4f}; Fréchet distance: baseline {fd_baseline:.1f}, EBM {fd_ebm:.1f}")
    assert hole_ebm < 0.5 * hole_gaussian  # the learned prior is the closer one
    assert hole_ebm < 0.5 * hole_baseline
    assert fd_ebm < fd_baseline  # the paper's claim, against its own baseline
    assert fd_ebm < 80  # digit-like samples: after 5 epochs it was 148
