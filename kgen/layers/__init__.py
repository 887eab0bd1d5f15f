"""Building blocks: the networks that kgen's models wire together."""

from kgen.layers.actnorm import ActNorm
from kgen.layers.coupling import AffineCoupling
from kgen.layers.dequantization import LogitTransform, UniformDequantization
from kgen.layers.diffusion_networks import (
    Modulation,
    PixelNormalization,
    TimestepEmbedding,
    time_discriminator_conv,
    time_discriminator_mlp,
    time_mlp,
    time_unet,
)
from kgen.layers.energy import energy_mlp
from kgen.layers.flow_layer import FlowLayer
from kgen.layers.invertible_conv import InvertibleConv1x1
from kgen.layers.made import MADE, GaussianAutoregressive
from kgen.layers.networks import (
    conv_decoder,
    conv_encoder,
    default_decoder,
    default_encoder,
    mlp,
    tc_discriminator,
)
from kgen.layers.permutation import Permutation
from kgen.layers.score_networks import (
    ConditionalNormalization,
    ConditionalResidualBlock,
    NoiseLevelEmbedding,
    conditional_mlp,
    conditional_unet,
    default_score_network,
)
from kgen.layers.squeeze import SplitPrior, Squeeze

__all__ = [
    "MADE",
    "ActNorm",
    "AffineCoupling",
    "FlowLayer",
    "Modulation",
    "PixelNormalization",
    "TimestepEmbedding",
    "GaussianAutoregressive",
    "InvertibleConv1x1",
    "LogitTransform",
    "Permutation",
    "SplitPrior",
    "Squeeze",
    "UniformDequantization",
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
    "energy_mlp",
    "mlp",
    "tc_discriminator",
    "time_discriminator_conv",
    "time_discriminator_mlp",
    "time_mlp",
    "time_unet",
]
