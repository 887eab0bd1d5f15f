"""Small pure functions that the models call and that a student can write from scratch.

Every function works on ``keras.ops`` tensors, sums over the event dimensions it is told
about and keeps the batch dimension, so that a model chooses how to average.

Notation: a diagonal Gaussian is given by its ``mean`` and ``log_var`` = log σ²; ``logits`` are
the pre-sigmoid outputs of a Bernoulli decoder.
"""

import math

import keras
from keras import ops

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
