"""The variational autoencoder and the β-VAE.

A VAE (Kingma & Welling 2014, "Auto-Encoding Variational Bayes") fits a decoder p_θ(x | z)
with prior p(z) by maximising the evidence lower bound with an amortised Gaussian posterior
q_φ(z | x) = N(μ_φ(x), diag σ²_φ(x)):

    log p(x) ≥ ELBO(x) = E_q[log p_θ(x | z)] − KL(q_φ(z | x) ‖ p(z)).

The β-VAE (Higgins et al. 2017, "β-VAE: Learning Basic Visual Concepts with a Constrained
Variational Framework") weighs the KL term by β; β > 1 presses the posterior towards the
factorised prior and favours disentangled latents at the cost of reconstructions:

    loss = E_x[ −E_q log p(x | z) + β · KL(q(z | x) ‖ p(z)) ].

With ``capacity`` set, the KL term becomes β · |KL − C| (Burgess et al. 2018, "Understanding
disentangling in β-VAE", eq. 8, where the weight is called γ and C is raised from 0 during
training by :class:`kgen.callbacks.CapacityAnnealing`).

The importance-weighted bound (Burda et al. 2016, "Importance Weighted Autoencoders") tightens
the ELBO with k posterior draws z_1..z_k ~ q(z | x):

    L_k(x) = log (1/k) Σ_i p(x | z_i) p(z_i) / q(z_i | x),   L_1 = ELBO ≤ L_k ≤ L_{k+1} ≤ log p(x).

One training step follows Algorithm 1 of Kingma & Welling: encode, draw z = μ + σ·ε, decode,
and descend on the negative ELBO (here with β), one Monte Carlo sample per example.
"""

import math

import keras
import numpy as np
from keras import ops

from kgen import backend, distributions, losses, viz
from kgen.layers.networks import default_decoder, default_encoder
from kgen.models.base import GenerativeModel, register_model
from kgen.validation import check_positive_float, check_positive_int, check_seed

#: Decoded values per chunk of ``iwae_bound`` (about 16 MB of float32 per tensor).
DECODE_BUDGET = 2**22


@register_model("beta_vae", "β-VAE: a VAE whose KL term is weighted by β (Higgins et al. 2017)")
class BetaVAE(GenerativeModel):
    """β-VAE with a diagonal Gaussian posterior, a swappable prior and likelihood.

    Args:
        input_shape: shape of one example: ``(H, W, C)`` images or ``(D,)`` vectors.
        latent_dim: dimension d of z (10 in Higgins et al. 2017 for dSprites).
        beta: weight β ≥ 0 of the KL term (β = 1: the plain VAE; Higgins et al. use β = 4 on
            dSprites with a Bernoulli decoder).
        likelihood: ``"bernoulli"`` (data in [0, 1]), ``"gaussian"`` (σ = 1),
            ``"gaussian_learned_scale"`` or a :class:`kgen.distributions.Likelihood`.
        encoder: a Keras network x → (2·d,) outputs [μ, log σ²]; default from ``input_shape``
            (:mod:`kgen.layers.networks`).
        decoder: a Keras network z → likelihood parameters of shape ``input_shape``.
        prior: ``None`` (N(0, I)), a name in :data:`kgen.distributions.PRIORS`, or a
            :class:`kgen.distributions.Prior`.
        capacity: ``None`` for the β-VAE loss, or a starting capacity C (nats) for the loss
            β·|KL − C| of Burgess et al. (2018).
        seed: seed of the model's random draws.

    Reports ``loss``, ``reconstruction`` (mean −log p(x | z), nats per example) and ``kl``
    (mean KL(q ‖ p), nats per example).
    """

    loss_names = ("reconstruction", "kl")

    def __init__(
        self,
        input_shape,
        latent_dim=10,
        beta=1.0,
        likelihood="bernoulli",
        encoder=None,
        decoder=None,
        prior=None,
        capacity=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(input_shape, seed=seed, **kwargs)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.likelihood = distributions.resolve_likelihood(likelihood)
        self.latent_prior = distributions.resolve_prior(prior, self.latent_dim)
        d = self.latent_dim
        self.encoder = self.use_network("encoder", encoder, lambda: default_encoder(self.input_shape, 2 * d),
                                        self.input_shape, (2 * d,))
        self.decoder = self.use_network("decoder", decoder, lambda: default_decoder(d, self.input_shape),
                                        (d,), self.input_shape)
        self.use_capacity = capacity is not None
        start_capacity = 0.0 if capacity is None else check_positive_float(capacity, "capacity", True)
        self.beta = keras.Variable(check_positive_float(beta, "beta", True), trainable=False, name="beta")
        self.capacity = keras.Variable(start_capacity, trainable=False, name="capacity")
        self._init_beta, self._init_capacity = float(beta), capacity

    # ----------------------------------------------------------------------- the contract
    @property
    def input_range(self):
        support = self.likelihood.support
        return None if support is None else (*support, f"for a {type(self.likelihood).__name__} likelihood")

    @property
    def prior(self):
        """p(z) as a ``tfd.Distribution`` with event shape ``(latent_dim,)``."""
        return self.latent_prior.distribution

    def posterior_params(self, x):
        """The encoder's (μ, log σ²) of q(z | x), each of shape (batch, latent_dim), float32."""
        params = backend.full_precision(self.encoder(x))
        return params[:, : self.latent_dim], params[:, self.latent_dim :]

    def likelihood_params(self, z):
        """The decoder's parameters of p(x | z), the shape of an example per row, float32 (under
        mixed precision the decoder computes in half precision; the likelihood does not)."""
        return backend.full_precision(self.decoder(z))

    def encode(self, x):
        """q(z | x) as a ``tfd.MultivariateNormalDiag`` with batch shape (batch,)."""
        self.check_data(x)
        return distributions.diagonal_gaussian(*self.posterior_params(x))

    def decode(self, z):
        """p(x | z) as a ``tfd.Independent`` whose event is one example."""
        return self.likelihood.distribution(self.likelihood_params(z))

    def reconstruct(self, x):
        """E[x | z = E_q[z]]: the decoder's mean at the posterior mean, shape of ``x``."""
        self.check_data(x)
        mean, _ = self.posterior_params(x)
        return self.likelihood.mean(self.likelihood_params(mean))

    def generate(self, n, seed_generator, mean=True):
        """z ~ p(z), then the decoder's mean (``mean=True``, the usual picture) or x ~ p(x | z)."""
        params = self.likelihood_params(self.latent_prior.sample(n, seed_generator))
        if mean:
            return self.likelihood.mean(params)
        return self.likelihood.distribution(params).sample(seed=distributions.tfp_seed(seed_generator))

    # ---------------------------------------------------------------------------- training
    def call(self, x, training=False):
        """One reparameterised pass: q's (μ, log σ²), a draw z and the decoder's parameters."""
        mean, log_var = self.posterior_params(x)
        z = losses.reparameterize(mean, log_var, seed=self.seed_generator)
        return {"mean": mean, "log_var": log_var, "z": z, "params": self.likelihood_params(z)}

    def loss_terms(self, x, outputs):
        reconstruction = ops.mean(-self.likelihood.log_prob(x, outputs["params"]))
        kl = ops.mean(self.latent_prior.kl(outputs["mean"], outputs["log_var"], outputs["z"]))
        kl_term = ops.abs(kl - self.capacity) if self.use_capacity else kl
        return {"loss": reconstruction + self.beta * kl_term, "reconstruction": reconstruction, "kl": kl}

    # -------------------------------------------------------------------------- evaluation
    def evaluation_figures(self, x, seed=0, verbose=0, iwae_k=50):
        """The mean ELBO and importance-weighted bound L_k on ``x`` (nats per example), both
        bounds on log p(x), repeatable from ``seed``; ``iwae_k`` importance samples (50, as in
        Burda et al. 2016); ``verbose=1`` shows the IWAE bound's progress."""
        x, k = self.check_data(x), check_positive_int(iwae_k, "iwae_k")
        seed_generator = self.seed_source(check_seed(seed))
        return {
            "examples": len(x),
            "elbo": float(ops.mean(self.elbo(x, seed=seed_generator))),
            "iwae_bound": float(ops.mean(self.iwae_bound(x, k=k, seed=seed_generator, verbose=verbose))),
            "iwae_k": k,
        }

    def pictures(self, x, seed=0):
        """For images: 8 reconstructions under their originals, and a latent traversal of the
        first example with the latents in order of their KL for it (the ones in use first)."""
        if len(self.input_shape) != 3:
            return {}
        kl = viz.posterior_kl_per_dim(self, x[:1])
        return {"reconstructions": viz.plot_reconstructions(self, x, n=8),
                "traversal": viz.plot_traversal(self, x[:1], dims=[int(d) for d in np.argsort(-kl)])}

    def elbo(self, x, seed=None):
        """The evidence lower bound per example (nats), one posterior draw; shape (batch,).

        Uses β = 1 whatever the training β: it is a bound on log p(x).
        """
        self.check_data(x)
        mean, log_var = self.posterior_params(x)
        z = losses.reparameterize(mean, log_var, seed=self.seed_source(seed))
        log_likelihood = self.likelihood.log_prob(x, self.likelihood_params(z))
        return log_likelihood - self.latent_prior.kl(mean, log_var, z)

    def iwae_bound(self, x, k=50, seed=None, verbose=0):
        """The importance-weighted bound L_k(x) per example (nats), shape (batch,).

        Draws k posterior samples per example; ``k=1`` is the ELBO with a Monte Carlo KL, and
        L_k rises towards log p(x) as k grows (Burda et al. 2016, theorem 1). Any number of
        examples may be passed: they go through the decoder in chunks of at most
        ``DECODE_BUDGET`` decoded values (k · chunk · prod(data_shape)), to bound memory.
        """
        self.check_data(x)
        k = check_positive_int(k, "k")
        seed_generator = self.seed_source(seed)
        chunk = max(1, DECODE_BUDGET // (k * math.prod(self.input_shape)))
        count = ops.shape(x)[0]
        return ops.concatenate(
            [self._iwae_chunk(x[i : i + chunk], k, seed_generator) for i in range(0, count, chunk)]
        )

    def _iwae_chunk(self, x, k, seed_generator):
        mean, log_var = self.posterior_params(x)
        batch = ops.shape(mean)[0]
        # k draws per example, flattened to (k·batch, d) for one pass through the decoder.
        mean, log_var = ops.tile(mean, (k, 1)), ops.tile(log_var, (k, 1))
        z = losses.reparameterize(mean, log_var, seed=seed_generator)
        x_tiled = ops.tile(x, (k,) + (1,) * len(self.input_shape))
        log_weights = (
            self.likelihood.log_prob(x_tiled, self.likelihood_params(z))
            + self.latent_prior.log_prob(z)
            - losses.gaussian_log_density(z, mean, log_var)
        )
        return losses.log_mean_exp(ops.reshape(log_weights, (k, batch)), axis=0)

    # ------------------------------------------------------------------------ serialization
    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "beta": self._init_beta,
            "capacity": self._init_capacity,
            "likelihood": keras.saving.serialize_keras_object(self.likelihood),
            "prior": keras.saving.serialize_keras_object(self.latent_prior),
        }


@register_model("vae", "the variational autoencoder (Kingma & Welling 2014)")
class VAE(BetaVAE):
    """The plain VAE of Kingma & Welling (2014): a :class:`BetaVAE` with β = 1 and no capacity."""

    def __init__(self, input_shape, latent_dim=10, likelihood="bernoulli", encoder=None,
                 decoder=None, prior=None, seed=None, **kwargs):
        super().__init__(input_shape, latent_dim, beta=1.0, likelihood=likelihood, encoder=encoder,
                         decoder=decoder, prior=prior, capacity=None, seed=seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["beta"], config["capacity"]
        return config
