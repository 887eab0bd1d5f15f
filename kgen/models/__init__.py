"""kgen's generative models: each a ``keras.Model`` that trains with ``fit()``.

``MODELS`` maps each model's snake_case name (used by the CLI) to its class.
"""

from kgen.models.base import GenerativeModel
from kgen.models.beta_tcvae import BetaTCVAE
from kgen.models.factor_vae import FactorVAE
from kgen.models.flow import Flow
from kgen.models.glow import Glow
from kgen.models.maf import MAF
from kgen.models.ncsn import NCSN
from kgen.models.realnvp import RealNVP
from kgen.models.vae import VAE, BetaVAE

MODELS = {"vae": VAE, "beta_vae": BetaVAE, "ncsn": NCSN, "factor_vae": FactorVAE, "beta_tcvae": BetaTCVAE,
          "realnvp": RealNVP, "glow": Glow, "maf": MAF}

__all__ = ["MODELS", "NCSN", "BetaTCVAE", "FactorVAE", "VAE", "BetaVAE", "GenerativeModel", "Flow", "RealNVP", "Glow", "MAF"]
