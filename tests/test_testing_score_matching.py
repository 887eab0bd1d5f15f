"""kgen.testing's score-matching checks (notebook 04): each passes a correct function and fails,
with the hint that names the mistake, on the errors students typically make."""

import pytest
from keras import ops

from kgen import losses, testing


def _sigma_like(sigma, x):
    return ops.reshape(ops.convert_to_tensor(sigma, dtype=x.dtype), (-1,) + (1,) * (len(x.shape) - 1))


def _sum_but_batch(values):
    return ops.sum(values, axis=tuple(range(1, len(values.shape))))


def dsm_reference(score, x_noisy, x, sigma):
    return losses.denoising_score_matching(score, x_noisy, x, sigma, len(x.shape) - 1)


def dsm_written_out(score, x_noisy, x, sigma):
    sigma = _sigma_like(sigma, x)
    return _sum_but_batch(0.5 * sigma**2 * (score + (x_noisy - x) / sigma**2) ** 2)


def dsm_unweighted(score, x_noisy, x, sigma):
    sigma = _sigma_like(sigma, x)
    return _sum_but_batch(0.5 * (score + (x_noisy - x) / sigma**2) ** 2)


def dsm_no_half(score, x_noisy, x, sigma):
    return 2.0 * dsm_written_out(score, x_noisy, x, sigma)


def dsm_mean_over_entries(score, x_noisy, x, sigma):
    sigma = _sigma_like(sigma, x)
    values = 0.5 * sigma**2 * (score + (x_noisy - x) / sigma**2) ** 2
    return ops.mean(values, axis=tuple(range(1, len(values.shape))))


def dsm_wrong_sign(score, x_noisy, x, sigma):
    sigma = _sigma_like(sigma, x)
    return _sum_but_batch(0.5 * sigma**2 * (score - (x_noisy - x) / sigma**2) ** 2)


def dsm_batch_mean(score, x_noisy, x, sigma):
    return ops.mean(dsm_written_out(score, x_noisy, x, sigma))


def dsm_vectors_only(score, x_noisy, x, sigma):
    sigma = ops.reshape(ops.convert_to_tensor(sigma, dtype=x.dtype), (-1, 1))
    return ops.sum(0.5 * sigma**2 * (score + (x_noisy - x) / sigma**2) ** 2, axis=-1)


def dsm_scalar_sigma_only(score, x_noisy, x, sigma):
    return _sum_but_batch(0.5 * sigma**2 * (score + (x_noisy - x) / sigma**2) ** 2)


@pytest.mark.parametrize("fn", [dsm_reference, dsm_written_out])
def test_check_dsm_loss_passes_correct_functions(fn):
    testing.check_dsm_loss(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (dsm_unweighted, "λ\\(σ\\) = σ²"),
        (dsm_no_half, "factor ½"),
        (dsm_mean_over_entries, "divided by the dimension"),
        (dsm_wrong_sign, "not s − "),
        (dsm_batch_mean, "one number for the whole batch"),
        (dsm_vectors_only, "images"),
        (dsm_scalar_sigma_only, "one value per example"),
    ],
)
def test_check_dsm_loss_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_dsm_loss(wrong)


def langevin_reference(score_fn, x, sigma, sigma_last, epsilon, noise):
    alpha = epsilon * sigma**2 / sigma_last**2
    return x + 0.5 * alpha * score_fn(x, sigma) + alpha**0.5 * noise


def langevin_no_half(score_fn, x, sigma, sigma_last, epsilon, noise):
    alpha = epsilon * sigma**2 / sigma_last**2
    return x + alpha * score_fn(x, sigma) + alpha**0.5 * noise


def langevin_noise_times_alpha(score_fn, x, sigma, sigma_last, epsilon, noise):
    alpha = epsilon * sigma**2 / sigma_last**2
    return x + 0.5 * alpha * score_fn(x, sigma) + alpha * noise


def langevin_not_annealed(score_fn, x, sigma, sigma_last, epsilon, noise):
    return x + 0.5 * epsilon * score_fn(x, sigma) + epsilon**0.5 * noise


def langevin_inverted_ratio(score_fn, x, sigma, sigma_last, epsilon, noise):
    alpha = epsilon * sigma_last**2 / sigma**2
    return x + 0.5 * alpha * score_fn(x, sigma) + alpha**0.5 * noise


def langevin_score_at_last_level(score_fn, x, sigma, sigma_last, epsilon, noise):
    alpha = epsilon * sigma**2 / sigma_last**2
    return x + 0.5 * alpha * score_fn(x, sigma_last) + alpha**0.5 * noise


def langevin_no_noise(score_fn, x, sigma, sigma_last, epsilon, noise):
    alpha = epsilon * sigma**2 / sigma_last**2
    return x + 0.5 * alpha * score_fn(x, sigma)


def langevin_downhill(score_fn, x, sigma, sigma_last, epsilon, noise):
    alpha = epsilon * sigma**2 / sigma_last**2
    return x - 0.5 * alpha * score_fn(x, sigma) + alpha**0.5 * noise


def langevin_no_score(score_fn, x, sigma, sigma_last, epsilon, noise):
    return x + noise


def test_check_annealed_langevin_step_passes_the_reference():
    testing.check_annealed_langevin_step(langevin_reference)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (langevin_no_half, "forgot the ½"),
        (langevin_noise_times_alpha, "scaled by √α"),
        (langevin_not_annealed, "annealed"),
        (langevin_inverted_ratio, "σ² on top"),
        (langevin_score_at_last_level, "current level"),
        (langevin_no_noise, "noise term"),
        (langevin_downhill, "uphill"),
        (langevin_no_score, "never called `score_fn`"),
    ],
)
def test_check_annealed_langevin_step_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_annealed_langevin_step(wrong)


def test_check_annealed_langevin_step_catches_a_step_that_leaves_the_target():
    """Right on the first input but with the wrong noise scale at larger steps: only the
    stationarity check can see it."""

    def drifting(score_fn, x, sigma, sigma_last, epsilon, noise):
        alpha = epsilon * sigma**2 / sigma_last**2
        noise_scale = alpha**0.5 if alpha > 0.1 else 0.5 * alpha**0.5
        return x + 0.5 * alpha * score_fn(x, sigma) + noise_scale * noise

    with pytest.raises(AssertionError, match="drifted away"):
        testing.check_annealed_langevin_step(drifting)
