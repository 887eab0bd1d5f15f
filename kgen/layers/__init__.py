"""Building blocks: the networks that kgen's models wire together."""

from kgen.layers.networks import conv_decoder, conv_encoder, default_decoder, default_encoder, mlp
from kgen.layers.score_networks import (
    ConditionalNormalization,
    ConditionalResidualBlock,
    NoiseLevelEmbedding,
    conditional_mlp,
    conditional_unet,
    default_score_network,
)

__all__ = [
    "ConditionalNormalization",
    "ConditionalResidualBlock",
    "NoiseLevelEmbedding",
    "conditional_mlp",
    "conditional_unet",
    "conv_decoder",
    "conv_encoder",
    "default_decoder",
    "default_encoder",
    "default_score_network",
    "mlp",
]
