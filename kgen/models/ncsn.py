"""Noise-conditional score networks (NCSN) and annealed Langevin sampling.

Song & Ermon (2019, "Generative Modeling by Estimating Gradients of the Data Distribution")
learn the score ∇ₓ log p_σ(x) of the data smoothed by Gaussian noise, p_σ = p_data * N(0, σ² I),
for a geometric sequence of noise levels σ_1 > σ_2 > … > σ_L (σ_1 = 1, σ_L = 0.01, L = 10 for
images in [0, 1]; §5 of the paper), with one network s_θ(x, σ) conditioned on the level.

Training is denoising score matching (Vincent 2011) averaged over the levels with the weight
λ(σ) = σ² (Song & Ermon eq. 5–6), one random level per example (as in the authors' code):

    i ~ U{1, …, L},  z ~ N(0, I),  x̃ = x + σ_i·z,
    loss = E ½ σ_i² ‖ s_θ(x̃, σ_i) + (x̃ − x)/σ_i² ‖² = E ½ ‖ σ_i·s_θ(x̃, σ_i) + z ‖²

(:func:`kgen.losses.denoising_score_matching`). Its minimiser is s_θ(·, σ) = ∇ log p_σ.

Parameterization: s_θ(x, σ) = net([x, σ]) / σ, the output scaling of NCSNv2 (Song & Ermon
2020, "Improved Techniques for Training Score-Based Generative Models", technique 3), with the
network also conditioned on σ through a noise-level embedding (:mod:`kgen.layers.score_networks`).
The true score of p_σ has norm ~ √D/σ, so dividing by σ lets the network output values of
order one at every level; with λ(σ) = σ² the loss above becomes ½‖net(x̃, σ) + z‖²: the network
predicts the (negative) noise.

Sampling is annealed Langevin dynamics (Algorithm 1; :func:`kgen.samplers.annealed_langevin`):
at level i, T = 100 steps of x ← x + (α_i/2)·s_θ(x, σ_i) + √α_i·z with α_i = ε·σ_i²/σ_L²,
ε = 2·10⁻⁵, then a final denoising step x + σ_L²·s_θ(x, σ_L) (Jolicoeur-Martineau et al.
2021; NCSNv2). Chains start from uniform noise on [0, 1] for images (as in the paper) and from
N(0, σ_1² I) for vectors: the data should then be roughly centred with σ_1 of the order of the
largest distance between data points (NCSNv2 technique 1, :func:`sigma_max_from_data`).
:meth:`NCSN.inpaint` is Algorithm 2: the known entries are replaced by their noised values at
each level.

Helpers: :func:`geometric_sigmas` (the schedule), :func:`sigma_max_from_data` (NCSNv2
technique 1) and :func:`recommended_step_size` (NCSNv2 technique 4, for ε when σ_L or T differ
from the paper's). NCSNv2 technique 5, an exponential moving average of the weights, is a
Keras optimizer option: ``compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True,
ema_momentum=0.999))`` (``fit`` swaps the averaged weights in at the end).
"""

import keras
import numpy as np
from keras import ops

from kgen import backend, losses, samplers
from kgen.layers.score_networks import default_score_network
from kgen.models.base import GenerativeModel, register_model
from kgen.samplers import check_sigmas
from kgen.validation import check_data, check_positive_float, check_positive_int

PAPER_STEP_SIZE = 2e-5
PAPER_STEPS_PER_LEVEL = 100

__all__ = ["NCSN", "geometric_sigmas", "recommended_step_size", "sigma_max_from_data"]


# ------------------------------------------------------------------------------ noise schedule
def geometric_sigmas(sigma_max=1.0, sigma_min=0.01, num_noise_levels=10):
    """σ_i = σ_max·(σ_min/σ_max)^((i−1)/(L−1)), i = 1 … L: a geometric sequence from σ_max down
    to σ_min (Song & Ermon 2019, §4.2), as float32."""
    sigma_max = check_positive_float(sigma_max, "sigma_max")
    sigma_min = check_positive_float(sigma_min, "sigma_min")
    num_noise_levels = check_positive_int(num_noise_levels, "num_noise_levels")
    if num_noise_levels < 2 or sigma_min >= sigma_max:
        raise ValueError(
            "A geometric schedule needs `num_noise_levels` ≥ 2 and `sigma_min` < `sigma_max`; got "
            f"num_noise_levels={num_noise_levels}, sigma_max={sigma_max}, sigma_min={sigma_min}. For a "
            "single level pass `sigmas=[sigma]`."
        )
    return np.geomspace(sigma_max, sigma_min, num_noise_levels).astype("float32")


def sigma_max_from_data(x, max_points=2000, seed=0):
    """The largest Euclidean distance between two training examples (NCSNv2 technique 1: σ_1 of
    that size lets the noised distribution at the first level cover all the data, so Langevin
    chains can move between any two modes).

    Computed exactly on a random subsample of ``max_points`` examples (all of them if fewer),
    so it is a lower bound of the distance over the whole set.
    """
    x = np.asarray(keras.ops.convert_to_numpy(x))
    if x.ndim < 2 or len(x) < 2:
        raise ValueError(f"`x` must be a batch of at least 2 examples; got shape {x.shape}.")
    check_data(x, x.shape[1:], "x")
    max_points = check_positive_int(max_points, "max_points")
    if len(x) > max_points:
        x = x[np.random.default_rng(seed).choice(len(x), max_points, replace=False)]
    flat = x.reshape(len(x), -1).astype("float64")
    squared = np.sum(flat**2, axis=1)
    largest = 0.0
    for start in range(0, len(flat), 512):  # row blocks bound the memory to 512 × n
        block = flat[start : start + 512]
        d2 = squared[start : start + 512, None] + squared[None] - 2.0 * block @ flat.T
        largest = max(largest, float(d2.max()))
    return float(np.sqrt(max(largest, 0.0)))


def recommended_step_size(sigmas, steps_per_level=PAPER_STEPS_PER_LEVEL):
    """ε for annealed Langevin by NCSNv2 technique 4 (Song & Ermon 2020, Prop. 3), in the
    notation of Algorithm 1 (x ← x + (α/2)·s + √α·z, α_i = ε·σ_i²/σ_L²).

    For data concentrated at one point, p_σ = N(0, σ² I) and each step is
    x ← a·x + √α_i·z with a = 1 − ε/(2σ_L²) at every level; starting level i with the variance
    σ_{i−1}² = γ²σ_i² of the previous level (γ = σ_{i−1}/σ_i), after T steps the variance is

        s_T² / σ_i² = a^{2T} (γ² − r) + r,    r = (ε/σ_L²) / (1 − a²).

    Technique 4 picks the ε that brings this closest to 1 (the chains then match p_{σ_i} at the
    end of every level). ``γ`` is the largest ratio of consecutive levels. (NCSNv2 states the
    same formula for its code's rule x + a·s + √(2a)·z, where its ε is half of ours.)

    With an exact score this ε samples 2-D mixtures well; with a learned one it is a lower
    bound worth raising: on 8×8 digits (σ 4.8 → 0.01, T = 100) it gave ε ≈ 7·10⁻⁶ and speckled
    samples, the paper's 2·10⁻⁵ cleaner ones.
    """
    sigmas = check_sigmas(sigmas)
    steps = check_positive_int(steps_per_level, "steps_per_level")
    gamma = float(np.max(sigmas[:-1] / sigmas[1:])) if len(sigmas) > 1 else 1.0
    last = sigmas[-1] ** 2
    epsilons = last * np.geomspace(1e-8, 1.0, 4000)
    a = 1.0 - epsilons / (2.0 * last)
    r = (epsilons / last) / (1.0 - a**2)
    ratio = a ** (2 * steps) * (gamma**2 - r) + r
    return float(epsilons[np.argmin(np.abs(ratio - 1.0))])


@register_model("ncsn", "NCSN: noise-conditional score network with annealed Langevin sampling (Song & Ermon 2019)")
class NCSN(GenerativeModel):
    """Noise-conditional score network (Song & Ermon 2019) with annealed Langevin sampling.

    Args:
        input_shape: shape of one example: ``(H, W, C)`` images with values in [0, 1], or
            ``(D,)`` vectors (roughly centred on 0).
        sigmas: the noise levels σ_1 > … > σ_L, largest first; ``None`` builds the geometric
            schedule from ``sigma_max``, ``sigma_min`` and ``num_noise_levels``.
        num_noise_levels: L, the number of noise levels (10 in the paper).
        sigma_max: σ_1 (1.0 in the paper, for images in [0, 1]; for other data see
            :func:`sigma_max_from_data`, which :meth:`from_data` applies to vector data).
        sigma_min: σ_L (0.01 in the paper).
        network: a Keras network [x, σ (batch, 1)] → the shape of x, whose output divided by σ
            is the score; default :func:`kgen.layers.score_networks.default_score_network`
            (a conditional U-Net for images, a conditional MLP for vectors).
        step_size: ε of :meth:`sample`; ``None``: the paper's 2·10⁻⁵ for images, and for
            vectors NCSNv2's technique 4 (:func:`recommended_step_size`) for these σ and the
            sampler's steps per level (the paper's ε is tuned to images in [0, 1]).
        seed: seed of the model's random draws (training noise and ``sample()`` without seed).

    Reports ``loss``: the σ²-weighted DSM loss ½‖σ·s_θ(x̃, σ) + z‖² averaged over the batch
    (a zero score gives D/2, half the data dimension; part of it is irreducible, most at the
    small levels). :meth:`level_losses` breaks it down by level. Besides the model contract
    (``fit``, ``sample``, ``.keras`` files), the model has :meth:`score` and :meth:`inpaint`.
    """

    def __init__(
        self,
        input_shape,
        sigmas=None,
        num_noise_levels=10,
        sigma_max=1.0,
        sigma_min=0.01,
        network=None,
        step_size=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(input_shape, seed=seed, **kwargs)
        self.sigma_max = check_positive_float(sigma_max, "sigma_max")
        self.sigma_min = check_positive_float(sigma_min, "sigma_min")
        self._user_sigmas = sigmas is not None
        if sigmas is None:
            levels = check_positive_int(num_noise_levels, "num_noise_levels")
            self.sigmas = geometric_sigmas(self.sigma_max, self.sigma_min, levels)
        else:
            self.sigmas = check_sigmas(sigmas).astype("float32")
        self.step_size = None if step_size is None else check_positive_float(step_size, "step_size")
        self.network = self.use_network("network", network, lambda: default_score_network(self.input_shape),
                                        [self.input_shape, (1,)], self.input_shape)

    # ----------------------------------------------------------------------- the contract
    @property
    def input_range(self):
        """Images must lie in [0, 1], where sampling starts from uniform noise; vectors are free."""
        if len(self.input_shape) != 3:
            return None
        return 0.0, 1.0, "for NCSN images (sampling starts from uniform noise on [0, 1])"

    @classmethod
    def data_arguments(cls, x):
        """The example shape and, for vectors, σ_1 = the largest distance between training
        points (NCSNv2 technique 1, :func:`sigma_max_from_data`)."""
        arguments = super().data_arguments(x)
        if len(arguments["input_shape"]) == 1:
            arguments["sigma_max"] = sigma_max_from_data(x)
        return arguments

    @property
    def num_noise_levels(self):
        """L, the number of noise levels."""
        return len(self.sigmas)

    def default_step_size(self, steps_per_level=PAPER_STEPS_PER_LEVEL):
        """ε when :meth:`sample` is given none: the constructor's ``step_size``, else the
        paper's for images and NCSNv2's technique 4 for vectors."""
        if self.step_size is not None:
            return self.step_size
        if len(self.input_shape) == 3:
            return PAPER_STEP_SIZE
        return recommended_step_size(self.sigmas, steps_per_level)

    def _score(self, x, sigma):
        """s_θ(x, σ) = net([x, σ]) / σ for one σ per example, ``sigma`` of shape (batch,); float32
        for float32 ``x`` (a mixed-precision network's output is widened before the division)."""
        sigma = ops.reshape(ops.cast(sigma, x.dtype), (-1, 1))
        output = backend.full_precision(self.network([x, sigma]))
        return output / ops.reshape(sigma, (-1,) + (1,) * len(self.input_shape))

    def _level_score(self, x, i):
        """s_θ(x, σ_i) with one level index ``i`` (a scalar tensor) for the whole batch: the
        score function :func:`kgen.samplers.annealed_langevin` calls."""
        sigma = ops.take(ops.convert_to_tensor(self.sigmas), i)
        return self._score(x, ops.full((ops.shape(x)[0],), sigma))

    def _check_points(self, x, name="x"):
        """Shape and finiteness, but no range: scores are evaluated at noisy points."""
        return check_data(x, self.input_shape, name)

    def _check_levels(self, sigma_index, batch):
        index = np.asarray(keras.ops.convert_to_numpy(sigma_index))
        if not np.issubdtype(index.dtype, np.integer) or index.ndim > 1:
            raise TypeError(
                f"`sigma_index` must be an int or an int array of shape (batch,); got {sigma_index!r}."
            )
        if np.any(index < 0) or np.any(index >= self.num_noise_levels):
            raise ValueError(
                f"`sigma_index` must lie in [0, {self.num_noise_levels - 1}] (one of the "
                f"{self.num_noise_levels} levels); got {index.tolist()}."
            )
        if index.ndim == 1 and len(index) != batch:
            raise ValueError(f"`sigma_index` has {len(index)} entries for a batch of {batch}.")
        return np.broadcast_to(index, (batch,))

    def score(self, x, sigma_index):
        """s_θ(x, σ_i) ≈ ∇ₓ log p_{σ_i}(x), the shape of ``x``.

        Args:
            x: a batch of shape (batch, *input_shape) (any finite values: noisy points too).
            sigma_index: the level i in [0, L): an int for the whole batch or one per example.
        """
        x = self._check_points(x)
        index = self._check_levels(sigma_index, len(x))
        return self._score(ops.convert_to_tensor(x), ops.take(self.sigmas, index))

    # ------------------------------------------------------------------------------ sampling
    def _initial_noise(self, n, seed_generator):
        """Uniform noise on [0, 1] for images (Song & Ermon 2019, §5), N(0, σ_1² I) for vectors."""
        shape = (n, *self.input_shape)
        if len(self.input_shape) == 3:
            return keras.random.uniform(shape, seed=seed_generator)
        return float(self.sigmas[0]) * keras.random.normal(shape, seed=seed_generator)

    def generate(self, n, seed_generator, steps_per_level=PAPER_STEPS_PER_LEVEL,
                 step_size=None, denoise=True, return_chain=False, thin=None,
                 jit_compile=True):
        """Annealed Langevin dynamics from uniform noise (images) or N(0, σ_1² I) (vectors); the
        sampler checks its arguments before it compiles anything."""
        x0 = self._initial_noise(n, seed_generator)
        if step_size is None:
            step_size = self.default_step_size(check_positive_int(steps_per_level, "steps_per_level"))
        return samplers.annealed_langevin(
            self._level_score, x0, self.sigmas, steps_per_level, step_size, seed=seed_generator,
            denoise=denoise, thin=thin, return_chain=return_chain, jit_compile=jit_compile,
        )

    def sample(self, n, steps_per_level=PAPER_STEPS_PER_LEVEL, step_size=None,
               denoise=True, seed=None, return_chain=False, thin=None, jit_compile=True):
        """``n`` samples by annealed Langevin dynamics (Algorithm 1), shape (n, *input_shape).

        Args:
            n: number of samples.
            steps_per_level: T, Langevin steps per noise level (100 in the paper).
            step_size: ε, the step at the last level; α_i = ε·σ_i²/σ_L² (2·10⁻⁵ in the paper
                for σ_L = 0.01; for other σ_L or T see :func:`recommended_step_size`);
                ``None``: :meth:`default_step_size`.
            denoise: end with the step x + σ_L²·s(x, σ_L).
            seed: an int for repeatable samples, ``None`` for the model's own generator.
            return_chain: also return the chain (see :func:`kgen.samplers.annealed_langevin`).
            thin: keep every ``thin``-th state of the chain.
            jit_compile: compile the sampling loop with XLA. On by default, by measurement
                (``benchmarks/ncsn.py``, 2-core CPU): XLA made sampling 1.4× faster for 8×8
                images and 1.1× for 28×28, with no extra cost on the first call (compiling
                took no longer than tracing) — unlike training, where kgen's default is off.

        Returns:
            The samples (values are not clipped to the data range), or ``(samples, chain)``.
        """
        return super().sample(n, seed=seed, steps_per_level=steps_per_level, step_size=step_size,
                              denoise=denoise, return_chain=return_chain, thin=thin,
                              jit_compile=jit_compile)

    def inpaint(self, x, mask, steps_per_level=PAPER_STEPS_PER_LEVEL, step_size=None,
                denoise=True, seed=None, return_chain=False, thin=None, jit_compile=True):
        """Fill in the unknown entries of ``x`` (Song & Ermon 2019, Algorithm 2).

        Annealed Langevin dynamics in which, after every step, the known entries are set to
        their values noised at the current level, y + σ_i·z̃ (z̃ drawn once per level); the
        result holds the known entries exactly.

        Args:
            x: a batch of data (batch, *input_shape); only the entries where ``mask`` is 1 are read.
            mask: 1 where ``x`` is known, 0 where it is to be sampled; the shape of ``x`` or one
                that broadcasts to it (e.g. (H, W, 1) for all images alike).
            Others: as in :meth:`sample`.

        Returns:
            The completed batch, or ``(completed, chain)``.
        """
        self.check_data(x)
        seed_generator = self.seed_source(seed)
        x0 = self._initial_noise(len(x), seed_generator)
        if step_size is None:
            step_size = self.default_step_size(check_positive_int(steps_per_level, "steps_per_level"))
        return samplers.annealed_langevin(
            self._level_score, x0, self.sigmas, steps_per_level, step_size, seed=seed_generator,
            denoise=denoise, thin=thin, return_chain=return_chain, known=x, mask=mask,
            jit_compile=jit_compile,
        )

    # ---------------------------------------------------------------------------- training
    def call(self, x, training=False):
        """One draw of the training noise: a level per example, x̃ = x + σ_i·z and s_θ(x̃, σ_i)."""
        batch = ops.shape(x)[0]
        index = keras.random.randint((batch,), 0, self.num_noise_levels, seed=self.seed_generator)
        sigma = ops.take(ops.convert_to_tensor(self.sigmas), index)
        noise = keras.random.normal(ops.shape(x), dtype=x.dtype, seed=self.seed_generator)
        x_noisy = x + ops.reshape(sigma, (-1,) + (1,) * len(self.input_shape)) * noise
        return {"sigma": sigma, "x_noisy": x_noisy, "score": self._score(x_noisy, sigma)}

    def loss_terms(self, x, outputs):
        per_example = losses.denoising_score_matching(
            outputs["score"], outputs["x_noisy"], x, outputs["sigma"], len(self.input_shape)
        )
        return {"loss": ops.mean(per_example)}

    def level_losses(self, x, seed=None):
        """The σ²-weighted DSM loss of the batch ``x`` at each level, shape (L,), one noise draw
        per example and level: how well each level's score is learned (all start at D/2)."""
        self.check_data(x)
        seed_generator = self.seed_source(seed)
        x = ops.convert_to_tensor(x)
        values = []
        for sigma in self.sigmas:
            noise = keras.random.normal(ops.shape(x), dtype=x.dtype, seed=seed_generator)
            x_noisy = x + float(sigma) * noise
            sigmas = ops.full((ops.shape(x)[0],), float(sigma))
            per_example = losses.denoising_score_matching(
                self._score(x_noisy, sigmas), x_noisy, x, float(sigma), len(self.input_shape)
            )
            values.append(ops.mean(per_example))
        return ops.stack(values)

    def evaluation_figures(self, x, seed=0, verbose=0):
        """The mean σ²-weighted DSM loss on ``x`` (noise levels and noise drawn from ``seed``):
        the objective's value on held-out data, D/2 for a zero score."""
        figures = super().evaluation_figures(x, seed=seed, verbose=verbose)
        return {"examples": figures["examples"], "dsm_loss": figures["loss"]}

    # ------------------------------------------------------------------------ serialization
    def get_config(self):
        return {
            **super().get_config(),
            "sigmas": [float(s) for s in self.sigmas] if self._user_sigmas else None,
            "num_noise_levels": self.num_noise_levels,
            "sigma_max": self.sigma_max,
            "sigma_min": self.sigma_min,
            "step_size": self.step_size,
        }


