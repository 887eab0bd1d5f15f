"""RealNVP, Glow and MAF: invertibility, exact densities, the TFP bridge, temperature, bits/dim
and the flows' own arguments. Tiny networks at random (not identity) weights.

The model contract (round trips, seeds, bad data, resuming, XLA, MirroredStrategy) is checked
for every registered model in ``test_contract.py``."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from contract import jacobian_log_det

from kgen.data import toy2d
from kgen.layers import UniformDequantization
from kgen.models import MAF, Glow, RealNVP

FLOWS = {
    "realnvp_vector": lambda: RealNVP((2,), num_couplings=4, hidden_units=16, seed=1),
    "maf": lambda: MAF((2,), num_mades=3, hidden_units=(16, 16), seed=1),
    "realnvp_image": lambda: RealNVP((4, 4, 1), num_scales=2, hidden_units=4, seed=1),
    "glow": lambda: Glow((4, 4, 1), num_scales=2, steps_per_scale=1, hidden_units=4, seed=1),
}


def flow_data(flow, n=64, seed=0):
    """Toy 2-D points for vector flows, 8-bit images in [0, 1] for image flows."""
    if not flow.is_image:
        return toy2d("8gaussians", n, seed=seed)
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, size=(n, *flow.input_shape)) / 255).astype("float32")


def random_flow(name, scale=0.2):
    """A flow whose ActNorms saw data and whose weights all moved off their identity start."""
    flow = FLOWS[name]()
    flow.log_prob(flow_data(flow))
    rng = np.random.default_rng(2)
    for weight in flow.trainable_weights:
        weight.assign(weight.numpy() + rng.normal(scale=scale, size=weight.shape).astype("float32"))
    return flow


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_inverse_undoes_forward_and_log_det_matches_the_autodiff_jacobian(name):
    flow = random_flow(name)
    x = flow_data(flow, n=3, seed=5)
    if flow.is_image:
        x = UniformDequantization().dequantize(x, seed=0)[0].numpy()
    z, log_det = flow.inverse(x)
    assert z.shape == x.shape
    x_back, forward_log_det = flow.forward(z)
    np.testing.assert_allclose(x_back, x, atol=1e-4)
    np.testing.assert_allclose(forward_log_det, -log_det, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(log_det, jacobian_log_det(lambda t: flow._inverse(t)[0], x), rtol=1e-4, atol=2e-3)


@pytest.mark.parametrize("name", ["realnvp_vector", "maf"])
def test_density_integrates_to_one_and_samples_agree_with_it(name):
    flow = random_flow(name, scale=0.1)
    edges = np.linspace(-10, 10, 401, dtype="float32")
    centres = (edges[1:] + edges[:-1]) / 2
    grid = np.stack(np.meshgrid(centres, centres), -1).reshape(-1, 2)
    log_p = flow.log_prob(grid, batch_size=len(grid)).numpy().astype("float64")  # one pass, not 313
    cell = (edges[1] - edges[0]) ** 2
    p = np.exp(log_p)
    np.testing.assert_allclose(p.sum() * cell, 1.0, atol=0.01)
    entropy = -(p * log_p).sum() * cell  # the grid's entropy, independent of sampling
    samples = flow.sample(20_000, seed=3)
    nll = -flow.log_prob(samples, batch_size=len(samples)).numpy()
    assert abs(nll.mean() - entropy) < 4 * nll.std() / np.sqrt(len(nll)) + 0.01


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_the_tfp_distribution_is_the_same_density_and_samples_through_the_layers(name):
    flow = random_flow(name)
    x = flow_data(flow, n=5, seed=6)
    distribution = flow.distribution
    assert tuple(distribution.event_shape) == flow.input_shape
    np.testing.assert_allclose(distribution.log_prob(x), flow.log_prob(x), rtol=1e-5, atol=1e-4)
    samples = distribution.sample(4, seed=(1, 2))
    assert samples.shape == (4, *flow.input_shape)
    z = flow.inverse(samples)[0] if not flow.is_image else None
    if z is not None:  # a sample of the distribution is f(ε) for a standard normal ε
        np.testing.assert_allclose(flow.forward(z)[0], samples, atol=1e-4)


def test_a_single_scale_glow_maps_images_to_latents_of_the_data_shape_and_back():
    """With one scale nothing is factored out: the one latent piece is squeezed (H/2, W/2, 4C)
    and must still be handed out, and taken back, in the data's shape."""
    flow = Glow((4, 4, 1), num_scales=1, steps_per_scale=1, hidden_units=4, seed=1)
    x = flow_data(flow, n=5)
    z, log_det = flow.inverse(x)
    assert z.shape == x.shape
    np.testing.assert_allclose(flow.forward(z)[0], x, atol=1e-4)
    np.testing.assert_allclose(flow.distribution.log_prob(x), flow.log_prob(x), rtol=1e-5, atol=1e-4)
    assert flow.sample(3, seed=0).shape == (3, 4, 4, 1)


def test_bijector_log_prob_takes_one_pass_and_tracks_new_weights():
    flow = random_flow("realnvp_vector")
    x = tf.constant(flow_data(flow, n=4))
    before = flow.distribution.log_prob(x).numpy()
    flow.flow_layers[0].scale_factor.assign(flow.flow_layers[0].scale_factor * 2.0)
    after = flow.distribution.log_prob(x).numpy()
    np.testing.assert_allclose(after, flow.log_prob(x), rtol=1e-6)
    assert not np.allclose(before, after)


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_temperature_zero_samples_the_image_of_the_mode_and_lower_temperatures_spread_less(name):
    flow = random_flow(name)
    a = flow.sample(4, seed=3).numpy()
    cold = flow.sample(2, seed=3, temperature=0.0).numpy()
    mode_image = flow.forward(np.zeros((2, *flow.input_shape), "float32"))[0].numpy()
    if flow.is_image:
        mode_image = np.clip(mode_image, 0, 1)
        assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_allclose(cold, mode_image, atol=1e-6)
    spread = [flow.sample(500, seed=5, temperature=t).numpy().std(0).mean() for t in (0.5, 1.0)]
    assert spread[0] < spread[1]


@pytest.mark.parametrize("name", ["realnvp_vector", "maf", "glow"])
def test_fit_lowers_the_nll_and_reports_bits_per_dim(name):
    flow = FLOWS[name]()
    x = flow_data(flow, n=256)
    flow.compile(keras.optimizers.Adam(5e-3))
    history = flow.fit(x, batch_size=64, epochs=5, shuffle=False, verbose=0).history
    assert history["loss"][-1] < history["loss"][0] - 0.05
    dims = math.prod(flow.input_shape)
    np.testing.assert_allclose(history["bits_per_dim"], np.array(history["loss"]) / (dims * np.log(2)), rtol=1e-5)


def test_image_bits_per_dim_is_the_dequantized_discrete_bound():
    flow = random_flow("realnvp_image")
    x = flow_data(flow, n=6)
    y, log_volume = UniformDequantization(256).dequantize(x, seed=keras.random.SeedGenerator(7))
    expected = -(flow.log_prob(y.numpy()).numpy() + log_volume.numpy()) / (16 * np.log(2))
    np.testing.assert_allclose(flow.bits_per_dim(x, seed=7), expected, rtol=1e-5)


def test_from_data_reads_the_number_of_grey_levels_off_image_data():
    levels = (np.random.default_rng(0).integers(0, 17, size=(32, 4, 4, 1)) / 16).astype("float32")
    flow = Glow.from_data(levels, num_scales=1, steps_per_scale=1, hidden_units=4)
    assert flow.num_bins == 17 and flow.dequantization.num_bins == 17
    assert RealNVP.data_arguments(levels) == {"input_shape": (4, 4, 1), "num_bins": 17}
    assert RealNVP.data_arguments(levels * 0.97) == {"input_shape": (4, 4, 1)}  # not k/(L − 1)
    assert MAF.data_arguments(toy2d("8gaussians", 8)) == {"input_shape": (2,)}  # vectors have no bins


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: RealNVP((6, 6, 1), num_scales=3), ValueError, r"divisible by 2\^\(num_scales − 1\) = 4"),
        (lambda: RealNVP((2, 3)), ValueError, r"`input_shape` must be \(D,\) or \(H, W, C\)"),
        (lambda: RealNVP((2,), scale="exp"), ValueError, "Unknown `scale` 'exp'"),
        (lambda: Glow((8,)), ValueError, r"`input_shape` must be \(H, W, C\)"),
        (lambda: Glow((4, 4, 1), num_scales=3), ValueError, "divisible by 2\\^num_scales = 8"),
        (lambda: Glow((4, 4, 1), coupling="spline"), ValueError, "Unknown `coupling` 'spline'"),
        (lambda: MAF((1,)), ValueError, r"`input_shape` must be \(D,\) with D ≥ 2"),
        (lambda: MAF((4, 4, 1)), ValueError, r"`input_shape` must be \(D,\) with D ≥ 2"),
        (lambda: MAF((3,), num_mades=0), ValueError, "`num_mades` must be a positive integer"),
        (lambda: RealNVP((2,), num_bins=0), ValueError, "`num_bins` must be a positive integer"),
    ],
)
def test_bad_arguments_are_rejected_clearly(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("method", ["inverse", "log_prob", "bits_per_dim"])
def test_the_density_methods_check_their_data(method):
    """(``fit`` and ``evaluation_figures`` are checked for every model by the contract suite.)"""
    flow = FLOWS["realnvp_image"]()
    with pytest.raises(ValueError, match=r"must lie in \[0.0, 1.0\] for an image flow \(pixels k/255"):
        getattr(flow, method)(np.full((2, 4, 4, 1), 1.5, "float32"))
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch, 4, 4, 1\); got \(2, 4, 4, 2\)"):
        getattr(flow, method)(np.zeros((2, 4, 4, 2), "float32"))


def test_bad_sampling_arguments():
    flow = FLOWS["maf"]()
    with pytest.raises(ValueError, match="`temperature` must be a finite number ≥ 0; got -1"):
        flow.sample(2, temperature=-1.0)
    with pytest.raises(ValueError, match=r"`z` must have shape \(batch, 2\)"):
        flow.forward(np.zeros((2, 5), "float32"))
