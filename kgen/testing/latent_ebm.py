"""Checks of the latent-EBM exercises (course notebook 06): one step of posterior Langevin
dynamics and the energy's contrastive loss (Pang, Han, Nijkamp, Zhu & Wu 2020)."""

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

# A linear-Gaussian generator and a quadratic energy: the posterior is a Gaussian in closed form.
_W = np.array([[0.6, -0.3], [0.2, 0.5], [-0.4, 0.1]])
_C = np.array([0.1, -0.2, 0.3])
_A = np.array([[1.0, 0.6], [0.6, 0.8]])
_B = np.array([1.0, -0.5])


def _generator(z):
    """G(z) = W z + c, shape (batch, 3)."""
    return tf.matmul(tf.convert_to_tensor(z, tf.float32), as_float32(_W.T)) + as_float32(_C)


def _energy(z):
    """E(z) = ½ zᵀAz − bᵀz, shape (batch,)."""
    z = tf.convert_to_tensor(z, tf.float32)
    return 0.5 * tf.reduce_sum(tf.matmul(z, as_float32(_A)) * z, axis=-1) - tf.reduce_sum(z * as_float32(_B), -1)


def _potential_gradient(z, x, sigma, likelihood=1.0, energy=1.0, prior=1.0):
    """∇_z [‖x − G(z)‖²/(2σ²) + E(z) + ½‖z‖²] in closed form, each term with a weight."""
    residual = x - (z @ _W.T + _C)
    return (likelihood * (-residual @ _W) / sigma**2 + energy * (z @ _A - _B) + prior * z)


# ------------------------------------------------------------------ posterior Langevin step
def check_posterior_langevin_step(fn):
    """Check ``fn(z, x, generator, energy, sigma, step_size, noise) → z'``, one step of the
    posterior Langevin chain of a latent EBM (Pang et al. 2020, eq. 13 with their code's
    potential):

        U(z) = ‖x − G(z)‖²/(2σ²) + E(z) + ½‖z‖²,     z' = z − (s²/2)·∇_z U(z) + s·noise,

    per example, where ``generator(z)`` returns G(z) (batch, D), ``energy(z)`` returns E(z)
    (batch,) and ``noise`` is ε ~ N(0, I), drawn by the caller.

    Properties checked, in order: the shape; the value on a linear generator and a quadratic
    energy, whose gradients are known in closed form (with a hint for each usual mistake: the
    ½, the noise's scale, the sign, a missing term, the 2σ², means instead of sums); the same for
    a batch of one and for a batch of 64 (the gradient of one example must not depend on the
    others); repeated, the step keeps chains started in the exact posterior there (mean and
    covariance within sampling error and the small bias of the discretised dynamics).
    """
    name = function_name(fn, "posterior_langevin_step")
    rng = np.random.default_rng(6)
    z = rng.normal(size=(5, 2))
    x = rng.normal(size=(5, 3))
    noise = rng.normal(size=z.shape)
    sigma, s = 0.5, 0.1
    what = f"{name}(z, x, generator, energy, sigma=0.5, step_size=0.1, noise) with z of shape (5, 2)"
    result = call_student(fn, as_float32(z), as_float32(x), _generator, _energy, sigma, s, as_float32(noise),
                          what=name, hint="compute ∇_z U with a `tf.GradientTape` that watches z.")
    step = assert_shape(result, z.shape, what, hint="the new state has the shape of `z`.")

    def rule(likelihood=1.0, energy=1.0, prior=1.0, drift=0.5, noise_scale=s, sign=-1.0):
        gradient = _potential_gradient(z, x, sigma, likelihood, energy, prior)
        return z + sign * drift * s**2 * gradient + noise_scale * noise

    mistakes = [
        (rule(drift=1.0), "the drift is (s²/2)·∇U: you forgot the ½."),
        (rule(noise_scale=s**2), "the noise is s·ε (the step size itself), not s²·ε."),
        (rule(noise_scale=np.sqrt(s)), "the noise is s·ε, not √s·ε: in this notation s² is the variance step."),
        (rule(noise_scale=0.0), "add the noise s·ε: without it the chain only descends U (it finds a mode)."),
        (rule(sign=1.0), "z moves downhill on U (uphill on log p): z − (s²/2)·∇U, with a minus sign."),
        (rule(prior=0.0), "U includes the Gaussian base ½‖z‖²: its gradient z belongs in the drift."),
        (rule(energy=0.0), "U includes the energy E(z): add its gradient ∇E(z)."),
        (rule(likelihood=0.0), "U includes the reconstruction term ‖x − G(z)‖²/(2σ²): without it the "
                               "chain samples the prior and ignores x."),
        (rule(likelihood=2.0), "the reconstruction term is ‖x − G(z)‖²/(2σ²): divide by 2σ², not σ²."),
        (rule(likelihood=sigma), "the reconstruction term is ‖x − G(z)‖²/(2σ²): divide by σ², not σ."),
        (rule(likelihood=1 / 3), "sum the squared error over the entries of each example (‖·‖²), do not "
                                 "average it over them."),
        (rule(likelihood=1 / 5, energy=1 / 5, prior=1 / 5), "differentiate the *sum* of U over the batch: "
         "a mean divides every example's gradient by the batch size."),
    ]
    hint = next((text for value, text in mistakes if np.allclose(step, value, rtol=1e-4, atol=1e-5)),
                "z' = z − (s²/2)·∇_z[‖x − G(z)‖²/(2σ²) + E(z) + ½‖z‖²] + s·noise, per example.")
    assert_allclose(step, rule(), what, rtol=1e-4, atol=1e-5, hint=hint, inputs={"z": z, "x": x, "noise": noise})

    # One example at a time and 64 at once give the same rows: no interaction across the batch.
    big_z, big_x, big_noise = rng.normal(size=(64, 2)), rng.normal(size=(64, 3)), rng.normal(size=(64, 2))
    batch = to_numpy(call_student(fn, as_float32(big_z), as_float32(big_x), _generator, _energy, sigma, s,
                                  as_float32(big_noise), what=name), f"{name} on a batch of 64")
    single = to_numpy(call_student(fn, as_float32(big_z[:1]), as_float32(big_x[:1]), _generator, _energy, sigma, s,
                                   as_float32(big_noise[:1]), what=name), f"{name} on a batch of 1")
    assert_allclose(batch[:1], single, f"{name} on the first example of a batch of 64 and on it alone",
                    rtol=1e-4, atol=1e-5,
                    hint="each example's step depends on that example only: take the gradient of the sum "
                         "of U over the batch, not of its mean or of another reduction.")

    # Repeated, the step keeps the exact posterior (up to the O(s²) bias of the unadjusted chain).
    x_one = np.array([1.0, -0.5, 0.8])
    precision = np.eye(2) + _A + _W.T @ _W / sigma**2
    covariance = np.linalg.inv(precision)
    mean = covariance @ (_B + _W.T @ (x_one - _C) / sigma**2)
    chains, steps = 3000, 40
    chain = mean + rng.normal(size=(chains, 2)) @ np.linalg.cholesky(covariance).T
    xs = as_float32(np.tile(x_one, (chains, 1)))
    for _ in range(steps):
        chain = to_numpy(call_student(fn, as_float32(chain), xs, _generator, _energy, sigma, s,
                                      as_float32(rng.normal(size=chain.shape)), what=name))
    tolerance = 4 * np.sqrt(np.diag(covariance) / chains) + 0.01
    spread = np.cov(chain.T)
    if np.any(np.abs(chain.mean(0) - mean) > tolerance) or np.any(
        np.abs(spread - covariance) > 4 * np.sqrt(2 / chains) * np.abs(covariance).max() + 0.03 * np.abs(covariance).max()
    ):
        raise AssertionError(
            f"After {steps} steps of {name}, chains started in the exact posterior N(μ, Σ) of a linear "
            f"generator drifted away: mean {np.round(chain.mean(0), 3)} (μ = {np.round(mean, 3)}), "
            f"covariance {np.round(spread, 3).tolist()} (Σ = {np.round(covariance, 3).tolist()}).\n"
            "Hint: Langevin dynamics must leave its target unchanged; check the balance of the drift "
            "(s²/2)·∇U and the noise s·ε."
        )


# ------------------------------------------------------------------------------ energy loss
def check_energy_loss(fn):
    """Check ``fn(energy, z_posterior, z_prior) → loss``, the energy's objective in Pang et al.
    (2020, Algorithm 1): the difference of the mean energies of the posterior's and the prior's
    samples,

        loss = mean_i E(z₊ᵢ) − mean_j E(z₋ⱼ),

    a scalar whose gradient with respect to the energy's parameters is the short-run estimate
    of the log-likelihood's (with the sign of a loss to descend). ``energy(z)`` returns one
    value per row, shape (batch,).

    Properties checked, in order: a scalar; the value, with batches of different sizes (so that
    sums and means differ) and a hint for the usual mistakes; the loss is unchanged when a
    constant is added to the energy; its gradient with respect to the parameters of a linear
    energy E(z) = wᵀz is mean z₊ − mean z₋ (the energy's values must stay differentiable).
    """
    name = function_name(fn, "energy_loss")
    rng = np.random.default_rng(7)
    z_post, z_prior = rng.normal(0.5, 1.0, size=(6, 2)), rng.normal(-0.3, 1.5, size=(4, 2))
    what = f"{name}(energy, z_posterior, z_prior) with z_posterior of shape (6, 2) and z_prior (4, 2)"
    result = call_student(fn, _energy, as_float32(z_post), as_float32(z_prior), what=name)
    value = to_numpy(result, what)
    if value.shape != ():
        raise AssertionError(
            f"{what} has shape {value.shape}; expected a scalar (shape ()).\nHint: the loss is one "
            "number: the mean energy over the posterior samples minus the mean over the prior ones."
        )
    e_post, e_prior = to_numpy(_energy(z_post)), to_numpy(_energy(z_prior))
    expected = e_post.mean() - e_prior.mean()
    mistakes = [
        (e_prior.mean() - e_post.mean(), "the sign is flipped: the loss *lowers* the energy of the posterior "
                                         "samples (the data's codes) and raises that of the prior samples: "
                                         "mean E(z₊) − mean E(z₋)."),
        (e_post.sum() - e_prior.sum(), "use means, not sums: the two sets may differ in size."),
        (e_post.mean() + e_prior.mean(), "subtract the prior samples' mean energy; do not add it."),
    ]
    hint = next((text for wrong, text in mistakes if np.isclose(value, wrong, rtol=1e-4, atol=1e-5)),
                "loss = mean of energy(z_posterior) − mean of energy(z_prior).")
    assert_allclose(value, expected, what, rtol=1e-4, atol=1e-5, hint=hint)

    shifted = to_numpy(call_student(fn, lambda z: _energy(z) + 3.0, as_float32(z_post), as_float32(z_prior),
                                    what=name), f"{name} with the energy shifted by +3")
    assert_allclose(shifted, expected, f"{name} with E(z) + 3 instead of E(z)", rtol=1e-4, atol=1e-5,
                    hint="a constant added to the energy changes nothing (it cancels in exp(−E)/Z): "
                         "the loss must not change either.")

    weight = tf.Variable([[0.7], [-1.2]], dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = call_student(fn, lambda z: tf.matmul(tf.convert_to_tensor(z, tf.float32), weight)[:, 0],
                            as_float32(z_post), as_float32(z_prior), what=name)
        loss = tf.convert_to_tensor(loss)
    gradient = tape.gradient(loss, weight)
    if gradient is None:
        raise AssertionError(
            f"The gradient of {name} with respect to the energy's parameters is None.\nHint: keep the "
            "computation differentiable: use `keras.ops`/TensorFlow on the energies, no `.numpy()`, "
            "no `stop_gradient` on them (the samples z are constants; the energy's values are not)."
        )
    assert_allclose(to_numpy(gradient)[:, 0], z_post.mean(0) - z_prior.mean(0),
                    f"the gradient of {name} with respect to w for E(z) = wᵀz", rtol=1e-4, atol=1e-5,
                    hint="for E(z) = wᵀz the gradient is mean z₊ − mean z₋.")
