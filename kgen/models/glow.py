"""Glow: a multi-scale flow of ActNorm, invertible 1×1 convolutions and affine couplings
(Kingma & Dhariwal 2018, "Glow: Generative Flow with Invertible 1×1 Convolutions").

The architecture of §3 and fig. 2, with L levels of K steps each (data → latent):

    for each level:  squeeze → K × [ActNorm → invertible 1×1 conv → affine coupling] → split

where the split (all levels but the last) factors out half of the channels with the learned
conditional prior of the paper's code (:class:`kgen.layers.SplitPrior`). The coupling keeps the
first half of the channels (the 1×1 convolution replaces RealNVP's alternating masks), its
network is Conv 3×3 → ReLU → Conv 1×1 → ReLU → zero Conv 3×3 with ``hidden`` channels (512 in
the paper), and its scale is σ(h + 2) (``coupling="affine"``) or 1 (``"additive"``, the
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

import keras

from kgen.layers.actnorm import ActNorm
from kgen.layers.coupling import AffineCoupling
from kgen.layers.invertible_conv import InvertibleConv1x1
from kgen.layers.squeeze import SplitPrior, Squeeze
from kgen.models.flow import Flow
from kgen.validation import check_choice, check_positive_int, check_shape


@keras.saving.register_keras_serializable(package="kgen")
class Glow(Flow):
    """Glow for images (H, W, C) in [0, 1].

    Args:
        image_shape: ``(H, W, C)``, H and W divisible by 2^levels.
        levels: L, the number of scales (3 for CIFAR-10 in the paper).
        steps_per_level: K, flow steps per level (32 in the paper).
        hidden: channels of the coupling networks (512 in the paper).
        coupling: ``"affine"`` or ``"additive"``.
        lu: LU-decomposed 1×1 convolutions.
        num_levels: grey levels of the data (256 for 8-bit images).
        seed: seed of the model's random draws.
    """

    def __init__(self, image_shape, levels=3, steps_per_level=32, hidden=512, coupling="affine",
                 lu=True, num_levels=256, seed=None, **kwargs):
        image_shape = check_shape(image_shape, "image_shape")
        if len(image_shape) != 3:
            raise ValueError(f"`image_shape` must be (H, W, C); got {image_shape}.")
        super().__init__(image_shape, num_levels=num_levels, seed=seed, **kwargs)
        self.levels = check_positive_int(levels, "levels")
        self.steps_per_level = check_positive_int(steps_per_level, "steps_per_level")
        self.hidden = check_positive_int(hidden, "hidden")
        self.coupling = check_choice(coupling, "coupling", ("affine", "additive"))
        self.lu = lu
        height, width, _ = image_shape
        if height % 2**self.levels or width % 2**self.levels:
            raise ValueError(
                f"`image_shape` {image_shape}: height and width must be divisible by 2^levels = "
                f"{2**self.levels} for levels={self.levels}."
            )
        scale = "sigmoid" if self.coupling == "affine" else "additive"
        flow_layers, factor_out_after = [], []
        for level in range(self.levels):
            flow_layers.append(Squeeze())
            for _ in range(self.steps_per_level):
                flow_layers += [ActNorm(), InvertibleConv1x1(lu=lu), AffineCoupling("channel", 0, self.hidden, scale)]
            if level < self.levels - 1:
                flow_layers.append(SplitPrior())
                factor_out_after.append(len(flow_layers) - 1)
        self.set_layers(flow_layers, factor_out_after)

    def get_config(self):
        return {**super().get_config(), "image_shape": self.data_shape, "levels": self.levels,
                "steps_per_level": self.steps_per_level, "hidden": self.hidden, "coupling": self.coupling,
                "lu": self.lu}
