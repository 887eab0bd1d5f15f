"""RealNVP: a normalizing flow of affine coupling layers (Dinh, Sohl-Dickstein & Bengio 2017,
"Density estimation using Real NVP").

Each coupling layer keeps part of its input and scales and shifts the rest with parameters
computed from the kept part (:class:`kgen.layers.AffineCoupling`, eq. 7–9), so inverse and
log-determinant are cheap: both directions take one pass, and log p(x) is exact
(:mod:`kgen.models.flow`).

* **Vectors** (D,): ``num_couplings`` layers with alternating half masks.
* **Images** (H, W, C), the multi-scale architecture of §3.6: the logit transform
  (:class:`kgen.layers.LogitTransform`, α = 0.05, §4.1), then at each of the first
  ``num_scales − 1`` scales three checkerboard couplings, a squeeze, three channel couplings and
  the factoring out of half of the channels; the last scale has four checkerboard couplings.
  Masks alternate within each group. The paper's coupling networks are deep ResNets (8 blocks of
  64 features for CIFAR-10) with batch normalization; kgen uses a 3-layer conv net per coupling
  (:func:`kgen.layers.coupling.conv_conditioner`) and no normalization, which is enough at the
  sizes a CPU trains.
"""

from kgen.layers.coupling import AffineCoupling
from kgen.layers.dequantization import LogitTransform
from kgen.layers.squeeze import Squeeze
from kgen.models.base import register_model
from kgen.models.flow import Flow
from kgen.validation import check_choice, check_positive_float, check_positive_int, check_shape


@register_model("realnvp", "RealNVP: a normalizing flow of affine couplings (Dinh et al. 2017)")
class RealNVP(Flow):
    """RealNVP for vectors or images.

    Args:
        input_shape: ``(D,)`` for vectors, ``(H, W, C)`` for images in [0, 1] (H and W divisible
            by 2^(num_scales − 1)).
        num_couplings: coupling layers of a vector flow.
        num_scales: scales of an image flow (3 for the paper's CIFAR-10 model); each but the last
            squeezes and factors out half of the channels.
        hidden_units: MLP hidden units (vectors: a tuple, or an int for two layers) or conv channels
            (images) of each coupling network.
        scale: ``"tanh"`` (default), ``"sigmoid"`` or ``"additive"`` (NICE), see
            :class:`kgen.layers.AffineCoupling`.
        logit_alpha: α of the logit transform for images.
        num_bins: intensity levels per pixel of the image data (256 for 8-bit images).
        seed: seed of the model's random draws.
    """

    def __init__(self, input_shape, num_couplings=8, num_scales=2, hidden_units=64, scale="tanh",
                 logit_alpha=0.05, num_bins=256, seed=None, **kwargs):
        input_shape = check_shape(input_shape)
        if len(input_shape) not in (1, 3):
            raise ValueError(f"`input_shape` must be (D,) or (H, W, C); got {input_shape}.")
        super().__init__(input_shape, num_bins=num_bins, seed=seed, **kwargs)
        self.num_couplings = check_positive_int(num_couplings, "num_couplings")
        self.num_scales = check_positive_int(num_scales, "num_scales")
        self.hidden_units = tuple(hidden_units) if isinstance(hidden_units, (list, tuple)) else hidden_units
        self.scale = check_choice(scale, "scale", ("tanh", "sigmoid", "additive"))
        self.logit_alpha = check_positive_float(logit_alpha, "logit_alpha")
        if self.is_image:
            self._build_image_flow()
        else:
            couplings = [AffineCoupling("half", i % 2, self.hidden_units, self.scale) for i in range(self.num_couplings)]
            self.set_layers(couplings)

    def _build_image_flow(self):
        height, width, _ = self.input_shape
        factor = 2 ** (self.num_scales - 1)
        if height % factor or width % factor:
            raise ValueError(
                f"`input_shape` {self.input_shape}: height and width must be divisible by "
                f"2^(num_scales − 1) = {factor} for num_scales={self.num_scales}."
            )

        def couplings(mask, count):
            return [AffineCoupling(mask, i % 2, self.hidden_units, self.scale) for i in range(count)]

        flow_layers, factor_out_after = [LogitTransform(self.logit_alpha)], []
        for _ in range(self.num_scales - 1):
            flow_layers += couplings("checkerboard", 3) + [Squeeze()] + couplings("channel", 3)
            factor_out_after.append(len(flow_layers) - 1)
        flow_layers += couplings("checkerboard", 4)
        self.set_layers(flow_layers, factor_out_after)

    def get_config(self):
        return {**super().get_config(), "num_couplings": self.num_couplings,
                "num_scales": self.num_scales, "hidden_units": self.hidden_units, "scale": self.scale,
                "logit_alpha": self.logit_alpha}
