"""Metrics of generative models: disentanglement scores and the information measures behind
them, and sample quality (two-sample distances, precision/recall, mode coverage, feature nets).

``kgen.metrics.sample_quality`` is the function of that name; its module's other functions are
exported here too (``from kgen.metrics.sample_quality import ...`` also works).
"""

from kgen.metrics import disentanglement, features, information
from kgen.metrics.disentanglement import beta_vae_score, dci, evaluate, factor_vae_score, mig
from kgen.metrics.features import FeatureExtractor, feature_extractor
from kgen.metrics.sample_quality import (
    energy_distance,
    frechet_distance,
    kernel_distance,
    mmd,
    mode_coverage,
    precision_recall,
    sample_quality,
)

__all__ = [
    "FeatureExtractor",
    "beta_vae_score",
    "dci",
    "disentanglement",
    "energy_distance",
    "evaluate",
    "factor_vae_score",
    "feature_extractor",
    "features",
    "frechet_distance",
    "information",
    "kernel_distance",
    "mig",
    "mmd",
    "mode_coverage",
    "precision_recall",
    "sample_quality",
]
