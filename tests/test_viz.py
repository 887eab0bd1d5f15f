"""kgen.viz: grids tile examples in place, traversals move one latent at a time, figures save."""

import keras
import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from kgen import viz
from kgen.models import BetaVAE


def _decoder_reading_only_z0(latent_dim, shape):
    """A decoder whose output depends on z_0 alone: traversing any other coordinate is a no-op."""
    z = keras.Input((latent_dim,))
    h = keras.layers.Lambda(lambda t: t[:, :1])(z)
    h = keras.layers.Dense(int(np.prod(shape)), kernel_initializer="random_normal")(h)
    return keras.Model(z, keras.layers.Reshape(shape)(h))


@pytest.fixture(scope="module")
def model():
    return BetaVAE((8, 8, 1), latent_dim=3, decoder=_decoder_reading_only_z0(3, (8, 8, 1)), seed=0)


def test_image_grid_puts_example_i_in_row_i_div_ncols_and_column_i_mod_ncols():
    images = np.random.default_rng(0).random((5, 3, 2, 1)).astype("float32")
    grid = viz.image_grid(images, ncols=3, padding=1, pad_value=-1.0)
    assert grid.shape == (2 * (3 + 1) + 1, 3 * (2 + 1) + 1, 1)
    for i, image in enumerate(images):
        top, left = 1 + (i // 3) * 4, 1 + (i % 3) * 3
        np.testing.assert_array_equal(grid[top : top + 3, left : left + 2], image)
    # The frame, the gaps and the unused sixth tile hold the padding value.
    assert (grid[0] == -1).all() and (grid[:, 0] == -1).all() and (grid[:, 3] == -1).all()
    assert (grid[5:8, 7:9] == -1).all()


def test_image_grid_defaults_to_a_near_square_grid_and_accepts_grey_batches():
    assert viz.image_grid(np.zeros((10, 4, 4)), padding=0).shape == (12, 16, 1)  # 3 rows of 4
    with pytest.raises(ValueError, match="images"):
        viz.image_grid(np.zeros((4, 4)))


def test_traversal_changes_only_the_chosen_coordinate(model, binary_images):
    x = binary_images[0]
    values = np.array([-2.0, 0.0, 1.5])
    traversal = viz.latent_traversal(model, x, dims=[0, 2], values=values)
    assert traversal.shape == (2, 3, 8, 8, 1)
    # z_2 is not read by the decoder: every value of it decodes to the posterior-mean image.
    reconstruction = keras.ops.convert_to_numpy(model.reconstruct(x[None]))[0]
    for image in traversal[1]:
        np.testing.assert_allclose(image, reconstruction, atol=1e-6)
    # Row z_0: column j is the posterior mean with z_0 = values[j] and nothing else changed.
    mean = keras.ops.convert_to_numpy(model.posterior_params(x[None])[0])
    for j, value in enumerate(values):
        z = mean.copy()
        z[0, 0] = value
        expected = keras.ops.convert_to_numpy(model.likelihood.mean(model.decoder(z)))[0]
        np.testing.assert_allclose(traversal[0, j], expected, atol=1e-6)
    assert not np.allclose(traversal[0, 0], traversal[0, 2])


def test_traversal_takes_a_batch_of_one_and_rejects_bad_input(model, binary_images):
    np.testing.assert_allclose(
        viz.latent_traversal(model, binary_images[:1], dims=1),
        viz.latent_traversal(model, binary_images[0], dims=[1]),
    )
    with pytest.raises(ValueError, match="one example"):
        viz.latent_traversal(model, binary_images[:2])
    with pytest.raises(ValueError, match="dims"):
        viz.latent_traversal(model, binary_images[0], dims=[3])
    with pytest.raises(TypeError, match="posterior_params"):
        viz.latent_traversal(keras.Sequential([keras.layers.Dense(1)]), binary_images[0])


def test_plot_traversal_labels_each_row_with_its_dimension(model, binary_images, tmp_path):
    figure = viz.plot_traversal(model, binary_images[0], dims=[2, 0], values=[-1, 0, 1], title="t")
    assert isinstance(figure, Figure)
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert [label.split()[0] for label in labels] == ["z2", "z0"]
    path = viz.save_png(figure, tmp_path / "traversal.png")
    assert matplotlib.image.imread(path).ndim == 3


def test_save_png_writes_a_batch_as_its_grid_pixel_for_pixel(binary_images, tmp_path):
    images = binary_images[:6] * 0.5 + 0.25
    expected = viz.image_grid(images, ncols=2)[..., 0]  # 28 × 19 pixels
    written = matplotlib.image.imread(viz.save_png(images, tmp_path / "sub" / "a.png", ncols=2, scale=1))
    np.testing.assert_allclose(written[..., 0], expected, atol=1 / 255)
    # By default a small grid is enlarged by whole pixel blocks to at least 256 pixels.
    enlarged = matplotlib.image.imread(viz.save_png(images, tmp_path / "b.png", ncols=2))
    np.testing.assert_allclose(enlarged[..., 0], np.kron(expected, np.ones((10, 10))), atol=1 / 255)


def test_plots_return_figures_that_save(model, binary_images, tmp_path):
    figures = {
        "images": viz.plot_images(binary_images[:5], title="five"),
        "reconstructions": viz.plot_reconstructions(model, binary_images, n=3),
        "points": viz.plot_points_2d(np.random.default_rng(0).normal(size=(50, 2)), bounds=(-3, 3)),
        "history": viz.plot_history({"loss": [3.0, 2.0], "val_loss": [4.0, 3.0], "kl": [1.0, 1.5]}),
    }
    for name, figure in figures.items():
        assert isinstance(figure, Figure)
        assert matplotlib.image.imread(viz.save_png(figure, tmp_path / f"{name}.png")).size > 0
    assert figures["points"].axes[0].get_xlim() == (-3.0, 3.0)
    assert [len(ax.lines) for ax in figures["history"].axes] == [2, 1]
    rows = [label.get_text() for label in figures["reconstructions"].axes[0].get_yticklabels()]
    assert rows == ["data", "reconstruction"]


def test_save_png_draws_2d_points_as_a_scatter_plot(tmp_path):
    path = viz.save_png(np.zeros((10, 2)), tmp_path / "points.png")
    assert matplotlib.image.imread(path).shape[-1] == 4


def test_plot_density_2d_shows_exp_log_prob_with_x_across_and_y_up():
    def log_prob(points):  # N((1, -2), I)
        return -0.5 * np.sum((points - [1.0, -2.0]) ** 2, axis=1) - np.log(2 * np.pi)

    figure = viz.plot_density_2d(log_prob, bounds=(-4, 4), resolution=81)
    density = np.asarray(figure.axes[0].images[0].get_array())
    row, col = np.unravel_index(np.argmax(density), density.shape)
    axis = np.linspace(-4, 4, 81)
    assert (axis[col], axis[row]) == pytest.approx((1.0, -2.0))
    assert density.max() == pytest.approx(1 / (2 * np.pi), rel=1e-5)
    with pytest.raises(ValueError, match="log_prob_fn"):
        viz.plot_density_2d(lambda points: points, resolution=5)


def test_plot_history_rejects_unknown_keys():
    with pytest.raises(ValueError, match="loss"):
        viz.plot_history({"loss": [1.0]}, keys=["kl"])
