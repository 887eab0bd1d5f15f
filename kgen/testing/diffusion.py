"""Checks of the diffusion exercises (course notebook 05): the coefficients of the forward
process's posterior q(x_{t−1} | x_t, x_0), one reverse step of DDPM, and the denoising-diffusion
GAN's discriminator loss with the R1 penalty.

Conventions, as in :mod:`kgen.diffusion`: timesteps are 0-based indices t = 0 … T − 1 into
``betas``, ᾱ_t = Π_{s ≤ t} (1 − β_s), and ᾱ_{−1} = 1 (the data carry no noise), so the step
t = 0 lands on the data.
"""

import numpy as np
import tensorflow as tf

from kgen.testing.assertions import (
    as_float32,
    assert_allclose,
    assert_shape,
    call_student,
    function_name,
    to_numpy,
)

#: A short schedule with steps large enough that every usual mistake changes the numbers.
_BETAS = np.linspace(0.05, 0.4, 8)
#: Relative tolerance of the coefficients: 1 − ᾱ_t in float32 loses about 6·10⁻⁸/β_0 of its value
#: to cancellation (6·10⁻⁴ for DDPM's β_0 = 10⁻⁴).
_RTOL = 3e-3


def _cumulative(betas):
    """α_t, ᾱ_t and ᾱ_{t−1} (with ᾱ_{−1} = 1), float64."""
    alphas = 1.0 - betas
    alpha_bar = np.cumprod(alphas)
    return alphas, alpha_bar, np.r_[1.0, alpha_bar[:-1]]


def _posterior_by_conditioning(betas):
    """The posterior's (coef1, coef2, variance) by Bayes' rule on two Gaussians, independently of
    Ho et al.'s closed form: x_{t−1} | x_0 ~ N(√ᾱ_{t−1} x_0, 1 − ᾱ_{t−1}) and
    x_t | x_{t−1} ~ N(√α_t x_{t−1}, β_t) give the precision 1/(1 − ᾱ_{t−1}) + α_t/β_t and the
    mean variance·(√ᾱ_{t−1} x_0/(1 − ᾱ_{t−1}) + √α_t x_t/β_t). At t = 0 the prior is the point x_0."""
    alphas, _, alpha_bar_prev = _cumulative(betas)
    coef1, coef2, variance = np.ones_like(betas), np.zeros_like(betas), np.zeros_like(betas)
    later = np.arange(len(betas)) > 0
    prior_variance = 1.0 - alpha_bar_prev[later]
    variance[later] = 1.0 / (1.0 / prior_variance + alphas[later] / betas[later])
    coef1[later] = variance[later] * np.sqrt(alpha_bar_prev[later]) / prior_variance
    coef2[later] = variance[later] * np.sqrt(alphas[later]) / betas[later]
    return coef1, coef2, variance


def _as_triple(result, what):
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        got = f"a {type(result).__name__} of {len(result)} items" if isinstance(result, (tuple, list)) else (
            "None" if result is None else f"a {type(result).__name__}")
        raise AssertionError(
            f"{what} returned {got}; expected a tuple of three arrays (coef1, coef2, variance).\n"
            "Hint: `return coef1, coef2, variance`."
        )
    return result


# ------------------------------------------------------------------- posterior coefficients
def _coefficient_mistakes(betas):
    """(coef1, coef2, variance) of the usual mistakes, each with its hint."""
    alphas, alpha_bar, alpha_bar_prev = _cumulative(betas)
    one_minus = 1.0 - alpha_bar

    def triple(prev=alpha_bar_prev, root_prev=True, root_alpha=True):
        a_prev = np.sqrt(prev) if root_prev else prev
        a_t = np.sqrt(alphas) if root_alpha else alphas
        return (betas * a_prev / one_minus, (1.0 - prev) * a_t / one_minus, betas * (1.0 - prev) / one_minus)

    return [
        (triple(prev=alpha_bar), "you used ᾱ_t where ᾱ_{t−1} belongs (an off-by-one): ᾱ_{t−1} is ᾱ "
                                 "shifted right by one, with ᾱ_{−1} = 1 in front, e.g. "
                                 "`np.concatenate([[1.0], alpha_bar[:-1]])`."),
        (triple(prev=np.r_[0.0, alpha_bar[:-1]]), "before the first step nothing is noised yet: ᾱ_{−1} = 1, "
                                                  "not 0 (so at t = 0, coef1 = 1, coef2 = 0 and the variance is 0)."),
        (triple(prev=np.roll(alpha_bar, 1)), "`np.roll` wraps ᾱ_{T−1} around into the first entry; "
                                             "ᾱ_{−1} must be 1 there."),
        (triple(root_prev=False), "coef1 takes the square root: β_t·√ᾱ_{t−1}/(1 − ᾱ_t)."),
        (triple(root_alpha=False), "coef2 takes the square root: (1 − ᾱ_{t−1})·√α_t/(1 − ᾱ_t), α_t = 1 − β_t."),
        (triple(root_prev=False, root_alpha=False), "both coefficients take square roots: √ᾱ_{t−1} and √α_t."),
    ]


def check_posterior_coefficients(fn):
    """Check ``fn(betas) → (coef1, coef2, variance)``, the posterior of the forward process
    (Ho, Jain & Abbeel 2020, eq. 6–7):

        q(x_{t−1} | x_t, x_0) = N(coef1_t·x_0 + coef2_t·x_t, variance_t),
        coef1_t = β_t √ᾱ_{t−1} / (1 − ᾱ_t),   coef2_t = (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t),
        variance_t = β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t),

    for ``betas`` a NumPy array (T,) of β_0 … β_{T−1}, ᾱ_{−1} = 1; each result of shape (T,).

    Properties checked, in order: three arrays of shape (T,); at t = 0 the posterior is the point
    x_0 (1, 0, 0); the values, against Bayes' rule applied to the two Gaussians
    q(x_{t−1} | x_0) and q(x_t | x_{t−1}) (with a hint for each usual mistake: ᾱ_t for ᾱ_{t−1},
    ᾱ_{−1} = 0, a wrapped roll, missing square roots, swapped coefficients, β_t as the variance);
    averaged over x_t ~ q(x_t | x_0) the posterior gives back q(x_{t−1} | x_0) (the mean
    coef1 + coef2·√ᾱ_t = √ᾱ_{t−1} and the variance by the law of total variance); the same for
    the 1000 steps of DDPM's linear schedule and for a single step.
    """
    name = function_name(fn, "posterior_coefficients")
    cases = [(_BETAS, "an 8-step schedule, betas = np.linspace(0.05, 0.4, 8)"),
             (np.linspace(1e-4, 0.02, 1000), "DDPM's linear schedule, betas = np.linspace(1e-4, 0.02, 1000)"),
             (np.array([0.3]), "a single step, betas = np.array([0.3])")]
    for betas, description in cases:
        what = f"{name}(betas) for {description}"
        result = _as_triple(call_student(fn, betas.copy(), what=name), what)
        size = len(betas)
        shape_hint = "one value per timestep: each of the three results has the shape of `betas`."
        coef1, coef2, variance = (assert_shape(value, (size,), f"{part} of {what}", hint=shape_hint)
                                  for part, value in zip(("coef1", "coef2", "variance"), result))
        expected = _posterior_by_conditioning(betas)
        got = (coef1, coef2, variance)
        hint = next((text for wrong, text in _coefficient_mistakes(betas)
                     if all(np.allclose(g, w, rtol=_RTOL, atol=1e-6) for g, w in zip(got, wrong))), "")
        if not hint and np.allclose(coef1, expected[1], rtol=_RTOL, atol=1e-6) and np.allclose(
                coef2, expected[0], rtol=_RTOL, atol=1e-6):
            hint = "coef1 multiplies x_0 and coef2 multiplies x_t: you swapped them."
        if not hint and np.allclose(variance, betas, rtol=_RTOL, atol=1e-6) and size > 1:
            hint = ("β_t is the variance of the forward step q(x_t | x_{t−1}); the posterior's is smaller: "
                    "β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t).")
        first_hint = hint or ("at t = 0 the posterior is the point x_0 itself: ᾱ_{−1} = 1 gives coef1 = 1, "
                              "coef2 = 0 and variance 0.")
        assert_allclose(np.array([coef1[0], coef2[0], variance[0]]), np.array([1.0, 0.0, 0.0]),
                        f"(coef1[0], coef2[0], variance[0]) of {what}", rtol=_RTOL, atol=1e-5, hint=first_hint)
        _, alpha_bar, alpha_bar_prev = _cumulative(betas)
        if not hint:
            mean_back = coef1 + coef2 * np.sqrt(alpha_bar)
            variance_back = variance + coef2**2 * (1.0 - alpha_bar)
            if not np.allclose(mean_back, np.sqrt(alpha_bar_prev), rtol=_RTOL, atol=1e-6):
                hint = ("averaged over x_t ~ q(x_t | x_0) the posterior mean must be the mean of q(x_{t−1} | x_0): "
                        "coef1 + coef2·√ᾱ_t = √ᾱ_{t−1}; check both coefficients.")
            elif not np.allclose(variance_back, 1.0 - alpha_bar_prev, rtol=_RTOL, atol=1e-6):
                hint = ("the mean coefficients are consistent, so look at the variance: "
                        "β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t), with variance + coef2²·(1 − ᾱ_t) = 1 − ᾱ_{t−1}.")
            else:
                hint = "coef1 = β√ᾱ_{t−1}/(1 − ᾱ_t), coef2 = (1 − ᾱ_{t−1})√α_t/(1 − ᾱ_t), β̃ = β(1 − ᾱ_{t−1})/(1 − ᾱ_t)."
        for part, value, right in zip(("coef1", "coef2", "variance"), got, expected):
            assert_allclose(value, right, f"{part} of {what}", rtol=_RTOL, atol=1e-6, hint=hint,
                            inputs={"betas": betas})


# ----------------------------------------------------------------------- one reverse DDPM step
def _reverse_step(x_t, t, eps, betas, noise, variance="posterior", eps_sign=1.0, noise_root=True,
                  alpha_root=True, alpha_bar_in_front=False, noise_scale=1.0):
    """x_{t−1} = (x_t − β_t/√(1 − ᾱ_t)·ε)/√α_t + σ_t·z, and variants of it."""
    alphas, alpha_bar, alpha_bar_prev = _cumulative(betas)
    front = alpha_bar[t] if alpha_bar_in_front else alphas[t]
    front = np.sqrt(front) if alpha_root else front
    mean = (x_t - eps_sign * betas[t] / np.sqrt(1.0 - alpha_bar[t]) * eps) / front
    sigma2 = betas[t] * (1.0 - alpha_bar_prev[t]) / (1.0 - alpha_bar[t]) if variance == "posterior" else betas[t]
    sigma = np.sqrt(sigma2) if noise_root else sigma2
    if t == 0:
        return mean
    return mean + noise_scale * sigma * noise


def check_ddpm_reverse_step(fn):
    """Check ``fn(x_t, t, eps, betas, noise) → x_{t−1}``, one step of DDPM's ancestral sampler
    (Ho, Jain & Abbeel 2020, Algorithm 2, with the "fixed small" variance σ_t² = β̃_t):

        x_{t−1} = (x_t − β_t / √(1 − ᾱ_t) · ε) / √α_t + σ_t·z,   σ_t² = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t),

    with no noise at the last step, t = 0. ``x_t`` and ``noise`` (z ~ N(0, I), drawn by the
    caller) are float32 tensors of one shape, ``eps`` the predicted noise ε_θ(x_t, t) of that
    shape, ``t`` a Python int and ``betas`` a NumPy array (T,).

    Properties checked, in order: the shape; the value at a middle step (with a hint for each
    usual mistake: the sign of ε, √α_t or ᾱ_t in front, σ_t² = β_t, σ_t² instead of σ_t, no
    noise); no noise at t = 0; the value at every step; image batches (batch, H, W, C); with the
    exact noise of data concentrated at one point c, the chain from x_{T−1} ~ q(x_{T−1} | c)
    ends exactly at c.
    """
    name = function_name(fn, "ddpm_reverse_step")
    rng = np.random.default_rng(8)
    betas = _BETAS
    x_t, eps, noise = (rng.normal(size=(6, 2)) for _ in range(3))
    inputs = {"x_t": x_t, "eps": eps, "noise": noise}

    def student(x, t, e, z, what):
        return call_student(fn, as_float32(x), t, as_float32(e), betas.copy(), as_float32(z), what=what)

    t = 4
    what = f"{name}(x_t, t=4, eps, betas, noise) with x_t of shape (6, 2) and betas = np.linspace(0.05, 0.4, 8)"
    step = assert_shape(student(x_t, t, eps, noise, name), x_t.shape, what, hint="x_{t−1} has the shape of `x_t`.")
    mistakes = [
        (dict(eps_sign=-1.0), "subtract the noise: x_t − β_t/√(1 − ᾱ_t)·ε, not +."),
        (dict(alpha_root=False), "divide by √α_t, not by α_t."),
        (dict(alpha_bar_in_front=True), "the factor in front is 1/√α_t of this step (α_t = 1 − β_t), not 1/√ᾱ_t: "
                                        "the mean moves one step, it does not jump to the data."),
        (dict(variance="forward"), "σ_t² = β_t is Ho et al.'s other choice (\"fixed large\"); this exercise asks for "
                                   "the posterior variance σ_t² = β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t)."),
        (dict(noise_root=False), "the noise is σ_t·z with σ_t = √β̃_t: take the square root of the variance."),
        (dict(noise_scale=0.0), "add the noise σ_t·z at every step but the last: without it every sample "
                                "follows the mean and the samples lose their spread."),
    ]
    hint = next((text for change, text in mistakes
                 if np.allclose(step, _reverse_step(x_t, t, eps, betas, noise, **change), rtol=1e-4, atol=1e-5)), "")
    alphas, alpha_bar, _ = _cumulative(betas)
    if not hint and np.allclose(step, (x_t - np.sqrt(1 - alpha_bar[t]) * eps) / np.sqrt(alpha_bar[t]), rtol=1e-4,
                                atol=1e-5):
        hint = "that is x̂_0, the predicted data; the step goes one step back, to x_{t−1}."
    hint = hint or "x_{t−1} = (x_t − β_t/√(1 − ᾱ_t)·ε)/√α_t + √β̃_t·z with β̃_t = β_t(1 − ᾱ_{t−1})/(1 − ᾱ_t)."
    assert_allclose(step, _reverse_step(x_t, t, eps, betas, noise), what, rtol=1e-4, atol=1e-5, hint=hint,
                    inputs=inputs)

    what = f"{name}(x_t, t=0, eps, betas, noise), the last step"
    last = to_numpy(student(x_t, 0, eps, noise, name), what)
    mean = _reverse_step(x_t, 0, eps, betas, noise)
    residual = (last - mean).ravel()
    scale = residual @ noise.ravel() / (noise.ravel() @ noise.ravel())
    hint = ("the last step (t = 0) adds no noise: return the mean, the sample itself."
            if abs(scale) > 1e-3 and np.allclose(residual, scale * noise.ravel(), rtol=1e-3, atol=1e-5) else
            "at t = 0, ᾱ_{−1} = 1 and β̃_0 = 0: the step is (x_t − β_0/√(1 − ᾱ_0)·ε)/√α_0, without noise.")
    assert_allclose(last, mean, what, rtol=1e-4, atol=1e-5, hint=hint, inputs=inputs)

    for t in range(len(betas)):
        what = f"{name}(x_t, t={t}, eps, betas, noise)"
        assert_allclose(student(x_t, t, eps, noise, name), _reverse_step(x_t, t, eps, betas, noise), what,
                        rtol=1e-4, atol=1e-5, inputs=inputs,
                        hint="index the tables with t itself (0-based: t = 0 is the last step), for every t.")

    shape = (3, 4, 4, 1)
    images = [rng.normal(size=shape) for _ in range(3)]
    what = f"{name}(x_t, t=6, eps, betas, noise) with images of shape {shape}"
    hint = "the step is elementwise: it must work for any shape of x_t, images (batch, H, W, C) included."
    result = call_student(fn, *(as_float32(v) for v in images[:1]), 6, as_float32(images[1]), betas.copy(),
                          as_float32(images[2]), what=name, hint=hint)
    assert_allclose(result, _reverse_step(images[0], 6, images[1], betas, images[2]), what, rtol=1e-4, atol=1e-5,
                    hint=hint)

    # Point data c: ε(x_t) = (x_t − √ᾱ_t c)/√(1 − ᾱ_t) is exact, every step samples the true
    # posterior q(x_{t−1} | x_t, c), and the last one returns c.
    c = np.array([0.8, -1.5])
    x = np.sqrt(alpha_bar[-1]) * c + np.sqrt(1 - alpha_bar[-1]) * rng.normal(size=(500, 2))
    for t in reversed(range(len(betas))):
        exact = (x - np.sqrt(alpha_bar[t]) * c) / np.sqrt(1 - alpha_bar[t])
        x = to_numpy(student(x, t, exact, rng.normal(size=x.shape), name), f"{name} at t={t}")
    assert_allclose(x, np.tile(c, (len(x), 1)), f"the end of a chain of {name} with the exact noise of data at the "
                    f"point c = {c.tolist()}", rtol=1e-3, atol=1e-3,
                    hint="with the exact ε every step must sample q(x_{t−1} | x_t, c), and the last lands on c.")


# ------------------------------------------------------------- DDGAN discriminator loss with R1
class _QuadraticDiscriminator:
    """D(u, v, t) = Σ_j (a_j u_j + c_j u_j² + b_j v_j + d_j u_j v_j)·(1 + t/10), with its input
    gradient ∇_u D = (a + 2c⊙u + d⊙v)(1 + t/10) known in closed form; a, b, c, d are variables."""

    def __init__(self):
        self.a = tf.Variable([0.4, -0.7], dtype=tf.float32)
        self.b = tf.Variable([0.3, 0.2], dtype=tf.float32)
        self.c = tf.Variable([0.5, -0.25], dtype=tf.float32)
        self.d = tf.Variable([-0.6, 0.35], dtype=tf.float32)
        self.variables = [self.a, self.b, self.c, self.d]

    def __call__(self, x_prev, x_t, t):
        u, v = tf.convert_to_tensor(x_prev, tf.float32), tf.convert_to_tensor(x_t, tf.float32)
        scale = 1.0 + tf.cast(tf.reshape(t, (-1,)), tf.float32) / 10.0
        terms = self.a * u + self.c * u * u + self.b * v + self.d * u * v
        return tf.reduce_sum(terms, axis=-1) * scale

    def numpy_parts(self, u, v, t):
        """Logits and the input gradients with respect to u and to v, in NumPy."""
        a, b, c, d = (w.numpy().astype(np.float64) for w in self.variables)
        scale = (1.0 + np.asarray(t, np.float64) / 10.0)[:, None]
        logits = (np.sum(a * u + c * u * u + b * v + d * u * v, axis=-1) * scale[:, 0])
        return logits, (a + 2 * c * u + d * v) * scale, (b + d * u) * scale


def _softplus(x):
    return np.logaddexp(0.0, x)


def check_ddgan_discriminator_loss(fn):
    """Check ``fn(discriminator, x_prev_real, x_prev_fake, x_t, t, r1_gamma) → loss``, the
    discriminator's objective of a denoising-diffusion GAN (Xiao, Kreis & Vahdat 2022, eq. 6 and
    their code; R1 of Mescheder, Geiger & Nowozin 2018):

        loss = mean softplus(−D(x_{t−1}, x_t, t)) + mean softplus(D(x'_{t−1}, x_t, t))
               + (γ/2) · mean_i ‖∇_{x_{t−1}} D(x_{t−1,i}, x_{t,i}, t_i)‖²,

    a scalar, where ``discriminator(x_prev, x_t, t)`` returns one logit per example (batch,),
    ``x_prev_real`` are real x_{t−1} and ``x_prev_fake`` the generator's x'_{t−1}, both paired with
    ``x_t``, ``t`` an int tensor (batch,) and γ = ``r1_gamma``; the R1 gradient is taken on the
    real pairs, with respect to x_{t−1}, one per example.

    Properties checked, in order: a scalar; the adversarial terms with γ = 0 (hints: the signs,
    sums instead of means, the generator's loss); the value with γ > 0 against the closed-form
    input gradient of a quadratic discriminator (hints: γ instead of γ/2, R1 on the fake pairs,
    the gradient with respect to x_t, the norm not squared, the gradient of the mean logit, a sum
    over the batch, the gradient of the loss instead of the logit); the gradient of the loss with
    respect to the discriminator's weights, R1 included (the penalty must stay differentiable).
    """
    name = function_name(fn, "discriminator_loss")
    rng = np.random.default_rng(9)
    batch = 6
    real, fake, x_t = (rng.normal(size=(batch, 2)) for _ in range(3))
    t = np.array([0, 1, 2, 3, 1, 2])
    disc = _QuadraticDiscriminator()
    inputs = {"x_prev_real": real, "x_prev_fake": fake, "x_t": x_t, "t": t}

    def student(gamma, discriminator=disc):
        return call_student(fn, discriminator, as_float32(real), as_float32(fake), as_float32(x_t),
                            tf.constant(t, tf.int32), gamma, what=name,
                            hint="`discriminator(x_prev, x_t, t)` takes three tensors and returns (batch,) logits.")

    real_logits, grad_real, grad_real_xt = disc.numpy_parts(real, x_t, t)
    fake_logits, grad_fake, _ = disc.numpy_parts(fake, x_t, t)
    adversarial = _softplus(-real_logits).mean() + _softplus(fake_logits).mean()

    what = f"{name}(discriminator, x_prev_real, x_prev_fake, x_t, t, r1_gamma=0.0) with a batch of {batch}"
    value = to_numpy(student(0.0), what)
    if value.shape != ():
        raise AssertionError(
            f"{what} has shape {value.shape}; expected a scalar (shape ()).\nHint: the loss is one number: "
            "take the mean over the batch of each term."
        )
    mistakes = [
        (_softplus(real_logits).mean() + _softplus(-fake_logits).mean(),
         "the signs are flipped: the discriminator should give real pairs *high* logits, so the loss is "
         "softplus(−D(real)) + softplus(D(fake))."),
        (_softplus(-real_logits).sum() + _softplus(fake_logits).sum(),
         "take the mean over the batch, not the sum."),
        (_softplus(-real_logits).mean() + _softplus(-fake_logits).mean(),
         "softplus(−D(fake)) is the generator's loss; the discriminator's fake term is softplus(+D(fake))."),
        (_softplus(-real_logits).mean(), "add the fake pairs' term softplus(D(x'_{t−1}, x_t, t))."),
        (-real_logits.mean() + fake_logits.mean(), "pass the logits through softplus(u) = log(1 + eᵘ) "
                                                   "(`ops.softplus`): the loss is a log-loss, not the raw logits."),
    ]
    hint = next((text for wrong, text in mistakes if np.isclose(value, wrong, rtol=1e-4, atol=1e-5)),
                "with r1_gamma = 0 the loss is mean softplus(−D(real)) + mean softplus(D(fake)).")
    assert_allclose(value, adversarial, what, rtol=1e-4, atol=1e-5, hint=hint, inputs=inputs)

    gamma = 1.3
    what = f"{name}(discriminator, x_prev_real, x_prev_fake, x_t, t, r1_gamma={gamma}) with a batch of {batch}"
    value = to_numpy(student(gamma), what)
    r1 = np.sum(grad_real**2, axis=-1).mean()

    def with_penalty(penalty, weight=gamma / 2):
        return adversarial + weight * penalty

    mistakes = [
        (with_penalty(r1, gamma), "the penalty is (γ/2)·R1: you forgot the ½."),
        (with_penalty(np.sum(grad_fake**2, axis=-1).mean()), "R1 is measured on the *real* pairs (x_{t−1} from the "
                                                             "data), not on the generated ones."),
        (with_penalty(np.sum(grad_real_xt**2, axis=-1).mean()), "differentiate with respect to x_{t−1} "
                                                                "(`x_prev_real`), the discriminator's first input, "
                                                                "not x_t."),
        (with_penalty(np.sqrt(np.sum(grad_real**2, axis=-1)).mean()), "R1 is the *squared* norm ‖∇D‖²: do not take "
                                                                      "the square root."),
        (with_penalty(r1 / batch**2), "you took the gradient of the mean logit, which divides each example's "
                                      "gradient by the batch size: differentiate the logits themselves (or "
                                      "their sum), so that each example gets its own ∇D."),
        (with_penalty(r1 * batch), "average ‖∇D‖² over the batch; do not sum it."),
        (with_penalty(np.sum((grad_real / (1.0 + np.exp(real_logits))[:, None]) ** 2, axis=-1).mean()),
         "R1 penalises the gradient of the discriminator's logit D, not of its loss softplus(−D)."),
        (with_penalty(np.mean(grad_real**2)), "R1 sums the squared gradient over the entries of each example "
                                              "(‖∇D‖²), then averages over the batch."),
    ]
    hint = next((text for wrong, text in mistakes if np.isclose(value, wrong, rtol=1e-4, atol=1e-5)),
                "loss = mean softplus(−D(real)) + mean softplus(D(fake)) + (γ/2)·mean ‖∇_{x_prev_real} D‖².")
    assert_allclose(value, with_penalty(r1), what, rtol=1e-4, atol=1e-5, hint=hint, inputs=inputs)

    # The penalty trains the discriminator: the loss's gradient with respect to the weights
    # includes the gradient of R1 (a second derivative through the input gradient).
    with tf.GradientTape() as tape:
        loss = tf.convert_to_tensor(student(gamma))
    gradients = tape.gradient(loss, disc.variables)
    if any(g is None for g in gradients):
        raise AssertionError(
            f"The gradient of {name} with respect to the discriminator's weights is None.\nHint: keep the "
            "computation differentiable: use `keras.ops`/TensorFlow on the logits, no `.numpy()`."
        )
    expected = _reference_weight_gradients(disc, real, fake, x_t, t, gamma)
    without_r1 = _reference_weight_gradients(disc, real, fake, x_t, t, 0.0)
    got = [to_numpy(g) for g in gradients]
    hint = ("the gradient misses the R1 term's: compute ∇_{x_prev} D under a tape of its own *inside* your "
            "function and keep the result differentiable (no `stop_gradient`, no `.numpy()`), so that the "
            "optimizer's tape sees the second derivative."
            if all(np.allclose(g, w, rtol=1e-4, atol=1e-5) for g, w in zip(got, without_r1)) else
            "the loss's gradient with respect to the discriminator's weights must include the penalty's.")
    for variable, value, right in zip("abcd", got, expected):
        assert_allclose(value, right, f"the gradient of {name} (r1_gamma={gamma}) with respect to the weight "
                        f"`{variable}` of a quadratic discriminator", rtol=1e-4, atol=1e-5, hint=hint)


def _reference_weight_gradients(disc, real, fake, x_t, t, gamma):
    """∂loss/∂(a, b, c, d) in closed form, with s = 1 + t/10, σ(u) = 1/(1 + e⁻ᵘ) and the input
    gradient g = (a + 2c⊙u + d⊙v)·s of each real pair:

        ∂/∂w [softplus(−D_real)] = −σ(−D_real)·∂D_real/∂w,  ∂/∂w [softplus(D_fake)] = σ(D_fake)·∂D_fake/∂w,
        ∂/∂(a, c, d) of (γ/2)‖g‖² = γ·g⊙(1, 2u, v)·s,  and 0 for b.
    """
    scale = (1.0 + np.asarray(t, np.float64) / 10.0)[:, None]
    real_logits, grad_real, _ = disc.numpy_parts(real, x_t, t)
    fake_logits, _, _ = disc.numpy_parts(fake, x_t, t)

    def features(u):
        return {"a": u * scale, "b": x_t * scale, "c": u * u * scale, "d": u * x_t * scale}

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    w_real, w_fake = -sigmoid(-real_logits)[:, None], sigmoid(fake_logits)[:, None]
    real_features, fake_features = features(real), features(fake)
    r1_features = {"a": np.ones_like(real), "b": np.zeros_like(real), "c": 2 * real, "d": x_t}
    return [
        (w_real * real_features[k]).mean(0) + (w_fake * fake_features[k]).mean(0)
        + gamma * (grad_real * r1_features[k] * scale).mean(0)
        for k in "abcd"
    ]
