"""One small model per registered name, for the contract suite (``test_contract.py``) and for
the MirroredStrategy script it runs in a subprocess (which imports this file via ``sys.path``).

``FACTORIES[name]()`` returns ``(model, x)``: a fresh, tiny, seeded model and data it fits.
Every name in :func:`kgen.models.registered_models` needs an entry here; the contract suite
fails for a model registered without one. A :class:`Factory` also says how the suite should
use the model cheaply (``sample_options``) and which constructor arguments are not taken from
the data (``arguments``), which ``from_data`` is given.

This file imports only NumPy and kgen, so that the subprocess can import it before it has set
up its devices.
"""

import numpy as np

from kgen.data import toy2d
from kgen.layers import tc_discriminator, time_discriminator_mlp, time_mlp
from kgen.layers.score_networks import conditional_mlp
from kgen.models import DDGAN, DDPM, MAF, NCSN, VAE, BetaTCVAE, BetaVAE, FactorVAE, Glow, RealNVP
from kgen.models.latent_ebm import LatentEBM

#: Examples per data set: four batches of ``BATCH_SIZE``.
NUM_EXAMPLES = 64
BATCH_SIZE = 16


def small_binary_images(n=NUM_EXAMPLES, seed=0):
    """``n`` binary 8×8 images, a bright 4×4 square at a random place (for the VAEs)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 8, 8, 1), dtype="float32")
    for image, (row, col) in zip(images, rng.integers(0, 5, size=(n, 2))):
        image[row : row + 4, col : col + 4] = 1.0
    return images


def small_8bit_images(n=NUM_EXAMPLES, seed=0):
    """``n`` 8-bit 8×8 images in [0, 1] (pixels k/255), brighter towards the bottom (for Glow)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.2, 1.0, 8, dtype="float32")[:, None, None]
    return (np.round(rng.random((n, 8, 8, 1)) * ramp * 255) / 255).astype("float32")


def small_points(n=NUM_EXAMPLES, seed=0):
    """``n`` 2-D points of the 8-Gaussians toy set (for the vector models)."""
    return toy2d("8gaussians", n, seed=seed)


class Factory:
    """A small model of ``model_class`` and its data.

    Args:
        model_class: the registered class.
        data: a function returning the training data.
        arguments: a function returning all of the constructor arguments, written out (fresh
            sub-networks on every call); ``from_data`` is given those it does not take from
            the data.
        sample_options: keyword arguments that make ``sample`` cheap.
    """

    def __init__(self, model_class, data, arguments, sample_options=None):
        self.model_class, self.data, self.arguments = model_class, data, arguments
        self.sample_options = dict(sample_options or {})

    def __call__(self):
        return self.model_class(**self.arguments()), self.data()


IMAGES = (8, 8, 1)
POINTS = (2,)

FACTORIES = {
    "vae": Factory(VAE, small_binary_images, lambda: {"input_shape": IMAGES, "latent_dim": 2, "seed": 1}),
    "beta_vae": Factory(
        BetaVAE, small_binary_images, lambda: {"input_shape": IMAGES, "latent_dim": 2, "beta": 4.0, "seed": 1}
    ),
    "beta_tcvae": Factory(
        BetaTCVAE,
        small_binary_images,
        lambda: {"input_shape": IMAGES, "latent_dim": 2, "dataset_size": NUM_EXAMPLES, "estimator": "mss", "seed": 1},
    ),
    "factor_vae": Factory(
        FactorVAE,
        small_binary_images,
        lambda: {"input_shape": IMAGES, "latent_dim": 2, "gamma": 2.0,
                 "discriminator": tc_discriminator(2, units=8, layers=2), "seed": 1},
    ),
    "realnvp": Factory(
        RealNVP, small_points, lambda: {"input_shape": POINTS, "num_couplings": 2, "hidden_units": 8, "seed": 1}
    ),
    "glow": Factory(
        Glow,
        small_8bit_images,
        lambda: {"input_shape": IMAGES, "num_scales": 2, "steps_per_scale": 1, "hidden_units": 8, "seed": 1},
    ),
    "maf": Factory(MAF, small_points, lambda: {"input_shape": POINTS, "num_mades": 2, "hidden_units": (8, 8), "seed": 1}),
    "ncsn": Factory(
        NCSN,
        small_points,
        lambda: {"input_shape": POINTS, "num_noise_levels": 3, "sigma_max": 4.0,
                 "network": conditional_mlp(2, hidden_units=(8,), embedding_dim=4), "seed": 1},
        sample_options={"steps_per_level": 2},
    ),
    "ddpm": Factory(
        DDPM,
        small_points,
        lambda: {"input_shape": POINTS, "num_timesteps": 8, "schedule": "cosine", "betas": None,
                 "network": time_mlp(2, hidden_units=(8,), embedding_dim=4), "data_scale": 2.0, "seed": 1},
    ),
    "ddgan": Factory(
        DDGAN,
        small_points,
        lambda: {"input_shape": POINTS, "num_timesteps": 2, "latent_dim": 2,
                 "generator": time_mlp(2, hidden_units=(8,), embedding_dim=4, latent_dim=2, mapping_layers=1),
                 "discriminator": time_discriminator_mlp(2, hidden_units=(8,), embedding_dim=4),
                 "r1_gamma": 0.02, "lazy_r1_interval": 2, "ema_decay": 0.5, "beta_min": 0.1,
                 "beta_max": 20.0, "data_scale": 2.0, "seed": 1},
    ),
    "latent_ebm": Factory(
        LatentEBM,
        small_points,
        lambda: {"input_shape": POINTS, "latent_dim": 2, "likelihood_sigma": 1.0, "prior_steps": 5,
                 "posterior_steps": 5, "seed": 1},
        sample_options={"steps": 3},
    ),
}
