"""Two-dimensional toy densities for flows, score models and EBMs.

Eight of the sets follow the toy data popularised by FFJORD (Grathwohl et al., 2019,
"FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative Models",
arXiv:1810.01367) and used again by NCSN and many later papers: all of them live roughly in
the square [-4, 4]^2. Every sample is drawn from an explicit ``numpy.random.Generator``, so the
same seed gives the same data on every machine.

The ninth, ``25gaussians``, is the 5x5 grid of the GAN mode-collapse literature, on which
the denoising-diffusion GAN paper also shows its 2-D mode coverage (Xiao, Kreis & Vahdat 2022).

Five of the sets are mixtures whose density has a closed form, and ``toy2d_log_prob`` returns
it exactly:

* ``8gaussians``: equal mixture of 8 isotropic Gaussians N(mu_k, s^2 I) with means
  mu_k = R (cos(k pi/4), sin(k pi/4)), R = 4/sqrt(2) ~ 2.83 and s = 0.5/sqrt(2) ~ 0.354
  (FFJORD's scale-4 circle with std 0.5, divided by sqrt(2)).

      log p(x) = logsumexp_k [ -log(2 pi s^2) - |x - mu_k|^2 / (2 s^2) ] - log K,   K = 8

* ``25gaussians``: the same formula with K = 25 means on the grid {-4, -2, 0, 2, 4}^2, i.e.
  mu_ij = (-4 + 2i, -4 + 2j) for i, j = 0..4, and s = 0.05 (variance 0.0025): the "2D-grid" of
  VEEGAN (Srivastava et al. 2017) and PacGAN (Lin, Khetan, Fanti & Oh 2018). The modes are 40
  standard deviations apart, so a model that bridges them is easy to see. ``toy2d_modes(name)``
  returns the means and the std of both mixtures, for :func:`kgen.metrics.mode_coverage`.

* ``checkerboard``: uniform on the 8 black cells of a 4x4 board of 2x2 cells covering
  [-4, 4)^2; cell (i, j) = (floor(x1 / 2), floor(x2 / 2)) is black when i + j is even. The
  black area is 32, so log p(x) = -log 32 on black cells and -inf elsewhere.

* ``rings`` and ``circles``: equal mixtures of noisy circles, x = r (cos phi, sin phi) + s eps
  with phi ~ U[0, 2 pi) and eps ~ N(0, I). Averaging the Gaussian over the angle gives, with
  rho = |x| and the modified Bessel function I0(z) = (1/pi) int_0^pi exp(z cos t) dt
  (Abramowitz & Stegun 9.6.16),

      p(x | r) = exp(-(rho^2 + r^2) / (2 s^2)) I0(rho r / s^2) / (2 pi s^2),

  evaluated stably with the scaled function i0e(z) = exp(-z) I0(z):

      log p(x | r) = -log(2 pi s^2) - (rho - r)^2 / (2 s^2) + log i0e(rho r / s^2).

  ``rings`` uses radii 0.75, 1.5, 2.25, 3 with s = 0.08 (FFJORD's rings); ``circles`` uses
  radii 1.5, 3 with s = 0.24 (scikit-learn's ``make_circles(factor=0.5, noise=0.08)`` times 3).

``two_moons``, ``swiss_roll``, ``pinwheel`` and ``2spirals`` add noise to a curve segment or
push Gaussians through a nonlinear map; their densities have no closed form.
"""

from functools import partial

import numpy as np

from kgen.validation import check_choice, check_positive_int

TOY2D_NAMES = (
    "8gaussians",
    "checkerboard",
    "two_moons",
    "swiss_roll",
    "rings",
    "pinwheel",
    "2spirals",
    "circles",
    "25gaussians",
)

_GAUSSIANS_RADIUS = 4.0 / np.sqrt(2.0)
_GAUSSIANS_STD = 0.5 / np.sqrt(2.0)
_GAUSSIANS_MEANS = _GAUSSIANS_RADIUS * np.stack(
    [np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], axis=1
)
_GRID_MEANS = np.stack(
    np.meshgrid(np.arange(-4.0, 5.0, 2.0), np.arange(-4.0, 5.0, 2.0), indexing="ij"), axis=-1
).reshape(25, 2)
_GRID_STD = 0.05
_MIXTURES = {
    "8gaussians": {"means": _GAUSSIANS_MEANS, "std": _GAUSSIANS_STD},
    "25gaussians": {"means": _GRID_MEANS, "std": _GRID_STD},
}
_CHECKERBOARD_LOG_DENSITY = -np.log(32.0)
_RINGS = {"radii": (0.75, 1.5, 2.25, 3.0), "std": 0.08}
_CIRCLES = {"radii": (1.5, 3.0), "std": 0.24}


def _sample_gaussian_mixture(rng, n, means, std):
    centres = means[rng.integers(0, len(means), n)]
    return centres + std * rng.standard_normal((n, 2))


def _sample_checkerboard(rng, n):
    # Column i in 0..3, then a row j of the same parity: (i - 2) + (j - 2) is even, a black cell.
    i = rng.integers(0, 4, n)
    j = 2 * rng.integers(0, 2, n) + i % 2
    cells = np.stack([i, j], axis=1)
    return -4.0 + 2.0 * (cells + rng.random((n, 2)))


def _sample_two_moons(rng, n):
    # Two interleaved half circles (as scikit-learn's make_moons), noise 0.1, scaled by 2.
    t = np.pi * rng.random(n)
    lower = rng.random(n) < 0.5
    upper_moon = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower_moon = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    points = np.where(lower[:, None], lower_moon, upper_moon)
    points += 0.1 * rng.standard_normal((n, 2))
    return 2.0 * points - np.array([1.0, 0.25])


def _sample_swiss_roll(rng, n):
    # The planar swiss roll t (cos t, sin t), t ~ U[1.5 pi, 4.5 pi], divided by 4, noise 0.25.
    t = 1.5 * np.pi * (1.0 + 2.0 * rng.random(n))
    points = t[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1) / 4.0
    return points + 0.25 * rng.standard_normal((n, 2))


def _sample_rings(rng, n, radii, std):
    r = np.asarray(radii)[rng.integers(0, len(radii), n)]
    phi = 2.0 * np.pi * rng.random(n)
    points = r[:, None] * np.stack([np.cos(phi), np.sin(phi)], axis=1)
    return points + std * rng.standard_normal((n, 2))


def _sample_pinwheel(rng, n):
    # Five arms: a Gaussian blob (radial 1 +- 0.3, tangential 0 +- 0.1) rotated by an angle that
    # grows exponentially with the radius, which bends each arm (FFJORD's pinwheel, rate 0.25).
    arm = rng.integers(0, 5, n)
    radial = 1.0 + 0.3 * rng.standard_normal(n)
    tangential = 0.1 * rng.standard_normal(n)
    angle = 2.0 * np.pi * arm / 5 + 0.25 * np.exp(radial)
    cos, sin = np.cos(angle), np.sin(angle)
    return 2.0 * np.stack(
        [radial * cos - tangential * sin, radial * sin + tangential * cos], axis=1
    )


def _sample_2spirals(rng, n):
    # Two interleaved arms t (-cos t, sin t) and its mirror image, t = 3 pi sqrt(u) (uniform
    # along the arm's area), scaled by 1/3, noise 0.15.
    t = 3.0 * np.pi * np.sqrt(rng.random(n))
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    points = (sign * t)[:, None] * np.stack([-np.cos(t), np.sin(t)], axis=1) / 3.0
    return points + 0.15 * rng.standard_normal((n, 2))


def _log_mean_exp(log_components):
    """log of the equal-weight mixture: log (1/K) sum_k exp(a_k), stabilised by max_k a_k."""
    top = log_components.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.mean(np.exp(log_components - top), axis=1))


def _log_prob_gaussian_mixture(x, means, std):
    offset = x[:, None, :] - means[None]
    sq_dist = offset[..., 0] ** 2 + offset[..., 1] ** 2
    var = std**2
    return _log_mean_exp(-np.log(2 * np.pi * var) - sq_dist / (2 * var))


def _log_prob_checkerboard(x):
    cells = np.floor(x / 2.0)
    inside = np.all((x >= -4.0) & (x < 4.0), axis=1)
    black = inside & (cells.sum(axis=1) % 2 == 0)
    return np.where(black, _CHECKERBOARD_LOG_DENSITY, -np.inf)


def _log_prob_rings(x, radii, std):
    from scipy.special import i0e  # here, not at the top: `kgen list` must not load SciPy (≈ 0.3 s)

    rho = np.hypot(x[:, 0], x[:, 1])[:, None]
    r = np.asarray(radii)[None, :]
    var = std**2
    log_bessel = np.log(i0e(rho * r / var))  # i0e(z) >= i0e(inf) ~ 1/sqrt(2 pi z) > 0: finite
    return _log_mean_exp(-np.log(2 * np.pi * var) - (rho - r) ** 2 / (2 * var) + log_bessel)


_SAMPLERS = {
    "8gaussians": partial(_sample_gaussian_mixture, **_MIXTURES["8gaussians"]),
    "checkerboard": _sample_checkerboard,
    "two_moons": _sample_two_moons,
    "swiss_roll": _sample_swiss_roll,
    "rings": partial(_sample_rings, **_RINGS),
    "pinwheel": _sample_pinwheel,
    "2spirals": _sample_2spirals,
    "circles": partial(_sample_rings, **_CIRCLES),
    "25gaussians": partial(_sample_gaussian_mixture, **_MIXTURES["25gaussians"]),
}

_LOG_PROBS = {
    "8gaussians": partial(_log_prob_gaussian_mixture, **_MIXTURES["8gaussians"]),
    "checkerboard": _log_prob_checkerboard,
    "rings": partial(_log_prob_rings, **_RINGS),
    "circles": partial(_log_prob_rings, **_CIRCLES),
    "25gaussians": partial(_log_prob_gaussian_mixture, **_MIXTURES["25gaussians"]),
}

#: The toy sets whose log-density ``toy2d_log_prob`` computes exactly.
TOY2D_EXACT_NAMES = tuple(_LOG_PROBS)


def toy2d(name, n, seed=0):
    """Draw ``n`` i.i.d. points from the 2-D toy distribution ``name``.

    Args:
        name: one of ``TOY2D_NAMES``.
        n: number of points, a positive int.
        seed: an int seed or a ``numpy.random.Generator`` (used as is, and advanced).

    Returns:
        float32 array of shape ``(n, 2)``, roughly inside [-4, 4]^2.
    """
    check_choice(name, "name", TOY2D_NAMES)
    n = check_positive_int(n, "n")
    rng = np.random.default_rng(seed)
    return _SAMPLERS[name](rng, n).astype(np.float32)


def toy2d_log_prob(name, x):
    """Exact log-density of the toy distribution ``name`` at the points ``x``.

    Args:
        name: one of ``TOY2D_EXACT_NAMES`` (``8gaussians``, ``checkerboard``, ``rings``,
            ``circles``, ``25gaussians``); the other toy sets have no closed-form density.
        x: array-like of shape ``(n, 2)`` with finite values.

    Returns:
        float64 array of shape ``(n,)``; ``-inf`` where the density is zero.
    """
    check_choice(name, "name", TOY2D_NAMES)
    if name not in _LOG_PROBS:
        raise ValueError(
            f"`name` {name!r} has no closed-form density; exact log-densities "
            f"exist for: {', '.join(TOY2D_EXACT_NAMES)}."
        )
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"`x` must have shape (n, 2), got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("`x` contains NaN or inf values.")
    return _LOG_PROBS[name](x)


#: The toy sets that are equal mixtures of isotropic Gaussians, as ``toy2d_modes`` describes them.
TOY2D_MIXTURE_NAMES = tuple(_MIXTURES)


def toy2d_modes(name):
    """The components of a Gaussian-mixture toy set: ``(means, std)``.

    Args:
        name: one of ``TOY2D_MIXTURE_NAMES`` (``8gaussians``, ``25gaussians``).

    Returns:
        ``means``, a float64 array ``(K, 2)`` (a copy), and ``std``, the components' common
        standard deviation; each component has weight 1/K.
    """
    check_choice(name, "name", TOY2D_MIXTURE_NAMES)
    return _MIXTURES[name]["means"].copy(), float(_MIXTURES[name]["std"])
