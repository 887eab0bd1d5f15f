"""A generator with a latent-space energy-based prior, learned by short-run Langevin dynamics.

Pang, Han, Nijkamp, Zhu & Wu (2020, "Learning Latent Space Energy-Based Prior Model", NeurIPS)
replace the Gaussian prior of a generator network by an energy-based tilt of it:

    p_α(z) = exp(−E_α(z)) · p₀(z) / Z(α),    p₀ = N(0, I_d),
    p_β(x | z) = N(x; G_β(z), σ² I),

with E_α a small MLP (:func:`kgen.layers.energy.energy_mlp`) and G_β the generator. Maximum
likelihood needs samples of the posterior p_θ(z | x) ∝ p_β(x | z)·p_α(z) and of the prior p_α(z);
the paper draws both by short-run Langevin dynamics from p₀ (their eq. 13 and §3.3; the
authors' code ``sample_langevin_prior_z`` / ``sample_langevin_post_z``): with step s and
ε ~ N(0, I),

    prior:      z ← z − (s²/2)·(∇E_α(z) + z) + s·ε,                               K₋ = 60,  s = 0.4,
    posterior:  z ← z − (s²/2)·(∇_z ‖x − G_β(z)‖²/(2σ²) + ∇E_α(z) + z) + s·ε,     K₊ = 20,  s = 0.1,

both started afresh from N(0, I) at every training step (short-run, non-persistent chains:
Nijkamp, Hill, Zhu & Wu 2019). The chains are :func:`kgen.samplers.short_run_langevin` in
training and :func:`kgen.samplers.langevin` (the same rule and noise, compiled on its own) in
:meth:`LatentEBM.prior_sample` and :meth:`LatentEBM.posterior_sample`; their step δ = s here is
√(step_size) there.

One training step is the paper's Algorithm 1 ("learning latent space EBM prior via short-run
MCMC"): for a batch x of n examples,

1. posterior samples z₊ of the batch, and n prior samples z₋, both with the current α, β;
2. the generator (``optimizer``) descends ‖x − G_β(z₊)‖²/(2σ²), averaged over the batch: the
   gradient of −log p_β(x | z₊);
3. the energy (``energy_optimizer``) descends mean E_α(z₊) − mean E_α(z₋): the short-run
   estimate of the gradient of −log p(x) with respect to α, which lowers the energy where the
   posterior puts the data's codes and raises it where the prior wanders off.

The chains' gradients are stopped: z₊ and z₋ enter steps 2 and 3 as constants. Both updates
use the same samples, made before either update, so the two players share one forward pass
(``shared_forward_pass = True``): that is the paper's algorithm, in which the posterior and the
prior samples of step t are drawn with θ_t and both parameter updates follow from them.

``energy="zero"`` sets E ≡ 0: the prior is N(0, I), sampled exactly, the generator learns by the
same posterior Langevin, and there is one player: the alternating back-propagation of Han, Lu,
Zhu & Wu (2017, "Alternating Back-Propagation for Generator Network", AAAI) with short-run
chains from N(0, I) instead of their persistent ones — the paper's own baseline, in this class.

Defaults and their sources (Pang et al. 2020 and the authors' ``train_svhn.py``; facts read
from it, no code taken): the energy MLP d → 200 → 200 → 1 with GELU (``ndf = 200``,
``e_activation='gelu'``), K₋ = 60 at s = 0.4 (``e_l_steps``, ``e_l_step_size``), K₊ = 20 at
s = 0.1 (``g_l_steps``, ``g_l_step_size``), σ = 0.3 (``g_llhd_sigma``), d = 100 (``nz``), Adam
with β = (0.5, 0.999) and learning rates 1e-4 for G and 2e-5 for E (``g_lr``, ``e_lr``), batch
100. Differences: the authors' generator is a transposed-conv net with LeakyReLU(0.2) and a tanh
output for images in [−1, 1]; kgen's default generator is its default decoder
(:func:`kgen.layers.networks.default_decoder`, conv for images, MLP for vectors, linear output),
the one :class:`kgen.models.BetaVAE` uses. Their code descends ‖x − G(z₊)‖² / n on the
generator, without the 1/(2σ²) written here (Adam is insensitive to a constant factor on a loss,
apart from its ε); it decays both learning rates by 0.998 per epoch, which is a Keras recipe
here: ``keras.optimizers.schedules.ExponentialDecay(lr, steps_per_epoch, 0.998, staircase=True)``.

Anomaly scores follow the anomaly-detection experiment of the paper (§4.4, MNIST with one class
held out) and its follow-up code: after posterior Langevin from N(0, I), the negative log joint
density up to its constants, ‖x − G(z)‖²/(2σ²) + E(z) + ½‖z‖², one value per example.
"""

import math

import keras
import numpy as np
from keras import ops

from kgen import backend, distributions, samplers, viz
from kgen.layers.energy import energy_mlp
from kgen.layers.networks import default_decoder
from kgen.models.base import EVALUATION_BATCH_SIZE, GenerativeModel, Player, register_model
from kgen.validation import check_data, check_positive_float, check_positive_int, check_seed

#: The value of ``energy`` that sets E ≡ 0 (the Gaussian-prior generator).
ZERO_ENERGY = "zero"
#: Whether :meth:`LatentEBM.prior_sample` and :meth:`LatentEBM.posterior_sample` compile their
#: chains with XLA when not told. Measured with ``benchmarks/latent_ebm.py`` (2-core CPU, d = 100,
#: 100 chains of 60 steps): 58 ms with XLA, 65 ms without, a first call of about 3 s either way.
SAMPLER_JIT_COMPILE = True

__all__ = ["ZERO_ENERGY", "LatentEBM", "paper_energy_optimizer", "paper_generator_optimizer"]


def paper_generator_optimizer():
    """Adam(1e-4, β₁ = 0.5, β₂ = 0.999): the generator's optimizer in Pang et al.'s code."""
    return keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.999)


def paper_energy_optimizer():
    """Adam(2e-5, β₁ = 0.5, β₂ = 0.999): the energy's optimizer in Pang et al.'s code."""
    return keras.optimizers.Adam(2e-5, beta_1=0.5, beta_2=0.999)


@register_model("latent_ebm", "a generator with a latent-space energy-based prior, short-run Langevin (Pang et al. 2020)")
class LatentEBM(GenerativeModel):
    """Latent-space EBM prior model (Pang et al. 2020): p_α(z) ∝ exp(−E_α(z))·N(z; 0, I),
    p_β(x | z) = N(G_β(z), σ² I), learned by short-run Langevin posterior and prior sampling.

    Args:
        input_shape: shape of one example: ``(H, W, C)`` images or ``(D,)`` vectors (any real
            values: the likelihood is Gaussian).
        latent_dim: d, the dimension of z (100 in the authors' code).
        energy: ``None`` for the default energy MLP d → 200 → 200 → 1 with GELU
            (:func:`kgen.layers.energy.energy_mlp`), a Keras network z (d,) → (1,), or
            ``"zero"`` for E ≡ 0 (the Gaussian-prior generator, trained by the same posterior
            Langevin: alternating back-propagation, Han et al. 2017).
        generator: a Keras network z (d,) → ``input_shape``, the mean G_β(z) of p_β(x | z);
            default :func:`kgen.layers.networks.default_decoder` (conv for images, MLP for
            vectors).
        likelihood_sigma: σ of p_β(x | z) (0.3 in the authors' code, for data in [−1, 1]).
        prior_steps: K₋, Langevin steps of the prior chain (60).
        prior_step_size: s of the prior chain (0.4).
        posterior_steps: K₊, Langevin steps of the posterior chain (20).
        posterior_step_size: s of the posterior chain (0.1).
        seed: seed of the model's random draws (chains in training, ``sample()`` without seed).

    Players (:meth:`players`): ``"generator"`` (``compile(optimizer=…)``, default Adam(1e-4,
    0.5, 0.999)) then ``"energy"`` (``compile(energy_optimizer=…)``, Adam(2e-5, 0.5, 0.999)), on
    one shared forward pass (the module docstring says why); with ``energy="zero"`` only the
    generator.

    Reports ``loss`` (the generator's objective, mean ‖x − G(z₊)‖²/(2σ²): −log p_β(x | z₊) up to
    its constant), ``reconstruction`` (mean ‖x − G(z₊)‖², summed over the entries of an example:
    σ-free), ``energy_loss`` (the energy's objective, mean E(z₊) − mean E(z₋)) and
    ``energy_gap`` (mean E(z₋) − mean E(z₊) = −energy_loss: positive while the prior's samples
    sit where the data's codes do not). With E ≡ 0 both energy terms are 0.

    Besides the model contract: :meth:`energy`, :meth:`prior_sample`, :meth:`posterior_sample`,
    :meth:`reconstruct`, :meth:`anomaly_score`, :meth:`decode`, :meth:`prior_log_density`,
    :meth:`pictures`. Measured on the 8×8 digits (course notebook 06, ``benchmarks/latent_ebm.py``):
    a training step costs what its K₋ + K₊ network passes and the update cost on their own
    (0.6–0.8× their sum: the chains run in the compiled step, without per-call overhead).
    """

    loss_names = ("reconstruction", "energy_loss", "energy_gap")
    shared_forward_pass = True

    def __init__(
        self,
        input_shape,
        latent_dim=100,
        energy=None,
        generator=None,
        likelihood_sigma=0.3,
        prior_steps=60,
        prior_step_size=0.4,
        posterior_steps=20,
        posterior_step_size=0.1,
        seed=None,
        **kwargs,
    ):
        super().__init__(input_shape, seed=seed, **kwargs)
        self.latent_dim = d = check_positive_int(latent_dim, "latent_dim")
        self.likelihood_sigma = check_positive_float(likelihood_sigma, "likelihood_sigma")
        self.prior_steps = check_positive_int(prior_steps, "prior_steps")
        self.prior_step_size = check_positive_float(prior_step_size, "prior_step_size")
        self.posterior_steps = check_positive_int(posterior_steps, "posterior_steps")
        self.posterior_step_size = check_positive_float(posterior_step_size, "posterior_step_size")
        if isinstance(energy, str) and energy != ZERO_ENERGY:
            raise ValueError(
                f"`energy` must be None (the default MLP), a Keras network z (batch, {d}) → (batch, 1) "
                f"or {ZERO_ENERGY!r} (E ≡ 0); got {energy!r}."
            )
        self.zero_energy = isinstance(energy, str)
        self.energy_network = None
        if not self.zero_energy:
            self.energy_network = self.use_network("energy_network", energy, lambda: energy_mlp(d), (d,), (1,))
        self.generator = self.use_network(
            "generator", generator, lambda: default_decoder(d, self.input_shape), (d,), self.input_shape
        )
        self.latent_prior = distributions.StandardNormal(d)
        self.likelihood = distributions.Gaussian(scale=self.likelihood_sigma)

    # ----------------------------------------------------------------------- the contract
    def players(self):
        """The generator (``optimizer``) then the energy (``energy_optimizer``); only the
        generator when E ≡ 0."""
        generator = Player("generator", self.generator.trainable_variables, "optimizer", "loss",
                           paper_generator_optimizer)
        if self.zero_energy:
            return (generator,)
        return (generator, Player("energy", self.energy_network.trainable_variables, "energy_optimizer",
                                  "energy_loss", paper_energy_optimizer))

    @property
    def base_distribution(self):
        """p₀ = N(0, I_d), the Gaussian the energy tilts, as a ``tfd.Distribution``."""
        return self.latent_prior.distribution

    # --------------------------------------------------------------------- the densities
    def _energy(self, z):
        """E(z) per example, float32, shape (batch,); zeros for E ≡ 0."""
        if self.zero_energy:
            return ops.zeros(ops.shape(z)[:1], "float32")
        return backend.full_precision(self.energy_network(z, training=False)[:, 0])

    def _squared_error(self, x, x_hat):
        """‖x − x̂‖² per example, float32, shape (batch,)."""
        diff = ops.cast(x, "float32") - backend.full_precision(x_hat)
        return ops.sum(ops.square(diff), axis=tuple(range(1, len(self.input_shape) + 1)))

    def _generate(self, z, training=False):
        """G(z), the mean of p_β(x | z), float32 (a mixed-precision generator's output widened)."""
        return backend.full_precision(self.generator(z, training=training))

    def _prior_potential(self, z):
        """E(z) + ½‖z‖², the negative log prior density up to log Z (per example)."""
        return self._energy(z) + 0.5 * ops.sum(ops.square(z), axis=-1)

    def _posterior_potential(self, z, x):
        """‖x − G(z)‖²/(2σ²) + E(z) + ½‖z‖²: −log p(x, z) up to its constants (per example)."""
        x_hat = self._generate(z)
        return self._squared_error(x, x_hat) / (2.0 * self.likelihood_sigma**2) + self._prior_potential(z)

    def _prior_grad(self, z):
        """∇_z log p_α(z) = −(∇E(z) + z): the drift of the prior chain."""
        if self.zero_energy:
            return -z
        return -backend.value_and_input_gradient(self._prior_potential, z)[1]

    def _posterior_grad(self, z, x):
        """∇_z log p(z | x) = −∇_z [‖x − G(z)‖²/(2σ²) + E(z) + ½‖z‖²]: the posterior chain's drift."""
        return -backend.value_and_input_gradient(lambda z: self._posterior_potential(z, x), z)[1]

    def energy(self, z):
        """E_α(z), one value per row of ``z`` (shape (batch,)); zeros for E ≡ 0. The prior
        density is p_α(z) ∝ exp(−E_α(z))·N(z; 0, I)."""
        return self._energy(self._check_latents(z))

    def prior_log_density(self, z):
        """log p_α(z) + log Z(α) = −E_α(z) + log N(z; 0, I), per example: the prior's log-density
        up to the (unknown) constant log Z(α); exact for E ≡ 0."""
        z = self._check_latents(z)
        return -self._energy(z) + self.latent_prior.log_prob(z)

    def decode(self, z):
        """p_β(x | z) = N(G(z), σ² I) as a ``tfd.Independent`` whose event is one example."""
        return self.likelihood.distribution(self._generate(self._check_latents(z)))

    # -------------------------------------------------------------------------- the chains
    def _initial_latents(self, n, seed_generator):
        """n draws of p₀ = N(0, I), where every chain starts (float32)."""
        return self.latent_prior.sample(n, seed_generator)  # a prior computes in float32 (kgen.backend)

    def _chain_settings(self, steps, step_size, default_steps, default_step_size, prefix):
        steps = default_steps if steps is None else check_positive_int(steps, f"{prefix}steps")
        step_size = default_step_size if step_size is None else check_positive_float(step_size, f"{prefix}step_size")
        return steps, step_size

    def prior_sample(self, n, seed=None, steps=None, step_size=None, return_chain=False, thin=None,
                     jit_compile=None):
        """n draws of the prior p_α(z) by short-run Langevin from N(0, I), shape (n, d).

        Args:
            n: number of chains.
            seed: an int for repeatable draws, ``None`` for the model's own generator.
            steps: K, ``None`` for the model's ``prior_steps``.
            step_size: s (the noise's scale; the drift is s²/2 times the gradient), ``None``
                for the model's ``prior_step_size``.
            return_chain, thin: also return the chain, every ``thin``-th state, shape
                (K // thin + 1, n, d), the N(0, I) start first (see :func:`kgen.samplers.langevin`).
            jit_compile: compile the chain with XLA (``None``: ``SAMPLER_JIT_COMPILE``).

        With E ≡ 0 the prior is N(0, I) and is sampled exactly (no chain; ``return_chain`` is
        then refused).
        """
        n = check_positive_int(n, "n")
        steps, step_size = self._chain_settings(steps, step_size, self.prior_steps, self.prior_step_size, "")
        seed_generator = self.seed_source(seed)
        z0 = self._initial_latents(n, seed_generator)
        if self.zero_energy:
            if return_chain or thin is not None:
                raise ValueError("With energy='zero' the prior is N(0, I), drawn exactly: there is no chain to return.")
            return z0
        return samplers.langevin(self._prior_grad, z0, steps, step_size**2, seed=seed_generator, thin=thin,
                                 return_chain=return_chain, jit_compile=self._jit(jit_compile))

    def posterior_sample(self, x, seed=None, steps=None, step_size=None, return_chain=False, thin=None,
                         jit_compile=None):
        """One draw of the posterior p_θ(z | x) per example by short-run Langevin from N(0, I),
        shape (batch, d); arguments as in :meth:`prior_sample` (defaults ``posterior_steps``,
        ``posterior_step_size``)."""
        x = ops.convert_to_tensor(self.check_data(x), "float32")
        steps, step_size = self._chain_settings(steps, step_size, self.posterior_steps, self.posterior_step_size, "")
        seed_generator = self.seed_source(seed)
        z0 = self._initial_latents(int(ops.shape(x)[0]), seed_generator)
        return samplers.langevin(self._posterior_grad, z0, steps, step_size**2, seed=seed_generator, thin=thin,
                                 return_chain=return_chain, jit_compile=self._jit(jit_compile), context=x)

    def _jit(self, jit_compile):
        return SAMPLER_JIT_COMPILE if jit_compile is None else bool(jit_compile)

    def generate(self, n, seed_generator, steps=None, step_size=None, mean=True, jit_compile=None):
        """z ~ p_α(z) by the prior chain, then G(z) (``mean=True``, the usual picture) or
        x ~ p_β(x | z)."""
        z = self.prior_sample(n, seed_generator, steps=steps, step_size=step_size, jit_compile=jit_compile)
        x_hat = self._generate(z)
        if mean:
            return x_hat
        return self.likelihood.distribution(x_hat).sample(seed=distributions.tfp_seed(seed_generator))

    def sample(self, n, seed=None, steps=None, step_size=None, mean=True, jit_compile=None):
        """``n`` samples G(z), z from the prior chain (``steps``, ``step_size``: its K and s,
        ``None`` for the model's); ``mean=False`` adds the likelihood's N(0, σ² I) noise."""
        return super().sample(n, seed=seed, steps=steps, step_size=step_size, mean=mean, jit_compile=jit_compile)

    def reconstruct(self, x, seed=None, steps=None, step_size=None):
        """G(z₊) with z₊ from the posterior chain of each example: the generator's picture of x."""
        return self._generate(self.posterior_sample(x, seed=seed, steps=steps, step_size=step_size))

    def anomaly_score(self, x, seed=None, steps=None, step_size=None, z=None):
        """‖x − G(z)‖²/(2σ²) + E(z) + ½‖z‖² at z from the posterior chain, one value per example
        (shape (batch,)): −log p(x, z) up to constants. Higher means less like the training data.

        The decision function of Pang et al. (2020, §4.4) and their follow-up code; with E ≡ 0 it
        is the Gaussian-prior generator's. ``z``: posterior samples of ``x`` already drawn
        (:meth:`posterior_sample`), scored instead of running the chain again — e.g. to report
        the reconstruction error ‖x − G(z)‖² of the same codes beside the score."""
        x = ops.convert_to_tensor(self.check_data(x), "float32")
        if z is None:
            z = self.posterior_sample(x, seed=seed, steps=steps, step_size=step_size)
        else:
            z = self._check_latents(z)
            if not backend.is_traced(z) and z.shape[0] != x.shape[0]:
                raise ValueError(f"`z` must hold one code per example of `x` ({x.shape[0]}); got {z.shape[0]}.")
        return self._posterior_potential(z, x)

    def _check_latents(self, z):
        if backend.is_traced(z):
            return z
        return ops.convert_to_tensor(check_data(z, (self.latent_dim,), "z"), "float32")

    # ---------------------------------------------------------------------------- training
    def call(self, x, training=False):
        """One step's samples: the posterior chain of the batch and, unless E ≡ 0, as many prior
        chains (:func:`kgen.samplers.short_run_langevin`, gradients stopped), and G(z₊)."""
        x = ops.cast(x, "float32")
        n = ops.shape(x)[0]
        z_posterior = self._short_run(self._posterior_grad, n, self.posterior_steps, self.posterior_step_size, x)
        outputs = {"z_posterior": z_posterior, "x_hat": self._generate(z_posterior, training=training)}
        if not self.zero_energy:
            outputs["z_prior"] = self._short_run(self._prior_grad, n, self.prior_steps, self.prior_step_size)
        return outputs

    def _short_run(self, grad_fn, n, steps, step_size, context=None):
        """A training step's short-run chains from N(0, I), on constant copies of the weights.

        The chains' dependence on the weights is not differentiated (their results are
        constants of the update), so the networks read ``stop_gradient`` copies of their
        weights inside them (``keras.StatelessScope``). It also keeps the players' persistent
        tape from seeing the weights enter the loop: TensorFlow would then wrap the loop to
        output its every intermediate, for higher-order gradients never taken (memory, and XLA
        refuses to compile it). The random draws happen before the scope, which would otherwise
        hold back the seed generator's advance.
        """
        z0 = self._initial_latents(n, self.seed_generator)
        seed = distributions.tfp_seed(self.seed_generator)
        frozen = [(v, ops.stop_gradient(v.value)) for v in self.trainable_variables]
        with keras.StatelessScope(state_mapping=frozen):
            return samplers.short_run_langevin(grad_fn, z0, steps, step_size**2, seed, context=context)

    def loss_terms(self, x, outputs):
        reconstruction = ops.mean(self._squared_error(x, outputs["x_hat"]))
        if self.zero_energy:
            energy_loss = ops.zeros((), "float32")
        else:
            energy_loss = ops.mean(self._energy_for_update(outputs["z_posterior"])) - ops.mean(
                self._energy_for_update(outputs["z_prior"])
            )
        return {
            "loss": reconstruction / (2.0 * self.likelihood_sigma**2),
            "reconstruction": reconstruction,
            "energy_loss": energy_loss,
            "energy_gap": -energy_loss,
        }

    def _energy_for_update(self, z):
        return backend.full_precision(self.energy_network(z, training=True)[:, 0])

    # -------------------------------------------------------------------------- evaluation
    def evaluation_figures(self, x, seed=0, verbose=0):
        """Figures on held-out ``x``, repeatable from ``seed``, after the model's own chains:

        * ``reconstruction``: mean ‖x − G(z₊)‖² per example, z₊ from the posterior chain;
          ``mse_per_dim`` the same per entry;
        * ``loss``: the generator's objective, ``reconstruction``/(2σ²);
        * ``anomaly_score``: the mean of :meth:`anomaly_score`;
        * ``energy_posterior``, ``energy_prior``: mean E(z₊) and mean E(z₋) over as many prior
          chains as examples; ``energy_gap`` = ``energy_prior`` − ``energy_posterior`` and
          ``energy_loss`` its negative. A gap near 0 means the prior puts its samples where the
          posterior puts the held-out data's codes.

        ``verbose=1`` shows a progress bar.
        """
        x = self.check_data(x)
        seed_generator = self.seed_source(check_seed(seed))
        dims = math.prod(self.input_shape)

        def figures(chunk):
            chunk = ops.cast(chunk, "float32")
            z = self.posterior_sample(chunk, seed=seed_generator)
            squared = self._squared_error(chunk, self._generate(z))
            potential = squared / (2.0 * self.likelihood_sigma**2) + self._prior_potential(z)
            e_prior = self._energy(self.prior_sample(int(ops.shape(chunk)[0]), seed=seed_generator))
            return ops.stack([squared, potential, self._energy(z), e_prior], axis=1)

        means = np.asarray(ops.mean(self.map_batches(figures, x, EVALUATION_BATCH_SIZE, verbose), axis=0), "float64")
        reconstruction, score, e_posterior, e_prior = (float(v) for v in means)
        return {
            "examples": len(x),
            "loss": reconstruction / (2.0 * self.likelihood_sigma**2),
            "reconstruction": reconstruction,
            "mse_per_dim": reconstruction / dims,
            "anomaly_score": score,
            "energy_posterior": e_posterior,
            "energy_prior": e_prior,
            "energy_gap": e_prior - e_posterior,
            "energy_loss": e_posterior - e_prior,
        }

    def pictures(self, x, seed=0):
        """For images: 8 examples of ``x`` above their reconstructions G(z₊) (``reconstructions``)
        and, unless E ≡ 0, 8 prior chains decoded at 11 points from the N(0, I) start to the
        sample (``prior_chains``, one row per chain). Nothing for vectors."""
        if len(self.input_shape) != 3:
            return {}
        x = self.check_data(x)[:8]
        reconstructions = self.reconstruct(x, seed=seed)
        pictures = {"reconstructions": viz.plot_images(np.concatenate([x, np.asarray(reconstructions)]), ncols=len(x),
                                                       title="data (top), G(z) after posterior Langevin (bottom)")}
        if not self.zero_energy:
            thin = max(1, self.prior_steps // 10)
            _, chain = self.prior_sample(8, seed=seed, return_chain=True, thin=thin)
            frames = ops.reshape(ops.transpose(chain, (1, 0, 2)), (-1, self.latent_dim))
            pictures["prior_chains"] = viz.plot_images(self._generate(frames), ncols=int(ops.shape(chain)[0]),
                                                       title=f"G(z) along prior chains, every {thin} steps")
        return pictures

    # ------------------------------------------------------------------------ serialization
    def get_config(self):
        config = super().get_config()
        network = config.pop("energy_network", None)
        return {
            **config,
            "latent_dim": self.latent_dim,
            "energy": ZERO_ENERGY if self.zero_energy else network,
            "likelihood_sigma": self.likelihood_sigma,
            "prior_steps": self.prior_steps,
            "prior_step_size": self.prior_step_size,
            "posterior_steps": self.posterior_steps,
            "posterior_step_size": self.posterior_step_size,
        }
