"""Checks of the VAE exercises (course notebook 01): the reparameterization trick, the Gaussian
KL term, the Bernoulli log-likelihood and the ELBO."""

import inspect
import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from kgen import losses
from kgen.testing.assertions import (
    as_float32,
    assert_allclose,
    assert_finite,
    assert_shape,
    call_student,
    describe_inputs,
    format_array,
    function_name,
    ratio_hint,
    to_numpy,
)

tfd = tfp.distributions


# ------------------------------------------------------------------------- reparameterization
def check_reparameterize(fn):
    """Check ``fn(mean, log_var, seed) → z``, a draw z ~ N(mean, exp(log_var)) written as
    z = mean + σ·ε (Kingma & Welling 2014, section 2.4).

    Properties checked, in order: ``z`` has the shape of ``mean`` and is finite; it is random
    (not ``mean`` itself); the same int ``seed`` repeats the draw and a
    ``keras.random.SeedGenerator`` gives fresh draws on each call (as in a training loop); over
    many draws the mean and standard deviation per dimension match μ and σ = exp(½·log_var);
    gradients flow to ``mean`` (∂z/∂μ = 1) and to ``log_var`` (∂z/∂log σ² = ½(z − μ)).
    """
    name = function_name(fn, "reparameterize")
    rng = np.random.default_rng(0)

    # 1. Shape and finiteness on a small batch.
    mean = rng.normal(size=(4, 3))
    log_var = rng.uniform(-2.0, 1.0, size=(4, 3))
    what = f"{name}(mean, log_var, seed=0) with mean and log_var of shape (4, 3)"
    z = call_student(fn, as_float32(mean), as_float32(log_var), seed=0, what=name)
    z = assert_shape(z, mean.shape, what, hint="z must have the same shape as `mean`: one draw "
                     "per example and latent dimension. Draw ε with `keras.random.normal(ops.shape(mean))`.")
    assert_finite(z, what, hint="σ = exp(½·log_var) is always positive; do not take the square "
                  "root or the log of `log_var`, which can be negative.")
    if np.allclose(z, mean, atol=1e-6):
        raise AssertionError(
            f"{what} returned `mean` itself: z must be random.\n"
            "Hint: add noise, z = μ + σ·ε with ε ~ N(0, I) drawn by `keras.random.normal`."
        )

    # 2. Seeds: an int repeats, a SeedGenerator advances.
    again = to_numpy(call_student(fn, as_float32(mean), as_float32(log_var), seed=0, what=name))
    if not np.allclose(z, again):
        raise AssertionError(
            f"Two calls of {name} with the same seed=0 gave different draws.\n"
            "Hint: pass the `seed` argument on to `keras.random.normal(..., seed=seed)`, so that "
            "a fixed seed gives repeatable results."
        )
    generator = keras.random.SeedGenerator(3)
    first = to_numpy(call_student(fn, as_float32(mean), as_float32(log_var), seed=generator, what=name))
    second = to_numpy(call_student(fn, as_float32(mean), as_float32(log_var), seed=generator, what=name))
    if np.allclose(first, second):
        raise AssertionError(
            f"Two calls of {name} with the same keras.random.SeedGenerator gave the same draw; a "
            "model calls it once per training step and needs fresh noise each time.\n"
            "Hint: hand the generator itself to `keras.random.normal(..., seed=seed)`; it advances "
            "by itself on each call."
        )

    # 3. Moments of many draws: each column has its own μ and σ.
    mu = np.array([0.5, -1.0, 2.0, 0.0])
    lv = np.array([0.0, math.log(4.0), math.log(0.25), -3.0])
    sigma = np.exp(0.5 * lv)
    n = 20_000
    draws = to_numpy(call_student(
        fn, as_float32(np.tile(mu, (n, 1))), as_float32(np.tile(lv, (n, 1))), seed=1, what=name
    ))
    draws = assert_shape(draws, (n, 4), f"{name} on a batch of {n} copies of 4 latent dimensions")
    sample_mean, sample_std = draws.mean(axis=0), draws.std(axis=0)
    for j in range(4):
        if abs(sample_mean[j] - mu[j]) > 5.0 * sigma[j] / math.sqrt(n) + 1e-3:
            raise AssertionError(
                f"The draws of {name} are not centred on `mean`.\n"
                f"  input: mean = {mu[j]:.4g}, log_var = {lv[j]:.4g}, {n} draws\n"
                f"  expected average ≈ {mu[j]:.4g}, got {sample_mean[j]:.4g}\n"
                "Hint: z = μ + σ·ε with ε ~ N(0, 1) of mean 0; do not shift or scale μ."
            )
        if abs(sample_std[j] - sigma[j]) > 0.05 * sigma[j]:
            got = sample_std[j]
            hint = "σ = exp(½·log_var): `log_var` is the log of the *variance* σ²."
            if np.allclose(sample_std, np.exp(lv), rtol=0.05):
                hint = ("your spread is exp(log_var) = σ², the variance; the standard deviation is "
                        "exp(½·log_var) — you forgot the ½.")
            elif np.allclose(sample_std, np.abs(lv), rtol=0.05, atol=0.02):
                hint = ("your spread equals log_var itself: `log_var` is log σ², not σ. "
                        "Use σ = exp(½·log_var).")
            elif np.allclose(sample_std, np.exp(0.5 * lv) ** 0.5, rtol=0.05):
                hint = "your spread is √σ; use σ = exp(½·log_var) as the scale of ε."
            raise AssertionError(
                f"The draws of {name} have the wrong spread.\n"
                f"  input: mean = {mu[j]:.4g}, log_var = {lv[j]:.4g} (so σ = {sigma[j]:.4g}), {n} draws\n"
                f"  expected standard deviation ≈ {sigma[j]:.4g}, got {got:.4g}\n"
                f"Hint: {hint}"
            )

    # 4. Gradients: ∂Σz/∂μ = 1 and ∂Σz/∂log σ² = ½ σ ε = ½ (z − μ).
    mean_var, log_var_var = tf.Variable(as_float32(mean)), tf.Variable(as_float32(log_var))
    with tf.GradientTape() as tape:
        z = call_student(fn, mean_var, log_var_var, seed=2, what=name)
        if not isinstance(z, (tf.Tensor, tf.Variable)):
            raise AssertionError(
                f"{name} returned a {type(z).__name__}, not a tensor, so no gradient can flow "
                "back to the encoder.\nHint: compute z with `keras.ops` (not NumPy, not `.numpy()`)."
            )
        total = tf.reduce_sum(z)
    grad_mean, grad_log_var = tape.gradient(total, [mean_var, log_var_var])
    hint_none = ("z must be computed from {arg} with `keras.ops`/TensorFlow operations: NumPy "
                 "functions, `.numpy()` or `ops.stop_gradient` cut the gradient.")
    if grad_mean is None:
        raise AssertionError(f"No gradient flows from z back to `mean` in {name}.\n"
                             f"Hint: {hint_none.format(arg='`mean`')}")
    if grad_log_var is None:
        raise AssertionError(f"No gradient flows from z back to `log_var` in {name}.\n"
                             f"Hint: {hint_none.format(arg='`log_var`')}")
    z = to_numpy(z)
    assert_allclose(grad_mean, np.ones_like(mean), f"the gradient of sum(z) with respect to `mean` "
                    f"in {name}", rtol=1e-4, atol=1e-5,
                    hint="z = μ + σ·ε depends on μ with slope 1; do not rescale μ.")
    assert_allclose(grad_log_var, 0.5 * (z - mean), f"the gradient of sum(z) with respect to "
                    f"`log_var` in {name}", rtol=1e-3, atol=1e-4,
                    hint="∂z/∂log σ² = ½·σ·ε; the noise ε must be drawn independently of "
                    "`log_var` and multiplied by σ = exp(½·log_var).")


# ------------------------------------------------------------------------------------- KL term
def check_gaussian_kl(fn):
    """Check ``fn(mean, log_var) → KL(N(mean, exp(log_var)) ‖ N(0, I))``, one value per example
    (summed over the last axis), against the closed form of Kingma & Welling (2014, appendix B).

    Properties checked, in order: the output has shape (batch,); it is 0 when q = p (μ = 0,
    log σ² = 0); it is ≥ 0; it matches the closed form on random inputs; it matches a Monte
    Carlo estimate E_q[log q(z) − log p(z)].
    """
    name = function_name(fn, "gaussian_kl")
    rng = np.random.default_rng(1)

    mean = rng.normal(scale=1.5, size=(5, 3))
    log_var = rng.uniform(-3.0, 2.0, size=(5, 3))
    inputs = {"mean": mean, "log_var": log_var}
    what = f"{name}(mean, log_var) with mean and log_var of shape (5, 3)"
    kl = call_student(fn, as_float32(mean), as_float32(log_var), what=name)
    shape = to_numpy(kl, what).shape
    hint = "return one KL per example: sum over the latent dimensions only, `ops.sum(..., axis=-1)`."
    if shape == ():
        hint = ("you returned one number for the whole batch. Sum over the last axis only "
                "(`axis=-1`) so that each example keeps its own KL; the model averages later.")
    elif shape == (5, 3):
        hint = "you returned one value per latent dimension; sum them over the last axis (`axis=-1`)."
    kl = assert_shape(kl, (5,), what, hint=hint)

    zero = call_student(fn, as_float32(np.zeros((2, 3))), as_float32(np.zeros((2, 3))), what=name)
    hint = ("when q = p the KL is 0. Each dimension contributes ½(μ² + σ² − log σ² − 1); "
            "check the constant −1.")
    if not np.all(np.isfinite(to_numpy(zero))):
        hint = ("`log_var` is already log σ² (it may be 0 or negative): use σ² = exp(log_var) and "
                "the term −log σ² = −log_var; never take the log (or square root) of `log_var`.")
    assert_allclose(zero, np.zeros(2), f"{name} at mean = 0, log_var = 0 (q equals the prior)",
                    atol=1e-5, hint=hint)

    expected = to_numpy(losses.gaussian_kl(as_float32(mean), as_float32(log_var)))
    if np.any(kl < -1e-5):
        row = int(np.argmin(kl))
        raise AssertionError(
            f"{what} is negative for example {row}: got {kl[row]:.6g}, but a KL divergence is "
            f"never negative (expected {expected[row]:.6g}).\nFor the input:"
            f"{describe_inputs(inputs, row)}\nHint: check the signs: +μ², +σ² = +exp(log σ²), "
            "−log σ², −1, all times ½."
        )

    hint = ratio_hint(kl, expected, [
        (2.0, "your values are twice the expected ones: did you forget the factor ½?"),
        (0.5, "your values are half the expected ones: the factor ½ appears once, in front of the sum."),
    ]) or ("the closed form is KL = ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1) with σ² = exp(log_var); "
           "`log_var` is already log σ², so do not take its log again.")
    assert_allclose(kl, expected, what, rtol=1e-4, atol=1e-4, hint=hint, inputs=inputs)

    # Monte Carlo: KL = E_q[log q(z) − log p(z)], estimated from many draws of one q.
    mu, lv = np.array([0.3, -1.2]), np.array([-0.5, 0.8])
    q = tfd.MultivariateNormalDiag(loc=mu, scale_diag=np.exp(0.5 * lv))
    p = tfd.MultivariateNormalDiag(loc=np.zeros(2), scale_diag=np.ones(2))
    z = q.sample(500_000, seed=tf.constant([4, 2], tf.int32))
    log_ratio = (q.log_prob(z) - p.log_prob(z)).numpy()
    estimate, error = log_ratio.mean(), log_ratio.std() / math.sqrt(log_ratio.size)
    got = assert_shape(call_student(fn, as_float32(mu[None]), as_float32(lv[None]), what=name), (1,),
                       f"{name} on a batch of one example")
    if abs(got[0] - estimate) > 5.0 * error + 1e-4:
        raise AssertionError(
            f"{name} disagrees with a Monte Carlo estimate of the KL.\n"
            f"  input: mean = {format_array(mu)}, log_var = {format_array(lv)}\n"
            f"  Monte Carlo E_q[log q(z) − log p(z)] over 500 000 draws: {estimate:.4f} ± {error:.4f}\n"
            f"  got: {got[0]:.6g}\n"
            "Hint: KL = ½ Σ (μ² + exp(log_var) − log_var − 1)."
        )


# ---------------------------------------------------------------------------- Bernoulli decoder
def _call_log_likelihood(fn, name, x, logits, hint=None):
    """Call ``fn(x, logits)``, adding ``event_ndims`` when the function takes it (as
    :func:`kgen.losses.bernoulli_log_likelihood` does)."""
    kwargs = {}
    try:
        if "event_ndims" in inspect.signature(fn).parameters:
            kwargs["event_ndims"] = x.ndim - 1
    except (TypeError, ValueError):
        pass
    return call_student(fn, as_float32(x), as_float32(logits), what=name, hint=hint, **kwargs)


def check_bernoulli_log_likelihood(fn):
    """Check ``fn(x, logits) → log p(x | logits)`` for independent Bernoulli pixels with
    p(x_i = 1) = sigmoid(logits_i), summed over every axis but the first (one value per example).

    A function with an ``event_ndims`` argument (like :func:`kgen.losses.bernoulli_log_likelihood`)
    is called with ``event_ndims = x.ndim − 1``.

    Properties checked, in order: one value per example for image batches (batch, H, W, C); the
    values match ``tfp.distributions.Bernoulli(logits).log_prob(x)`` summed, on binary data; the
    same for vector batches (batch, D); the values stay finite and right for large logits (±200),
    where log(sigmoid(ℓ)) underflows.
    """
    name = function_name(fn, "bernoulli_log_likelihood")
    rng = np.random.default_rng(2)

    def expected_for(x, logits):
        log_prob = tfd.Bernoulli(logits=tf.constant(logits, tf.float64)).log_prob(x)
        return tf.reduce_sum(log_prob, axis=list(range(1, x.ndim))).numpy()

    # Images: (batch, H, W, C).
    logits = rng.normal(scale=3.0, size=(4, 6, 6, 1))
    x = (rng.uniform(size=logits.shape) < 0.4).astype(np.float64)
    what = f"{name}(x, logits) with x and logits of shape (4, 6, 6, 1)"
    ll = _call_log_likelihood(fn, name, x, logits)
    shape = to_numpy(ll, what).shape
    hint = "return one log-likelihood per example: sum over every axis except the first (the batch)."
    if shape == ():
        hint = ("you returned one number for the whole batch; keep the batch axis and sum over "
                "the others, e.g. `ops.sum(values, axis=tuple(range(1, len(values.shape))))`.")
    elif shape == x.shape:
        hint = "you returned one value per pixel; sum them over every axis except the first."
    elif shape in ((4, 6, 6), (4, 6)):
        hint = "you summed some pixel axes but not all of them; sum over every axis except the first."
    ll = assert_shape(ll, (4,), what, hint=hint)
    expected = expected_for(x, logits)
    if np.all(ll >= 0) and np.any(ll > 0):
        hint = ("log-likelihoods of binary data are ≤ 0, but yours are positive: you returned "
                "the cross-entropy, which is the *negative* log-likelihood.")
    else:
        hint = ratio_hint(ll, expected, [
            (1.0 / 36, "your values are the expected ones divided by the number of pixels: you "
                       "averaged over the pixels (as `keras.losses.binary_crossentropy` does) "
                       "instead of summing."),
            (-1.0, "your values have the wrong sign: return log p(x | z), not the loss."),
        ]) or ("per pixel, log p = x·log σ(ℓ) + (1 − x)·log(1 − σ(ℓ)) = x·ℓ − softplus(ℓ); "
               "`logits` are ℓ, before the sigmoid.")
    assert_allclose(ll, expected, what, rtol=1e-4, atol=1e-3, hint=hint)

    # Vectors: (batch, D).
    logits = rng.normal(scale=2.0, size=(3, 7))
    x = (rng.uniform(size=logits.shape) < 0.5).astype(np.float64)
    what = f"{name}(x, logits) with x and logits of shape (3, 7)"
    hint = ("the data may be images (batch, H, W, C) or vectors (batch, D): sum over all axes "
            "but the first, whatever their number, e.g. `axis=tuple(range(1, len(x.shape)))`.")
    ll = _call_log_likelihood(fn, name, x, logits, hint=hint)
    expected = expected_for(x, logits)
    hint = ratio_hint(to_numpy(ll, what), expected, [
        (1.0 / 7, "your values are the expected ones divided by the number of entries: you "
                  "averaged over the last axis (as `keras.losses.binary_crossentropy` does) "
                  "instead of summing."),
    ]) or hint
    assert_allclose(ll, expected, what, rtol=1e-4, atol=1e-3, hint=hint)

    # Large logits: log σ(ℓ) underflows to log 0 = −inf in float32 for ℓ ≲ −104.
    logits = np.array([[200.0, -200.0, 200.0, -200.0, 30.0, -30.0, 100.0, -100.0]])
    x = np.array([[1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0]])
    expected = expected_for(x, logits)
    what = f"{name}(x, logits) with large logits ±30, ±100, ±200"
    hint = ("computing log(sigmoid(ℓ)) loses everything once sigmoid(ℓ) rounds to 0 or 1 (and "
            "adding a small ε to avoid log 0 gives a wrong value). Use the identities "
            "log σ(ℓ) = −softplus(−ℓ) and log(1 − σ(ℓ)) = −softplus(ℓ), so that per pixel "
            "log p = x·ℓ − softplus(ℓ) (`ops.softplus`).")
    per_pixel = []
    for j in range(x.shape[1]):
        value = to_numpy(_call_log_likelihood(fn, name, x[:, j : j + 1], logits[:, j : j + 1]))
        per_pixel.append(value.reshape(-1)[0] if value.size else np.nan)
    single = expected_for(x.T, logits.T)
    for j, got in enumerate(per_pixel):
        if not np.isfinite(got) or abs(got - single[j]) > 1e-3 + 1e-4 * abs(single[j]):
            raise AssertionError(
                f"{name} is wrong for a large logit.\n"
                f"  input: x = {x[0, j]:g}, logits = {logits[0, j]:g} (one pixel)\n"
                f"  expected {single[j]:.6g}, got {got:.6g}\n"
                f"Hint: {hint}"
            )
    ll = _call_log_likelihood(fn, name, x, logits)
    assert_allclose(ll, expected, what, rtol=1e-4, atol=1e-3, hint=hint)


# -------------------------------------------------------------------------------------- ELBO
def check_elbo(fn):
    """Check ``fn(x, logits, mean, log_var) → ELBO per example`` for a VAE with a Bernoulli
    decoder and a N(0, I) prior, with the single posterior draw already decoded into ``logits``:

        ELBO = log p(x | z) − KL(q(z | x) ‖ p(z)),  shape (batch,).

    Properties checked: the shape; ELBO ≤ 0 on binary data (both terms push it down); the value
    against kgen's Bernoulli log-likelihood and closed-form KL.
    """
    name = function_name(fn, "elbo")
    rng = np.random.default_rng(3)
    logits = rng.normal(scale=2.0, size=(4, 5, 5, 1))
    x = (rng.uniform(size=logits.shape) < 0.3).astype(np.float64)
    mean = rng.normal(size=(4, 3))
    log_var = rng.uniform(-2.0, 1.0, size=(4, 3))
    what = f"{name}(x, logits, mean, log_var) with x of shape (4, 5, 5, 1) and mean of shape (4, 3)"
    result = call_student(fn, as_float32(x), as_float32(logits), as_float32(mean), as_float32(log_var), what=name)
    shape = to_numpy(result, what).shape
    hint = "return one ELBO per example, shape (batch,)."
    if shape == ():
        hint = ("you returned one number for the whole batch; return one ELBO per example and let "
                "the training loop take the mean.")
    elbo = assert_shape(result, (4,), what, hint=hint)
    log_likelihood = to_numpy(losses.bernoulli_log_likelihood(as_float32(x), as_float32(logits), 3))
    kl = to_numpy(losses.gaussian_kl(as_float32(mean), as_float32(log_var)))
    expected = log_likelihood - kl
    hint = ""
    if np.allclose(elbo, log_likelihood + kl, rtol=1e-3, atol=1e-3):
        hint = "you added the KL term; the ELBO *subtracts* it: log p(x | z) − KL(q ‖ p)."
    elif np.allclose(elbo, -expected, rtol=1e-3, atol=1e-3):
        hint = "your values have the wrong sign: you returned the loss (−ELBO), not the ELBO."
    elif np.any(elbo > 1e-4):
        hint = ("the ELBO of binary data is ≤ 0 (a log-probability minus a KL ≥ 0), but yours is "
                "positive for some example.")
    else:
        hint = ("ELBO = log p(x | z) − KL(q(z | x) ‖ p(z)): use your Bernoulli log-likelihood on "
                "(x, logits) and your Gaussian KL on (mean, log_var), each one value per example.")
    assert_allclose(elbo, expected, what, rtol=1e-4, atol=1e-3, hint=hint,
                    inputs={"mean": mean, "log_var": log_var})
