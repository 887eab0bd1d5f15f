"""kgen.samplers with exact scores: annealed Langevin recovers a Gaussian mixture, plain Langevin a
Gaussian; seeds, chains, inpainting and input checks.

The mixture: three well-separated isotropic Gaussians with unequal weights. Smoothing it with
N(0, σ² I) gives the mixture with variances s² + σ², whose score is known in closed form, so
the sampler is tested on its own, without a learned network.

The two-sample statistic is the unbiased MMD² with a Gaussian kernel of bandwidth 1 (Gretton et
al. 2012, eq. 3). Between two independent sets of 2000 true samples it has mean 0 and standard
deviation ≈ 8·10⁻⁴ (measured over 20 pairs: all below 2.5·10⁻³); ``MMD_BOUND`` = 5·10⁻³ is
about six of those standard deviations. A sampler whose drift is twice the right one gives
≈ 2·10⁻² and one without noise more: both are tested to fail the bound.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgen import samplers

MEANS = np.array([[-4.0, 0.0], [4.0, 0.0], [0.0, 4.0]], "float32")
WEIGHTS = np.array([0.15, 0.35, 0.5], "float32")
STD = 0.5
SIGMAS = np.geomspace(8.0, 0.05, 10)  # σ_1 ≈ the largest distance between modes (8)
STEP_SIZE = 2e-3  # ε·T/σ_L² = 80: every level equilibrates
N = 2000
MMD_BOUND = 5e-3
WEIGHT_TOLERANCE = 0.04  # ≈ 4 standard errors of a proportion near 0.5 with 2000 samples


def mixture_score_for(sigmas):
    """(x, i) ↦ ∇ log Σ_k w_k N(x; μ_k, (s² + σ_i²) I): a responsibility-weighted sum of the
    components' scores, for the levels ``sigmas``."""

    def score(x, i):
        var = STD**2 + tf.gather(tf.constant(sigmas, x.dtype), i) ** 2
        diff = x[:, None, :] - MEANS[None]
        logits = np.log(WEIGHTS) - tf.reduce_sum(diff**2, -1) / (2 * var)
        responsibilities = tf.nn.softmax(logits, axis=1)
        return tf.reduce_sum(responsibilities[..., None] * (-diff / var), axis=1)

    return score


mixture_score = mixture_score_for(SIGMAS)


def mixture_score_numpy(x, sigma):
    """The same score in NumPy, for the reference sampler below."""
    var = STD**2 + sigma**2
    diff = x[:, None, :] - MEANS[None]
    logits = np.log(WEIGHTS) - (diff**2).sum(-1) / (2 * var)
    responsibilities = np.exp(logits - logits.max(1, keepdims=True))
    responsibilities /= responsibilities.sum(1, keepdims=True)
    return (responsibilities[..., None] * (-diff / var)).sum(1)


def mixture_samples(n, seed):
    rng = np.random.default_rng(seed)
    return MEANS[rng.choice(3, n, p=WEIGHTS)] + STD * rng.standard_normal((n, 2)).astype("float32")


def mmd2(x, y, bandwidth=1.0):
    """Unbiased MMD² between samples ``x`` and ``y`` with a Gaussian kernel."""
    def kernel(a, b):
        squared = (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * a @ b.T
        return np.exp(-np.maximum(squared, 0) / (2 * bandwidth**2))

    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    n, m = len(x), len(y)
    return (
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * kxy.mean()
    )


def nearest_mode_weights(x, means):
    """The fraction of the points ``x`` nearest to each of ``means``."""
    nearest = ((x[:, None] - means[None]) ** 2).sum(-1).argmin(1)
    return np.bincount(nearest, minlength=len(means)) / len(x)


def broad_noise(n=N, seed=0):
    return (SIGMAS[0] * np.random.default_rng(seed).standard_normal((n, 2))).astype("float32")


def reference_annealed_langevin(x, drift=0.5, noise=True, seed=0):
    """Algorithm 1 in NumPy with a knob on the drift coefficient and the noise term, to show
    that the test statistics reject wrong step rules."""
    rng = np.random.default_rng(seed)
    for sigma in SIGMAS:
        alpha = STEP_SIZE * sigma**2 / SIGMAS[-1] ** 2
        for _ in range(100):
            z = rng.standard_normal(x.shape) if noise else 0.0
            x = x + drift * alpha * mixture_score_numpy(x, sigma) + np.sqrt(alpha) * z
    return x


def test_annealed_langevin_with_the_exact_score_reproduces_the_mixture():
    x = samplers.annealed_langevin(mixture_score, broad_noise(), SIGMAS, 100, STEP_SIZE, seed=1).numpy()
    np.testing.assert_allclose(nearest_mode_weights(x, MEANS), WEIGHTS, atol=WEIGHT_TOLERANCE)
    assert mmd2(x, mixture_samples(N, seed=2)) < MMD_BOUND
    # Within each mode, the spread is the mode's (denoising removes the last level's σ_L).
    nearest = ((x[:, None] - MEANS[None]) ** 2).sum(-1).argmin(1)
    spreads = [np.std(x[nearest == k] - MEANS[k]) for k in range(3)]
    np.testing.assert_allclose(spreads, STD, rtol=0.1)


def test_the_numpy_reference_score_is_the_tensorflow_one():
    x = broad_noise(50)
    np.testing.assert_allclose(mixture_score_numpy(x, SIGMAS[5]), mixture_score(x, 5), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "rule, passes",
    [({}, True), ({"drift": 1.0}, False), ({"noise": False}, False)],
    ids=["algorithm_1", "drift_alpha_instead_of_alpha_over_2", "no_noise"],
)
def test_the_statistics_accept_algorithm_1_and_reject_wrong_step_rules(rule, passes):
    x = reference_annealed_langevin(broad_noise(), **rule)
    weights_ok = np.abs(nearest_mode_weights(x, MEANS) - WEIGHTS).max() <= WEIGHT_TOLERANCE
    statistic = mmd2(x, mixture_samples(N, seed=2))
    assert (weights_ok and statistic < MMD_BOUND) == passes
    if not passes:
        assert statistic > 2 * MMD_BOUND


def test_plain_langevin_at_the_smallest_noise_level_gets_the_mode_weights_wrong():
    """Song & Ermon (2019, §3.2, fig. 3): without annealing, chains stay in the mode they start
    near, so the weights follow the starting points, not the data: why NCSN anneals."""
    x0 = np.random.default_rng(0).uniform(-8, 8, (N, 2)).astype("float32")
    score = mixture_score_for(SIGMAS[-1:])
    x = samplers.annealed_langevin(score, x0, SIGMAS[-1:], 1000, STEP_SIZE, seed=1).numpy()
    assert np.abs(nearest_mode_weights(x, MEANS) - WEIGHTS).max() > 3 * WEIGHT_TOLERANCE


COVARIANCE = np.array([[1.0, 0.6], [0.6, 0.5]])
MEAN = np.array([1.0, -2.0])
PRECISION = np.linalg.inv(COVARIANCE)


def gaussian_grad(x):
    return -tf.matmul(x - MEAN.astype("float32"), PRECISION.astype("float32"))


def test_langevin_recovers_the_mean_and_covariance_of_a_gaussian():
    """For a Gaussian target the unadjusted chain x ← x + (s/2)∇log p + √s z is a linear
    recursion with stationary covariance (Σ⁻¹ − (s/4)·Σ⁻²)⁻¹: Σ plus an O(s) bias."""
    step = 0.02
    x = samplers.langevin(gaussian_grad, np.zeros((4000, 2), "float32"), 600, step, seed=0).numpy()
    stationary = np.linalg.inv(PRECISION - step / 4 * PRECISION @ PRECISION)
    np.testing.assert_allclose(x.mean(0), MEAN, atol=0.06)  # standard error ≈ 0.016
    np.testing.assert_allclose(np.cov(x.T), stationary, atol=0.06)  # standard error ≈ 0.02
    np.testing.assert_allclose(stationary, COVARIANCE, atol=0.05)  # the bias is small at this step
    # A drift twice too large targets p² (covariance Σ/2), far outside the tolerance.
    doubled = samplers.langevin(lambda x: 2 * gaussian_grad(x), np.zeros((4000, 2), "float32"), 600, step, seed=0)
    assert np.abs(np.cov(doubled.numpy().T) - stationary).max() > 0.2


def test_langevin_with_gradient_of_a_log_density_and_without_noise_ascends_to_the_mode():
    def log_density(x):
        diff = x - MEAN.astype("float32")
        return -0.5 * tf.reduce_sum(tf.matmul(diff, PRECISION.astype("float32")) * diff, axis=-1)

    grad = samplers.gradient_of(log_density)
    x = np.random.default_rng(0).normal(size=(5, 2)).astype("float32")
    np.testing.assert_allclose(grad(tf.constant(x)), gaussian_grad(x), rtol=1e-5, atol=1e-5)
    mode = samplers.langevin(grad, x, 500, 0.1, noise_scale=0.0, seed=0).numpy()
    np.testing.assert_allclose(mode, np.broadcast_to(MEAN, (5, 2)), atol=1e-3)


def test_same_seed_same_chain_and_chains_are_thinned_consistently():
    x0 = broad_noise(64)
    sigmas = SIGMAS[:3]
    score = mixture_score_for(sigmas)
    a = samplers.annealed_langevin(score, x0, sigmas, 10, STEP_SIZE, seed=7, denoise=False)
    b, chain = samplers.annealed_langevin(
        score, x0, sigmas, 10, STEP_SIZE, seed=7, denoise=False, return_chain=True
    )
    c, thinned = samplers.annealed_langevin(
        score, x0, sigmas, 10, STEP_SIZE, seed=7, denoise=False, return_chain=True, thin=7
    )
    # The same noise in the same order; the compiled programs differ (one keeps the chain), so the
    # last float bits may too.
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(a, samplers.annealed_langevin(score, x0, sigmas, 10, STEP_SIZE, seed=7, denoise=False))
    assert chain.shape == (31, 64, 2) and thinned.shape == (31 // 7 + 1, 64, 2)
    np.testing.assert_array_equal(chain[0], x0)
    np.testing.assert_array_equal(chain[-1], b)
    np.testing.assert_array_equal(thinned, chain.numpy()[::7])
    other = samplers.annealed_langevin(score, x0, sigmas, 10, STEP_SIZE, seed=8, denoise=False)
    assert not np.array_equal(a, other)
    # A SeedGenerator is advanced: two draws differ, and a fresh one with the same seed repeats.
    generator = keras.random.SeedGenerator(3)
    first = samplers.langevin(gaussian_grad, x0, 5, 0.1, seed=generator).numpy()
    assert not np.array_equal(first, samplers.langevin(gaussian_grad, x0, 5, 0.1, seed=generator).numpy())
    again = samplers.langevin(gaussian_grad, x0, 5, 0.1, seed=keras.random.SeedGenerator(3))
    np.testing.assert_array_equal(first, again)
    x, steps = samplers.langevin(gaussian_grad, x0, 5, 0.1, seed=1, return_chain=True, thin=2)
    assert steps.shape == (3, 64, 2)


def test_denoising_step_is_tweedies_formula():
    """The returned sample is the chain's last state plus σ_L²·s(x, L), with no noise added."""
    x, chain = samplers.annealed_langevin(
        mixture_score, broad_noise(16), SIGMAS, 3, STEP_SIZE, seed=0, return_chain=True
    )
    last = chain[-1]
    expected = last + SIGMAS[-1] ** 2 * mixture_score(last, tf.constant(len(SIGMAS) - 1))
    np.testing.assert_allclose(x, expected, rtol=1e-6, atol=1e-6)


def test_xla_compiled_sampler_matches_the_graph_one():
    x0 = broad_noise(32)
    graph = samplers.annealed_langevin(mixture_score, x0, SIGMAS, 2, STEP_SIZE, seed=3)
    xla = samplers.annealed_langevin(mixture_score, x0, SIGMAS, 2, STEP_SIZE, seed=3, jit_compile=True)
    np.testing.assert_allclose(graph, xla, rtol=1e-4, atol=1e-4)


def test_inpainting_samples_the_conditional_of_a_correlated_gaussian():
    """N(0, [[1, ρ], [ρ, 1]]) with x₁ known: x₂ | x₁ ~ N(ρ·x₁, 1 − ρ²), and x₁ is kept exactly."""
    rho, known_value = 0.8, 1.5
    covariance = np.array([[1.0, rho], [rho, 1.0]], "float32")
    sigmas = np.geomspace(3.0, 0.02, 8)

    def score(x, i):
        var = tf.gather(tf.constant(sigmas, x.dtype), i) ** 2
        return -tf.matmul(x, tf.linalg.inv(covariance + var * tf.eye(2)))

    n = 3000
    known = np.tile([[known_value, 0.0]], (n, 1)).astype("float32")
    x0 = np.random.default_rng(0).normal(scale=3.0, size=(n, 2)).astype("float32")
    x = samplers.annealed_langevin(score, x0, sigmas, 100, 2e-4, seed=0, known=known, mask=[1.0, 0.0])
    x = x.numpy()
    np.testing.assert_array_equal(x[:, 0], known_value)
    np.testing.assert_allclose(x[:, 1].mean(), rho * known_value, atol=0.05)  # s.e. ≈ 0.011
    np.testing.assert_allclose(x[:, 1].std(), np.sqrt(1 - rho**2), rtol=0.08)


def test_compiled_loops_are_reused_across_calls():
    x0 = broad_noise(8)
    score = mixture_score_for(SIGMAS[:2])
    samplers.annealed_langevin(score, x0, SIGMAS[:2], 3, STEP_SIZE, seed=0)
    program = samplers._PROGRAMS[score][(None, ("annealed", 3, 1, False, True, False), False)]
    traces = program.experimental_get_tracing_count()
    samplers.annealed_langevin(score, x0 + 1, SIGMAS[:2] / 2, 3, STEP_SIZE / 2, seed=5)
    assert program.experimental_get_tracing_count() == traces


def test_many_score_functions_and_batch_sizes_do_not_warn_of_retracing(caplog):
    """Every program has its own trace count: TensorFlow's "excessive retracing" warning (which
    counts per code object) must not fire when a notebook samples from several models."""
    caplog.set_level("WARNING", logger="tensorflow")
    for k in range(4):
        score = mixture_score_for(SIGMAS[:2])
        for n in (3, 5, 7):
            samplers.annealed_langevin(score, broad_noise(n) + k, SIGMAS[:2], 2, STEP_SIZE, seed=k)
    assert not [record for record in caplog.records if "retracing" in record.getMessage()]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"sigmas": [0.1, 1.0]}, ValueError, "strictly decreasing"),
        ({"sigmas": [1.0, 0.0]}, ValueError, "finite values > 0"),
        ({"sigmas": [[1.0, 0.5]]}, ValueError, "1-D sequence; got shape"),
        ({"sigmas": []}, ValueError, "non-empty"),
        ({"steps_per_level": 0}, ValueError, "`steps_per_level` must be a positive integer; got 0"),
        ({"steps_per_level": 2.5}, TypeError, "`steps_per_level` must be a positive integer"),
        ({"step_size": -1e-3}, ValueError, "`step_size` must be a finite number > 0"),
        ({"step_size": float("nan")}, ValueError, "`step_size` must be a finite number > 0"),
        ({"x0": np.full((3, 2), np.nan, "float32")}, ValueError, "`x0` contains 6 NaN"),
        ({"x0": np.zeros((3, 2), "int32")}, TypeError, "`x0` must hold floating-point values"),
        ({"x0": np.float32(1.0)}, ValueError, "batch axis"),
        ({"thin": 2}, ValueError, "pass return_chain=True"),
        ({"thin": 100, "return_chain": True}, ValueError, r"at most the number of steps \(20\)"),
        ({"seed": -1}, ValueError, "`seed` must be None or a non-negative integer"),
        ({"score_fn": "score"}, TypeError, "`score_fn` must be a function"),
        ({"score_fn": lambda x, i: x[:, :1]}, ValueError, r"`score_fn` must return .* \(3, 2\); it returned \(3, 1\)"),
        ({"mask": [1.0, 0.0]}, ValueError, "both `known` and `mask`"),
        ({"mask": [0.5, 0.0], "known": np.zeros((3, 2), "float32")}, ValueError, "0 .* or 1"),
        ({"mask": [1.0, 0.0, 1.0], "known": np.zeros((3, 2), "float32")}, ValueError, "does not broadcast"),
    ],
)
def test_annealed_langevin_rejects_bad_arguments_clearly(kwargs, error, message):
    arguments = {"score_fn": mixture_score, "x0": np.zeros((3, 2), "float32"), "sigmas": [1.0, 0.5],
                 "steps_per_level": 10, "step_size": 1e-3, **kwargs}
    with pytest.raises(error, match=message):
        samplers.annealed_langevin(**arguments)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"steps": 0}, ValueError, "`steps` must be a positive integer; got 0"),
        ({"step_size": 0.0}, ValueError, "`step_size` must be a finite number > 0; got 0.0"),
        ({"noise_scale": -1.0}, ValueError, "`noise_scale` must be a finite number ≥ 0"),
        ({"grad_log_density_fn": None}, TypeError, "`grad_log_density_fn` must be a function"),
    ],
)
def test_langevin_rejects_bad_arguments_clearly(kwargs, error, message):
    arguments = {"grad_log_density_fn": gaussian_grad, "x0": np.zeros((3, 2), "float32"), "steps": 5,
                 "step_size": 0.1, **kwargs}
    with pytest.raises(error, match=message):
        samplers.langevin(**arguments)


# ------------------------------------------------------------------ short-run Langevin (traced)
def test_short_run_langevin_in_a_traced_function_is_the_compiled_chain_of_langevin():
    """The chain a training step builds into its own graph (with or without XLA) is the chain
    ``langevin`` compiles on its own: same rule, same noise from the same stateless seed."""
    x0 = broad_noise(64)
    seed = tf.constant([3, 4], tf.int32)
    compiled = samplers.langevin(gaussian_grad, x0, 10, 0.05, seed=keras.random.SeedGenerator(11))
    expected_seed = tf.cast(keras.random.SeedGenerator(11).next(), tf.int32)
    for jit in (False, True):
        traced = tf.function(lambda x, s: samplers.short_run_langevin(gaussian_grad, x, 10, 0.05, s),
                             jit_compile=jit)
        np.testing.assert_allclose(traced(x0, expected_seed), compiled, rtol=1e-5, atol=1e-5)
    assert not np.allclose(tf.function(lambda x: samplers.short_run_langevin(gaussian_grad, x, 10, 0.05, seed))(x0),
                           compiled)


def test_short_run_langevin_stops_gradients_and_passes_a_context():
    weight = tf.Variable(1.5)

    def conditional_grad(x, mean):  # ∇ log N(x; weight·mean, I)
        return -(x - weight * mean)

    x0 = tf.zeros((4000, 2))
    mean = tf.constant([[1.0, -2.0]])

    @tf.function
    def chain_and_gradient(x0, mean):
        with tf.GradientTape() as tape:
            x = samplers.short_run_langevin(conditional_grad, x0, 200, 0.1, tf.constant([0, 1]), context=mean)
            total = tf.reduce_sum(x)
        return x, tape.gradient(total, weight)

    x, gradient = chain_and_gradient(x0, mean)
    assert gradient is None
    np.testing.assert_allclose(x.numpy().mean(0), [1.5, -3.0], atol=0.06)  # standard error ≈ 0.016
    for context, expected in ((mean, [1.5, -3.0]), (2 * mean, [3.0, -6.0])):  # one program, two contexts
        z = samplers.langevin(conditional_grad, x0, 200, 0.1, seed=0, context=context)
        np.testing.assert_allclose(z.numpy().mean(0), expected, atol=0.06)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"steps": 0}, ValueError, "`steps` must be a positive integer; got 0"),
        ({"step_size": -0.1}, ValueError, "`step_size` must be a finite number > 0"),
        ({"noise_scale": -1.0}, ValueError, "`noise_scale` must be a finite number ≥ 0"),
        ({"grad_log_density_fn": 3}, TypeError, "`grad_log_density_fn` must be a function"),
    ],
)
def test_short_run_langevin_rejects_bad_arguments_clearly(kwargs, error, message):
    arguments = {"grad_log_density_fn": gaussian_grad, "x0": tf.zeros((3, 2)), "steps": 5, "step_size": 0.1,
                 "seed": tf.constant([0, 0]), **kwargs}
    with pytest.raises(error, match=message):
        samplers.short_run_langevin(**arguments)
