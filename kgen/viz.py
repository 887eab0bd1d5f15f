"""Pictures of generative models: image grids, latent traversals, 2-D densities, loss curves.

Every plotting function builds a ``matplotlib.figure.Figure`` of its own instead of drawing on
pyplot's global state, so the same code runs headless (scripts, callbacks, CI) and in
notebooks, where a returned ``Figure`` displays inline. Arrays of images follow Keras' layout,
``(batch, H, W, C)`` with values in [0, 1]; values outside are clipped for display.

* :func:`image_grid` tiles a batch into one picture; :func:`plot_images` and :func:`save_png`
  show and store it.
* :func:`latent_traversal` / :func:`plot_traversal` decode one example's posterior mean while
  one latent coordinate sweeps a range of values: the standard way to see what each latent
  encodes, and to judge disentanglement by eye (Higgins et al. 2017, "β-VAE: Learning Basic
  Visual Concepts with a Constrained Variational Framework", figs. 1–2).
* :func:`plot_points_2d` and :func:`plot_density_2d` show samples and densities of the 2-D toy
  sets, the test bed of normalizing flows and score models (e.g. Grathwohl et al. 2019, FFJORD).
* :func:`plot_history` draws the loss curves of a Keras ``History``.
"""

import numbers
import os

import keras
import matplotlib.image
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from kgen import losses
from kgen.validation import check_positive_int

DEFAULT_TRAVERSAL_VALUES = np.linspace(-2.5, 2.5, 9)
FIGURE_INCHES = 6.0
MIN_PNG_SIDE = 256


def _to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype="float32")


def _image_batch(images, name="images"):
    """``images`` as a float32 array (N, H, W, C) with C in {1, 3, 4}; (N, H, W) gains C = 1."""
    images = _to_numpy(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4) or len(images) == 0:
        raise ValueError(
            f"`{name}` must be a non-empty batch of images of shape (N, H, W, C) with C in "
            f"(1, 3, 4), or (N, H, W); got shape {images.shape}."
        )
    return images


def _is_points_2d(x):
    return not isinstance(x, Figure) and np.ndim(x) == 2 and np.shape(x)[-1] == 2


def image_grid(images, ncols=None, padding=1, pad_value=1.0):
    """Tile a batch of images into one image, row by row.

    Example ``i`` goes to row ``i // ncols``, column ``i % ncols``; ``padding`` pixels of
    ``pad_value`` separate the tiles and frame the grid, and unused tiles at the end are filled
    with ``pad_value``.

    Args:
        images: array or tensor of shape (N, H, W, C) or (N, H, W).
        ncols: tiles per row; default ⌈√N⌉, a near-square grid.
        padding: pixels between and around tiles (≥ 0).
        pad_value: value of the padding pixels (1.0: white).

    Returns:
        float32 array of shape (rows·(H + p) + p, ncols·(W + p) + p, C).
    """
    images = _image_batch(images)
    count, height, width, channels = images.shape
    ncols = int(np.ceil(np.sqrt(count))) if ncols is None else check_positive_int(ncols, "ncols")
    if isinstance(padding, bool) or not isinstance(padding, numbers.Integral) or padding < 0:
        raise ValueError(f"`padding` must be an integer ≥ 0; got {padding!r}.")
    nrows = -(-count // ncols)
    grid = np.full(
        (nrows * (height + padding) + padding, ncols * (width + padding) + padding, channels),
        pad_value,
        dtype="float32",
    )
    for index, image in enumerate(images):
        top = padding + (index // ncols) * (height + padding)
        left = padding + (index % ncols) * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def _new_figure(width, height):
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _show(ax, image):
    """Draw one (H, W, C) image in [0, 1] (grey for C = 1) without axis ticks."""
    image = np.clip(image, 0.0, 1.0)
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _figure_for(image, extra_width=0.0):
    """A figure whose longer side is ``FIGURE_INCHES``, shaped like ``image``."""
    height, width = image.shape[:2]
    scale = FIGURE_INCHES / max(height, width)
    return _new_figure(width * scale + extra_width, height * scale + 0.4)


def plot_images(images, ncols=None, title=None):
    """A figure showing a batch of images as one grid (see :func:`image_grid`)."""
    grid = image_grid(images, ncols)
    figure = _figure_for(grid)
    ax = figure.add_subplot()
    _show(ax, grid)
    if title:
        ax.set_title(title)
    return figure


def as_image(picture, ncols=None):
    """A picture as one (H, W, C) float32 image in [0, 1]: for PNG files and TensorBoard.

    Args:
        picture: a ``Figure`` (rendered at its dpi), a batch of images (tiled by
            :func:`image_grid` with ``ncols``) or 2-D points of shape (n, 2) (drawn by
            :func:`plot_points_2d`).
    """
    if _is_points_2d(picture):
        picture = plot_points_2d(picture)
    if isinstance(picture, Figure):
        canvas = FigureCanvasAgg(picture)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].astype("float32") / 255.0
    return np.clip(image_grid(picture, ncols), 0.0, 1.0)


def save_png(images_or_figure, path, ncols=None, scale=None):
    """Write a picture to the PNG file ``path`` (parent folders are created); return ``path``.

    A ``Figure`` is saved with ``savefig``; 2-D points of shape (n, 2) become a scatter plot
    (:func:`plot_points_2d`); a batch of images becomes their grid (:func:`image_grid` with
    ``ncols``), each pixel drawn as a ``scale`` × ``scale`` block. ``scale=None`` enlarges grids
    smaller than ``MIN_PNG_SIDE`` pixels by the smallest integer factor that reaches it (so that
    a grid of 8×8 digits can be seen) and leaves larger ones at one pixel per pixel.
    """
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    if _is_points_2d(images_or_figure):
        images_or_figure = plot_points_2d(images_or_figure)
    if isinstance(images_or_figure, Figure):
        images_or_figure.savefig(path, format="png")
        return path
    grid = as_image(images_or_figure, ncols)
    if scale is None:
        scale = -(-MIN_PNG_SIDE // max(grid.shape[:2]))
    scale = check_positive_int(scale, "scale")
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    if grid.shape[-1] == 1:
        matplotlib.image.imsave(path, grid[..., 0], cmap="gray", vmin=0.0, vmax=1.0, format="png")
    else:
        matplotlib.image.imsave(path, grid, format="png")
    return path


# ------------------------------------------------------------------------- latent traversals
def _check_latent_model(model, caller):
    missing = [name for name in ("posterior_params", "likelihood_params", "likelihood", "latent_dim")
               if not hasattr(model, name)]
    if missing:
        raise TypeError(
            f"{caller} needs a VAE-like model with `posterior_params`, `likelihood_params`, `likelihood` "
            f"and `latent_dim` (e.g. kgen.models.BetaVAE); {type(model).__name__} lacks "
            f"{', '.join(missing)}."
        )


def _one_example(model, x):
    """``x`` as a checked batch of one example: accepts shape ``input_shape`` or (1, *input_shape)."""
    x = _to_numpy(x)
    if x.shape == tuple(model.input_shape):
        x = x[None]
    if x.shape[:1] != (1,):
        raise ValueError(
            f"`x` must be one example of shape {tuple(model.input_shape)} (or a batch of one); "
            f"got shape {x.shape}."
        )
    model.check_data(x)
    return x


def _check_dims(dims, latent_dim):
    if dims is None:
        return list(range(latent_dim))
    dims = [dims] if isinstance(dims, numbers.Integral) else list(dims)
    bad = [d for d in dims if isinstance(d, bool) or not isinstance(d, numbers.Integral)
           or not 0 <= d < latent_dim]
    if bad or not dims:
        raise ValueError(
            f"`dims` must be latent dimensions in [0, {latent_dim}) (None: all of them); "
            f"got {dims!r}."
        )
    return [int(d) for d in dims]


def _check_values(values):
    values = np.asarray(values, dtype="float32")
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
        raise ValueError(f"`values` must be a non-empty 1-D sequence of finite numbers; got {values!r}.")
    return values


def latent_traversal(model, x, dims=None, values=DEFAULT_TRAVERSAL_VALUES):
    """Decode one example while each chosen latent coordinate sweeps ``values``.

    Starting from the posterior mean μ(x) of q(z | x), row ``i`` sets coordinate ``dims[i]``
    to each of ``values`` in turn, keeps every other coordinate at μ(x), and decodes with the
    likelihood's mean, E[x | z]. The values are absolute positions in latent space; ±2.5 spans
    most of a standard-normal prior.

    Args:
        model: a VAE-like model (``posterior_params``, ``decoder``, ``likelihood``).
        x: one example, shape ``model.input_shape`` or (1, *input_shape).
        dims: latent coordinates to traverse (an int or a sequence); ``None``: all of them.
        values: the 1-D sequence of values each coordinate takes.

    Returns:
        float32 array of shape (len(dims), len(values), *input_shape).
    """
    _check_latent_model(model, "latent_traversal")
    x = _one_example(model, x)
    dims = _check_dims(dims, model.latent_dim)
    values = _check_values(values)
    mean = _to_numpy(model.posterior_params(x)[0])[0]
    z = np.tile(mean, (len(dims), len(values), 1))
    for row, dim in enumerate(dims):
        z[row, :, dim] = values
    decoded = model.likelihood.mean(model.likelihood_params(z.reshape(-1, model.latent_dim)))
    return _to_numpy(decoded).reshape(len(dims), len(values), *model.input_shape)


def posterior_kl_per_dim(model, x):
    """KL(q(z_j | x) ‖ N(0, 1)) for each latent coordinate j of one example, shape (latent_dim,).

    The KL of each coordinate to a standard-normal prior measures how much information it
    carries about ``x``; coordinates near 0 nats are unused ("collapsed").
    """
    _check_latent_model(model, "posterior_kl_per_dim")
    mean, log_var = model.posterior_params(_one_example(model, x))
    return _to_numpy(losses.gaussian_kl(mean[..., None], log_var[..., None]))[0]


def plot_traversal(model, x, dims=None, values=DEFAULT_TRAVERSAL_VALUES, title=None):
    """A figure of :func:`latent_traversal`: one row per latent coordinate, one column per value.

    Each row is labelled with its coordinate and that coordinate's KL to N(0, 1) for ``x``
    (:func:`posterior_kl_per_dim`), so that unused coordinates (KL ≈ 0) stand out.
    """
    traversal = latent_traversal(model, x, dims, values)
    dims = _check_dims(dims, model.latent_dim)
    values = _check_values(values)
    kl = posterior_kl_per_dim(model, x)
    rows, cols = traversal.shape[:2]
    grid = image_grid(traversal.reshape(rows * cols, *traversal.shape[2:]), ncols=cols)
    figure = _figure_for(grid, extra_width=1.2)
    ax = figure.add_subplot()
    _show(ax, grid)
    height, width = traversal.shape[2:4]
    ax.set_yticks([1 + row * (height + 1) + height / 2 for row in range(rows)])
    ax.set_yticklabels([f"z{dim}  KL {kl[dim]:.2f}" for dim in dims])
    ax.set_xticks([1 + col * (width + 1) + width / 2 for col in range(cols)])
    ax.set_xticklabels([f"{value:.2g}" for value in values])
    ax.tick_params(length=0)
    if title:
        ax.set_title(title)
    return figure


def plot_reconstructions(model, x, n=8):
    """A figure with ``n`` examples of ``x`` on the top row and ``model.reconstruct`` below."""
    n = check_positive_int(n, "n")
    originals = _image_batch(x, "x")[:n]
    reconstructions = _image_batch(model.reconstruct(originals), "reconstructions")
    count = len(originals)
    grid = image_grid(np.concatenate([originals, reconstructions]), ncols=count)
    figure = _figure_for(grid, extra_width=1.2)
    ax = figure.add_subplot()
    _show(ax, grid)
    height = originals.shape[1]
    ax.set_yticks([1 + height / 2, 2 + height * 1.5])
    ax.set_yticklabels(["data", "reconstruction"])
    ax.tick_params(length=0)
    return figure


# ---------------------------------------------------------------------------------- 2-D data
def _check_bounds(bounds):
    if bounds is None:
        return None
    if np.ndim(bounds) != 1 or len(bounds) != 2:
        raise ValueError(f"`bounds` must be a pair (low, high); got {bounds!r}.")
    low, high = (float(b) for b in bounds)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"`bounds` must be finite with low < high; got {bounds!r}.")
    return low, high


def _axes(ax):
    """``ax`` and its figure, or a new square figure with one axes."""
    if ax is None:
        ax = _new_figure(FIGURE_INCHES * 0.8, FIGURE_INCHES * 0.8).add_subplot()
    return ax, ax.figure


def plot_points_2d(points, ax=None, title=None, bounds=None):
    """Scatter plot of 2-D points of shape (n, 2); ``bounds=(low, high)`` fixes both axes.

    Draws on ``ax`` if given, else on a new figure; returns the figure.
    """
    points = _to_numpy(points)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"`points` must have shape (n, 2); got {points.shape}.")
    bounds = _check_bounds(bounds)
    ax, figure = _axes(ax)
    ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5, linewidths=0)
    if bounds is not None:
        ax.set_xlim(bounds)
        ax.set_ylim(bounds)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return figure


def plot_density_2d(log_prob_fn, bounds=(-4, 4), resolution=200, ax=None, title=None):
    """Heat map of the density exp(log_prob_fn(x)) on the square ``bounds`` × ``bounds``.

    Args:
        log_prob_fn: maps a float32 array of points (m, 2) to log-densities of shape (m,),
            e.g. ``model.log_prob`` or ``lambda x: kgen.data.toy2d_log_prob("rings", x)``.
        bounds: (low, high) of both axes.
        resolution: grid points per axis (the function sees resolution² points at once).
    """
    low, high = _check_bounds(bounds)
    resolution = check_positive_int(resolution, "resolution")
    axis = np.linspace(low, high, resolution, dtype="float32")
    xx, yy = np.meshgrid(axis, axis)
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    log_prob = _to_numpy(log_prob_fn(grid))
    if log_prob.shape != (len(grid),):
        raise ValueError(
            f"`log_prob_fn` must map points of shape (m, 2) to log-densities of shape (m,); "
            f"for m = {len(grid)} it returned shape {log_prob.shape}."
        )
    ax, figure = _axes(ax)
    ax.imshow(np.exp(log_prob).reshape(resolution, resolution), origin="lower",
              extent=(low, high, low, high), cmap="viridis")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return figure


# ------------------------------------------------------------------------------ loss curves
def plot_history(history, keys=None):
    """Loss curves: one panel per key of a Keras ``History`` (or its ``.history`` dict).

    ``keys=None`` shows every key without the ``val_`` prefix; a key's ``val_`` twin, when
    present, is drawn on the same panel.
    """
    logs = history.history if isinstance(history, keras.callbacks.History) else dict(history)
    if keys is None:
        keys = [key for key in logs if not key.startswith("val_")]
    keys = [keys] if isinstance(keys, str) else list(keys)
    unknown = [key for key in keys if key not in logs]
    if unknown or not keys:
        raise ValueError(
            f"`keys` must name recorded values, one of: {', '.join(logs) or '(none recorded)'}; "
            f"got {keys!r}."
        )
    figure = _new_figure(3.2 * len(keys), 2.8)
    for index, key in enumerate(keys):
        ax = figure.add_subplot(1, len(keys), index + 1)
        for name in (key, f"val_{key}"):
            if name in logs:
                ax.plot(np.arange(1, len(logs[name]) + 1), logs[name], marker=".", label=name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(key)
        if f"val_{key}" in logs:
            ax.legend()
    return figure

