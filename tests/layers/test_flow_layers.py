"""Flow layers at random (not identity) weights: invertibility, log-det against the autodiff
Jacobian, MADE's autoregressive structure, ActNorm's data-dependent initialization,
dequantization bins, config round trips and bad arguments."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from contract import jacobian_log_det

from kgen.layers import (
    MADE,
    ActNorm,
    AffineCoupling,
    GaussianAutoregressive,
    InvertibleConv1x1,
    LogitTransform,
    Permutation,
    SplitPrior,
    Squeeze,
    UniformDequantization,
)
from kgen.layers import made as made_module
from kgen.layers.made import input_degrees

LAYERS = {
    "coupling_half_tanh": (lambda: AffineCoupling("half", 0, 8), (4,)),
    "coupling_half_odd_sigmoid": (lambda: AffineCoupling("half", 1, (8,), scale="sigmoid"), (5,)),
    "coupling_checkerboard": (lambda: AffineCoupling("checkerboard", 1, 4), (2, 2, 2)),
    "coupling_channel_additive": (lambda: AffineCoupling("channel", 1, 4, scale="additive"), (2, 2, 3)),
    "actnorm": (ActNorm, (2, 2, 2)),
    "conv1x1_lu": (lambda: InvertibleConv1x1(lu=True), (2, 2, 3)),
    "conv1x1_plain": (lambda: InvertibleConv1x1(lu=False), (2, 2, 3)),
    "squeeze": (Squeeze, (4, 4, 2)),
    "split_prior": (SplitPrior, (2, 2, 4)),
    "logit": (LogitTransform, (3,)),
    "permutation": (lambda: Permutation("random", seed=3), (5,)),
    "permutation_reverse": (lambda: Permutation("reverse"), (5,)),
    "gaussian_autoregressive": (lambda: GaussianAutoregressive((8, 8), ordering="random"), (4,)),
}


def layer_input(layer, shape, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    if isinstance(layer, LogitTransform):
        return rng.uniform(size=(batch, *shape)).astype("float32")
    return rng.normal(size=(batch, *shape)).astype("float32")


def randomize(layer, scale=0.3, seed=1):
    """Move every trainable weight away from its (often identity) initial value."""
    rng = np.random.default_rng(seed)
    for weight in layer.trainable_weights:
        weight.assign(weight.numpy() + rng.normal(scale=scale, size=weight.shape).astype("float32"))


def random_layer(name):
    make, shape = LAYERS[name]
    layer = make()
    x = layer_input(layer, shape)
    layer.inverse(x)  # builds (and initializes ActNorm from data)
    randomize(layer)
    return layer, x


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_inverse_undoes_forward_and_log_dets_match_the_autodiff_jacobian(name):
    layer, x = random_layer(name)
    z, inverse_log_det = layer.inverse(x)
    x_back, forward_log_det = layer.forward(z)
    np.testing.assert_allclose(x_back, x, atol=2e-5)
    np.testing.assert_allclose(forward_log_det, -inverse_log_det, atol=1e-4)
    np.testing.assert_allclose(inverse_log_det, jacobian_log_det(lambda t: layer.inverse(t)[0], x), atol=2e-4)
    np.testing.assert_allclose(forward_log_det, jacobian_log_det(lambda t: layer.forward(t)[0], z.numpy()), atol=2e-4)
    assert not np.allclose(z.numpy().ravel(), x.ravel(), atol=1e-3), "the layer should not be an identity map"
    if name not in ("squeeze", "permutation", "permutation_reverse", "coupling_channel_additive"):  # volume-preserving
        assert np.abs(inverse_log_det.numpy()).max() > 1e-3


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_inverse_terms_weighted_and_summed_are_the_inverse_log_det(name):
    layer, x = random_layer(name)
    z, log_det = layer.inverse(x)
    z_of_terms, terms, weight = layer.inverse_terms(x)
    np.testing.assert_array_equal(z_of_terms, z)
    assert isinstance(weight, float)
    if terms is None:
        np.testing.assert_array_equal(log_det, np.zeros(len(x)))
    else:
        assert not layer.volume_preserving and terms.shape[0] == len(x)
        summed = weight * np.sum(np.reshape(terms, (len(x), -1)), axis=1)
        np.testing.assert_allclose(summed, log_det, rtol=1e-6, atol=1e-6)
        assert np.abs(summed).max() > 1e-3


@pytest.mark.parametrize("ordering", ["left-to-right", "random"])
@pytest.mark.parametrize("hidden_units", [(16,), (16, 12, 8)])
def test_made_autoregressive_inverse_solves_every_dimension_given_the_ones_before(ordering, hidden_units):
    """x_d = u_d·exp(θ_d1) + θ_d0 with θ = MADE(x): the pass-by-pass solution must satisfy the
    equations that one whole MADE call on the result states, for every d at once."""
    made = MADE(hidden_units, params=2, ordering=ordering, seed=4, zero_output=False)
    u = np.random.default_rng(1).normal(size=(5, 6)).astype("float32")
    made(u)
    randomize(made)

    def transform(u_d, parameters):
        shift, log_scale = parameters
        return u_d * tf.exp(log_scale) + shift, log_scale

    x, log_det = made.autoregressive_inverse(tf.constant(u), transform)
    shift, log_scale = made.parameters(x)
    np.testing.assert_allclose(x, u * np.exp(log_scale) + shift, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_det, np.sum(log_scale, axis=1), rtol=1e-5, atol=1e-5)
    assert np.abs(log_scale).max() > 1e-2, "the check needs non-zero scales"


@pytest.mark.parametrize("dims", [2, 9, 10, 17])
def test_autoregressive_sampling_is_the_same_for_any_number_of_passes_per_loop_iteration(dims, monkeypatch):
    """The sampling loop's unrolling (up to ``PASSES_PER_ITERATION`` passes per iteration, a
    divisor of D) must give the x of one pass per iteration, and invert to u."""
    layer = GaussianAutoregressive((8, 8), ordering="random", seed=2)
    u = np.random.default_rng(dims).normal(size=(4, dims)).astype("float32")
    layer.inverse(u)
    randomize(layer)
    x, log_det = layer.forward(u)
    monkeypatch.setattr(made_module, "PASSES_PER_ITERATION", 1)
    x_one_pass_each, log_det_one_pass_each = layer.forward(u)
    np.testing.assert_allclose(x, x_one_pass_each, rtol=0, atol=1e-6)
    np.testing.assert_allclose(log_det, log_det_one_pass_each, rtol=0, atol=1e-6)
    np.testing.assert_allclose(layer.inverse(x)[0], u, atol=2e-5)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_config_round_trip_rebuilds_the_same_map(name):
    layer, x = random_layer(name)
    clone = type(layer).from_config(layer.get_config())
    clone.inverse(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone.inverse(x)[0], layer.inverse(x)[0])


@pytest.mark.parametrize("ordering", ["left-to-right", "right-to-left", "random", [3, 1, 4, 2, 5]])
def test_made_output_depends_only_on_earlier_inputs_in_its_ordering(ordering):
    made = MADE((16, 16), params=2, ordering=ordering, seed=4, zero_output=False)
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 5)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = made(x)
    jacobian = tape.batch_jacobian(outputs, x).numpy()  # (batch, D, params, D)
    degrees = input_degrees(ordering, 5, seed=4)
    allowed = degrees[None, :] < degrees[:, None]  # output d may see input j iff m(j) < m(d)
    connected = np.abs(jacobian).max(axis=(0, 2)) > 0
    assert not (connected & ~allowed).any(), "an output sees an input at or after it in the ordering"
    assert connected[allowed].mean() > 0.9, "MADE's masks should keep almost every allowed connection"


@pytest.mark.parametrize("jit_compile", [False, True])
def test_actnorm_initializes_from_the_first_batch_inside_fit_and_keeps_trained_values(jit_compile):
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(256, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), ActNorm()])
    model.compile("sgd", loss="mse", jit_compile=jit_compile)
    model.fit(x, np.zeros_like(x), batch_size=256, epochs=1, verbose=0)  # graph mode, with or without XLA
    actnorm = model.layers[0]
    assert float(actnorm.initialized.numpy()) == 1.0
    z = actnorm.inverse(x)[0].numpy()
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.05)
    np.testing.assert_allclose(z.std(0), 1.0, atol=0.05)
    before = actnorm.loc.numpy().copy()
    actnorm.inverse(x + 100.0)  # a later batch must not re-initialize
    np.testing.assert_array_equal(actnorm.loc.numpy(), before)


def test_dequantization_stays_in_the_bin_of_each_level_and_counts_its_volume():
    layer = UniformDequantization(num_bins=17)
    x = (np.random.default_rng(0).integers(0, 17, size=(64, 3, 3, 1)) / 16).astype("float32")
    y, log_volume = layer.dequantize(x, seed=0)
    y = y.numpy()
    assert y.min() >= 0 and y.max() < 1 and not np.allclose(y * 16, np.round(y * 16))
    np.testing.assert_array_equal(layer.discretize(y), x)
    np.testing.assert_allclose(log_volume, -9 * np.log(17.0), rtol=1e-6)


def test_logit_transform_maps_the_unit_interval_into_the_margin_alpha():
    layer = LogitTransform(alpha=0.05)
    s, _ = layer.inverse(np.array([[0.0, 1.0]], "float32"))
    np.testing.assert_allclose(s, [[np.log(0.05 / 0.95), np.log(0.95 / 0.05)]], rtol=1e-5)


@pytest.mark.parametrize(
    "make, shape, error, message",
    [
        (lambda: AffineCoupling("diagonal"), None, ValueError, "Unknown `mask` 'diagonal'"),
        (lambda: AffineCoupling("half", parity=2), None, ValueError, "Unknown `parity` 2"),
        (lambda: AffineCoupling("checkerboard", hidden_units=4), (4,), ValueError, "'checkerboard' mask needs images"),
        (lambda: AffineCoupling("half", hidden_units=4), (1,), ValueError, "at least 2 features"),
        (lambda: AffineCoupling("channel", hidden_units=(4, 4)), (2, 2, 2), ValueError, "number of channels"),
        (lambda: InvertibleConv1x1(lu="yes"), None, TypeError, "`lu` must be True or False"),
        (lambda: LogitTransform(alpha=0.5), None, ValueError, r"`alpha` must lie in \(0, 0.5\)"),
        (lambda: UniformDequantization(num_bins=1), None, ValueError, "at least 2"),
        (lambda: Permutation([0, 0, 1]), None, ValueError, "permutation of 0 … 2"),
        (lambda: Permutation([1, 0]), (3,), ValueError, "has 2 entries but the data has 3"),
        (lambda: MADE((8,), ordering="middle-out"), (4,), ValueError, "`ordering` must be one of"),
        (lambda: MADE((8,)), (1,), ValueError, "D ≥ 2"),
        (lambda: MADE(()), None, ValueError, "at least one hidden layer"),
        (lambda: Squeeze(), (3, 3, 1), ValueError, "even height and width"),
    ],
)
def test_bad_arguments_are_rejected_clearly(make, shape, error, message):
    with pytest.raises(error, match=message):
        layer = make()
        if isinstance(layer, MADE):
            layer(np.zeros((2, *shape), "float32"))
        else:
            layer.inverse(np.zeros((2, *shape), "float32"))
