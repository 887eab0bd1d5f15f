"""Denoising diffusion probabilistic models (DDPM) with ancestral and DDIM sampling.

Ho, Jain & Abbeel (2020, "Denoising Diffusion Probabilistic Models", NeurIPS) fix a forward
process that noises the data in T small Gaussian steps (:mod:`kgen.diffusion`),

    q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I),   q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I),

and learn the reverse steps p_θ(x_{t−1} | x_t) = N(μ_θ(x_t, t), σ_t² I). Writing the mean
through a network ε_θ that predicts the noise of x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,

    μ_θ(x_t, t) = μ̃_t(x̂_0, x_t),   x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ(x_t, t)) / √ᾱ_t,

(μ̃_t: the mean of the posterior q(x_{t−1} | x_t, x_0), eq. 7), the variational bound reduces,
up to weights per t, to the **simple loss** (eq. 14) that kgen trains:

    L_simple = E_{t ~ U{1..T}, x_0, ε ~ N(0, I)} ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖²,

reported per dimension (the mean over the entries of each example, as the paper's code does):
a network that predicts 0 scores 1.

**Ancestral sampling** (Algorithm 2): x_T ~ N(0, I), then for t = T … 1,
x_{t−1} = μ̃_t(x̂_0, x_t) + σ_t z with σ_t² = β̃_t, the posterior variance (the paper's
"fixed small" choice; at t = 1 no noise is added). For images x̂_0 is clipped to [−1, 1] at
every step, as in the paper's code. T network evaluations per sample.

**DDIM sampling** (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models", ICLR): the
same network also defines non-Markovian reverse processes on a subsequence τ of S ≪ T steps,

    x_{τ_{i+1}} = √ᾱ_{τ_{i+1}} x̂_0 + √(1 − ᾱ_{τ_{i+1}} − σ²) ε_θ + σ z,
    σ = η √((1 − ᾱ_{τ_{i+1}})/(1 − ᾱ_{τ_i})) √(1 − ᾱ_{τ_i}/ᾱ_{τ_{i+1}}),

deterministic for η = 0 (:meth:`kgen.diffusion.DiffusionSchedule.ddim_step`). S network
evaluations per sample: ``sample(n, num_steps=S)``.

Data: images (H, W, C) in [0, 1] are mapped to [−1, 1] (x ↦ 2x − 1, as the paper does) and
samples mapped back and clipped to [0, 1]; vectors are divided by ``data_scale`` (for 2-D toys
of scale ~3, :meth:`DDPM.data_arguments` sets it to the data's root mean square, so that the
diffused data have unit scale like the noise) and samples multiplied by it.

Defaults and their sources (Ho et al. 2020, §4 and appendix B; their released code): T = 1000,
linear β from 10⁻⁴ to 0.02 (for T ≠ 1000 both ends are scaled by 1000/T, the rule of Nichol &
Dhariwal 2021, "Improved Denoising Diffusion Probabilistic Models", so that ᾱ_T stays ≈ 4·10⁻⁵),
ε-prediction, Adam with learning rate 2·10⁻⁴, gradient norm clipped at 1 (their code), and an
exponential moving average of the weights with decay 0.9999 — through Keras' optimizer EMA
(``use_ema=True``: ``fit`` swaps the averaged weights in at its end). Not kept: their 5 000
warm-up steps and dropout 0.1. The EMA at 0.9999 needs hundreds of thousands of steps; at a CPU
budget of a few thousand, compile with ``keras.optimizers.Adam(2e-4, use_ema=True,
ema_momentum=0.99)`` or no EMA.
"""

import functools

import keras
import numpy as np
from keras import ops

from kgen import backend
from kgen.diffusion import DiffusionSchedule, ddim_timesteps, make_betas
from kgen.layers.diffusion_networks import default_epsilon_network
from kgen.models.base import GenerativeModel, Player, register_model
from kgen.validation import check_choice, check_positive_float, check_positive_int

__all__ = ["DDPM", "data_scale_from_data", "paper_ddpm_optimizer"]

#: Ho et al.'s linear schedule is stated for T = 1000; other T scale both ends by 1000/T.
PAPER_TIMESTEPS = 1000
PAPER_BETA_START, PAPER_BETA_END = 1e-4, 0.02


def paper_ddpm_optimizer():
    """Adam(2e-4), gradient norm clipped at 1, EMA of the weights with decay 0.9999: DDPM's
    training setup (Ho et al. 2020, appendix B, and their code)."""
    return keras.optimizers.Adam(2e-4, global_clipnorm=1.0, use_ema=True, ema_momentum=0.9999)


def data_scale_from_data(x):
    """The root mean square of vector data, √(mean x²): dividing by it gives the data the unit
    second moment of the diffusion's noise."""
    x = np.asarray(keras.ops.convert_to_numpy(x), dtype="float64")
    if x.ndim != 2 or len(x) < 1:
        raise ValueError(f"`x` must be a batch of vectors, shape (N, D); got shape {x.shape}.")
    scale = float(np.sqrt(np.mean(np.square(x))))
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"`x` must hold finite values, not all 0, to set `data_scale`; got scale {scale}.")
    return scale


class DataSpace:
    """The map between data and the diffusion's space: images in [0, 1] ↔ [−1, 1], vectors
    x ↔ x / scale. Shared by DDPM and DDGAN."""

    def __init__(self, input_shape, data_scale):
        self.images = len(input_shape) == 3
        self.scale = check_positive_float(data_scale, "data_scale")
        if self.images and self.scale != 1.0:
            raise ValueError(
                "`data_scale` applies to vector data; images in [0, 1] are mapped to [−1, 1]. "
                f"Got data_scale={data_scale} for images of shape {tuple(input_shape)}."
            )

    @property
    def input_range(self):
        return (0.0, 1.0, "for diffusion models of images (mapped to [−1, 1] as x ↦ 2x − 1)") if self.images else None

    def encode(self, x):
        x = ops.cast(x, "float32")
        return 2.0 * x - 1.0 if self.images else x / self.scale

    def decode(self, x):
        return ops.clip((x + 1.0) / 2.0, 0.0, 1.0) if self.images else x * self.scale


class CompiledSampler:
    """Compiled sampling programs of one model, and the seed generator they draw noise from.

    A program is a ``tf.function`` (:func:`kgen.backend.compiled`) of ``loop(x, seed_state)``;
    before each run the caller's seed generator hands over one seed, which this object's own
    generator takes as its state, so the program (which captured that generator) is not traced
    again for every seed. Kept out of Keras' tracking (a plain object), so the model's weights
    and variables are unchanged by sampling.
    """

    def __init__(self):
        self.programs = {}
        self.noise = None

    def run(self, key, build, x, seed_generator, jit_compile):
        if self.noise is None:
            self.noise = keras.random.SeedGenerator(0)
        key = (key, bool(jit_compile))
        if key not in self.programs:
            loop = build(self.noise)

            def program(x, seed_state):
                self.noise.state.assign(seed_state)
                return loop(x)

            # (a partial per program: TensorFlow counts traces per code object, and would warn
            # of "excessive retracing" after a few samplers of one model)
            self.programs[key] = backend.compiled(functools.partial(program), jit_compile)
        seed_state = keras.random.randint((2,), 0, 2**30, seed=seed_generator, dtype="int32")
        return self.programs[key](x, ops.cast(seed_state, self.noise.state.dtype))


def _timestep_column(t, batch):
    """The network's time input: t (a scalar or (batch,)) as float32 (batch, 1)."""
    return ops.reshape(ops.cast(ops.broadcast_to(t, (batch,)), "float32"), (-1, 1))


def _linear_ends(num_timesteps):
    scale = PAPER_TIMESTEPS / num_timesteps
    start, end = PAPER_BETA_START * scale, PAPER_BETA_END * scale
    if end >= 1.0:
        raise ValueError(
            f"Ho et al.'s linear schedule scaled to T = {num_timesteps} steps would need β_T = "
            f"{end:g} ≥ 1; use `schedule='cosine'` or `'vp'` for T ≤ 20, or pass `betas=`."
        )
    return start, end


@register_model("ddpm", "DDPM: denoising diffusion with ε-prediction, ancestral and DDIM sampling (Ho et al. 2020)")
class DDPM(GenerativeModel):
    """Denoising diffusion probabilistic model (Ho et al. 2020) with DDIM sampling (Song et al. 2021).

    Args:
        input_shape: ``(H, W, C)`` images with values in [0, 1], or ``(D,)`` vectors.
        num_timesteps: T, the number of diffusion steps (1000 in the paper).
        schedule: the β schedule, ``"linear"`` (the paper's 10⁻⁴ → 0.02, scaled by 1000/T),
            ``"cosine"`` (Nichol & Dhariwal 2021) or ``"vp"`` (the variance-preserving SDE at T
            points, β_min 0.1, β_max 20: DDGAN's; see :func:`kgen.diffusion.vp_betas`).
        betas: explicit β_1 … β_T (each in (0, 1)) instead of ``schedule`` and ``num_timesteps``.
        network: a Keras network [x (batch, *input_shape), t (batch, 1)] → ε̂, the shape of x,
            where t holds the timestep index 0 … T − 1 as a float; default
            :func:`kgen.layers.diffusion_networks.default_epsilon_network` (a small
            time-conditioned U-Net for images, an MLP for vectors).
        data_scale: for vectors, the diffusion runs on x / ``data_scale`` (:meth:`from_data`
            sets the data's root mean square); must stay 1 for images.
        seed: seed of the model's random draws (training noise and ``sample()`` without seed).

    Reports ``loss``: the simple loss, the mean squared error of ε̂ per dimension (1 for a
    network that outputs 0). :meth:`evaluation_figures` gives it on held-out data as
    ``eps_mse``, :meth:`timestep_losses` by timestep. ``compile()`` without an optimizer uses the
    paper's Adam(2e-4) with gradient clipping and EMA 0.9999 (:func:`paper_ddpm_optimizer`).
    """

    def __init__(self, input_shape, num_timesteps=PAPER_TIMESTEPS, schedule="linear", betas=None,
                 network=None, data_scale=1.0, seed=None, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        self._user_betas = betas is not None
        if betas is None:
            num_timesteps = check_positive_int(num_timesteps, "num_timesteps")
            check_choice(schedule, "schedule", ("linear", "cosine", "vp"))
            options = {}
            if schedule == "linear":
                options["beta_start"], options["beta_end"] = _linear_ends(num_timesteps)
            betas = make_betas(schedule, num_timesteps, **options)
        self.schedule_name = schedule
        self.diffusion = DiffusionSchedule(betas)
        self.space = DataSpace(self.input_shape, data_scale)
        self.data_scale = self.space.scale
        self.network = self.use_network(
            "network", network, lambda: default_epsilon_network(self.input_shape),
            [self.input_shape, (1,)], self.input_shape,
        )
        self._sampler = CompiledSampler()

    # ----------------------------------------------------------------------- the contract
    @property
    def num_timesteps(self):
        """T, the number of diffusion steps."""
        return self.diffusion.num_timesteps

    @property
    def input_range(self):
        """Images must lie in [0, 1] (mapped to [−1, 1]); vectors are free."""
        return self.space.input_range

    @classmethod
    def data_arguments(cls, x):
        """The example shape and, for vectors, ``data_scale`` = the data's root mean square."""
        arguments = super().data_arguments(x)
        if len(arguments["input_shape"]) == 1:
            arguments["data_scale"] = data_scale_from_data(x)
        return arguments

    def players(self):
        """One player, every variable, with the paper's optimizer by default."""
        return (Player("model", self.trainable_variables, "optimizer", "loss", paper_ddpm_optimizer),)

    def predict_noise(self, x_t, t, training=False):
        """ε̂ = ε_θ(x_t, t) in the diffusion's space, float32; ``t`` a scalar or (batch,) of indices."""
        return backend.full_precision(self.network([x_t, _timestep_column(t, ops.shape(x_t)[0])], training=training))

    # ---------------------------------------------------------------------------- training
    def call(self, x, training=False):
        """One draw of the training noise: t ~ U{0..T−1}, ε ~ N(0, I), x_t and ε̂ = ε_θ(x_t, t)."""
        x0 = self.space.encode(x)
        batch = ops.shape(x0)[0]
        t = keras.random.randint((batch,), 0, self.num_timesteps, seed=self.seed_generator)
        noise = keras.random.normal(ops.shape(x0), seed=self.seed_generator)
        x_t = self.diffusion.q_sample(x0, t, noise)
        return {"t": t, "noise": noise, "eps": self.predict_noise(x_t, t, training=training)}

    def loss_terms(self, x, outputs):
        """L_simple: the mean over the batch and the entries of (ε − ε̂)²."""
        return {"loss": ops.mean(ops.square(outputs["noise"] - outputs["eps"]))}

    # -------------------------------------------------------------------------- evaluation
    def evaluation_figures(self, x, seed=0, verbose=0):
        """``eps_mse``: the simple loss on ``x`` (timesteps and noise drawn from ``seed``), 1 for
        a network that outputs 0; lower is better."""
        figures = super().evaluation_figures(x, seed=seed, verbose=verbose)
        return {"examples": figures["examples"], "eps_mse": figures["loss"]}

    def timestep_losses(self, x, timesteps=None, seed=None):
        """The ε-MSE of the batch ``x`` at each of ``timesteps`` (default: ten evenly spaced
        indices from 0 to T − 1), one noise draw per example and timestep; float32 (len,)."""
        x = self.check_data(x)
        if timesteps is None:
            timesteps = np.unique(np.round(np.linspace(0, self.num_timesteps - 1, 10)).astype(int))
        timesteps = np.asarray(timesteps)
        if timesteps.ndim != 1 or not np.issubdtype(timesteps.dtype, np.integer):
            raise TypeError(f"`timesteps` must be a 1-D sequence of ints; got {timesteps!r}.")
        if timesteps.min() < 0 or timesteps.max() >= self.num_timesteps:
            raise ValueError(f"`timesteps` must lie in [0, {self.num_timesteps - 1}]; got {timesteps.tolist()}.")
        seed_generator = self.seed_source(seed)
        x0 = self.space.encode(ops.convert_to_tensor(x))
        values = []
        for t in timesteps:
            noise = keras.random.normal(ops.shape(x0), seed=seed_generator)
            x_t = self.diffusion.q_sample(x0, int(t), noise)
            values.append(ops.mean(ops.square(noise - self.predict_noise(x_t, int(t)))))
        return ops.stack(values)

    # ---------------------------------------------------------------------------- sampling
    def _ancestral_loop(self, noise):
        steps = self.num_timesteps

        def body(i, x):
            t = steps - 1 - i
            x0 = self.diffusion.predict_x0_from_noise(x, t, self.predict_noise(x, t))
            if self.space.images:
                x0 = ops.clip(x0, -1.0, 1.0)
            z = keras.random.normal(ops.shape(x), seed=noise)
            return self.diffusion.posterior_sample(x0, x, t, z)

        return lambda x: ops.fori_loop(0, steps, body, x)

    def _ddim_loop(self, noise, num_steps, eta):
        taus = ops.convert_to_tensor(
            np.r_[ddim_timesteps(self.num_timesteps, num_steps), -1].astype("int32")
        )

        def body(i, x):
            t, t_prev = taus[i], taus[i + 1]
            z = keras.random.normal(ops.shape(x), seed=noise) if eta > 0 else None
            return self.diffusion.ddim_step(x, self.predict_noise(x, t), t, t_prev, eta=eta, noise=z)

        return lambda x: ops.fori_loop(0, num_steps, body, x)

    def network_evaluations(self, num_steps=None):
        """Network calls per sample for ``sample(num_steps=...)``: T, or S with DDIM."""
        return self.num_timesteps if num_steps is None else check_positive_int(num_steps, "num_steps")

    def generate(self, n, seed_generator, num_steps=None, eta=None, jit_compile=False):
        num_steps = self.network_evaluations(num_steps)
        if num_steps > self.num_timesteps:
            raise ValueError(f"`num_steps` must be at most `num_timesteps`={self.num_timesteps}; got {num_steps}.")
        if eta is not None:
            eta = check_positive_float(eta, "eta", allow_zero=True)
            if eta > 1.0:
                raise ValueError(f"`eta` must lie in [0, 1]; got {eta}.")
        x = keras.random.normal((n, *self.input_shape), seed=seed_generator)
        if eta is None and num_steps == self.num_timesteps:
            samples = self._sampler.run(("ancestral",), self._ancestral_loop, x, seed_generator, jit_compile)
        else:
            eta = 0.0 if eta is None else eta
            samples = self._sampler.run(
                ("ddim", num_steps, eta), lambda noise: self._ddim_loop(noise, num_steps, eta), x,
                seed_generator, jit_compile,
            )
        return self.space.decode(samples)

    def sample(self, n, num_steps=None, eta=None, seed=None, jit_compile=False):
        """``n`` samples in data space, shape (n, *input_shape).

        Args:
            n: number of samples.
            num_steps: network evaluations per sample. ``None`` (or T) with ``eta=None``:
                ancestral sampling over all T steps (Ho et al., Algorithm 2); fewer: DDIM on
                evenly spaced timesteps (Song et al. 2021).
            eta: ``None``: ancestral for T steps, deterministic DDIM (η = 0) for fewer; a number
                in [0, 1]: DDIM with that η (η = 1 is DDPM-like stochastic sampling on the
                subsequence), also for T steps.
            seed: an int for repeatable samples, ``None`` for the model's own generator.
            jit_compile: compile the sampling loop with XLA (off by default: on a 2-core CPU it
                gave no speed-up, ``benchmarks/diffusion.py``).

        Returns:
            The samples; images clipped to [0, 1].
        """
        return super().sample(n, seed=seed, num_steps=num_steps, eta=eta, jit_compile=jit_compile)

    # ------------------------------------------------------------------------ serialization
    def get_config(self):
        return {
            **super().get_config(),
            "num_timesteps": self.num_timesteps,
            "schedule": self.schedule_name,
            "betas": [float(b) for b in self.diffusion.betas] if self._user_betas else None,
            "data_scale": self.data_scale,
        }
