"""Glow: a multi-scale flow of ActNorm, invertible 1×1 convolutions and affine couplings
(Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1×1 Convolutions").

The architecture of §3 and fig. 2, with L scales (``num_scales``) of K steps each
(``steps_per_scale``), data → latent:

    for each scale:  squeeze → K × [ActNorm → invertible 1×1 conv → affine coupling] → split

where the split (all scales but the last) factors out half of the channels with the learned
conditional prior of the paper's code (:class:`kgen.layers.SplitPrior`). The coupling keeps the
first half of the channels (the 1×1 convolution replaces RealNVP's alternating masks), its
network is Conv 3×3 → ReLU → Conv 1×1 → ReLU → zero Conv 3×3 with ``hidden_units`` channels
(512 in the paper), and its scale is σ(h + 2) (``coupling="affine"``) or 1 (``"additive"``, the
paper's cheaper variant). The 1×1 convolutions use the LU parameterization by default.

Data y ∈ [0, 1] (dequantized) enters the first ActNorm directly: its data-dependent
initialization centres and scales it, the role of the paper's x − 0.5. Sampling at a
temperature T < 1 (``sample(n, temperature=0.7)``) scales every Gaussian of the latent code,
including the split priors, by T (§5.3). Differences from the paper: no learned prior for the
top level (N(0, I) there), no class conditioning.

Training: deep Glows can diverge in their first steps, before ActNorm and the couplings settle
(NaN losses, then an LU kernel that is no longer invertible). The paper's code (openai/glow,
``train.py``) raises the learning rate linearly from 0 to 1e-3 over the first 10 epochs; in Keras::

    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps, warmup_target=1e-3,
                                                      warmup_steps=warmup_steps)
    glow.compile(keras.optimizers.Adam(schedule, global_clipnorm=10.0))
    glow.fit(images, callbacks=[keras.callbacks.TerminateOnNaN()], ...)
"""

from kgen.layers.actnorm import ActNorm
from kgen.layers.coupling import AffineCoupling
from kgen.layers.invertible_conv import InvertibleConv1x1
from kgen.layers.squeeze import SplitPrior, Squeeze
from kgen.models.base import register_model
from kgen.models.flow import Flow
from kgen.validation import check_choice, check_positive_int, check_shape


@register_model("glow", "Glow: a multi-scale flow with invertible 1x1 convolutions (Kingma & Dhariwal 2018)")
class Glow(Flow):
    """Glow for images (H, W, C) in [0, 1].

    Args:
        input_shape: ``(H, W, C)``, H and W divisible by 2^num_scales.
        num_scales: L, the number of levels of the multi-scale architecture (3 for CIFAR-10 in
            the paper).
        steps_per_scale: K, flow steps per scale (32 in the paper).
        hidden_units: channels of the coupling networks (512 in the paper).
        coupling: ``"affine"`` or ``"additive"``.
        lu: LU-decomposed 1×1 convolutions.
        num_bins: intensity levels per pixel of the data (256 for 8-bit images).
        seed: seed of the model's random draws.
    """

    def __init__(self, input_shape, num_scales=3, steps_per_scale=32, hidden_units=512, coupling="affine",
                 lu=True, num_bins=256, seed=None, **kwargs):
        input_shape = check_shape(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"`input_shape` must be (H, W, C): Glow models images; got {input_shape}.")
        super().__init__(input_shape, num_bins=num_bins, seed=seed, **kwargs)
        self.num_scales = check_positive_int(num_scales, "num_scales")
        self.steps_per_scale = check_positive_int(steps_per_scale, "steps_per_scale")
        self.hidden_units = check_positive_int(hidden_units, "hidden_units")
        self.coupling = check_choice(coupling, "coupling", ("affine", "additive"))
        self.lu = lu
        height, width, _ = input_shape
        if height % 2**self.num_scales or width % 2**self.num_scales:
            raise ValueError(
                f"`input_shape` {input_shape}: height and width must be divisible by 2^num_scales = "
                f"{2**self.num_scales} for num_scales={self.num_scales}."
            )
        scale = "sigmoid" if self.coupling == "affine" else "additive"
        flow_layers, factor_out_after = [], []
        for level in range(self.num_scales):
            flow_layers.append(Squeeze())
            for _ in range(self.steps_per_scale):
                flow_layers += [ActNorm(), InvertibleConv1x1(lu=lu), AffineCoupling("channel", 0, self.hidden_units, scale)]
            if level < self.num_scales - 1:
                flow_layers.append(SplitPrior())
                factor_out_after.append(len(flow_layers) - 1)
        self.set_layers(flow_layers, factor_out_after)

    def get_config(self):
        return {**super().get_config(), "num_scales": self.num_scales, "steps_per_scale": self.steps_per_scale,
                "hidden_units": self.hidden_units, "coupling": self.coupling, "lu": self.lu}
