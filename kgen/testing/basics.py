"""Checks of the first notebook's exercises (course notebook 00): a diagonal Gaussian
log-density written by hand, the KL divergence between two diagonal Gaussians, and a Keras
``train_step`` for maximum likelihood.

The two densities are graded against TensorFlow Probability (``tfd.MultivariateNormalDiag`` and
``tfd.kl_divergence``), the training step against the closed-form gradient of a Gaussian's
negative log-likelihood and one step of plain gradient descent.
"""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from kgen.testing.assertions import (
    as_float32,
    assert_allclose,
    assert_finite,
    assert_shape,
    call_student,
    format_array,
    function_name,
    ratio_hint,
    to_numpy,
)

tfd = tfp.distributions

_LOG_2PI = math.log(2.0 * math.pi)


def _diagonal_gaussian(mean, log_var):
    """N(mean, diag(exp(log_var))) in float64, the graders' reference."""
    mean, log_var = np.asarray(mean, np.float64), np.asarray(log_var, np.float64)
    return tfd.MultivariateNormalDiag(loc=mean, scale_diag=np.exp(0.5 * log_var))


def _per_example_hint(shape, batch, dims):
    if shape == ():
        return ("you returned one number for the whole batch; keep one value per example and sum "
                "over the last axis only (`ops.sum(..., axis=-1)`).")
    if shape == (batch, dims):
        return "you returned one value per dimension; sum them over the last axis (`axis=-1`)."
    return f"return one value per example, shape ({batch},): sum over the last axis only."


# --------------------------------------------------------------------------- log-density
def check_gaussian_log_prob(fn):
    """Check ``fn(x, mean, log_var) → log N(x; mean, diag(exp(log_var)))``, one value per example:

        log p(x) = −½ Σ_j [ log 2π + log σ_j² + (x_j − μ_j)² / σ_j² ],   σ_j² = exp(log_var_j),

    summed over the last axis, shape (batch,); the reference is
    ``tfd.MultivariateNormalDiag(mean, exp(½·log_var)).log_prob(x)``.

    Properties checked, in order: the shape; the value on random inputs (hints for a missing
    −½ log 2π, a missing −½ log σ², ``log_var`` read as log σ, the wrong sign); ``mean`` and
    ``log_var`` given as vectors of shape (D,) shared by every example (as a model's weights
    are); finite, right values far in the tails, where exp(−½ z²) underflows to 0.
    """
    name = function_name(fn, "gaussian_log_prob")
    rng = np.random.default_rng(10)

    x = rng.normal(scale=2.0, size=(5, 3))
    mean = rng.normal(size=(5, 3))
    log_var = rng.uniform(-2.0, 1.5, size=(5, 3))
    inputs = {"x": x, "mean": mean, "log_var": log_var}
    what = f"{name}(x, mean, log_var) with x, mean and log_var of shape (5, 3)"
    result = call_student(fn, as_float32(x), as_float32(mean), as_float32(log_var), what=name)
    log_prob = assert_shape(result, (5,), what, hint=_per_example_hint(to_numpy(result, what).shape, 5, 3))

    expected = _diagonal_gaussian(mean, log_var).log_prob(x).numpy()
    z2 = (x - mean) ** 2 / np.exp(log_var)
    without_constant = expected + 0.5 * 3 * _LOG_2PI
    without_normalizer = expected + 0.5 * np.sum(log_var, axis=-1)
    as_log_scale = np.sum(-0.5 * _LOG_2PI - log_var - 0.5 * (x - mean) ** 2 / np.exp(2 * log_var), axis=-1)
    hint = ""
    if np.allclose(log_prob, without_constant, rtol=1e-4, atol=1e-3):
        hint = ("you left out the constant: each dimension contributes −½ log 2π (the 1/√(2π) of "
                "the density), so the total is −(D/2) log 2π.")
    elif np.allclose(log_prob, without_normalizer, rtol=1e-4, atol=1e-3):
        hint = ("you left out the normalizer −½ log σ² = −½·log_var of each dimension: without it "
                "the density does not integrate to 1 once σ ≠ 1.")
    elif np.allclose(log_prob, as_log_scale, rtol=1e-4, atol=1e-3):
        hint = ("you read `log_var` as log σ: it is the log of the *variance*, σ² = exp(log_var) "
                "and σ = exp(½·log_var).")
    elif np.allclose(log_prob, -expected, rtol=1e-4, atol=1e-3):
        hint = "your values have the wrong sign: a log-density of these points is mostly negative."
    elif np.allclose(log_prob, np.sum(-0.5 * _LOG_2PI - 0.5 * log_var - 0.5 * z2 * np.exp(log_var) ** 2, axis=-1),
                     rtol=1e-4, atol=1e-3):
        hint = "divide (x − μ)² by the variance σ² = exp(log_var), not multiply by it."
    else:
        hint = ("log p(x) = −½ Σ_j [log 2π + log_var_j + (x_j − μ_j)² · exp(−log_var_j)], "
                "summed over the last axis.")
    assert_allclose(log_prob, expected, what, rtol=1e-4, atol=1e-4, hint=hint, inputs=inputs)

    # Parameters shared by the batch, as a model's weights are: shapes (D,) against (batch, D).
    mean_shared, log_var_shared = np.array([0.5, -1.0, 2.0]), np.array([0.0, -1.0, 0.7])
    what = f"{name}(x, mean, log_var) with x of shape (5, 3) and mean, log_var of shape (3,)"
    hint = ("`mean` and `log_var` may be vectors shared by every example (a model's weights): "
            "let broadcasting do the work and sum over the last axis, `axis=-1`.")
    result = call_student(fn, as_float32(x), as_float32(mean_shared), as_float32(log_var_shared),
                          what=name, hint=hint)
    expected = _diagonal_gaussian(mean_shared, log_var_shared).log_prob(x).numpy()
    assert_allclose(result, expected, what, rtol=1e-4, atol=1e-4, hint=hint)

    # Far in the tails: 40 and 150 standard deviations away, exp(−½ z²) is 0 in float32.
    x_far = np.array([[40.0, 0.0], [0.0, 1.5]])
    mean_far, log_var_far = np.zeros((2, 2)), np.array([[0.0, 0.0], [0.0, -9.0]])
    what = f"{name} at points 40 and 150 standard deviations from the mean"
    hint = ("do not compute the density and then take its log: exp(−½ z²) rounds to 0 for "
            "|z| ≳ 14 in float32 and log 0 = −inf. Write the log-density directly, as a sum of logs.")
    result = call_student(fn, as_float32(x_far), as_float32(mean_far), as_float32(log_var_far), what=name)
    assert_finite(result, what, hint=hint, inputs={"x": x_far, "log_var": log_var_far})
    expected = _diagonal_gaussian(mean_far, log_var_far).log_prob(x_far).numpy()
    assert_allclose(result, expected, what, rtol=1e-4, atol=1e-2, hint=hint)


# -------------------------------------------------------------------------------- KL term
def check_diagonal_gaussian_kl(fn):
    """Check ``fn(mean_q, log_var_q, mean_p, log_var_p) → KL(q ‖ p)`` for two diagonal
    Gaussians q = N(μ_q, diag σ_q²) and p = N(μ_p, diag σ_p²), one value per example:

        KL(q ‖ p) = ½ Σ_j [ σ_q,j²/σ_p,j² + (μ_q,j − μ_p,j)²/σ_p,j² − 1 + log σ_p,j² − log σ_q,j² ],

    summed over the last axis, shape (batch,); the reference is ``tfd.kl_divergence`` of the two
    ``tfd.MultivariateNormalDiag``.

    Properties checked, in order: the shape; KL = 0 when q = p (at a p other than N(0, I));
    KL ≥ 0; the value on random inputs (hints for the arguments taken the other way round — the
    KL is not symmetric —, a factor ½, ``log_var`` read as log σ, a missing −1); the special
    case p = N(0, I) of the VAE's KL term.
    """
    name = function_name(fn, "diagonal_gaussian_kl")
    rng = np.random.default_rng(11)

    mean_q, mean_p = rng.normal(scale=1.5, size=(2, 5, 3))
    log_var_q, log_var_p = rng.uniform(-2.0, 1.5, size=(2, 5, 3))
    args = (mean_q, log_var_q, mean_p, log_var_p)
    inputs = dict(zip(("mean_q", "log_var_q", "mean_p", "log_var_p"), args))
    what = f"{name}(mean_q, log_var_q, mean_p, log_var_p), each of shape (5, 3)"
    result = call_student(fn, *map(as_float32, args), what=name)
    kl = assert_shape(result, (5,), what, hint=_per_example_hint(to_numpy(result, what).shape, 5, 3))

    same = call_student(fn, *map(as_float32, (mean_p, log_var_p, mean_p, log_var_p)), what=name)
    what_same = f"{name} with q = p (the same mean and log_var for both, not N(0, I))"
    hint = ("when q = p the KL is 0: each dimension's σ_q²/σ_p² − 1 and log σ_p² − log σ_q² "
            "cancel, and so does (μ_q − μ_p)². Check the constant −1 and that the means enter "
            "as a difference.")
    assert_allclose(same, np.zeros(5), what_same, atol=1e-4, hint=hint, inputs={"mean": mean_p, "log_var": log_var_p})

    expected = tfd.kl_divergence(_diagonal_gaussian(mean_q, log_var_q), _diagonal_gaussian(mean_p, log_var_p)).numpy()
    if np.any(kl < -1e-4):
        row = int(np.argmin(kl))
        raise AssertionError(
            f"{what} is negative for example {row}: got {kl[row]:.6g}, but a KL divergence is never "
            f"negative (expected {expected[row]:.6g}).\nHint: check the signs: +σ_q²/σ_p², "
            "+(μ_q − μ_p)²/σ_p², −1, +log σ_p², −log σ_q², all times ½."
        )
    reversed_kl = tfd.kl_divergence(_diagonal_gaussian(mean_p, log_var_p), _diagonal_gaussian(mean_q, log_var_q)).numpy()
    as_log_scale = 0.5 * np.sum(np.exp(2 * (log_var_q - log_var_p)) + (mean_q - mean_p) ** 2 / np.exp(2 * log_var_p)
                                - 1 + 2 * (log_var_p - log_var_q), axis=-1)
    no_minus_one = expected + 0.5 * 3
    flipped_logs = expected - np.sum(log_var_p - log_var_q, axis=-1)
    hint = ""
    if np.allclose(kl, reversed_kl, rtol=1e-3, atol=1e-3):
        hint = ("you computed KL(p ‖ q), the divergence the other way round: the KL is not "
                "symmetric. In KL(q ‖ p) the expectation is over q, so σ_q² sits in the numerator, "
                "σ_p² in the denominators: ½ Σ [σ_q²/σ_p² + (μ_q − μ_p)²/σ_p² − 1 + log(σ_p²/σ_q²)].")
    elif np.allclose(kl, as_log_scale, rtol=1e-3, atol=1e-3):
        hint = ("you read `log_var` as log σ: it is log σ², so σ² = exp(log_var) and "
                "log σ_p² − log σ_q² = log_var_p − log_var_q.")
    elif np.allclose(kl, no_minus_one, rtol=1e-3, atol=1e-3):
        hint = "you left out the −1 of each dimension (½ per dimension in total)."
    elif np.allclose(kl, flipped_logs, rtol=1e-3, atol=1e-3):
        hint = ("the log term has the wrong sign: it is +log(σ_p²/σ_q²) = log_var_p − log_var_q "
                "(a q narrower than p is far from p, and its KL is large).")
    else:
        hint = ratio_hint(kl, expected, [
            (2.0, "your values are twice the expected ones: did you forget the factor ½?"),
            (0.5, "your values are half the expected ones: the factor ½ appears once, in front of the sum."),
        ]) or ("KL(q ‖ p) = ½ Σ_j [exp(log_var_q − log_var_p) + (μ_q − μ_p)²·exp(−log_var_p) − 1 "
               "+ log_var_p − log_var_q].")
    assert_allclose(kl, expected, what, rtol=1e-4, atol=1e-4, hint=hint, inputs=inputs)

    # p = N(0, I): the KL term of a VAE (notebook 01).
    zeros = np.zeros((5, 3))
    what = f"{name}(mean_q, log_var_q, 0, 0), the KL to the standard normal N(0, I)"
    result = call_student(fn, as_float32(mean_q), as_float32(log_var_q), as_float32(zeros), as_float32(zeros), what=name)
    expected = 0.5 * np.sum(np.exp(log_var_q) + mean_q**2 - 1.0 - log_var_q, axis=-1)
    assert_allclose(result, expected, what, rtol=1e-4, atol=1e-4,
                    hint="with μ_p = 0 and log σ_p² = 0 the formula is ½ Σ (σ_q² + μ_q² − 1 − log σ_q²).",
                    inputs={"mean_q": mean_q, "log_var_q": log_var_q})


# ------------------------------------------------------------------------ the train step
_DIMS, _BATCH, _LEARNING_RATE = 2, 16, 0.1
_START_MEAN, _START_LOG_SCALE = np.array([0.5, -0.5]), np.array([0.2, -0.3])


class _GaussianProbe(keras.Model):
    """x ~ N(μ, diag σ²) with weights μ and log σ, a ``log_prob`` per example and a loss
    tracker: the smallest model a maximum-likelihood ``train_step`` can train."""

    def __init__(self):
        super().__init__(name="gaussian_probe")
        self.mean = self.add_weight(shape=(_DIMS,), initializer=keras.initializers.Constant(_START_MEAN), name="mean")
        self.log_scale = self.add_weight(shape=(_DIMS,), initializer=keras.initializers.Constant(_START_LOG_SCALE),
                                         name="log_scale")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker]

    def log_prob(self, x):
        z = (x - self.mean) / ops.exp(self.log_scale)
        return ops.sum(-0.5 * z**2 - self.log_scale - 0.5 * _LOG_2PI, axis=-1)

    def call(self, x):
        return self.log_prob(x)


def _nll_and_gradient(x, mean, log_scale):
    """The mean negative log-likelihood of N(mean, diag exp(2·log_scale)) over the batch ``x``
    and its gradients: ∂/∂μ = −mean((x − μ)/σ²), ∂/∂log σ = mean(1 − (x − μ)²/σ²)."""
    z = (x - mean) / np.exp(log_scale)
    nll = np.mean(np.sum(0.5 * z**2 + log_scale + 0.5 * _LOG_2PI, axis=-1))
    return nll, -np.mean(z / np.exp(log_scale), axis=0), np.mean(1.0 - z**2, axis=0)


def _new_probe():
    model = _GaussianProbe()
    model.compile(optimizer=keras.optimizers.SGD(_LEARNING_RATE))
    model.optimizer.build(model.trainable_variables)
    return model


def _logged_loss(logs, name, call):
    if isinstance(logs, dict):
        if "loss" not in logs:
            raise AssertionError(
                f"{call} returned a dict without the key 'loss' (keys: {sorted(logs)}).\n"
                "Hint: return the results of the model's metrics by name, "
                "`{m.name: m.result() for m in self.metrics}`; the loss tracker is named 'loss'."
            )
        return float(np.squeeze(to_numpy(logs["loss"], f"logs['loss'] of {call}")))
    text = f"a {type(logs).__name__}" if logs is not None else "None"
    raise AssertionError(
        f"{call} returned {text}; `fit` expects a dict that maps each metric's name to its "
        "current value (it prints them in the progress bar and keeps them in History).\n"
        "Hint: end with `return {m.name: m.result() for m in self.metrics}`"
        + (" — you returned the loss itself." if logs is not None and np.size(to_numpy(logs)) == 1 else ".")
    )


def check_train_step(fn):
    """Check ``fn(self, data) → logs``, the ``train_step`` of a Keras model trained by maximum
    likelihood: for the batch x in ``data``,

        loss = −(1/B) Σ_b log p_θ(x_b),   θ ← optimizer step on ∇_θ loss,

    then the model's ``loss_tracker`` (a ``keras.metrics.Mean``) takes the loss and the step
    returns ``{"loss": running mean}``, as ``fit`` expects.

    The model handed to ``fn`` is a diagonal Gaussian with weights μ and log σ, a
    ``log_prob(x)`` per example, a ``loss_tracker`` and plain gradient descent (SGD, learning
    rate 0.1) as its compiled ``optimizer``, so that one step has a closed form:
    ∂loss/∂μ = −mean((x − μ)/σ²), ∂loss/∂log σ = mean(1 − (x − μ)²/σ²).

    Properties checked, in order: ``data`` is read both as a batch (what ``fit(x)`` passes) and as
    a tuple ``(x, y)``; the result is a dict with ``"loss"``; the logged loss is the batch's
    negative log-likelihood before the step; the compiled optimizer took one step
    (``optimizer.iterations``); the weights moved by exactly one gradient-descent step (hints
    for no step, a step uphill, a sum instead of a mean); a second call logs the running mean of
    both batches; the step also runs traced, as ``fit`` runs it (``tf.function``).
    """
    name = function_name(fn, "train_step")
    rng = np.random.default_rng(12)
    x = rng.normal(loc=[1.0, -2.0], scale=[0.5, 2.0], size=(_BATCH, _DIMS))
    call = f"{name}(self, x) on a batch x of shape ({_BATCH}, {_DIMS})"
    unpack_hint = ("`data` is whatever the dataset yields: the batch x itself when `fit` gets only x, "
                   "a tuple (x, y) or (x, y, sample_weight) otherwise. Read it with "
                   "`x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)`.")
    tape_hint = ("compute the loss inside `with tf.GradientTape() as tape:` from `self.log_prob(x)`, "
                 "then `tape.gradient(loss, self.trainable_variables)` and "
                 "`self.optimizer.apply(gradients, self.trainable_variables)`.")

    # 1. One step on a batch, as fit(x) hands it over: the logs and the loss before the step.
    model = _new_probe()
    logs = call_student(fn, model, as_float32(x), what=call, hint=f"{unpack_hint} Then {tape_hint}")
    logged = _logged_loss(logs, name, call)
    nll, grad_mean, grad_log_scale = _nll_and_gradient(x, _START_MEAN, _START_LOG_SCALE)
    if abs(logged) < 1e-12 and abs(nll) > 1e-3:
        raise AssertionError(
            f"{call} logged loss = 0 (expected {nll:.6g}): the loss tracker was never updated.\n"
            "Hint: call `self.loss_tracker.update_state(loss)` before returning its `result()`."
        )
    if abs(logged - nll) > 1e-4 * (1 + abs(nll)):
        hint = ("the logged loss must be the batch's negative log-likelihood, "
                "loss = −mean(self.log_prob(x)), computed before the weights change.")
        if abs(logged + nll) < 1e-4 * (1 + abs(nll)):
            hint = ("you logged the mean log-likelihood itself; the loss to *minimise* is its "
                    "negative, −mean(log p(x)).")
        elif abs(logged - nll * _BATCH) < 1e-3 * (1 + abs(nll * _BATCH)):
            hint = (f"you logged the sum over the batch ({_BATCH} examples); take the mean, so that "
                    "the loss and the step size do not depend on the batch size.")
        raise AssertionError(f"{call} logged loss = {logged:.6g}; expected {nll:.6g}.\nHint: {hint}")
    steps = int(to_numpy(model.optimizer.iterations))
    if steps != 1:
        raise AssertionError(
            f"After one call of {name}, the model's compiled optimizer has taken {steps} steps "
            "(expected 1).\nHint: apply the gradients with the optimizer that `compile` set, "
            "`self.optimizer.apply(gradients, self.trainable_variables)` — once per step, and not "
            "with a new optimizer made inside the step."
        )

    # 2. The weights after the step: θ − 0.1·∇θ loss.
    moved = {"mean": (_START_MEAN, grad_mean, model.mean), "log_scale": (_START_LOG_SCALE, grad_log_scale, model.log_scale)}
    for weight, (start, gradient, variable) in moved.items():
        got, expected = to_numpy(variable), start - _LEARNING_RATE * gradient
        if np.allclose(got, start, atol=1e-7):
            hint = ("the weights did not change. Compute the gradients with the tape and apply them: "
                    "`self.optimizer.apply(gradients, self.trainable_variables)`.")
        elif np.allclose(got, start + _LEARNING_RATE * gradient, rtol=1e-4, atol=1e-6):
            hint = ("the weights moved uphill, towards a *lower* likelihood: the loss to descend is "
                    "the negative log-likelihood, −mean(log p(x)).")
        elif np.allclose(got, start - _BATCH * _LEARNING_RATE * gradient, rtol=1e-4, atol=1e-6):
            hint = (f"the step is {_BATCH} times too large: you summed the loss over the batch; take "
                    "the mean.")
        else:
            hint = f"one step of the compiled optimizer on the loss −mean(log p(x)). {tape_hint}"
        assert_allclose(got, expected, f"the weight `{weight}` after one call of {name} (SGD, learning rate "
                        f"{_LEARNING_RATE}, from {weight} = {format_array(start)})", rtol=1e-4, atol=1e-6, hint=hint)

    # 3. A second batch, as a tuple (x, y): the tracker keeps the running mean over the epoch.
    x2 = rng.normal(loc=[0.0, 1.0], scale=[1.0, 0.7], size=(_BATCH, _DIMS))
    nll2 = _nll_and_gradient(x2, to_numpy(model.mean), to_numpy(model.log_scale))[0]
    call2 = f"a second call of {name}(self, (x, y)), with a tuple of a batch and labels"
    logs = call_student(fn, model, (as_float32(x2), as_float32(np.zeros(_BATCH))), what=call2, hint=unpack_hint)
    logged = _logged_loss(logs, name, call2)
    running = 0.5 * (nll + nll2)
    if abs(logged - running) > 1e-4 * (1 + abs(running)):
        hint = ("`fit` reports each metric's running mean over the epoch: update the model's own "
                "tracker, `self.loss_tracker.update_state(loss)`, and return its `result()` — not the "
                "batch's loss, and not a new `keras.metrics.Mean` made inside the step.")
        raise AssertionError(
            f"After two steps the logged loss is {logged:.6g}; expected the mean of the two batches' "
            f"losses, ({nll:.6g} + {nll2:.6g}) / 2 = {running:.6g} (the second batch alone: {nll2:.6g}).\n"
            f"Hint: {hint}"
        )

    # 4. Traced, as fit runs it: no NumPy and no Python floats of tensors inside the step.
    model = _new_probe()
    traced = tf.function(lambda batch: fn(model, batch))
    call_student(traced, as_float32(x), what=f"{name} inside a tf.function (as `fit` runs it)",
                 hint="`fit` traces train_step into a graph, where tensors have no value yet: use "
                      "`keras.ops`/TensorFlow on them, never `.numpy()`, `float(...)` or NumPy functions.")
    assert_allclose(model.mean, _START_MEAN - _LEARNING_RATE * grad_mean,
                    f"the weight `mean` after one traced call of {name}", rtol=1e-4, atol=1e-6,
                    hint="the traced step must do what the eager one did; do not branch on tensor values "
                         "in Python.")
