"""FactorVAE: a VAE whose aggregate posterior is pushed to factorise by an adversarial TC estimate.

Kim & Mnih (2018, "Disentangling by Factorising", ICML) add to the VAE objective the total
correlation of the aggregate posterior q(z) = E_x q(z | x), weighted by γ:

    loss = E_x[ −E_q log p(x | z) + KL(q(z | x) ‖ p(z)) ] + γ · KL(q(z) ‖ Π_j q(z_j)).

The TC has no closed form; a discriminator D(z) learns to tell draws of q(z) from draws of
Π_j q(z_j), obtained by shuffling each latent dimension across a batch
(:func:`kgen.losses.permute_dims`), and the density-ratio trick gives
TC ≈ E_q(z)[log D(z) − log(1 − D(z))] (:func:`kgen.losses.density_ratio_total_correlation`).

One training step is the paper's Algorithm 1. Each batch handed to ``fit`` is split in two
halves, the paper's two independent batches: the first half makes the VAE step (its codes z
also serve as the discriminator's draws of q(z)), the second half's codes z' are permuted into
the discriminator's draws of Π_j q(z_j). So ``fit(batch_size=128)`` is the paper's setting of 64
examples per VAE step. Then

1. VAE step (``optimizer``): descend on the loss above, with D fixed;
2. discriminator step (``discriminator_optimizer``): descend on
   −½ [log D(z) + log(1 − D(permute_dims(z')))] with the encoder fixed.

Paper defaults (Kim & Mnih 2018, appendix; disentanglement_lib's FactorVAE configuration agrees):
γ = 35 on dSprites (their Figure 4 sweeps γ ∈ [10, 100]), 6×1000 LeakyReLU discriminator,
VAE Adam(1e-4, β₁ = 0.9, β₂ = 0.999), discriminator Adam(1e-4, β₁ = 0.5, β₂ = 0.9), batch 64,
3·10⁵ steps.
"""

import keras
from keras import ops

from kgen import backend, losses
from kgen.layers.networks import tc_discriminator
from kgen.models.base import Player, register_model
from kgen.models.vae import BetaVAE
from kgen.validation import check_positive_float, check_positive_int


def paper_vae_optimizer():
    """Adam(1e-4, β₁ = 0.9, β₂ = 0.999): the VAE's optimizer in Kim & Mnih (2018)."""
    return keras.optimizers.Adam(1e-4, beta_1=0.9, beta_2=0.999)


def paper_discriminator_optimizer():
    """Adam(1e-4, β₁ = 0.5, β₂ = 0.9): the discriminator's optimizer in Kim & Mnih (2018)."""
    return keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)


@register_model("factor_vae", "FactorVAE: a VAE with an adversarial total-correlation penalty (Kim & Mnih 2018)")
class FactorVAE(BetaVAE):
    """FactorVAE (Kim & Mnih 2018): the VAE loss plus γ times an adversarial total-correlation estimate.

    Args:
        input_shape: shape of one example.
        latent_dim: dimension d of z (10 in the paper for dSprites).
        gamma: weight γ ≥ 0 of the TC term (35 by default: Kim & Mnih's dSprites setting).
        discriminator: a Keras network z (d,) → 2 logits; default
            :func:`kgen.layers.networks.tc_discriminator` (6×1000 LeakyReLU).
        likelihood, encoder, decoder, prior, seed: as in :class:`kgen.models.BetaVAE`.

    Two players (:meth:`players`): the VAE, then the discriminator, both on one forward pass.
    Train with ``compile(optimizer=None, discriminator_optimizer=None)`` (``None``: the paper's
    Adam settings) and ``fit``; each batch is split into the VAE's half and the permuted half
    (see the module docstring), so use an even batch size of at least 2.

    Reports ``loss`` (the VAE's objective), ``reconstruction``, ``kl``, ``tc`` (the
    discriminator's TC estimate, nats), ``discriminator_loss`` and ``discriminator_accuracy``
    (on the pair of batches; 0.5 is chance, where a well-matched q(z) ≈ Π_j q(z_j) leaves it).
    """

    loss_names = ("reconstruction", "kl", "tc", "discriminator_loss", "discriminator_accuracy")
    shared_forward_pass = True

    def __init__(self, input_shape, latent_dim=10, gamma=35.0, discriminator=None,
                 likelihood="bernoulli", encoder=None, decoder=None, prior=None, seed=None, **kwargs):
        super().__init__(input_shape, latent_dim, beta=1.0, likelihood=likelihood, encoder=encoder,
                         decoder=decoder, prior=prior, capacity=None, seed=seed, **kwargs)
        self.discriminator = self.use_network(
            "discriminator", discriminator, lambda: tc_discriminator(self.latent_dim), (self.latent_dim,), (2,)
        )
        self._init_gamma = check_positive_float(gamma, "gamma", allow_zero=True)
        self.gamma = keras.Variable(self._init_gamma, trainable=False, name="gamma")

    # ------------------------------------------------------------------------- the players
    def players(self):
        """The VAE (every variable but the discriminator's), then the discriminator."""
        theirs = {id(v) for v in self.discriminator.trainable_variables}
        vae_variables = [v for v in self.trainable_variables if id(v) not in theirs]
        return (
            Player("vae", vae_variables, "optimizer", "loss", paper_vae_optimizer),
            Player("discriminator", self.discriminator.trainable_variables, "discriminator_optimizer",
                   "discriminator_loss", paper_discriminator_optimizer),
        )

    def discriminator_logits(self, z):
        """The discriminator's two logits at each z, float32 (batch, 2)."""
        return backend.full_precision(self.discriminator(z))

    def total_correlation(self, z):
        """The discriminator's TC estimate at each z, shape (batch,)."""
        return losses.density_ratio_total_correlation(self.discriminator_logits(z))

    def loss_terms(self, x, outputs):
        """The VAE player's objective: reconstruction + KL + γ·TC, with TC from the discriminator."""
        terms = super().loss_terms(x, outputs)
        tc = ops.mean(self.total_correlation(outputs["z"]))
        return {**terms, "loss": terms["loss"] + self.gamma * tc, "tc": tc}

    def discriminator_terms(self, z, z_permuted):
        """The discriminator's loss and accuracy on draws of q(z) and of Π_j q(z_j)."""
        logits_joint, logits_permuted = self.discriminator_logits(z), self.discriminator_logits(z_permuted)
        loss = ops.mean(losses.tc_discriminator_loss(logits_joint, logits_permuted))
        hits = ops.concatenate([ops.argmax(logits_joint, axis=-1) == 0, ops.argmax(logits_permuted, axis=-1) == 1])
        return {"discriminator_loss": loss, "discriminator_accuracy": ops.mean(ops.cast(hits, loss.dtype))}

    def player_terms(self, x, player=None, training=True):
        """Both players' terms on one batch, split into the VAE half and the permuted half."""
        half = ops.shape(x)[0] // 2
        x_vae, x_other = x[:half], x[half : 2 * half]
        outputs = self(x_vae, training=training)
        z_other = losses.reparameterize(*self.posterior_params(x_other), seed=self.seed_generator)
        z_permuted = losses.permute_dims(ops.stop_gradient(z_other), seed=self.seed_generator)
        terms = self.loss_terms(x_vae, outputs)
        terms.update(self.discriminator_terms(ops.stop_gradient(outputs["z"]), z_permuted))
        return terms

    # ---------------------------------------------------------------------------- training
    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        if batch_size is not None and check_positive_int(batch_size, "batch_size") < 2:
            raise ValueError(
                f"FactorVAE splits each batch into two halves, so `batch_size` must be at least 2; got {batch_size}."
            )
        return super().fit(x, y, batch_size=batch_size, **kwargs)

    def _report(self, terms, x):
        """As the base's, with the VAE half's size as the weight of ``loss``."""
        return super()._report(terms, x[: ops.shape(x)[0] // 2])

    # ------------------------------------------------------------------------ serialization
    def get_config(self):
        config = {**super().get_config(), "gamma": self._init_gamma}
        del config["beta"], config["capacity"]
        return config
