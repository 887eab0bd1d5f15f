"""Metrics of generative models: disentanglement scores and the information measures behind them."""

from kgen.metrics import disentanglement, information
from kgen.metrics.disentanglement import beta_vae_score, dci, evaluate, factor_vae_score, mig

__all__ = [
    "beta_vae_score",
    "dci",
    "disentanglement",
    "evaluate",
    "factor_vae_score",
    "information",
    "mig",
]
