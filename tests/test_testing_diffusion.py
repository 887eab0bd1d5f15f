"""kgen.testing's diffusion checks (notebook 05): each passes correct functions and fails, with the
hint that names the mistake, on the errors students typically make."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kgen import testing
from kgen.diffusion import DiffusionSchedule, make_betas
from kgen.testing.diffusion import _posterior_by_conditioning


# ------------------------------------------------------------------- posterior coefficients
def coefficients_variant(prev="shifted", root_prev=True, root_alpha=True, variance="posterior", swap=False):
    def posterior_coefficients(betas):
        alphas = 1.0 - betas
        alpha_bar = np.cumprod(alphas)
        alpha_bar_prev = {"shifted": np.concatenate([[1.0], alpha_bar[:-1]]), "same": alpha_bar,
                          "zero": np.concatenate([[0.0], alpha_bar[:-1]]), "roll": np.roll(alpha_bar, 1)}[prev]
        one_minus = 1.0 - alpha_bar
        coef1 = betas * (np.sqrt(alpha_bar_prev) if root_prev else alpha_bar_prev) / one_minus
        coef2 = (1.0 - alpha_bar_prev) * (np.sqrt(alphas) if root_alpha else alphas) / one_minus
        var = betas * (1.0 - alpha_bar_prev) / one_minus if variance == "posterior" else betas
        return (coef2, coef1, var) if swap else (coef1, coef2, var)

    return posterior_coefficients


def coefficients_with_keras_ops(betas):
    betas = ops.convert_to_tensor(betas, "float32")
    alpha_bar = ops.cumprod(1.0 - betas)
    alpha_bar_prev = ops.concatenate([ops.ones((1,)), alpha_bar[:-1]])
    return (betas * ops.sqrt(alpha_bar_prev) / (1.0 - alpha_bar),
            (1.0 - alpha_bar_prev) * ops.sqrt(1.0 - betas) / (1.0 - alpha_bar),
            betas * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar))


def coefficients_from_kgen(betas):
    schedule = DiffusionSchedule(betas)
    return (*schedule.posterior_mean_coefficients, schedule.posterior_variance)


def test_the_graders_bayes_rule_posterior_is_kgens_closed_form():
    betas = make_betas("vp", 4).astype("float64")
    schedule = DiffusionSchedule(betas)
    expected = (*schedule.posterior_mean_coefficients, schedule.posterior_variance)
    for mine, kgens in zip(_posterior_by_conditioning(betas), expected):
        np.testing.assert_allclose(mine, kgens, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fn", [coefficients_variant(), coefficients_with_keras_ops, coefficients_from_kgen])
def test_check_posterior_coefficients_passes_correct_functions(fn):
    testing.check_posterior_coefficients(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (coefficients_variant(prev="same"), "off-by-one"),
        (coefficients_variant(prev="zero"), "not 0"),
        (coefficients_variant(prev="roll"), "wraps"),
        (coefficients_variant(root_prev=False), "coef1 takes the square root"),
        (coefficients_variant(root_alpha=False), "coef2 takes the square root"),
        (coefficients_variant(root_prev=False, root_alpha=False), "both coefficients"),
        (coefficients_variant(swap=True), "swapped"),
        (coefficients_variant(variance="forward"), "forward step"),
        (lambda betas: coefficients_variant()(betas)[:2], "tuple of three"),
        (lambda betas: np.stack(coefficients_variant()(betas)), "tuple of three"),
        (lambda betas: tuple(v[1:] for v in coefficients_variant()(betas)), "shape of `betas`"),
    ],
)
def test_check_posterior_coefficients_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_posterior_coefficients(wrong)


def test_check_posterior_coefficients_sees_an_inconsistent_variance_through_the_total_variance():
    def doubled_variance(betas):
        coef1, coef2, variance = coefficients_variant()(betas)
        return coef1, coef2, 2.0 * variance

    with pytest.raises(AssertionError, match="law of total variance|variance \\+ coef2²"):
        testing.check_posterior_coefficients(doubled_variance)


# ----------------------------------------------------------------------- one reverse DDPM step
def reverse_variant(eps_sign=1.0, root_alpha=True, alpha_bar_front=False, variance="posterior", root_noise=True,
                    noise_scale=1.0, noise_at_last=False):
    def ddpm_reverse_step(x_t, t, eps, betas, noise):
        alphas = 1.0 - betas
        alpha_bar = np.cumprod(alphas)
        alpha_bar_prev = np.concatenate([[1.0], alpha_bar[:-1]])
        front = alpha_bar[t] if alpha_bar_front else alphas[t]
        front = np.sqrt(front) if root_alpha else front
        mean = (x_t - eps_sign * betas[t] / np.sqrt(1.0 - alpha_bar[t]) * eps) / front
        sigma2 = betas[t] * (1.0 - alpha_bar_prev[t]) / (1.0 - alpha_bar[t]) if variance == "posterior" else betas[t]
        sigma = np.sqrt(sigma2) if root_noise else sigma2
        if t == 0 and noise_at_last:
            return mean + np.sqrt(betas[0]) * noise
        return mean if t == 0 else mean + noise_scale * sigma * noise

    return ddpm_reverse_step


def reverse_with_kgen(x_t, t, eps, betas, noise):
    schedule = DiffusionSchedule(betas)
    return schedule.posterior_sample(schedule.predict_x0_from_noise(x_t, t, eps), x_t, t, noise)


def reverse_predicts_x0(x_t, t, eps, betas, noise):
    alpha_bar = np.cumprod(1.0 - betas)
    return (x_t - np.sqrt(1 - alpha_bar[t]) * eps) / np.sqrt(alpha_bar[t])


def reverse_vectors_only(x_t, t, eps, betas, noise):
    if len(x_t.shape) != 2:
        raise ValueError("expects vectors")
    return reverse_variant()(x_t, t, eps, betas, noise)


def reverse_one_based(x_t, t, eps, betas, noise):
    """Right at the middle step by accident of the schedule? No: indexes with t + 1 except at 4."""
    return reverse_variant()(x_t, t if t in (0, 4) else min(t + 1, len(betas) - 1), eps, betas, noise)


@pytest.mark.parametrize("fn", [reverse_variant(), reverse_with_kgen])
def test_check_ddpm_reverse_step_passes_correct_functions(fn):
    testing.check_ddpm_reverse_step(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (reverse_variant(eps_sign=-1.0), "subtract the noise"),
        (reverse_variant(root_alpha=False), "divide by √α_t, not by α_t"),
        (reverse_variant(alpha_bar_front=True), "not 1/√ᾱ_t"),
        (reverse_variant(variance="forward"), "fixed large"),
        (reverse_variant(root_noise=False), "square root of the variance"),
        (reverse_variant(noise_scale=0.0), "add the noise"),
        (reverse_variant(noise_at_last=True), "adds no noise"),
        (reverse_predicts_x0, "predicted data"),
        (reverse_one_based, "every t"),
        (reverse_vectors_only, "images"),
    ],
)
def test_check_ddpm_reverse_step_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_ddpm_reverse_step(wrong)


# ------------------------------------------------------------- DDGAN discriminator loss with R1
def discriminator_loss_variant(flip=False, reduce="mean", fake_sign=1.0, half=True, r1_on="real", r1_input="x_prev",
                               squared=True, mean_logit=False, r1_reduce="mean", of_loss=False, per_entry=False,
                               differentiable=True):
    def discriminator_loss(discriminator, x_prev_real, x_prev_fake, x_t, t, r1_gamma):
        sign = -1.0 if flip else 1.0
        x_r1 = x_prev_real if r1_on == "real" else x_prev_fake
        with tf.GradientTape() as tape:
            watched = x_r1 if r1_input == "x_prev" else x_t
            tape.watch(watched)
            logits_r1 = discriminator(x_r1, x_t, t)
            target = ops.softplus(-logits_r1) if of_loss else logits_r1
            if mean_logit:
                target = ops.mean(target)
        gradient = tape.gradient(target, watched)
        if not differentiable:
            gradient = tf.stop_gradient(gradient)
        squares = ops.square(gradient)
        norms = ops.mean(squares, axis=-1) if per_entry else ops.sum(squares, axis=-1)
        norms = norms if squared else ops.sqrt(norms)
        r1 = ops.mean(norms) if r1_reduce == "mean" else ops.sum(norms)
        real_logits = discriminator(x_prev_real, x_t, t)
        fake_logits = discriminator(x_prev_fake, x_t, t)
        combine = ops.mean if reduce == "mean" else ops.sum
        adversarial = combine(ops.softplus(-sign * real_logits)) + combine(ops.softplus(sign * fake_sign * fake_logits))
        return adversarial + (0.5 if half else 1.0) * r1_gamma * r1

    return discriminator_loss


def discriminator_loss_raw_logits(discriminator, x_prev_real, x_prev_fake, x_t, t, r1_gamma):
    return -ops.mean(discriminator(x_prev_real, x_t, t)) + ops.mean(discriminator(x_prev_fake, x_t, t))


def discriminator_loss_without_fake(discriminator, x_prev_real, x_prev_fake, x_t, t, r1_gamma):
    return ops.mean(ops.softplus(-discriminator(x_prev_real, x_t, t)))


def discriminator_loss_per_example(discriminator, x_prev_real, x_prev_fake, x_t, t, r1_gamma):
    return ops.softplus(-discriminator(x_prev_real, x_t, t)) + ops.softplus(discriminator(x_prev_fake, x_t, t))


def discriminator_loss_in_numpy(discriminator, x_prev_real, x_prev_fake, x_t, t, r1_gamma):
    loss = discriminator_loss_variant()(discriminator, x_prev_real, x_prev_fake, x_t, t, r1_gamma)
    return np.asarray(loss)


@pytest.mark.parametrize("fn", [discriminator_loss_variant()])
def test_check_ddgan_discriminator_loss_passes_correct_functions(fn):
    testing.check_ddgan_discriminator_loss(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (discriminator_loss_variant(flip=True), "signs are flipped"),
        (discriminator_loss_variant(reduce="sum"), "not the sum"),
        (discriminator_loss_variant(fake_sign=-1.0), "generator's loss"),
        (discriminator_loss_raw_logits, "softplus"),
        (discriminator_loss_without_fake, "fake pairs' term"),
        (discriminator_loss_per_example, "expected a scalar"),
        (discriminator_loss_variant(half=False), "forgot the ½"),
        (discriminator_loss_variant(r1_on="fake"), "real"),
        (discriminator_loss_variant(r1_input="x_t"), "not x_t"),
        (discriminator_loss_variant(squared=False), "squared"),
        (discriminator_loss_variant(mean_logit=True), "mean logit"),
        (discriminator_loss_variant(r1_reduce="sum"), "do not sum"),
        (discriminator_loss_variant(of_loss=True), "not of its loss"),
        (discriminator_loss_variant(per_entry=True), "sums the squared gradient over the entries"),
        (discriminator_loss_variant(differentiable=False), "misses the R1 term's"),
        (discriminator_loss_in_numpy, "is None"),
    ],
)
def test_check_ddgan_discriminator_loss_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_ddgan_discriminator_loss(wrong)


def test_the_discriminator_losss_reference_gradient_matches_autodiff():
    """The grader's closed-form weight gradient agrees with TensorFlow's second derivative."""
    from kgen.testing.diffusion import _QuadraticDiscriminator, _reference_weight_gradients

    rng = np.random.default_rng(0)
    real, fake, x_t = (rng.normal(size=(5, 2)) for _ in range(3))
    t = np.array([0, 3, 1, 2, 2])
    disc = _QuadraticDiscriminator()
    with tf.GradientTape() as tape:
        loss = discriminator_loss_variant()(disc, tf.constant(real, tf.float32), tf.constant(fake, tf.float32),
                                            tf.constant(x_t, tf.float32), tf.constant(t), 0.7)
    for autodiff, closed_form in zip(tape.gradient(loss, disc.variables),
                                     _reference_weight_gradients(disc, real, fake, x_t, t, 0.7)):
        np.testing.assert_allclose(autodiff.numpy(), closed_form, rtol=1e-4, atol=1e-6)
