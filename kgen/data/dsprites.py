"""dSprites, regenerated procedurally on the original factor grid.

dSprites (Matthey, Higgins, Hassabis & Lerchner, 2017, https://github.com/deepmind/dsprites-dataset;
used in Higgins et al., 2017, "beta-VAE", ICLR) holds every 64x64 binary image of one white
sprite on black for all combinations of five independent factors:

=========== ====== =============================================
factor      size   values
=========== ====== =============================================
shape       3      square, ellipse, heart
scale       6      linspace(0.5, 1, 6)
orientation 40     linspace(0, 2 pi, 40) radians (0 and 2 pi coincide)
x           32     linspace(0, 1, 32), left to right
y           32     linspace(0, 1, 32), top to bottom
=========== ====== =============================================

``DSprites`` renders these images on demand instead of reading the 737 280-image file, so
metrics can ask for images at chosen factors (``render(factors)``) and nothing is downloaded.

Geometry, in units of the image width W (so any resolution gives the same picture):

* The sprite's centre is ``c = 0.5 + 0.6 (v - 0.5)`` for a position value v in [0, 1], i.e.
  centres span the middle 60 % of the frame, [0.2, 0.8] W. The original set's sprites likewise
  sweep most of the frame without leaving it; its exact margins are not published, so 0.2 W is
  kgen's choice. ``x`` grows to the right (column index) and ``y`` grows downwards (row index),
  the image convention.
* With ``h = 0.125 * scale`` (so at scale 1 the square's side is W / 4, 16 px at 64x64) the
  shapes, in sprite coordinates (u, v) measured in units of h with v pointing up, are

  - square: max(|u|, |v|) <= 1;
  - ellipse: u^2 / 2 + 2 v^2 <= 1, semi-axes sqrt(2) and 1/sqrt(2), aspect ratio 2:1;
  - heart: the implicit heart curve (p^2 + q^2 - 1)^3 <= p^2 q^3 with p = u / k and
    q = v / k + 0.118, whose bounding box [-1.139, 1.139] x [-1, 1.236] is centred by the shift
    0.118; k = sqrt(4 / 3.66) makes its area (3.66 k^2, measured numerically) equal to the
    square's (4). The tip points down at orientation 0.

  All three fit in the disc of radius sqrt(2) h <= 0.177 W around the centre, so no rotation or
  position pushes a sprite out of the frame (centres keep 0.2 W from the edges).
* Orientation theta turns the sprite counter-clockwise as displayed: a pixel belongs to the
  sprite when its offset from the centre, rotated by -theta, lies inside the shape. As in the
  original set, the square looks the same every quarter turn and the ellipse every half turn,
  so orientation is only partly recoverable from their images.
* A pixel is white (1) when its centre is inside the shape: the images are binary, like the
  original set's.

Fixing factors: ``DSprites(fixed={"shape": "square", "orientation": 0})`` is the subset of the
grid where those factors keep one value (grid indices; shape also by name). Only the factors that
vary are the dataset's factors: ``factor_names``, ``factor_sizes``, ``sample_factors``,
``render`` and ``factor_values`` speak of them alone (a factor with one value has no entropy and
no place in a disentanglement metric), while the images are drawn on the full grid, identical
to the full set's images at the same rows (``full_factors`` gives those rows).
"""

import math
from collections.abc import Mapping

import numpy as np

from kgen.validation import check_positive_int

_POSITION_SPAN = 0.6
_HALF_SIDE = 0.125
_HEART_SHIFT = 0.118
_HEART_SCALE = math.sqrt(4.0 / 3.66)
_CHUNK = 512


def _square(u, v):
    return np.maximum(np.abs(u), np.abs(v)) <= 1.0


def _ellipse(u, v):
    return 0.5 * u * u + 2.0 * v * v <= 1.0


def _heart(u, v):
    p = u / _HEART_SCALE
    q = v / _HEART_SCALE + _HEART_SHIFT
    p2, q2 = p * p, q * q
    r = p2 + q2 - 1.0
    return r * r * r <= p2 * q2 * q  # products: np.power is ~10x slower


_SHAPES = (_square, _ellipse, _heart)


class DSprites:
    """Procedural dSprites: binary images of a square, ellipse or heart on the original grid.

    Args:
        resolution: image height and width in pixels (64 in the original set); the drawing
            scales with it.
        fixed: optional dict factor name → grid index (``"shape"`` also takes ``"square"``,
            ``"ellipse"`` or ``"heart"``) of the factors held at one value. The others vary;
            ``factor_names``, ``factor_sizes``, ``num_examples`` and the factor arrays of
            ``sample_factors``, ``render`` and ``factor_values`` then hold the varying factors
            only, in the grid's order. At least one factor must vary.

    Example:
        >>> data = DSprites()
        >>> images, factors = data.sample(16, seed=0)   # (16, 64, 64, 1), (16, 5)
        >>> moving = DSprites(resolution=16, fixed={"shape": "square", "orientation": 0})
        >>> moving.factor_names                         # ('scale', 'x', 'y')
    """

    factor_names = ("shape", "scale", "orientation", "x", "y")
    factor_sizes = (3, 6, 40, 32, 32)
    shape_names = ("square", "ellipse", "heart")
    num_examples = int(np.prod(factor_sizes))
    _factor_grid = (
        np.arange(3, dtype=np.float64),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2.0 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    )

    def __init__(self, resolution=64, fixed=None):
        self.resolution = check_positive_int(resolution, "resolution")
        if self.resolution < 8:
            raise ValueError(f"`resolution` must be at least 8 pixels, got {resolution}.")
        self.fixed = self._check_fixed(fixed)
        if self.fixed:
            # The varying factors shadow the class's full grid (DSprites.factor_sizes stays full).
            varying = [i for i, name in enumerate(DSprites.factor_names) if name not in self.fixed]
            self._varying = np.array(varying)
            self.factor_names = tuple(DSprites.factor_names[i] for i in varying)
            self.factor_sizes = tuple(DSprites.factor_sizes[i] for i in varying)
            self.num_examples = int(np.prod(self.factor_sizes))

    def __repr__(self):
        fixed = f", fixed={self.fixed}" if self.fixed else ""
        return f"DSprites(resolution={self.resolution}{fixed})"

    @classmethod
    def _check_fixed(cls, fixed):
        """``fixed`` as a dict name → grid index in the grid's factor order ({} for None)."""
        if fixed is None:
            return {}
        if not isinstance(fixed, Mapping):
            raise TypeError(
                f"`fixed` must be a dict factor name → grid index, e.g. "
                f"{{'shape': 0, 'orientation': 0}}; got {type(fixed).__name__}."
            )
        unknown = [name for name in fixed if name not in cls.factor_names]
        if unknown:
            raise ValueError(
                f"`fixed` names unknown factors {unknown}; the factors are {cls.factor_names}."
            )
        checked = {}
        for name, size in zip(cls.factor_names, cls.factor_sizes):
            if name not in fixed:
                continue
            value = fixed[name]
            if name == "shape" and isinstance(value, str):
                if value not in cls.shape_names:
                    raise ValueError(
                        f"`fixed['shape']` must be a shape index or one of {cls.shape_names}, "
                        f"got {value!r}."
                    )
                value = cls.shape_names.index(value)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(
                    f"`fixed[{name!r}]` must be an int grid index in [0, {size - 1}], "
                    f"got {value!r} ({type(value).__name__})."
                )
            if not 0 <= value < size:
                raise ValueError(f"`fixed[{name!r}]` must be in [0, {size - 1}], got {value}.")
            checked[name] = int(value)
        if len(checked) == len(cls.factor_names):
            raise ValueError(
                f"`fixed` must leave at least one factor varying; it fixes all of {cls.factor_names}."
            )
        return checked

    def full_factors(self, factors):
        """The full grid's rows ``(n, 5)`` of the varying factors' indices ``(n, k)``: the fixed
        factors' columns hold their fixed index. Without ``fixed``, the (checked) rows themselves."""
        factors = self._check_factors(factors)
        if not self.fixed:
            return factors
        full = np.empty((len(factors), len(DSprites.factor_names)), np.int64)
        for column, name in enumerate(DSprites.factor_names):
            if name in self.fixed:
                full[:, column] = self.fixed[name]
        full[:, self._varying] = factors
        return full

    def sample_factors(self, n, rng):
        """Draw ``n`` factor index rows uniformly from the grid.

        Args:
            n: number of rows, a positive int.
            rng: a ``numpy.random.Generator`` or an int seed.

        Returns:
            int64 array ``(n, k)``, one column per varying factor (k = 5 unless ``fixed``);
            column i holds indices in ``[0, factor_sizes[i])``.
        """
        n = check_positive_int(n, "n")
        rng = np.random.default_rng(rng)
        return rng.integers(0, self.factor_sizes, size=(n, len(self.factor_sizes)))

    def factor_values(self, factors):
        """Map factor indices ``(n, k)`` (the varying factors') to the values of all five
        factors ``(n, 5)`` (float64), the input of ``render_values``.

        Columns: shape index (0 square, 1 ellipse, 2 heart), scale, orientation in radians,
        x and y in [0, 1].
        """
        factors = self.full_factors(factors)
        return np.stack(
            [grid[column] for grid, column in zip(self._factor_grid, factors.T)], axis=1
        )

    def render(self, factors):
        """Render the images at the factor indices ``factors`` (int array ``(n, k)``, one
        column per varying factor: ``(n, 5)`` unless ``fixed``).

        Returns:
            float32 array ``(n, resolution, resolution, 1)`` with values in {0, 1}.
        """
        return self.render_values(self.factor_values(factors))

    def render_values(self, values):
        """Render images at continuous factor values ``(n, 5)``, as returned by ``factor_values``.

        All five columns, whatever ``fixed`` says (the drawing knows no restriction). Off-grid values are allowed (smooth traversals): shape must be 0, 1 or 2, scale in
        (0, 1], x and y in [0, 1]; the orientation is any angle in radians.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != 5:
            raise ValueError(f"`values` must have shape (n, 5), got shape {values.shape}.")
        if not np.all(np.isfinite(values)):
            raise ValueError("`values` contains NaN or inf values.")
        shape, scale, positions = values[:, 0], values[:, 1], values[:, 3:]
        for what, bad in [
            ("`values[:, 0]` (shape) must be 0, 1 or 2", ~np.isin(shape, (0.0, 1.0, 2.0))),
            ("`values[:, 1]` (scale) must lie in (0, 1]", (scale <= 0.0) | (scale > 1.0)),
            (
                "`values[:, 3:5]` (x, y) must lie in [0, 1]",
                (np.abs(positions - 0.5) > 0.5).any(axis=1),
            ),
        ]:
            if np.any(bad):
                raise ValueError(f"{what}, got row {values[bad][0].tolist()}.")
        images = np.empty((len(values), self.resolution, self.resolution, 1), np.float32)
        for start in range(0, len(values), _CHUNK):
            images[start : start + _CHUNK, :, :, 0] = self._draw(values[start : start + _CHUNK])
        return images

    def _draw(self, values):
        """Binary masks ``(m, H, W)`` for one chunk of factor values (the math in the module doc)."""
        shape, scale, theta, x, y = (column[:, None, None] for column in values.T)
        pixels = (np.arange(self.resolution) + 0.5) / self.resolution  # pixel centres in [0, 1]
        # Offsets from the sprite centre in units of h, with v pointing up on screen.
        size = _HALF_SIDE * scale
        dx = (pixels[None, None, :] - (0.5 + _POSITION_SPAN * (x - 0.5))) / size
        dv = ((0.5 + _POSITION_SPAN * (y - 0.5)) - pixels[None, :, None]) / size
        cos, sin = np.cos(theta), np.sin(theta)
        dx, dv, cos, sin = (a.astype(np.float32) for a in (dx, dv, cos, sin))
        masks = np.empty((len(values), self.resolution, self.resolution), np.float32)
        for index, inside in enumerate(_SHAPES):
            rows = shape[:, 0, 0] == index
            c, s, dx_rows, dv_rows = cos[rows], sin[rows], dx[rows], dv[rows]
            masks[rows] = inside(c * dx_rows + s * dv_rows, c * dv_rows - s * dx_rows)
        return masks

    def sample(self, n, seed=0):
        """Draw ``n`` random images; returns ``(images, factors)`` as ``render`` and
        ``sample_factors`` do. ``seed`` is an int or a ``numpy.random.Generator``."""
        factors = self.sample_factors(n, seed)
        return self.render(factors), factors

    def as_dataset(self, n, batch_size=64, seed=0, with_factors=False):
        """A ``tf.data.Dataset`` of ``n`` random images in batches of ``batch_size``.

        The factors are drawn once from ``seed``; the images are rendered batch by batch as
        the dataset is read, so memory stays small for large ``n``. Yields image batches
        ``(b, H, W, 1)`` float32, or ``(images, factors)`` with ``with_factors=True``.
        """
        import tensorflow as tf  # here: `import kgen.data` starts no TensorFlow

        batch_size = check_positive_int(batch_size, "batch_size")
        factors = self.sample_factors(n, seed)
        size = self.resolution

        def render_batch(batch):
            images = tf.numpy_function(self.render, [batch], tf.float32)
            images.set_shape((None, size, size, 1))
            return (images, batch) if with_factors else images

        dataset = tf.data.Dataset.from_tensor_slices(factors).batch(batch_size)
        return dataset.map(render_batch).prefetch(tf.data.AUTOTUNE)

    def _check_factors(self, factors):
        factors = np.asarray(factors)
        if factors.ndim != 2 or factors.shape[1] != len(self.factor_sizes):
            fixed = f" (the others are fixed: {self.fixed})" if self.fixed else ""
            raise ValueError(
                f"`factors` must have shape (n, {len(self.factor_sizes)}) with columns "
                f"{self.factor_names}{fixed}, got shape {factors.shape}."
            )
        if not np.issubdtype(factors.dtype, np.integer):
            raise TypeError(f"`factors` must hold integer indices, got dtype {factors.dtype}.")
        for column, (name, size) in enumerate(zip(self.factor_names, self.factor_sizes)):
            bad = (factors[:, column] < 0) | (factors[:, column] >= size)
            if np.any(bad):
                raise ValueError(
                    f"`factors[:, {column}]` ({name}) must be in [0, {size - 1}], "
                    f"got {factors[bad, column][0]}."
                )
        return factors.astype(np.int64)
