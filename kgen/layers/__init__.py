"""Building blocks: the networks that kgen's models wire together."""

from kgen.layers.networks import conv_decoder, conv_encoder, default_decoder, default_encoder, mlp

__all__ = ["conv_decoder", "conv_encoder", "default_decoder", "default_encoder", "mlp"]
