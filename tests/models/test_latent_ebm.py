"""LatentEBM (Pang et al. 2020): its chains sample the distributions they claim to, its training
step is the paper's Algorithm 1 (stopped chains, two players on one pass), its API and its
argument errors. The contract (saving, seeds, resuming, XLA, MirroredStrategy) is checked by
``test_contract.py``; learning on data by the slow tier (``test_latent_ebm_quality.py``).

Chain tests use energies and generators whose targets are Gaussians known in closed form. The
unadjusted Langevin chain x ← x + (h/2)∇log p(x) + √h·ε on a Gaussian target N(μ, P⁻¹) is a
linear recursion: its law stays Gaussian, its mean tends to μ exactly and its covariance to
(P − (h/4)P²)⁻¹ (the fixed point of C ↦ (I − hP/2) C (I − hP/2) + hI), the O(h) bias of an
unadjusted chain. With the model's step s (noise scale; h = s²) at the paper's prior setting
s = 0.4 that bias is 4 % of the variance of N(0, I): the short-run chain is not exact, and the
tests say so. The tolerances are standard errors of the sample moments of the chains
(independent chains, so var(mean) = σ²/n and var(sample variance) ≈ 2σ⁴/n), stated per test.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kgen.layers import energy_mlp, mlp
from kgen.metrics.sample_quality import energy_distance
from kgen.models import LatentEBM
from kgen.models.latent_ebm import paper_energy_optimizer, paper_generator_optimizer

#: The unbiased energy distance between two independent sets of 2000 draws of N(0, I₂):
#: measured over 20 pairs, standard deviation 1.1·10⁻³, largest 3.7·10⁻³. A chain whose drift
#: is doubled (target N(0, I/2)) gives ≈ 4.6·10⁻².
ENERGY_DISTANCE_BOUND = 5e-3


def zero_energy_network(latent_dim):
    """A network whose output is 0 everywhere: E ≡ 0 through the model's energy code path."""
    return keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(1, kernel_initializer="zeros")])


class QuadraticEnergy(keras.layers.Layer):
    """E(z) = ½ zᵀAz − bᵀz, shape (batch, 1)."""

    def __init__(self, a, b, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = np.asarray(a, "float32"), np.asarray(b, "float32")

    def call(self, z):
        quadratic = 0.5 * ops.sum(ops.matmul(z, self.a) * z, axis=-1, keepdims=True)
        return quadratic - ops.matmul(z, self.b[:, None])


def linear_generator(weight, bias):
    """G(z) = W z + c as a Dense layer (kernel Wᵀ)."""
    weight, bias = np.asarray(weight, "float32"), np.asarray(bias, "float32")
    layer = keras.layers.Dense(len(bias))
    model = keras.Sequential([keras.Input((weight.shape[1],)), layer])
    layer.set_weights([weight.T, bias])
    return model


def stationary_covariance(precision, h):
    """(P − (h/4)P²)⁻¹: the stationary covariance of the unadjusted chain with step h."""
    return np.linalg.inv(precision - h / 4 * precision @ precision)


def tiny_model(**kwargs):
    arguments = {"input_shape": (2,), "latent_dim": 2, "energy": energy_mlp(2, (16,)),
                 "generator": mlp(2, 2, (16,), name="generator"), "prior_steps": 4,
                 "posterior_steps": 4, "seed": 0, **kwargs}
    return LatentEBM(**arguments)


def points(n=64, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2)).astype("float32")


# ------------------------------------------------------------------------------- the chains
def test_prior_chain_with_zero_energy_at_the_papers_step_is_the_discretised_standard_normal():
    """E ≡ 0: z ← (1 − s²/2) z + s ε from N(0, 1). After K steps the variance is
    a^{2K} + v (1 − a^{2K}), a = 1 − s²/2, v = 1/(1 − s²/4): 1.0417 at s = 0.4, K = 60 (a^{2K} =
    4.5·10⁻⁵). 20 000 chains × 2 coordinates: standard error of the variance ≈ 0.0074, so the
    4 % bias is 5.6 standard errors — measurable, and measured."""
    model = LatentEBM((3,), latent_dim=2, energy=zero_energy_network(2), generator=mlp(2, 3, (4,)), seed=0)
    z = model.prior_sample(20_000, seed=1, jit_compile=False).numpy()
    s, k = model.prior_step_size, model.prior_steps
    a = 1 - s**2 / 2
    expected = a ** (2 * k) + (1 - a ** (2 * k)) / (1 - s**2 / 4)
    standard_error = expected * math.sqrt(2 / z.size)
    assert abs(z.mean()) < 4 * math.sqrt(expected / z.size)
    assert abs(z.var() - expected) < 4 * standard_error
    assert abs(z.var() - 1.0) > 3 * standard_error  # the short-run chain is not exactly N(0, I)
    assert abs(np.corrcoef(z.T)[0, 1]) < 4 / math.sqrt(len(z))


def test_prior_chain_with_zero_energy_and_a_small_step_returns_the_standard_normal():
    """s = 0.05, K = 2000: bias v − 1 = 6·10⁻⁴, start forgotten (a^{2K} = 7·10⁻³ of a variance
    of 1 that is already right). Moments within 4 standard errors of N(0, I), and the energy
    distance to exact draws within the null's bound; the same test rejects a chain whose drift is
    doubled (its target is N(0, I/2))."""
    model = LatentEBM((3,), latent_dim=2, energy=zero_energy_network(2), generator=mlp(2, 3, (4,)), seed=0)
    z = model.prior_sample(2000, seed=2, steps=2000, step_size=0.05, jit_compile=False).numpy()
    np.testing.assert_allclose(z.mean(0), 0.0, atol=4 / math.sqrt(2000))
    np.testing.assert_allclose(np.cov(z.T), np.eye(2), atol=4 * math.sqrt(2 / 2000))
    exact = np.random.default_rng(3).normal(size=(2000, 2))
    assert energy_distance(z, exact) < ENERGY_DISTANCE_BOUND
    doubled = LatentEBM((3,), latent_dim=2, energy=QuadraticEnergy(np.eye(2), [0.0, 0.0]),
                        generator=mlp(2, 3, (4,)), seed=0)
    z_doubled = doubled.prior_sample(2000, seed=2, steps=2000, step_size=0.05, jit_compile=False).numpy()
    assert energy_distance(z_doubled, exact) > 5 * ENERGY_DISTANCE_BOUND


A = np.array([[1.0, 0.6], [0.6, 0.8]])
B = np.array([1.0, -0.5])


def test_prior_chain_with_a_quadratic_energy_returns_its_gaussian():
    """E(z) = ½zᵀAz − bᵀz tilts N(0, I) into N(P⁻¹b, P⁻¹), P = A + I. At s = 0.1 (h = 0.01)
    the chain's stationary covariance (P − (h/4)P²)⁻¹ is within 0.4 % of P⁻¹; 1000 steps forget
    the start (slowest contraction (1 − hλ_min/2)^1000 = 6·10⁻⁴). 4000 chains: standard errors
    ≈ 0.01 on the means and ≈ 0.015 on the covariance entries; tolerance 0.05."""
    model = LatentEBM((3,), latent_dim=2, energy=QuadraticEnergy(A, B), generator=mlp(2, 3, (4,)), seed=0)
    z = model.prior_sample(4000, seed=4, steps=1000, step_size=0.1, jit_compile=False).numpy()
    precision = A + np.eye(2)
    np.testing.assert_allclose(z.mean(0), np.linalg.solve(precision, B), atol=0.04)
    np.testing.assert_allclose(np.cov(z.T), stationary_covariance(precision, 0.01), atol=0.05)
    np.testing.assert_allclose(stationary_covariance(precision, 0.01), np.linalg.inv(precision), atol=0.005)
    # The energy in the drift has its sign: with −E the chain would diverge or spread, not match.
    assert np.abs(np.cov(z.T) - np.eye(2)).max() > 0.2


def test_posterior_chain_on_a_linear_gaussian_generator_returns_the_closed_form_posterior():
    """G(z) = Wz + c, σ = 0.5, E(z) = ½zᵀAz − bᵀz: p(z | x) = N(μ, P⁻¹) with
    P = I + A + WᵀW/σ², μ = P⁻¹(b + Wᵀ(x − c)/σ²) — every term of the posterior drift. One x,
    4000 chains, s = 0.1 and 1500 steps (contraction (1 − hλ_min/2)^1500 ≈ 2·10⁻⁴);
    standard errors ≤ 0.01, tolerance 0.04."""
    weight = np.array([[0.6, -0.3], [0.2, 0.5], [-0.4, 0.1]])
    bias = np.array([0.1, -0.2, 0.3])
    sigma = 0.5
    model = LatentEBM((3,), latent_dim=2, energy=QuadraticEnergy(A, B), generator=linear_generator(weight, bias),
                      likelihood_sigma=sigma, seed=0)
    x = np.array([1.0, -0.5, 0.8])
    z = model.posterior_sample(np.tile(x, (4000, 1)).astype("float32"), seed=5, steps=1500, step_size=0.1,
                               jit_compile=False).numpy()
    precision = np.eye(2) + A + weight.T @ weight / sigma**2
    mean = np.linalg.solve(precision, B + weight.T @ (x - bias) / sigma**2)
    np.testing.assert_allclose(z.mean(0), mean, atol=0.04)
    np.testing.assert_allclose(np.cov(z.T), stationary_covariance(precision, 0.01), atol=0.04)
    # Without the likelihood term the chain would sample the prior N(P₀⁻¹b, P₀⁻¹) instead.
    prior_mean = np.linalg.solve(np.eye(2) + A, B)
    assert np.abs(mean - prior_mean).max() > 0.1


def test_the_papers_short_run_posterior_chain_is_not_the_posterior():
    """The paper's K₊ = 20 steps at s = 0.1 move z by at most ≈ 20·(h/2)·|drift|: on the
    linear-Gaussian posterior above the chains' mean is still far from μ (short-run chains are
    a learned, biased sampler; the model is trained with them, Nijkamp et al. 2019)."""
    weight = np.array([[0.6, -0.3], [0.2, 0.5], [-0.4, 0.1]])
    model = LatentEBM((3,), latent_dim=2, energy="zero", generator=linear_generator(weight, np.zeros(3)),
                      likelihood_sigma=0.5, seed=0)
    x = np.array([1.0, -0.5, 0.8])
    z = model.posterior_sample(np.tile(x, (4000, 1)).astype("float32"), seed=6, jit_compile=False).numpy()
    precision = np.eye(2) + weight.T @ weight / 0.25
    mean = np.linalg.solve(precision, weight.T @ x / 0.25)
    assert np.abs(z.mean(0) - mean).max() > 0.2


def test_sampler_chains_repeat_from_a_seed_and_agree_with_and_without_xla():
    model = tiny_model()
    x = points(16)
    first = model.prior_sample(32, seed=7, jit_compile=False).numpy()
    np.testing.assert_array_equal(model.prior_sample(32, seed=7, jit_compile=False).numpy(), first)
    assert not np.array_equal(model.prior_sample(32, seed=8, jit_compile=False).numpy(), first)
    posterior = model.posterior_sample(x, seed=7, jit_compile=True).numpy()  # energy and generator
    np.testing.assert_allclose(model.posterior_sample(x, seed=7, jit_compile=False), posterior, atol=1e-5)
    z, chain = model.prior_sample(32, seed=7, return_chain=True, thin=2, jit_compile=False)
    assert chain.shape == (model.prior_steps // 2 + 1, 32, 2)
    np.testing.assert_allclose(z, first, atol=1e-5)
    np.testing.assert_allclose(chain[-1], z)


# --------------------------------------------------------------------------- training step
def test_players_and_their_default_optimizers_are_the_papers():
    model = tiny_model()
    generator, energy = model.players()
    assert (generator.name, generator.optimizer, generator.loss) == ("generator", "optimizer", "loss")
    assert (energy.name, energy.optimizer, energy.loss) == ("energy", "energy_optimizer", "energy_loss")
    assert {id(v) for v in generator.variables} == {id(v) for v in model.generator.trainable_variables}
    assert {id(v) for v in energy.variables} == {id(v) for v in model.energy_network.trainable_variables}
    assert model.shared_forward_pass
    for make, rate in ((paper_generator_optimizer, 1e-4), (paper_energy_optimizer, 2e-5)):
        optimizer = make()
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert (float(optimizer.learning_rate), optimizer.beta_1, optimizer.beta_2) == pytest.approx((rate, 0.5, 0.999))
    baseline = tiny_model(energy="zero")
    assert [p.name for p in baseline.players()] == ["generator"]


def test_default_networks_and_chain_settings_are_the_authors():
    model = LatentEBM((8, 8, 1), latent_dim=3)
    assert (model.prior_steps, model.prior_step_size, model.posterior_steps, model.posterior_step_size) == (
        60, 0.4, 20, 0.1)
    assert model.likelihood_sigma == 0.3 and LatentEBM((2,)).latent_dim == 100
    dense = [layer for layer in model.energy_network.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [200, 200, 1]
    assert [layer.activation.__name__ for layer in dense[:2]] == ["gelu", "gelu"]
    assert any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in model.generator.layers)


def test_the_chains_gradients_are_stopped_and_each_loss_reaches_only_its_player():
    """Through the chains, the generator's loss depends on the energy (posterior drift) and the
    energy's loss on the generator; stopped chains cut both paths."""
    model = tiny_model()
    x = points(16)
    with tf.GradientTape(persistent=True) as tape:
        terms = model.player_terms(x, None)
    assert all(g is None for g in tape.gradient(terms["loss"], model.energy_network.trainable_variables))
    assert all(g is None for g in tape.gradient(terms["energy_loss"], model.generator.trainable_variables))
    assert all(g is not None for g in tape.gradient(terms["loss"], model.generator.trainable_variables))
    assert all(g is not None for g in tape.gradient(terms["energy_loss"], model.energy_network.trainable_variables))


def test_one_fit_step_reports_the_papers_terms_and_updates_both_players():
    model = tiny_model()
    x = points(32)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), energy_optimizer=keras.optimizers.Adam(1e-2))
    before = [v.numpy().copy() for v in model.trainable_variables]
    state = ops.copy(model.seed_generator.state)
    expected = {k: float(v) for k, v in model.player_terms(x, None).items()}
    model.seed_generator.state.assign(state)
    logs = model.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0).history
    assert set(logs) == {"loss", "reconstruction", "energy_loss", "energy_gap"}
    for name, value in expected.items():
        assert logs[name][0] == pytest.approx(value, rel=1e-4, abs=1e-6), name
    assert expected["loss"] == pytest.approx(expected["reconstruction"] / (2 * 0.3**2), rel=1e-5)
    assert expected["energy_gap"] == -expected["energy_loss"]
    assert int(model.optimizer.iterations) == int(model.energy_optimizer.iterations) == 1
    changed = {v.path: not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_variables)}
    # The energy's output bias has gradient 0 (the energy loss ignores a constant added to E), so
    # it stays; every other weight of both players moves.
    output_bias = model.energy_network.layers[-1].bias.path
    assert not changed.pop(output_bias) and all(changed.values())


def test_the_energy_step_lowers_the_energy_of_posterior_codes_relative_to_prior_ones():
    """One SGD step on the energy moves E(z₊) − E(z₋) down on the same samples (the paper's
    update is a descent step on it)."""
    model = tiny_model()
    outputs = model(points(64), training=True)
    before = float(model.loss_terms(points(64), outputs)["energy_loss"])
    with tf.GradientTape() as tape:
        loss = model.loss_terms(points(64), outputs)["energy_loss"]
    variables = model.energy_network.trainable_variables
    keras.optimizers.SGD(0.05).apply(tape.gradient(loss, variables), variables)
    assert float(model.loss_terms(points(64), outputs)["energy_loss"]) < before


def test_the_zero_energy_baseline_trains_one_player_and_samples_the_gaussian_exactly():
    model = tiny_model(energy="zero")
    model.compile(keras.optimizers.Adam(1e-2))
    history = model.fit(points(64), batch_size=32, epochs=1, verbose=0).history
    assert history["energy_loss"] == [0.0] and history["energy_gap"] == [0.0]
    assert np.isfinite(history["loss"]).all()
    z = model.prior_sample(4, seed=0).numpy()
    np.testing.assert_array_equal(z, model.latent_prior.sample(4, keras.random.SeedGenerator(0)))  # no chain
    np.testing.assert_array_equal(model.energy(z), np.zeros(4))
    with pytest.raises(ValueError, match="there is no chain"):
        model.prior_sample(4, return_chain=True)
    with pytest.raises(TypeError, match="energy_optimizer"):
        tiny_model(energy="zero").compile(energy_optimizer=keras.optimizers.Adam())


# ------------------------------------------------------------------------------------ API
def test_anomaly_score_is_the_negative_log_joint_at_the_posterior_sample():
    model = tiny_model()
    x = points(8)
    z = model.posterior_sample(x, seed=3).numpy()
    reconstruction = ((x - model.generator(z).numpy()) ** 2).sum(1) / (2 * 0.3**2)
    expected = reconstruction + model.energy(z).numpy() + 0.5 * (z**2).sum(1)
    score = model.anomaly_score(x, seed=3).numpy()
    assert score.shape == (8,)
    np.testing.assert_allclose(score, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.anomaly_score(x, z=z).numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.reconstruct(x, seed=3), model.generator(z), atol=1e-6)
    np.testing.assert_allclose(
        model.prior_log_density(z), -model.energy(z).numpy() - 0.5 * (z**2).sum(1) - math.log(2 * math.pi),
        rtol=1e-5)
    assert model.decode(z).event_shape == (2,)


def test_evaluation_figures_repeat_from_a_seed_and_hold_together():
    model = tiny_model()
    x = points(20)
    figures = model.evaluation_figures(x, seed=1)
    assert figures == model.evaluation_figures(x, seed=1)
    assert figures["examples"] == 20
    assert figures["energy_gap"] == pytest.approx(figures["energy_prior"] - figures["energy_posterior"])
    assert figures["loss"] == pytest.approx(figures["reconstruction"] / (2 * 0.3**2))
    assert figures["mse_per_dim"] == pytest.approx(figures["reconstruction"] / 2)
    assert figures["anomaly_score"] > figures["loss"] + figures["energy_posterior"]  # plus ½‖z‖² > 0


def test_posterior_langevin_explains_the_data_better_than_prior_codes():
    """The posterior chain moves codes towards explaining x: G(z₊) is closer to x than G(z₀)."""
    model = tiny_model(posterior_steps=200)
    x = points(64)
    z0 = model.prior_sample(64, seed=0, steps=1, step_size=1e-6).numpy()
    z = model.posterior_sample(x, seed=0).numpy()
    assert ((x - model.generator(z).numpy()) ** 2).sum(1).mean() < ((x - model.generator(z0).numpy()) ** 2).sum(1).mean()


def test_zero_energy_and_given_networks_round_trip_through_a_keras_file(tmp_path):
    model = tiny_model(energy="zero")
    assert model.get_config()["energy"] == "zero"
    model.save(tmp_path / "baseline.keras")
    loaded = keras.models.load_model(tmp_path / "baseline.keras")
    assert loaded.zero_energy and loaded.energy_network is None
    config, reloaded = model.get_config(), loaded.get_config()
    assert {k: v for k, v in reloaded.items() if k not in ("generator", "name")} == {
        k: v for k, v in config.items() if k not in ("generator", "name")}
    for saved, restored in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(restored.numpy(), saved.numpy())
    np.testing.assert_array_equal(loaded.sample(3, seed=0), model.sample(3, seed=0))


def test_pictures_show_reconstructions_and_decoded_prior_chains_for_images():
    images = np.random.default_rng(0).random((8, 8, 8, 1)).astype("float32")
    model = LatentEBM((8, 8, 1), latent_dim=2, energy=energy_mlp(2, (8,)), prior_steps=10, posterior_steps=2, seed=0)
    assert set(model.pictures(images)) == {"reconstructions", "prior_chains"}
    assert set(LatentEBM((8, 8, 1), latent_dim=2, energy="zero", posterior_steps=2).pictures(images)) == {
        "reconstructions"}
    assert tiny_model().pictures(points(4)) == {}


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"latent_dim": 0}, ValueError, "`latent_dim` must be a positive integer"),
        ({"likelihood_sigma": -0.3}, ValueError, "`likelihood_sigma` must be a finite number > 0"),
        ({"prior_steps": 0}, ValueError, "`prior_steps` must be a positive integer"),
        ({"posterior_steps": 2.5}, TypeError, "`posterior_steps` must be a positive integer"),
        ({"prior_step_size": 0.0}, ValueError, "`prior_step_size` must be a finite number > 0"),
        ({"posterior_step_size": float("nan")}, ValueError, "`posterior_step_size` must be a finite number > 0"),
        ({"energy": "quadratic"}, ValueError, "`energy` must be None .* or 'zero'"),
        ({"energy": mlp(2, 2, (4,))}, ValueError, r"`energy_network` must map \(batch, 2\) to \(batch, 1\)"),
        ({"generator": mlp(2, 3, (4,))}, ValueError, r"`generator` must map \(batch, 2\) to \(batch, 2\)"),
        ({"energy": 3}, TypeError, "`energy_network` must be a Keras layer"),
    ],
)
def test_bad_arguments_are_rejected_clearly(kwargs, error, message):
    with pytest.raises(error, match=message):
        tiny_model(**kwargs)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m: m.energy(np.zeros((3, 5), "float32")), ValueError, r"`z` must have shape \(batch, 2\)"),
        (lambda m: m.prior_sample(0), ValueError, "`n` must be a positive integer"),
        (lambda m: m.prior_sample(3, steps=0), ValueError, "`steps` must be a positive integer"),
        (lambda m: m.posterior_sample(np.full((3, 2), np.nan, "float32")), ValueError, "`x` contains 6 NaN"),
        (lambda m: m.anomaly_score(np.zeros((3, 4), "float32")), ValueError, r"`x` must have shape \(batch, 2\)"),
        (lambda m: m.anomaly_score(np.zeros((3, 2), "float32"), z=np.zeros((2, 2), "float32")), ValueError,
         "`z` must hold one code per example of `x` \\(3\\); got 2"),
        (lambda m: m.sample(2, step_size=-1.0), ValueError, "`step_size` must be a finite number > 0"),
    ],
)
def test_bad_calls_are_rejected_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call(tiny_model())
