"""kgen's generative models: each a ``keras.Model`` that trains with ``fit()``.

Every model is registered by :func:`register_model` under its snake_case name (what ``kgen
train`` takes); ``MODELS`` and :func:`registered_models` map those names to the classes.
"""

from kgen.models.base import GenerativeModel, Player, register_model, registered_models
from kgen.models.beta_tcvae import BetaTCVAE
from kgen.models.ddgan import DDGAN
from kgen.models.ddpm import DDPM
from kgen.models.factor_vae import FactorVAE
from kgen.models.flow import Flow
from kgen.models.glow import Glow
from kgen.models.latent_ebm import LatentEBM
from kgen.models.maf import MAF
from kgen.models.ncsn import NCSN
from kgen.models.realnvp import RealNVP
from kgen.models.vae import VAE, BetaVAE

#: ``{name: class}`` of the models registered at import (derived from the registry).
MODELS = registered_models()

__all__ = [
    "DDGAN",
    "DDPM",
    "MAF",
    "MODELS",
    "NCSN",
    "VAE",
    "BetaTCVAE",
    "BetaVAE",
    "FactorVAE",
    "Flow",
    "GenerativeModel",
    "Glow",
    "LatentEBM",
    "Player",
    "RealNVP",
    "register_model",
    "registered_models",
]
