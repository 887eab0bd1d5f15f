"""Small pure functions that the models call and that a student can write from scratch.

Every function works on ``keras.ops`` tensors, sums over the event dimensions it is told
about and keeps the batch dimension, so that a model chooses how to average.

Notation: a diagonal Gaussian is given by its ``mean`` and ``log_var`` = log σ²; ``logits`` are
the pre-sigmoid outputs of a Bernoulli decoder.
"""

import math

import keras
from keras import ops

from kgen.validation import check_choice

_LOG_2PI = math.log(2.0 * math.pi)


def reparameterize(mean, log_var, seed=None):
    """Draw z = μ + σ·ε with ε ~ N(0, I): the reparameterization trick (Kingma & Welling 2014).

    The sample is a differentiable function of (μ, log σ²), so the ELBO's gradient flows
    through it. ``seed`` is anything ``keras.random.normal`` accepts (an int or a
    ``keras.random.SeedGenerator``).
    """
    eps = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=seed)
    return mean + ops.exp(0.5 * log_var) * eps


def gaussian_kl(mean, log_var, prior_mean=None, prior_log_var=None):
    """KL(N(μ, σ²) ‖ N(m, s²)) summed over the last axis, in closed form.

        KL = ½ Σ_j [ log s_j² − log σ_j² + (σ_j² + (μ_j − m_j)²) / s_j² − 1 ]

    With no prior given the prior is N(0, I) and this is the VAE's KL term,
    ½ Σ (μ² + σ² − log σ² − 1) (Kingma & Welling 2014, appendix B).
    """
    if prior_mean is None:
        prior_mean = ops.zeros_like(mean)
    if prior_log_var is None:
        prior_log_var = ops.zeros_like(log_var)
    ratio = ops.exp(log_var - prior_log_var)
    mahalanobis = ops.square(mean - prior_mean) * ops.exp(-prior_log_var)
    return 0.5 * ops.sum(ratio + mahalanobis - 1.0 - (log_var - prior_log_var), axis=-1)


def gaussian_log_density(z, mean, log_var):
    """log N(z; μ, σ²) summed over the last axis: −½ Σ [log 2π + log σ² + (z − μ)²/σ²]."""
    return -0.5 * ops.sum(
        _LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var), axis=-1
    )


def bernoulli_log_likelihood(x, logits, event_ndims):
    """log p(x | logits) for a Bernoulli decoder, summed over the last ``event_ndims`` axes.

        log p = Σ [x·log σ(ℓ) + (1 − x)·log(1 − σ(ℓ))] = Σ [x·ℓ − softplus(ℓ)]

    written with ``softplus`` so that large logits do not overflow. Values of x in (0, 1) are
    allowed, as is customary for grey-level images (the continuous relaxation of Loaiza-Ganem &
    Cunningham 2019 would add a normalizer that this function leaves out).
    """
    per_pixel = x * logits - ops.softplus(logits)
    return _sum_last(per_pixel, event_ndims)


def gaussian_log_likelihood(x, mean, log_scale, event_ndims):
    """log N(x; μ, σ²) with σ = exp(log_scale), summed over the last ``event_ndims`` axes.

    ``log_scale`` broadcasts against ``x`` (a scalar for a shared, fixed or learned σ).
    """
    per_pixel = -0.5 * (_LOG_2PI + 2.0 * log_scale + ops.square(x - mean) * ops.exp(-2.0 * log_scale))
    return _sum_last(per_pixel, event_ndims)


def log_mean_exp(values, axis):
    """log (1/K Σ_k exp(v_k)) along ``axis``, computed stably through logsumexp."""
    count = ops.cast(ops.shape(values)[axis], values.dtype)
    return ops.logsumexp(values, axis=axis) - ops.log(count)


def _sum_last(values, ndims):
    """Sum over the last ``ndims`` axes, keeping the leading (batch) axes."""
    if ndims == 0:
        return values
    rank = len(values.shape)
    return ops.sum(values, axis=tuple(range(rank - ndims, rank)))


def denoising_score_matching(score, x_noisy, x, sigma, event_ndims, weighted=True):
    """Denoising score matching at noise level σ, per example (Vincent 2011, "A Connection
    Between Score Matching and Denoising Autoencoders", eq. 8; Song & Ermon 2019, eq. 5–6):

        ℓ(x, x̃; σ) = ½ λ(σ) ‖ s(x̃, σ) + (x̃ − x) / σ² ‖²,    x̃ = x + σ·z,  z ~ N(0, I),

    summed over the last ``event_ndims`` axes. (x̃ − x)/σ² = −∇ log N(x̃; x, σ² I), so the
    minimiser over s of E ℓ is the score of the noised data, ∇ log p_σ(x̃). With ``weighted``, λ(σ) = σ²
    (Song & Ermon's choice, which makes every level's loss of order one: with x̃ − x = σ·z the
    term is ½ ‖σ·s(x̃, σ) + z‖²); otherwise λ = 1.

    Args:
        score: s(x̃, σ), the shape of ``x``.
        x_noisy: x̃, the shape of ``x``.
        x: the clean data.
        sigma: σ, a scalar or one value per example, shape (batch,).
        event_ndims: how many trailing axes make one example (3 for images, 1 for vectors).
        weighted: multiply by λ(σ) = σ².
    """
    sigma = ops.reshape(ops.convert_to_tensor(sigma, dtype=x.dtype), (-1,) + (1,) * event_ndims)
    residual = score + (x_noisy - x) / ops.square(sigma)
    per_example = 0.5 * _sum_last(ops.square(residual), event_ndims)
    if not weighted:
        return per_example
    return ops.square(ops.reshape(sigma, (-1,))) * per_example


# ------------------------------------------------------------------------ total correlation
def permute_dims(z, seed=None):
    """Shuffle each column of ``z`` (batch, d) independently across the batch (Kim & Mnih 2018,
    "Disentangling by Factorising", Algorithm 1).

    If the rows of ``z`` are draws from the aggregate posterior q(z), each column keeps the
    values of one marginal q(z_j) but loses its pairing with the other columns, so the rows of
    the result are (approximately) draws from the product of the marginals Π_j q(z_j).
    """
    keys = keras.random.uniform(ops.shape(z), seed=seed)
    return ops.take_along_axis(z, ops.argsort(keys, axis=0), axis=0)


def density_ratio_total_correlation(logits):
    """The FactorVAE estimate of TC(z) = KL(q(z) ‖ Π_j q(z_j)) at each z, from a discriminator's
    two logits (class 0: "a draw from q(z)", class 1: "a draw from Π_j q(z_j)"):

        TC ≈ E_q(z)[ log D(z) − log(1 − D(z)) ] = E_q(z)[ ℓ_0(z) − ℓ_1(z) ],

    the density-ratio trick (Kim & Mnih 2018, eq. 3): an optimal D gives D/(1 − D) =
    q(z) / Π_j q(z_j). Returns the per-example values, shape (batch,).
    """
    return logits[:, 0] - logits[:, 1]


def tc_discriminator_loss(logits_joint, logits_permuted):
    """The discriminator's cross-entropy, per pair of examples, shape (batch,):

        −½ [ log D(z) + log(1 − D(z̃)) ],   z ~ q(z),  z̃ = permute_dims(z') ~ Π_j q(z_j),

    with D = softmax(logits)[0] (Kim & Mnih 2018, Algorithm 1).
    """
    return -0.5 * (ops.log_softmax(logits_joint)[:, 0] + ops.log_softmax(logits_permuted)[:, 1])


def aggregate_posterior_log_density(z, mean, log_var, dataset_size, estimator="mws"):
    """Minibatch estimates of log q(z_i) and Σ_j log q(z_ij) at each row z_i of a batch (Chen,
    Li, Grosse & Duvenaud 2018, "Isolating Sources of Disentanglement in VAEs", §4.1, appendix C).

    q(z) = (1/N) Σ_n q(z | x_n) is the aggregate posterior over a dataset of N examples. With a
    batch of M examples x_1..x_M and z_i ~ q(z | x_i), both estimators weigh the batch's
    posteriors:  log q(z_i) ≈ log Σ_k w_ik q(z_i | x_k),  and likewise for each marginal q(z_ij)
    with the one-dimensional posteriors q(z_ij | x_k).

    * ``"mws"``, minibatch-weighted sampling (the paper's eq. after (4)): w_ik = 1 / (N·M) for all
      k. Its log q(z) is biased low by between log M and log N (the weights sum to 1/N), so the
      reported MI, TC and dimension-wise KL carry offsets; the paper trains with it.
    * ``"mss"``, minibatch-stratified sampling (appendix C.2): w_ii = 1/N, one other example
      (here the next one in the batch, cyclically) gets (N − M + 1) / (N (M − 1)), the
      remaining M − 2 get 1 / (M − 1). The weights sum to 1 and the estimate of q(z_i) is
      unbiased over random batches. Needs M ≥ 2.

    Args:
        z, mean, log_var: (M, d) posterior draws and the posteriors' parameters.
        dataset_size: N, the number of training examples (N ≥ M).
        estimator: ``"mws"`` or ``"mss"``.

    Returns:
        ``(log_qz, log_marginals)``: log q(z_i), shape (M,), and log q(z_ij), shape (M, d).
    """
    batch = ops.shape(z)[0]
    if isinstance(batch, int) and batch > dataset_size:  # a known batch size: say it at once
        raise ValueError(
            f"`dataset_size` must be the number N of training examples, at least the batch size; "
            f"got N={dataset_size} for a batch of {batch} (the estimate of q(z) would be NaN)."
        )
    # log q(z_ij | x_k) for every row i, posterior k and dimension j: shape (M, M, d).
    log_q = gaussian_log_density(z[:, None, :, None], mean[None, :, :, None], log_var[None, :, :, None])
    log_weights = _minibatch_log_weights(batch, dataset_size, estimator, z.dtype)
    log_qz = ops.logsumexp(log_weights + ops.sum(log_q, axis=-1), axis=1)
    log_marginals = ops.logsumexp(log_weights[:, :, None] + log_q, axis=1)
    return log_qz, log_marginals


def _minibatch_log_weights(batch, dataset_size, estimator, dtype):
    """log w_ik of :func:`aggregate_posterior_log_density`, shape (M, M)."""
    n = float(dataset_size)
    m = ops.cast(batch, dtype)
    if check_choice(estimator, "estimator", ("mws", "mss")) == "mws":
        return ops.zeros((batch, batch), dtype=dtype) - ops.log(n * m)
    eye = ops.eye(batch, dtype=dtype)
    stratum = ops.roll(eye, 1, axis=1)  # row i: the next example, i + 1 (mod M)
    others = 1.0 - eye - stratum
    weights = eye / n + stratum * (n - m + 1.0) / (n * (m - 1.0)) + others / (m - 1.0)
    return ops.log(weights)


def total_correlation_decomposition(z, mean, log_var, prior_mean, prior_log_var, dataset_size,
                                    estimator="mws"):
    """The β-TCVAE decomposition of the ELBO's KL term, per example (Chen et al. 2018, eq. 2):

        E_x KL(q(z|x) ‖ p(z)) = I_q(z; x)            index-code mutual information
                               + KL(q(z) ‖ Π_j q(z_j))   total correlation
                               + Σ_j KL(q(z_j) ‖ p(z_j))  dimension-wise KL,

    each estimated at z ~ q(z | x) as E[log q(z|x) − log q(z)], E[log q(z) − Σ_j log q(z_j)] and
    E[Σ_j log q(z_j) − log p(z_j)], with q(z) and q(z_j) from
    :func:`aggregate_posterior_log_density`. The three sum exactly to log q(z|x) − log p(z), the
    one-sample KL. p(z) = N(prior_mean, diag exp(prior_log_var)) must factorise over dimensions.

    Returns:
        dict of (batch,) tensors: ``"mutual_information"``, ``"total_correlation"``,
        ``"dimensionwise_kl"``.
    """
    log_q_given_x = gaussian_log_density(z, mean, log_var)
    log_qz, log_marginals = aggregate_posterior_log_density(z, mean, log_var, dataset_size, estimator)
    log_prior = gaussian_log_density(z[..., None], prior_mean[..., None], prior_log_var[..., None])
    return {
        "mutual_information": log_q_given_x - log_qz,
        "total_correlation": log_qz - ops.sum(log_marginals, axis=-1),
        "dimensionwise_kl": ops.sum(log_marginals - log_prior, axis=-1),
    }
