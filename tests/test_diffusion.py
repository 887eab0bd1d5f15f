"""Diffusion schedules and formulas: schedules against their closed forms, the forward process
and the posterior against Monte Carlo, DDIM's limits (η = 0 deterministic, η = 1 = DDPM), and
bad arguments."""

import numpy as np
import pytest
import tensorflow as tf

from kgen import diffusion
from kgen.diffusion import DiffusionSchedule, ddim_timesteps, make_betas

SCHEDULE_NAMES = tuple(diffusion.SCHEDULES)


def _cosine_alpha_bar(t, num_timesteps, s=0.008):
    """ᾱ after the step of 0-based index t: f((t + 1)/T) / f(0) (Nichol & Dhariwal, eq. 17)."""
    f = lambda u: np.cos((u + s) / (1 + s) * np.pi / 2) ** 2  # noqa: E731
    return f((t + 1) / num_timesteps) / f(0.0)


# ------------------------------------------------------------------------------- schedules
def test_linear_betas_run_evenly_from_start_to_end():
    betas = diffusion.linear_betas()
    assert betas.shape == (1000,) and betas.dtype == np.float32
    np.testing.assert_allclose([betas[0], betas[-1]], [1e-4, 0.02], rtol=1e-6)
    np.testing.assert_allclose(np.diff(betas), (0.02 - 1e-4) / 999, rtol=1e-3)


def test_cosine_alpha_bar_follows_the_squared_cosine_and_beta_is_clipped_at_the_end():
    schedule = DiffusionSchedule(diffusion.cosine_betas(1000))
    t = np.arange(998)
    np.testing.assert_allclose(
        schedule.alphas_cumprod[:998], _cosine_alpha_bar(t, 1000), rtol=1e-4
    )
    assert schedule.betas[-1] == np.float32(0.999)  # f(1) = 0 would give β = 1
    assert schedule.betas.max() <= np.float32(0.999)


def test_vp_betas_give_the_ddgan_values_for_four_steps():
    betas = diffusion.vp_betas()
    np.testing.assert_allclose(betas, [0.478, 0.849, 0.956, 0.987], atol=1e-3)
    # The product of the step ratios telescopes to ᾱ(1) / ᾱ(ε).
    log_alpha_bar = lambda u: -0.5 * u**2 * (20.0 - 0.1) - 0.1 * u  # noqa: E731
    expected = np.exp(log_alpha_bar(1.0) - log_alpha_bar(1e-3))
    np.testing.assert_allclose(np.prod(1.0 - betas.astype(np.float64)), expected, rtol=1e-5)


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
@pytest.mark.parametrize("num_timesteps", [1, 4, 1000])
def test_alpha_bar_decreases_strictly_inside_the_unit_interval(name, num_timesteps):
    schedule = DiffusionSchedule(make_betas(name, num_timesteps))
    alpha_bar = schedule.alphas_cumprod
    assert alpha_bar.shape == (num_timesteps,) and alpha_bar.dtype == np.float32
    assert np.all((alpha_bar > 0) & (alpha_bar < 1))
    assert np.all(np.diff(alpha_bar) < 0)
    np.testing.assert_allclose(schedule.alphas_cumprod_prev, np.r_[1.0, alpha_bar[:-1]])


def test_make_betas_passes_arguments_to_the_named_schedule():
    np.testing.assert_array_equal(
        make_betas("vp", 8, beta_max=10.0), diffusion.vp_betas(8, beta_max=10.0)
    )
    with pytest.raises(ValueError, match=r"`schedule` 'quadratic'.*linear, cosine, vp"):
        make_betas("quadratic", 10)


def test_schedule_tables_are_read_only():
    schedule = DiffusionSchedule(diffusion.linear_betas(10))
    with pytest.raises(ValueError, match="read-only"):
        schedule.betas[0] = 0.5
    assert "num_timesteps=10" in repr(schedule)


# ------------------------------------------------------------------------ forward process
@pytest.mark.parametrize("t", [0, 3, 9])
def test_q_sample_has_the_mean_and_variance_of_q_xt_given_x0(t):
    schedule = DiffusionSchedule(diffusion.cosine_betas(10))
    rng, n = np.random.default_rng(t), 200_000
    x0 = np.tile(np.array([[1.5, -0.5]], np.float32), (n, 1))
    noise = rng.standard_normal(x0.shape).astype(np.float32)
    x_t = np.asarray(schedule.q_sample(x0, np.full(n, t), noise), np.float64)
    alpha_bar = float(schedule.alphas_cumprod[t])
    variance = 1 - alpha_bar
    # 5 standard errors: SE(mean) = sqrt(var / n), SE(var) = var sqrt(2 / n).
    mean_tolerance = 5 * np.sqrt(variance / n)
    np.testing.assert_allclose(x_t.mean(0), np.sqrt(alpha_bar) * x0[0], atol=mean_tolerance)
    np.testing.assert_allclose(x_t.var(0), variance, atol=5 * variance * np.sqrt(2 / n))
    mean, var = schedule.q_mean_variance(x0[:2], np.full(2, t))
    np.testing.assert_allclose(mean, np.sqrt(alpha_bar) * x0[:2], rtol=1e-6)
    np.testing.assert_allclose(var, np.full((2, 2), variance), rtol=1e-5)


def test_q_sample_broadcasts_one_timestep_per_example_over_image_axes():
    schedule = DiffusionSchedule(diffusion.linear_betas(100))
    x0 = np.ones((3, 4, 4, 1), np.float32)
    t = np.array([0, 50, 99])
    x_t = np.asarray(schedule.q_sample(x0, t, np.zeros_like(x0)))
    expected = np.sqrt(schedule.alphas_cumprod[t])[:, None, None, None] * x0
    np.testing.assert_allclose(x_t, expected, rtol=1e-6)
    scalar_t = np.asarray(schedule.q_sample(x0, 50, np.zeros_like(x0)))
    np.testing.assert_allclose(scalar_t, np.sqrt(schedule.alphas_cumprod[50]) * x0, rtol=1e-6)


def test_float64_input_gives_float32_and_a_compiled_function_gives_the_eager_result():
    schedule = DiffusionSchedule(diffusion.linear_betas(100))
    x0 = np.random.default_rng(0).standard_normal((5, 3))
    noise = np.random.default_rng(1).standard_normal((5, 3))
    t = np.array([0, 1, 2, 50, 99])
    eager = schedule.q_sample(x0, t, noise)
    assert eager.dtype == "float32"
    compiled = tf.function(schedule.q_sample)(tf.constant(x0), tf.constant(t), tf.constant(noise))
    np.testing.assert_allclose(compiled, eager, rtol=1e-6)


# ------------------------------------------------------------------------------ posterior
@pytest.mark.parametrize("t", [1, 4, 9])
def test_posterior_moments_match_a_regression_of_x_prev_on_x0_and_x_t(t):
    """Draw x0 ~ N(0.5, 1), x_{t−1} ~ q(x_{t−1} | x0) and x_t by one forward step with β_t.
    E[x_{t−1} | x_t, x0] is linear in (x0, x_t), so least squares recovers coef1 and coef2, and
    the residual variance is the posterior variance β̃_t."""
    schedule = DiffusionSchedule(diffusion.cosine_betas(10))
    rng, n = np.random.default_rng(t), 200_000
    x0 = (0.5 + rng.standard_normal((n, 1))).astype(np.float32)
    x_prev = np.asarray(
        schedule.q_sample(x0, np.full(n, t - 1), rng.standard_normal((n, 1)).astype(np.float32)),
        np.float64,
    )
    beta = float(schedule.betas[t])
    x_t = np.sqrt(1 - beta) * x_prev + np.sqrt(beta) * rng.standard_normal((n, 1))
    design = np.hstack([x0, x_t])
    coefficients, residual, *_ = np.linalg.lstsq(design, x_prev[:, 0], rcond=None)
    residual_variance = residual[0] / (n - 2)
    standard_errors = np.sqrt(residual_variance * np.diag(np.linalg.inv(design.T @ design)))
    coef1, coef2 = schedule.posterior_mean_coefficients
    assert np.all(np.abs(coefficients - [coef1[t], coef2[t]]) < 5 * standard_errors)
    variance = float(schedule.posterior_variance[t])
    np.testing.assert_allclose(residual_variance, variance, rtol=5 * np.sqrt(2 / n))
    mean, var, log_var = schedule.posterior_mean_variance(x0[:3], x_t[:3], np.full(3, t))
    np.testing.assert_allclose(mean, coef1[t] * x0[:3] + coef2[t] * x_t[:3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var, np.full((3, 1), variance), rtol=1e-6)
    np.testing.assert_allclose(np.exp(log_var), var, rtol=1e-5)


def test_posterior_at_the_first_step_is_a_point_mass_at_x0_and_its_log_variance_is_clipped():
    schedule = DiffusionSchedule(diffusion.linear_betas(10))
    coef1, coef2 = schedule.posterior_mean_coefficients
    assert (coef1[0], coef2[0], schedule.posterior_variance[0]) == (1.0, 0.0, 0.0)
    np.testing.assert_allclose(
        schedule.posterior_log_variance_clipped,
        np.log(np.r_[schedule.posterior_variance[1], schedule.posterior_variance[1:]]),
        rtol=1e-6,
    )
    assert np.isfinite(DiffusionSchedule([0.3]).posterior_log_variance_clipped).all()


def test_posterior_sample_adds_noise_except_at_the_first_step():
    schedule = DiffusionSchedule(diffusion.vp_betas(4))
    rng = np.random.default_rng(0)
    x0, x_t = rng.standard_normal((2, 4, 3)).astype(np.float32)
    noise = np.full((4, 3), 10.0, np.float32)
    t = np.array([0, 1, 2, 3])
    sample = np.asarray(schedule.posterior_sample(x0, x_t, t, noise))
    mean = np.asarray(schedule.posterior_mean_variance(x0, x_t, t)[0])
    np.testing.assert_array_equal(sample[0], x0[0])
    noise_scale = np.sqrt(schedule.posterior_variance[1:])[:, None]
    np.testing.assert_allclose(sample[1:] - mean[1:], noise_scale * noise[1:], rtol=1e-5)


# ----------------------------------------------------------------------------------- DDIM
@pytest.mark.parametrize("t", [0, 10, 500, 999])
def test_ddim_recovers_x0_in_one_jump_from_the_true_noise(t):
    schedule = DiffusionSchedule(diffusion.linear_betas(1000))
    rng = np.random.default_rng(t)
    x0, eps = rng.standard_normal((2, 8, 2)).astype(np.float32)
    x_t = schedule.q_sample(x0, np.full(8, t), eps)
    jumped = schedule.ddim_step(x_t, eps, np.full(8, t), np.full(8, -1))
    np.testing.assert_allclose(jumped, x0, atol=1e-4)
    predicted = schedule.predict_x0_from_noise(x_t, np.full(8, t), eps)
    np.testing.assert_allclose(predicted, x0, atol=1e-4)


def test_deterministic_ddim_moves_along_the_forward_process_and_ignores_noise():
    """With the true ε and η = 0, a step from t to any t_prev lands on q_sample(x0, t_prev, ε)."""
    schedule = DiffusionSchedule(diffusion.cosine_betas(100))
    rng = np.random.default_rng(0)
    x0, eps = rng.standard_normal((2, 5, 3)).astype(np.float32)
    t, t_prev = np.array([99, 80, 50, 20, 1]), np.array([60, 79, 10, 0, 0])
    x_t = schedule.q_sample(x0, t, eps)
    step = schedule.ddim_step(x_t, eps, t, t_prev, eta=0.0, noise=rng.standard_normal((5, 3)))
    # x̂_0 divides by √ᾱ_99 ≈ 5e-4 here, which magnifies float32 round-off to ~3e-5.
    np.testing.assert_allclose(step, schedule.q_sample(x0, t_prev, eps), atol=1e-4)
    np.testing.assert_array_equal(step, schedule.ddim_step(x_t, eps, t, t_prev))


def test_ddim_with_eta_one_is_the_ddpm_posterior_step():
    schedule = DiffusionSchedule(diffusion.linear_betas(50))
    rng = np.random.default_rng(1)
    x_t, eps, noise = rng.standard_normal((3, 6, 2)).astype(np.float32)
    t = np.array([1, 2, 10, 30, 48, 49])
    ddim = schedule.ddim_step(x_t, eps, t, t - 1, eta=1.0, noise=noise)
    x0 = schedule.predict_x0_from_noise(x_t, t, eps)
    np.testing.assert_allclose(ddim, schedule.posterior_sample(x0, x_t, t, noise), atol=1e-5)
    # The noise enters with σ_t² = β̃_t.
    without = schedule.ddim_step(x_t, eps, t, t - 1, eta=1.0, noise=np.zeros_like(noise))
    np.testing.assert_allclose(
        (np.asarray(ddim) - without) / noise,
        np.broadcast_to(np.sqrt(schedule.posterior_variance[t])[:, None], noise.shape),
        rtol=1e-3,
    )


def test_ddim_timesteps_descend_evenly_from_the_last_step_to_zero():
    steps = ddim_timesteps(1000, 50)
    assert steps[0] == 999 and steps[-1] == 0 and len(steps) == 50
    assert np.all(np.diff(steps) < 0)
    assert np.ptp(np.diff(steps)) <= 1  # even spacing, up to rounding
    np.testing.assert_array_equal(ddim_timesteps(4, 4), [3, 2, 1, 0])
    np.testing.assert_array_equal(ddim_timesteps(1000, 1), [999])
    with pytest.raises(ValueError, match="`num_steps` must be at most `num_timesteps`=10"):
        ddim_timesteps(10, 11)


# -------------------------------------------------------------------------- bad arguments
S = DiffusionSchedule(diffusion.linear_betas(10))
X = np.zeros((2, 3), np.float32)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: diffusion.linear_betas(0), "`num_timesteps` must be a positive"),
        (lambda: diffusion.linear_betas(beta_end=1.5), r"`beta_end` must lie in \(0, 1\)"),
        (lambda: diffusion.cosine_betas(10, max_beta=1.0), "`max_beta` must lie in"),
        (lambda: diffusion.vp_betas(beta_max=0.05), "`beta_max` must be ≥ `beta_min`"),
        (lambda: DiffusionSchedule([0.1, 1.0]), r"`betas` must lie in \(0, 1\).*betas\[1\]"),
        (lambda: DiffusionSchedule([0.1, np.nan]), r"`betas` must lie in \(0, 1\)"),
        (lambda: DiffusionSchedule([[0.1]]), "`betas` must be a non-empty 1-D"),
        (lambda: DiffusionSchedule([]), "`betas` must be a non-empty 1-D"),
        (lambda: S.q_sample(X, np.array([0, 10]), X), r"`t` must lie in \[0, 9\]"),
        (lambda: S.q_sample(X, np.zeros((2, 1), int), X), "`t` must be a scalar"),
        (lambda: S.q_sample(X, np.array([0, 1, 2]), X), "3 entries but the batch has 2"),
        (lambda: S.q_sample(X, 1, X[:, :2]), r"`noise` must have the shape of `x0`"),
        (lambda: S.q_sample(np.float32(1.0), 1, np.float32(1.0)), "batch axis"),
        (lambda: S.ddim_step(X, X, 5, 5), "`t_prev` must be smaller than `t`"),
        (lambda: S.ddim_step(X, X, 5, -2), r"`t_prev` must lie in \[-1, 9\]"),
        (lambda: S.ddim_step(X, X, 5, 1, eta=1.5, noise=X), r"`eta` must lie in \[0, 1\]"),
        (lambda: S.ddim_step(X, X, 5, 1, eta=0.5), "`noise` is needed"),
    ],
)
def test_bad_values_are_rejected_clearly(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: diffusion.linear_betas(10.0), "`num_timesteps` must be a positive"),
        (lambda: S.q_sample(X, np.array([0.0, 1.0]), X), "`t` must hold integer"),
        (lambda: S.ddim_step(X, X, 5, 1, eta="0"), "`eta` must be a real number"),
    ],
)
def test_bad_types_are_rejected_clearly(call, match):
    with pytest.raises(TypeError, match=match):
        call()
