"""Checks of the score-matching exercises (course notebook 04): the denoising score matching loss
and one step of annealed Langevin dynamics."""

import numpy as np

from kgen import losses
from kgen.testing.assertions import (
    as_float32,
    assert_allclose,
    assert_shape,
    call_student,
    function_name,
    ratio_hint,
    to_numpy,
)


# ---------------------------------------------------------------------------------- DSM loss
def _dsm_shape_hint(shape, batch, x_shape):
    if shape == ():
        return ("you returned one number for the whole batch; return one loss per example "
                "(sum over every axis but the first) and let the training step take the mean.")
    if shape == tuple(x_shape):
        return "you returned one value per entry; sum them over every axis except the first."
    return f"return one loss per example, shape ({batch},)."


def check_dsm_loss(fn):
    """Check ``fn(score, x_noisy, x, sigma) → loss per example``, the σ²-weighted denoising score
    matching loss (Vincent 2011; Song & Ermon 2019, eq. 5–6):

        ℓ = ½ σ² ‖ s + (x̃ − x)/σ² ‖²,  summed over every axis but the first, shape (batch,).

    Properties checked, in order: the shape for vectors (batch, D) with one σ for the batch; the
    value, against :func:`kgen.losses.denoising_score_matching`; the loss is 0 at the exact
    target score s = −(x̃ − x)/σ²; one σ per example, shape (batch,); image batches
    (batch, H, W, C).
    """
    name = function_name(fn, "dsm_loss")
    rng = np.random.default_rng(4)

    def expected_for(score, x_noisy, x, sigma):
        event_ndims = x.ndim - 1
        return to_numpy(losses.denoising_score_matching(
            as_float32(score), as_float32(x_noisy), as_float32(x), as_float32(sigma), event_ndims))

    # Vectors, one σ for the whole batch.
    x = rng.normal(size=(5, 3))
    sigma = 0.5
    x_noisy = x + sigma * rng.normal(size=x.shape)
    score = rng.normal(size=x.shape)
    inputs = {"score": score, "x_noisy": x_noisy, "x": x}
    what = f"{name}(score, x_noisy, x, sigma=0.5) with score, x_noisy and x of shape (5, 3)"
    result = call_student(fn, as_float32(score), as_float32(x_noisy), as_float32(x), sigma, what=name)
    loss = assert_shape(result, (5,), what, hint=_dsm_shape_hint(to_numpy(result, what).shape, 5, x.shape))
    expected = expected_for(score, x_noisy, x, sigma)
    target = -(x_noisy - x) / sigma**2
    hint = ratio_hint(loss, expected, [
        (4.0, "your values are 1/σ² = 4 times the expected ones: multiply by the weight λ(σ) = σ²."),
        (2.0, "your values are twice the expected ones: did you forget the factor ½?"),
        (1.0 / 3, "your values are the expected ones divided by the dimension: sum over the entries "
                  "of each example instead of averaging them."),
    ])
    wrong_sign = 0.5 * sigma**2 * ((score + target) ** 2).sum(-1)
    if not hint and np.allclose(loss, wrong_sign, rtol=1e-3, atol=1e-4):
        hint = ("the target score is −(x̃ − x)/σ² (it points from the noisy point back to the clean "
                "one): the residual is s + (x̃ − x)/σ², not s − (x̃ − x)/σ².")
    hint = hint or "ℓ = ½·σ²·Σ (s + (x̃ − x)/σ²)², summed over the entries of each example."
    assert_allclose(loss, expected, what, rtol=1e-4, atol=1e-4, hint=hint, inputs=inputs)

    zero = call_student(fn, as_float32(target), as_float32(x_noisy), as_float32(x), sigma, what=name)
    assert_allclose(zero, np.zeros(5), f"{name} at the exact target score s = −(x̃ − x)/σ²", atol=1e-4,
                    hint="the loss must vanish when the score equals its regression target.")

    # One σ per example.
    sigma = np.array([0.05, 0.2, 1.0, 3.0])
    x = rng.normal(size=(4, 2))
    x_noisy = x + sigma[:, None] * rng.normal(size=x.shape)
    score = rng.normal(scale=3.0, size=x.shape)
    what = f"{name}(score, x_noisy, x, sigma) with sigma of shape (4,), one per example, and x of shape (4, 2)"
    hint = ("`sigma` may hold one value per example, shape (batch,): reshape it to (batch, 1, …, 1) "
            "before combining it with (batch, …) tensors, e.g. "
            "`ops.reshape(sigma, (-1,) + (1,) * (len(x.shape) - 1))`.")
    result = call_student(fn, as_float32(score), as_float32(x_noisy), as_float32(x), as_float32(sigma),
                          what=name, hint=hint)
    assert_allclose(result, expected_for(score, x_noisy, x, sigma), what, rtol=1e-4, atol=1e-4,
                    hint=hint, inputs={"sigma": sigma, "score": score})

    # Images.
    x = rng.uniform(size=(3, 4, 4, 1))
    sigma = np.array([0.1, 0.3, 0.9])
    x_noisy = x + sigma[:, None, None, None] * rng.normal(size=x.shape)
    score = rng.normal(size=x.shape)
    what = f"{name}(score, x_noisy, x, sigma) with images of shape (3, 4, 4, 1)"
    hint = ("the data may be vectors (batch, D) or images (batch, H, W, C): sum over all axes but "
            "the first, e.g. `axis=tuple(range(1, len(x.shape)))`, and reshape σ to match.")
    result = call_student(fn, as_float32(score), as_float32(x_noisy), as_float32(x), as_float32(sigma),
                          what=name, hint=hint)
    shape = to_numpy(result, what).shape
    assert_shape(result, (3,), what, hint=_dsm_shape_hint(shape, 3, x.shape) if shape != (3,) else hint)
    assert_allclose(result, expected_for(score, x_noisy, x, sigma), what, rtol=1e-4, atol=1e-4, hint=hint)


# ----------------------------------------------------------------- annealed Langevin dynamics
class _GaussianScore:
    """s(x, σ) = −(x − m)/(v + σ²), the score of N(m, v I) convolved with N(0, σ² I); records the
    noise levels it is called with."""

    def __init__(self, mean, variance):
        self.mean, self.variance, self.calls = mean, variance, []

    def __call__(self, x, sigma):
        self.calls.append(float(np.asarray(to_numpy(sigma, "the `sigma` passed to score_fn")).ravel()[0]))
        return -(x - self.mean) / (self.variance + float(self.calls[-1]) ** 2)


def check_annealed_langevin_step(fn):
    """Check ``fn(score_fn, x, sigma, sigma_last, epsilon, noise) → x'``, one step of annealed
    Langevin dynamics at level σ (Song & Ermon 2019, Algorithm 1):

        α = ε·σ²/σ_L²,   x' = x + (α/2)·s(x, σ) + √α·z,

    where ``score_fn(x, sigma)`` returns s(x, σ) and ``noise`` is z ~ N(0, I), drawn by the caller.

    Properties checked, in order: the shape; ``score_fn`` is called at the level σ (not σ_L); the
    value on a Gaussian score; with the step repeated, chains started at N(m, v + σ²) keep that
    distribution (mean and variance within sampling error and the small bias of the discretised
    dynamics).
    """
    name = function_name(fn, "annealed_langevin_step")
    rng = np.random.default_rng(5)
    mean, variance = 1.0, 0.5
    x = rng.normal(size=(5, 3))
    noise = rng.normal(size=x.shape)
    sigma, sigma_last, epsilon = 0.5, 0.1, 0.01
    score_fn = _GaussianScore(as_float32(np.full(3, mean)), variance)
    what = f"{name}(score_fn, x, sigma=0.5, sigma_last=0.1, epsilon=0.01, noise) with x of shape (5, 3)"
    result = call_student(fn, score_fn, as_float32(x), sigma, sigma_last, epsilon, as_float32(noise),
                          what=name)
    step = assert_shape(result, x.shape, what, hint="the new state has the shape of `x`.")
    if not score_fn.calls:
        raise AssertionError(f"{name} never called `score_fn`: the drift (α/2)·s(x, σ) needs the score at x.")
    if not np.isclose(score_fn.calls[0], sigma):
        raise AssertionError(
            f"{what} called score_fn(x, sigma) with sigma = {score_fn.calls[0]:g}; expected the "
            f"current level σ = {sigma:g}.\nHint: annealed Langevin dynamics uses the score of the "
            "data noised at the current level, s(x, σ_i); σ_L only sets the step size."
        )
    alpha = epsilon * sigma**2 / sigma_last**2
    score = -(x - mean) / (variance + sigma**2)
    expected = x + 0.5 * alpha * score + np.sqrt(alpha) * noise
    mistakes = [
        (x + alpha * score + np.sqrt(alpha) * noise, "the drift is (α/2)·s: you forgot the ½."),
        (x + 0.5 * alpha * score + alpha * noise, "the noise is scaled by √α, not α."),
        (x + 0.5 * epsilon * score + np.sqrt(epsilon) * noise,
         "the step size is annealed: α = ε·σ²/σ_L², larger at the larger noise levels."),
        (x + 0.5 * (epsilon * sigma_last**2 / sigma**2) * score
         + np.sqrt(epsilon * sigma_last**2 / sigma**2) * noise,
         "α = ε·σ²/σ_L² (σ² on top): the steps are largest at the largest σ."),
        (x + 0.5 * alpha * score, "add the noise term √α·z: without it the chain only climbs the density."),
        (x - 0.5 * alpha * score + np.sqrt(alpha) * noise,
         "the drift follows the score uphill: x + (α/2)·s(x, σ), with a plus sign."),
    ]
    hint = next((text for value, text in mistakes if np.allclose(step, value, rtol=1e-4, atol=1e-5)),
                "x' = x + (α/2)·score_fn(x, σ) + √α·noise with α = ε·σ²/σ_L².")
    assert_allclose(step, expected, what, rtol=1e-4, atol=1e-5, hint=hint, inputs={"x": x, "noise": noise})

    # Repeated, the step keeps the noised Gaussian N(m, v + σ²) (up to an O(α) bias).
    chains, steps = 4000, 60
    sigma, sigma_last, epsilon = 0.3, 0.3, 0.05
    target_var = variance + sigma**2
    x = mean + np.sqrt(target_var) * rng.normal(size=(chains, 1))
    for _ in range(steps):
        x = to_numpy(call_student(fn, _GaussianScore(mean, variance), as_float32(x), sigma, sigma_last,
                                  epsilon, as_float32(rng.normal(size=x.shape)), what=name))
    error = 4.0 * np.sqrt(2.0 / chains) * target_var + 0.05 * target_var   # 4 s.e. + the bias bound
    if abs(x.mean() - mean) > 4.0 * np.sqrt(target_var / chains) + 0.02 or abs(x.var() - target_var) > error:
        raise AssertionError(
            f"After {steps} steps of {name} at a fixed level, chains started in the stationary "
            f"distribution N({mean:g}, {target_var:g}) drifted away: mean {x.mean():.3f}, variance "
            f"{x.var():.3f}.\nHint: Langevin dynamics must leave the target distribution "
            "unchanged; check the balance of the drift (α/2)·s and the noise √α·z."
        )
