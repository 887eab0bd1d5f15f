"""kgen.testing's latent-EBM checks (notebook 06): each passes correct functions and fails, with
the hint that names the mistake, on the errors students typically make."""

import pytest
import tensorflow as tf
from keras import ops

from kgen import testing


def _potential_gradient(z, x, generator, energy, sigma, likelihood=1.0, prior=1.0, energy_weight=1.0,
                        reduce=tf.reduce_sum, average_entries=False):
    with tf.GradientTape() as tape:
        tape.watch(z)
        squared = tf.square(x - generator(z))
        error = tf.reduce_mean(squared, -1) if average_entries else tf.reduce_sum(squared, -1)
        potential = (likelihood * error / (2 * sigma**2) + energy_weight * energy(z)
                     + prior * 0.5 * tf.reduce_sum(z**2, -1))
        total = reduce(potential)
    return tape.gradient(total, z)


def step_reference(z, x, generator, energy, sigma, step_size, noise):
    return z - 0.5 * step_size**2 * _potential_gradient(z, x, generator, energy, sigma) + step_size * noise


def step_with_keras_ops(z, x, generator, energy, sigma, step_size, noise):
    with tf.GradientTape() as tape:
        tape.watch(z)
        reconstruction = ops.sum(ops.square(x - generator(z)), axis=-1) / (2 * sigma**2)
        total = ops.sum(reconstruction + energy(z) + 0.5 * ops.sum(z * z, axis=-1))
    return z - step_size**2 / 2 * tape.gradient(total, z) + step_size * noise


def step_variant(**change):
    def step(z, x, generator, energy, sigma, step_size, noise):
        drift = change.get("drift", 0.5)
        noise_scale = change.get("noise_scale", lambda s: s)(step_size)
        gradient = _potential_gradient(z, x, generator, energy, sigma, change.get("likelihood", 1.0),
                                       change.get("prior", 1.0), change.get("energy", 1.0),
                                       change.get("reduce", tf.reduce_sum), change.get("average_entries", False))
        return z + change.get("sign", -1.0) * drift * step_size**2 * gradient + noise_scale * noise

    return step


@pytest.mark.parametrize("fn", [step_reference, step_with_keras_ops])
def test_check_posterior_langevin_step_passes_correct_functions(fn):
    testing.check_posterior_langevin_step(fn)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (step_variant(drift=1.0), "forgot the ½"),
        (step_variant(noise_scale=lambda s: s**2), "not s²·ε"),
        (step_variant(noise_scale=lambda s: s**0.5), "not √s·ε"),
        (step_variant(noise_scale=lambda s: 0.0), "add the noise"),
        (step_variant(sign=1.0), "with a minus sign"),
        (step_variant(prior=0.0), "½‖z‖²"),
        (step_variant(energy=0.0), "gradient ∇E"),
        (step_variant(likelihood=0.0), "ignores x"),
        (step_variant(likelihood=2.0), "divide by 2σ², not σ²"),
        (step_variant(average_entries=True), "do not average it"),
        (step_variant(reduce=tf.reduce_mean), r"\*sum\* of U"),
    ],
)
def test_check_posterior_langevin_step_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_posterior_langevin_step(wrong)


def test_check_posterior_langevin_step_reports_an_unimplemented_exercise():
    def stub(z, x, generator, energy, sigma, step_size, noise):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not implemented yet"):
        testing.check_posterior_langevin_step(stub)


def energy_loss_reference(energy, z_posterior, z_prior):
    return ops.mean(energy(z_posterior)) - ops.mean(energy(z_prior))


def energy_loss_flipped(energy, z_posterior, z_prior):
    return ops.mean(energy(z_prior)) - ops.mean(energy(z_posterior))


def energy_loss_sums(energy, z_posterior, z_prior):
    return ops.sum(energy(z_posterior)) - ops.sum(energy(z_prior))


def energy_loss_added(energy, z_posterior, z_prior):
    return ops.mean(energy(z_posterior)) + ops.mean(energy(z_prior))


def energy_loss_per_example(energy, z_posterior, z_prior):
    return energy(z_posterior) - ops.mean(energy(z_prior))


def energy_loss_stopped(energy, z_posterior, z_prior):
    return ops.stop_gradient(energy_loss_reference(energy, z_posterior, z_prior))


def test_check_energy_loss_passes_a_correct_function():
    testing.check_energy_loss(energy_loss_reference)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (energy_loss_flipped, "sign is flipped"),
        (energy_loss_sums, "not sums"),
        (energy_loss_added, "do not add it"),
        (energy_loss_per_example, "expected a scalar"),
        (energy_loss_stopped, "gradient .* is None"),
    ],
)
def test_check_energy_loss_names_typical_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        testing.check_energy_loss(wrong)
