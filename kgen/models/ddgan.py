"""Denoising diffusion GANs: a few large diffusion steps, each reversed by a conditional GAN.

Xiao, Kreis & Vahdat (2022, "Tackling the Generative Learning Trilemma with Denoising
Diffusion GANs", ICLR) observe that DDPM's Gaussian reverse step is only accurate for small
steps: the true denoising distribution q(x_{t−1} | x_t) is close to Gaussian when β_t is small,
but multimodal for large steps. DDGAN keeps a forward diffusion of only T = 4 large steps
(:func:`kgen.diffusion.vp_betas`) and models each reverse step with a conditional GAN, which
can be multimodal.

**The generator** p_θ(x_{t−1} | x_t) is implicit: a network G(x_t, t, z) predicts the clean
data x̂_0 from the noisy x_t and a latent z ~ N(0, I) (z enters through a mapping network and
adaptive group normalisation, :mod:`kgen.layers.diffusion_networks`), and x_{t−1} is drawn from
the *posterior* of the forward process (eq. 9 of the paper),

    x_{t−1} ~ q(x_{t−1} | x_t, x̂_0) = N(μ̃_t(x̂_0, x_t), β̃_t I)

(:meth:`kgen.diffusion.DiffusionSchedule.posterior_sample`), so that x_{t−1} and x_t are always
consistent with one forward diffusion. Sampling: x_T ~ N(0, I), then T generator calls.

**The discriminator** D(x_{t−1}, x_t, t) tells real pairs — x_{t−1} ~ q(x_{t−1} | x_0),
x_t ~ q(x_t | x_{t−1}) — from generated ones (x_{t−1} from the generator given the real x_t),
with a time embedding. Losses, non-saturating, with softplus(u) = log(1 + e^u) (eq. 4–7 and
the authors' code):

    L_D = E softplus(−D(x_{t−1}, x_t, t)) + E softplus(D(x'_{t−1}, x_t, t)) + (γ/2)·R1,
    R1  = E ‖∇_{x_{t−1}} D(x_{t−1}, x_t, t)‖²   (real pairs; Mescheder et al. 2018),
    L_G = E softplus(−D(x'_{t−1}, x_t, t)),

t ~ U{1..T}. R1 is "lazy" (Karras et al. 2020, StyleGAN2): computed and added only on every
``lazy_r1_interval``-th discriminator step (the authors' code adds γ/2·R1 unscaled on those
steps). One training step is one discriminator step, then one generator step on fresh noise
(:meth:`players`, ``shared_forward_pass = False``). An exponential moving average of the
generator's weights (decay ``ema_decay``) is kept in a copy of the generator, which is the one
that samples.

Defaults and their sources (the paper's CIFAR-10 setting, appendix C, and its code):
T = 4 with the VP schedule β_min = 0.1, β_max = 20; latent size 100 (``nz``); R1 with γ = 0.02
every 15 steps; Adam with learning rates 1.6·10⁻⁴ (generator) and 1.25·10⁻⁴ (discriminator),
β = (0.5, 0.9); EMA decay 0.9999. Not kept: the cosine learning-rate decay (pass a schedule to
``compile``), the NCSN++ generator and the minibatch-std feature of the discriminator (kgen's
networks are small, for a CPU). An EMA of 0.9999 needs far more steps than a CPU budget allows:
use ``ema_decay=0.999`` (or less) for runs of a few thousand steps.

Data: as :class:`kgen.models.DDPM` (images in [0, 1] ↔ [−1, 1] with a tanh generator output,
vectors divided by ``data_scale``).
"""

import keras
from keras import ops

from kgen import backend
from kgen.diffusion import DiffusionSchedule, vp_betas
from kgen.layers.diffusion_networks import default_ddgan_discriminator, default_ddgan_generator
from kgen.models.base import GenerativeModel, Player, register_model
from kgen.models.ddpm import CompiledSampler, DataSpace, _timestep_column, data_scale_from_data
from kgen.validation import check_positive_float, check_positive_int

__all__ = ["DDGAN", "paper_discriminator_optimizer", "paper_generator_optimizer"]


def paper_generator_optimizer():
    """Adam(1.6e-4, β = (0.5, 0.9)): the generator's optimizer in Xiao et al. (2022, CIFAR-10)."""
    return keras.optimizers.Adam(1.6e-4, beta_1=0.5, beta_2=0.9)


def paper_discriminator_optimizer():
    """Adam(1.25e-4, β = (0.5, 0.9)): the discriminator's optimizer in Xiao et al. (2022, CIFAR-10)."""
    return keras.optimizers.Adam(1.25e-4, beta_1=0.5, beta_2=0.9)


def _clone(network):
    clone = keras.models.clone_model(network)
    clone.set_weights(network.get_weights())
    clone.trainable = False
    return clone


@register_model("ddgan", "DDGAN: denoising diffusion GAN, a conditional GAN per large step (Xiao et al. 2022)")
class DDGAN(GenerativeModel):
    """Denoising diffusion GAN (Xiao, Kreis & Vahdat 2022).

    Args:
        input_shape: ``(H, W, C)`` images with values in [0, 1], or ``(D,)`` vectors.
        num_timesteps: T, the number of diffusion steps (4 in the paper for CIFAR-10).
        latent_dim: size of the generator's latent z (100: the paper's ``nz``).
        generator: a Keras network [x_t (batch, *input_shape), t (batch, 1), z (batch,
            latent_dim)] → x̂_0, the shape of x_t, t holding the timestep index 0 … T − 1 as a
            float; default :func:`kgen.layers.diffusion_networks.default_ddgan_generator`.
        discriminator: a Keras network [x_{t−1}, x_t, t (batch, 1)] → one logit (batch, 1);
            default :func:`kgen.layers.diffusion_networks.default_ddgan_discriminator`.
        r1_gamma: γ ≥ 0, the weight of the R1 penalty (0.02 in the paper for CIFAR-10).
        lazy_r1_interval: apply R1 on every k-th discriminator step (15 in the paper); 1 is every step.
        ema_decay: decay of the moving average of the generator's weights, in [0, 1) (0.9999
            in the paper; 0 makes the sampling generator the trained one).
        beta_min, beta_max: the VP schedule's ends (0.1 and 20, :func:`kgen.diffusion.vp_betas`).
        data_scale: for vectors, the diffusion runs on x / ``data_scale`` (:meth:`from_data`
            sets the data's root mean square); must stay 1 for images.
        seed: seed of the model's random draws (training noise and ``sample()`` without seed).

    Two players (:meth:`players`): the discriminator (``discriminator_optimizer``), then the
    generator (``optimizer``), each on a forward pass of its own; ``compile()`` defaults to the
    paper's Adam settings. Reports ``loss``: the discriminator's objective (its adversarial terms
    plus γ/2·R1 on the steps R1 is applied); ``discriminator_loss``: the adversarial terms alone
    (2 log 2 ≈ 1.39 for a discriminator that cannot tell); ``generator_loss`` (log 2 ≈ 0.69 at
    that balance); ``r1``: E‖∇D‖² on real pairs, measured on the R1 steps (between them the last
    measured value is reported; :meth:`evaluation_figures` measures it on every batch).
    """

    loss_names = ("generator_loss", "discriminator_loss", "r1")
    shared_forward_pass = False

    def __init__(self, input_shape, num_timesteps=4, latent_dim=100, generator=None, discriminator=None,
                 r1_gamma=0.02, lazy_r1_interval=15, ema_decay=0.9999, beta_min=0.1, beta_max=20.0,
                 data_scale=1.0, seed=None, **kwargs):
        super().__init__(input_shape, seed=seed, **kwargs)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.r1_gamma = check_positive_float(r1_gamma, "r1_gamma", allow_zero=True)
        self.lazy_r1_interval = check_positive_int(lazy_r1_interval, "lazy_r1_interval")
        self.ema_decay = check_positive_float(ema_decay, "ema_decay", allow_zero=True)
        if self.ema_decay >= 1.0:
            raise ValueError(f"`ema_decay` must lie in [0, 1); got {ema_decay}.")
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)
        self.diffusion = DiffusionSchedule(vp_betas(num_timesteps, beta_min, beta_max))
        self.space = DataSpace(self.input_shape, data_scale)
        self.data_scale = self.space.scale
        shape = self.input_shape
        self.generator = self.use_network(
            "generator", generator, lambda: default_ddgan_generator(shape, self.latent_dim),
            [shape, (1,), (self.latent_dim,)], shape,
        )
        self.discriminator = self.use_network(
            "discriminator", discriminator, lambda: default_ddgan_discriminator(shape),
            [shape, shape, (1,)], (1,),
        )
        self.ema_generator = _clone(self.generator)
        # The R1 penalty of the last lazy-R1 step, reported between them; each replica assigns its
        # own batch's, and the replicas' mean is kept (the same on every worker).
        self.last_r1 = keras.Variable(0.0, trainable=False, name="last_r1", aggregation="mean")
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
        """The discriminator, then the generator, each with the paper's Adam by default."""
        return (
            Player("discriminator", self.discriminator.trainable_variables, "discriminator_optimizer",
                   "loss", paper_discriminator_optimizer),
            Player("generator", self.generator.trainable_variables, "optimizer", "generator_loss",
                   paper_generator_optimizer),
        )

    def compile(self, optimizer=None, loss=None, jit_compile=None, **kwargs):
        """``GenerativeModel.compile``; optimizers with ``use_ema`` are refused: the model keeps
        its own average of the generator (``ema_decay``), and Keras' ``fit`` would finalize an
        optimizer's average over every player's variables."""
        for argument, given in (("optimizer", optimizer),
                                ("discriminator_optimizer", kwargs.get("discriminator_optimizer"))):
            given = getattr(given, "inner_optimizer", given)  # inside a LossScaleOptimizer
            if isinstance(given, keras.optimizers.Optimizer) and given.use_ema:
                raise ValueError(
                    f"DDGAN keeps its own moving average of the generator (`ema_decay`={self.ema_decay}); "
                    f"pass `{argument}` without use_ema=True."
                )
        super().compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile, **kwargs)

    # ----------------------------------------------------------------------- the networks
    def denoise(self, x_t, t, z, use_ema=False, training=False):
        """x̂_0 = G(x_t, t, z) in the diffusion's space, float32 (the EMA generator's with ``use_ema``)."""
        generator = self.ema_generator if use_ema else self.generator
        x_t, z = ops.convert_to_tensor(x_t, "float32"), ops.convert_to_tensor(z, "float32")
        return backend.full_precision(generator([x_t, _timestep_column(t, ops.shape(x_t)[0]), z], training=training))

    def discriminate(self, x_prev, x_t, t, training=False):
        """D(x_{t−1}, x_t, t): one logit per pair, float32 (batch,)."""
        x_prev, x_t = ops.convert_to_tensor(x_prev, "float32"), ops.convert_to_tensor(x_t, "float32")
        logits = self.discriminator([x_prev, x_t, _timestep_column(t, ops.shape(x_t)[0])], training=training)
        return ops.reshape(backend.full_precision(logits), (-1,))

    def reverse_step(self, x_t, t, z, noise, use_ema=False, training=False):
        """One generated step: x_{t−1} ~ q(x_{t−1} | x_t, x̂_0 = G(x_t, t, z)), with ``noise`` ~ N(0, I)."""
        return self.diffusion.posterior_sample(self.denoise(x_t, t, z, use_ema, training), x_t, t, noise)

    # ---------------------------------------------------------------------------- training
    def _real_pair(self, x0):
        """t ~ U{0..T−1}, x_{t−1} ~ q(x_{t−1} | x_0) (x_0 itself at t = 0) and x_t ~ q(x_t | x_{t−1})."""
        batch = ops.shape(x0)[0]
        t = keras.random.randint((batch,), 0, self.num_timesteps, seed=self.seed_generator)
        shape = (-1,) + (1,) * len(self.input_shape)
        alpha_bar_prev = ops.reshape(ops.take(self.diffusion.alphas_cumprod_prev, t), shape)
        beta = ops.reshape(ops.take(self.diffusion.betas, t), shape)
        x_prev = ops.sqrt(alpha_bar_prev) * x0 + ops.sqrt(1.0 - alpha_bar_prev) * self._normal(x0)
        x_t = ops.sqrt(1.0 - beta) * x_prev + ops.sqrt(beta) * self._normal(x0)
        return t, x_prev, x_t

    def _normal(self, like):
        return keras.random.normal(ops.shape(like), seed=self.seed_generator)

    def _fake(self, x_t, t, training):
        z = keras.random.normal((ops.shape(x_t)[0], self.latent_dim), seed=self.seed_generator)
        return self.reverse_step(x_t, t, z, self._normal(x_t), training=training)

    def _r1_due(self, training):
        """Whether this step adds R1: every ``lazy_r1_interval``-th discriminator step (counted
        by its optimizer) in training, always in evaluation."""
        optimizer = getattr(self, "discriminator_optimizer", None)
        if not training or optimizer is None:
            return ops.convert_to_tensor(True)
        return ops.equal(optimizer.iterations % self.lazy_r1_interval, 0)

    def _real_logits_and_r1(self, x_prev, x_t, t, due, training):
        def with_r1():
            logits, gradient = backend.value_and_input_gradient(
                lambda x: self.discriminate(x, x_t, t, training), x_prev
            )
            squared = ops.sum(ops.reshape(ops.square(gradient), (ops.shape(gradient)[0], -1)), axis=1)
            return logits, ops.mean(squared)

        def without_r1():
            return self.discriminate(x_prev, x_t, t, training), ops.convert_to_tensor(0.0)

        if self.r1_gamma == 0.0:
            return without_r1()
        return ops.cond(due, with_r1, without_r1)

    def discriminator_terms(self, x, training=True, with_generator_loss=False):
        """The discriminator's step on a batch of data ``x``: its objective ``loss``,
        ``discriminator_loss`` and ``r1`` (and, on the same pass, ``generator_loss``)."""
        x0 = self.space.encode(x)
        t, x_prev, x_t = self._real_pair(x0)
        fake = self._fake(x_t, t, training)
        fake_logits = self.discriminate(fake if with_generator_loss else ops.stop_gradient(fake), x_t, t, training)
        due = self._r1_due(training)
        real_logits, r1 = self._real_logits_and_r1(x_prev, x_t, t, due, training)
        adversarial = ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))
        applied = ops.cast(due, "float32") if self.r1_gamma > 0 else 0.0
        terms = {"loss": adversarial + 0.5 * self.r1_gamma * applied * r1, "discriminator_loss": adversarial}
        if training and self.r1_gamma > 0:
            r1 = ops.where(due, r1, self.last_r1)
            self.last_r1.assign(r1)
        terms["r1"] = r1
        if with_generator_loss:
            terms["generator_loss"] = ops.mean(ops.softplus(-fake_logits))
        return terms

    def generator_terms(self, x, training=True):
        """The generator's step on a batch of data ``x``: fresh t, x_t ~ q(x_t | x_0) and z;
        ``generator_loss`` = E softplus(−D(x'_{t−1}, x_t, t))."""
        x0 = self.space.encode(x)
        batch = ops.shape(x0)[0]
        t = keras.random.randint((batch,), 0, self.num_timesteps, seed=self.seed_generator)
        x_t = self.diffusion.q_sample(x0, t, self._normal(x0))
        logits = self.discriminate(self._fake(x_t, t, training), x_t, t, training)
        return {"generator_loss": ops.mean(ops.softplus(-logits))}

    def player_terms(self, x, player=None, training=True):
        """The discriminator's or the generator's terms on a pass of its own; all of them from
        one pass for ``player=None`` (evaluation)."""
        if player == "discriminator":
            return self.discriminator_terms(x, training)
        if player == "generator":
            return self.generator_terms(x, training)
        return self.discriminator_terms(x, training, with_generator_loss=True)

    def call(self, x, training=False):
        """The generator's x̂_0 for x_t ~ q(x_t | x) at random timesteps (for inspection)."""
        x0 = self.space.encode(x)
        batch = ops.shape(x0)[0]
        t = keras.random.randint((batch,), 0, self.num_timesteps, seed=self.seed_generator)
        x_t = self.diffusion.q_sample(x0, t, self._normal(x0))
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        return {"t": t, "x_t": x_t, "x0": self.denoise(x_t, t, z, training=training)}

    def train_step(self, data):
        """The players' steps (the base's), then the generator's moving average."""
        logs = super().train_step(data)
        decay = self.ema_decay
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * ops.cast(weight, average.dtype))
        return logs

    # ---------------------------------------------------------------------------- sampling
    def _sampling_loop(self, noise, use_ema):
        def loop(x):
            for t in reversed(range(self.num_timesteps)):
                z = keras.random.normal((ops.shape(x)[0], self.latent_dim), seed=noise)
                x = self.reverse_step(x, t, z, keras.random.normal(ops.shape(x), seed=noise), use_ema)
            return x

        return loop

    def network_evaluations(self):
        """Generator calls per sample: T."""
        return self.num_timesteps

    def generate(self, n, seed_generator, use_ema=True, jit_compile=False):
        x = keras.random.normal((n, *self.input_shape), seed=seed_generator)
        samples = self._sampler.run(("reverse", bool(use_ema)), lambda noise: self._sampling_loop(noise, use_ema),
                                    x, seed_generator, jit_compile)
        return self.space.decode(samples)

    def sample(self, n, seed=None, use_ema=True, jit_compile=False):
        """``n`` samples in data space, shape (n, *input_shape): x_T ~ N(0, I), then T reverse
        steps x_{t−1} ~ q(x_{t−1} | x_t, G(x_t, t, z)).

        Args:
            n: number of samples.
            seed: an int for repeatable samples, ``None`` for the model's own generator.
            use_ema: sample with the moving average of the generator (the paper's choice), or
                with the trained generator itself.
            jit_compile: compile the T steps with XLA.

        Returns:
            The samples; images clipped to [0, 1].
        """
        return super().sample(n, seed=seed, use_ema=use_ema, jit_compile=jit_compile)

    # ------------------------------------------------------------------------ serialization
    def get_config(self):
        return {
            **super().get_config(),
            "num_timesteps": self.num_timesteps,
            "latent_dim": self.latent_dim,
            "r1_gamma": self.r1_gamma,
            "lazy_r1_interval": self.lazy_r1_interval,
            "ema_decay": self.ema_decay,
            "beta_min": self.beta_min,
            "beta_max": self.beta_max,
            "data_scale": self.data_scale,
        }
