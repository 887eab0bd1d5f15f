"""kgen.testing's checks of the first notebook (00): each passes correct code and fails, with
the hint that names the mistake, on the errors students typically make."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kgen import losses, testing
from kgen.distributions import diagonal_gaussian

LOG_2PI = math.log(2 * math.pi)


# ------------------------------------------------------------------------- log-density
def log_prob_reference(x, mean, log_var):
    return losses.gaussian_log_density(x, mean, log_var)


def log_prob_through_tfp(x, mean, log_var):
    mean, log_var = ops.broadcast_to(mean, ops.shape(x)), ops.broadcast_to(log_var, ops.shape(x))
    return diagonal_gaussian(mean, log_var).log_prob(x)


def log_prob_written_out(x, mean, log_var):
    return -0.5 * ops.sum(LOG_2PI + log_var + (x - mean) ** 2 * ops.exp(-log_var), axis=-1)


def log_prob_no_constant(x, mean, log_var):
    return -0.5 * ops.sum(log_var + (x - mean) ** 2 * ops.exp(-log_var), axis=-1)


def log_prob_no_normalizer(x, mean, log_var):
    return -0.5 * ops.sum(LOG_2PI + (x - mean) ** 2 * ops.exp(-log_var), axis=-1)


def log_prob_log_scale(x, mean, log_var):
    return ops.sum(-0.5 * LOG_2PI - log_var - 0.5 * (x - mean) ** 2 * ops.exp(-2 * log_var), axis=-1)


def log_prob_wrong_sign(x, mean, log_var):
    return -log_prob_written_out(x, mean, log_var)


def log_prob_times_variance(x, mean, log_var):
    return -0.5 * ops.sum(LOG_2PI + log_var + (x - mean) ** 2 * ops.exp(log_var), axis=-1)


def log_prob_per_dimension(x, mean, log_var):
    return -0.5 * (LOG_2PI + log_var + (x - mean) ** 2 * ops.exp(-log_var))


def log_prob_batch_sum(x, mean, log_var):
    return ops.sum(log_prob_written_out(x, mean, log_var))


def log_prob_log_of_density(x, mean, log_var):
    density = ops.exp(-0.5 * (x - mean) ** 2 * ops.exp(-log_var)) / ops.sqrt(2 * math.pi * ops.exp(log_var))
    return ops.sum(ops.log(density), axis=-1)


def log_prob_batch_shape_from_mean(x, mean, log_var):
    """Sums over axis 1 of the parameters: breaks when they are (D,) vectors."""
    terms = LOG_2PI + log_var + (x - mean) ** 2 * ops.exp(-log_var)
    return -0.5 * ops.sum(ops.reshape(terms, (ops.shape(mean)[0], -1)), axis=1)


@pytest.mark.parametrize("fn", [log_prob_reference, log_prob_through_tfp, log_prob_written_out])
def test_check_gaussian_log_prob_passes_correct_functions(fn):
    testing.check_gaussian_log_prob(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (log_prob_no_constant, "left out the constant"),
        (log_prob_no_normalizer, "normalizer"),
        (log_prob_log_scale, "log of the \\*variance\\*"),
        (log_prob_wrong_sign, "wrong sign"),
        (log_prob_times_variance, "not multiply"),
        (log_prob_per_dimension, "one value per dimension"),
        (log_prob_batch_sum, "one number for the whole batch"),
        (log_prob_log_of_density, "do not compute the density and then take its log"),
        (log_prob_batch_shape_from_mean, "shared by every example"),
    ],
)
def test_check_gaussian_log_prob_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_gaussian_log_prob(wrong)


# ------------------------------------------------------------------------------ KL term
def kl_reference(mean_q, log_var_q, mean_p, log_var_p):
    return losses.gaussian_kl(mean_q, log_var_q, mean_p, log_var_p)


def kl_through_tfp(mean_q, log_var_q, mean_p, log_var_p):
    import tensorflow_probability as tfp

    return tfp.distributions.kl_divergence(diagonal_gaussian(mean_q, log_var_q), diagonal_gaussian(mean_p, log_var_p))


def kl_written_out(mean_q, log_var_q, mean_p, log_var_p):
    return 0.5 * ops.sum(ops.exp(log_var_q - log_var_p) + (mean_q - mean_p) ** 2 * ops.exp(-log_var_p)
                         - 1.0 + log_var_p - log_var_q, axis=-1)


def kl_reversed(mean_q, log_var_q, mean_p, log_var_p):
    return kl_written_out(mean_p, log_var_p, mean_q, log_var_q)


def kl_no_half(mean_q, log_var_q, mean_p, log_var_p):
    return 2.0 * kl_written_out(mean_q, log_var_q, mean_p, log_var_p)


def kl_log_scale(mean_q, log_var_q, mean_p, log_var_p):
    return 0.5 * ops.sum(ops.exp(2 * (log_var_q - log_var_p)) + (mean_q - mean_p) ** 2 * ops.exp(-2 * log_var_p)
                         - 1.0 + 2 * (log_var_p - log_var_q), axis=-1)


def kl_no_minus_one(mean_q, log_var_q, mean_p, log_var_p):
    return kl_written_out(mean_q, log_var_q, mean_p, log_var_p) + 0.5 * ops.cast(ops.shape(mean_q)[-1], "float32")


def kl_standard_normal_only(mean_q, log_var_q, mean_p, log_var_p):
    return losses.gaussian_kl(mean_q, log_var_q)


def kl_per_dimension(mean_q, log_var_q, mean_p, log_var_p):
    return 0.5 * (ops.exp(log_var_q - log_var_p) + (mean_q - mean_p) ** 2 * ops.exp(-log_var_p)
                  - 1.0 + log_var_p - log_var_q)


def kl_sign_of_logs(mean_q, log_var_q, mean_p, log_var_p):
    return 0.5 * ops.sum(ops.exp(log_var_q - log_var_p) + (mean_q - mean_p) ** 2 * ops.exp(-log_var_p)
                         - 1.0 - log_var_p + log_var_q, axis=-1)


@pytest.mark.parametrize("fn", [kl_reference, kl_through_tfp, kl_written_out])
def test_check_diagonal_gaussian_kl_passes_correct_functions(fn):
    testing.check_diagonal_gaussian_kl(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (kl_reversed, "not symmetric"),
        (kl_no_half, "factor ½"),
        (kl_log_scale, "read `log_var` as log σ"),
        (kl_no_minus_one, "q = p"),
        (kl_standard_normal_only, "q = p"),
        (kl_per_dimension, "one value per dimension"),
        (kl_sign_of_logs, "log term has the wrong sign"),
    ],
)
def test_check_diagonal_gaussian_kl_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_diagonal_gaussian_kl(wrong)


# -------------------------------------------------------------------------- train step
def train_step_reference(self, data):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    with tf.GradientTape() as tape:
        loss = -ops.mean(self.log_prob(x))
    gradients = tape.gradient(loss, self.trainable_variables)
    self.optimizer.apply(gradients, self.trainable_variables)
    self.loss_tracker.update_state(loss)
    return {m.name: m.result() for m in self.metrics}


def train_step_compute_gradients(self, data):
    """The same step through Keras' own pieces: compute_loss-free, but with the optimizer's
    ``apply_gradients`` and the metric results of ``get_metrics_result``."""
    x = data[0] if isinstance(data, tuple) else data
    with tf.GradientTape() as tape:
        loss = -ops.mean(self.log_prob(x))
    variables = self.trainable_variables
    self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    self.loss_tracker.update_state(loss)
    return self.get_metrics_result()


def _step_with(loss_of, apply=True, track=True, returns="logs"):
    """A train step that makes one mistake: the loss, whether it steps, tracks, and what it returns."""

    def step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss = loss_of(self, x)
        if apply:
            self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
        if track:
            self.loss_tracker.update_state(loss)
        if returns == "loss":
            return loss
        if returns == "batch":
            return {"loss": loss}
        return {"loss": self.loss_tracker.result()}

    return step


def _negative_mean(self, x):
    return -ops.mean(self.log_prob(x))


def train_step_no_unpacking(self, data):
    with tf.GradientTape() as tape:
        loss = -ops.mean(self.log_prob(data))
    self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
    self.loss_tracker.update_state(loss)
    return {"loss": self.loss_tracker.result()}


def train_step_unpacks_pairs(self, data):
    x, _ = data
    return train_step_reference(self, x)


def train_step_new_optimizer(self, data):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    optimizer = keras.optimizers.SGD(0.1)
    with tf.GradientTape() as tape:
        loss = -ops.mean(self.log_prob(x))
    optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
    self.loss_tracker.update_state(loss)
    return {"loss": self.loss_tracker.result()}


def train_step_loss_outside_tape(self, data):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    with tf.GradientTape() as tape:
        pass
    loss = -ops.mean(self.log_prob(x))
    self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
    self.loss_tracker.update_state(loss)
    return {"loss": self.loss_tracker.result()}


def train_step_numpy_loss(self, data):
    logs = train_step_reference(self, data)
    return {"loss": float(logs["loss"].numpy())}


def train_step_fresh_tracker(self, data):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    with tf.GradientTape() as tape:
        loss = -ops.mean(self.log_prob(x))
    self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
    tracker = keras.metrics.Mean(name="loss")
    tracker.update_state(loss)
    return {"loss": tracker.result()}


@pytest.mark.parametrize("fn", [train_step_reference, train_step_compute_gradients])
def test_check_train_step_passes_correct_functions(fn):
    testing.check_train_step(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (train_step_no_unpacking, "unpack_x_y_sample_weight"),
        (train_step_unpacks_pairs, "unpack_x_y_sample_weight"),
        (_step_with(_negative_mean, returns="loss"), "you returned the loss itself"),
        (_step_with(_negative_mean, track=False), "loss tracker was never updated"),
        (_step_with(lambda self, x: ops.mean(self.log_prob(x))), "mean log-likelihood itself"),
        (_step_with(lambda self, x: -ops.sum(self.log_prob(x))), "sum over the batch"),
        (_step_with(_negative_mean, apply=False), "compiled optimizer has taken 0 steps"),
        (train_step_new_optimizer, "not with a new optimizer"),
        (_step_with(_negative_mean, returns="batch"), "running mean over the epoch"),
        (train_step_fresh_tracker, "not a new `keras.metrics.Mean`"),
        (train_step_loss_outside_tape, "inside `with tf.GradientTape"),
        (train_step_numpy_loss, "never `.numpy\\(\\)`"),
    ],
)
def test_check_train_step_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_train_step(wrong)


def test_check_train_step_reports_a_stub_as_not_implemented():
    def stub(self, data):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not implemented yet"):
        testing.check_train_step(stub)


def test_gradient_of_the_probe_matches_autodiff():
    """The check's closed-form gradient of the Gaussian NLL (its expected step) against a tape."""
    from kgen.testing import basics

    x = np.random.default_rng(0).normal(size=(8, 2))
    mean, log_scale = np.array([0.3, -0.1]), np.array([0.2, -0.4])
    nll, grad_mean, grad_log_scale = basics._nll_and_gradient(x, mean, log_scale)
    mean_var, log_scale_var = tf.Variable(mean), tf.Variable(log_scale)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(diagonal_gaussian(mean_var, 2 * log_scale_var).log_prob(x))
    auto_mean, auto_log_scale = tape.gradient(loss, [mean_var, log_scale_var])
    np.testing.assert_allclose(nll, loss.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grad_mean, auto_mean.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grad_log_scale, auto_log_scale.numpy(), rtol=1e-10)
