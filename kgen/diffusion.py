"""Gaussian diffusion: β schedules, the forward process q(x_t | x_0), its posterior
q(x_{t−1} | x_t, x_0) and the DDIM update, as pure functions of tensors or NumPy arrays.

The forward (noising) process of DDPM (Ho, Jain & Abbeel 2020, "Denoising Diffusion
Probabilistic Models", eq. 2 and 4) adds Gaussian noise in T steps with variances β_1..β_T:

    q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I),
    q(x_t | x_0)     = N(√ᾱ_t x_0, (1 − ᾱ_t) I),    α_t = 1 − β_t,  ᾱ_t = Π_{s ≤ t} α_s.

Both the DDPM models (which learn ε) and the denoising-diffusion GAN (Xiao, Kreis & Vahdat
2022, which generates x_0 and then samples the posterior) need the same few formulas, kept here.

Conventions:

* **Timesteps are 0-based indices** t = 0, …, T − 1 into the β table, as in the DDPM and DDGAN
  code: index t is the papers' step t + 1, and "x_t" is the state after t + 1 noising steps.
  ``x0`` is always the clean data, which sits at index −1.
* **ᾱ_{−1} = 1**: the data carries no noise. So the posterior at t = 0, q(x_{−1} | x_0-noised,
  x0), is a point mass at x0 (variance β̃_0 = 0, mean coefficients 1 and 0), and a DDIM step to
  ``t_prev = −1`` lands on the predicted data.
* ``t`` is an int scalar (one step for the whole batch) or an int vector of shape (batch,),
  broadcast over each example's axes. NumPy and Python values of ``t`` are checked to lie in
  range; tensors (possibly symbolic, inside a compiled train step) are taken as they are.
* Tensor results are float32, whatever the input dtype (NumPy float64, mixed-precision float16
  alike), so the diffusion arithmetic keeps float32 precision. Schedules return float32 NumPy
  arrays; :class:`DiffusionSchedule` computes its tables in float64 and exposes them in float32.
"""

import numbers

import numpy as np
from keras import ops
from keras.backend import standardize_dtype

from kgen.validation import check_choice, check_positive_float, check_positive_int

__all__ = [
    "SCHEDULES",
    "DiffusionSchedule",
    "cosine_betas",
    "ddim_timesteps",
    "linear_betas",
    "make_betas",
    "vp_betas",
]


# ------------------------------------------------------------------------------ β schedules
def linear_betas(num_timesteps=1000, beta_start=1e-4, beta_end=0.02):
    """β_t evenly spaced from ``beta_start`` to ``beta_end`` (Ho et al. 2020, §4: T = 1000,
    β_1 = 10⁻⁴, β_T = 0.02):

        β_t = β_start + (β_end − β_start) · t / (T − 1),   t = 0, …, T − 1.

    Returns float32 ``(T,)``.
    """
    num_timesteps = check_positive_int(num_timesteps, "num_timesteps")
    beta_start = _check_unit_interval(beta_start, "beta_start")
    beta_end = _check_unit_interval(beta_end, "beta_end")
    return np.linspace(beta_start, beta_end, num_timesteps).astype(np.float32)


def cosine_betas(num_timesteps, s=0.008, max_beta=0.999):
    """The cosine schedule (Nichol & Dhariwal 2021, "Improved Denoising Diffusion Probabilistic
    Models", eq. 17), defined through ᾱ rather than β:

        ᾱ(t) = f(t) / f(0),   f(t) = cos²( (t/T + s) / (1 + s) · π/2 ),
        β_t  = min(1 − ᾱ(t + 1) / ᾱ(t), max_beta),   t = 0, …, T − 1,

    so that ᾱ after the step of index t is f((t + 1)/T) / f(0). The offset s = 0.008 keeps β
    from being too small near t = 0; clipping at 0.999 avoids the singularity at the end, where
    f(1) = 0 (only the last step or two are clipped).

    Returns float32 ``(T,)``.
    """
    num_timesteps = check_positive_int(num_timesteps, "num_timesteps")
    s = check_positive_float(s, "s", allow_zero=True)
    max_beta = _check_unit_interval(max_beta, "max_beta")
    steps = np.arange(num_timesteps + 1, dtype=np.float64) / num_timesteps
    f = np.cos((steps + s) / (1.0 + s) * np.pi / 2.0) ** 2
    betas = 1.0 - f[1:] / f[:-1]
    return np.minimum(betas, max_beta).astype(np.float32)


def vp_betas(num_timesteps=4, beta_min=0.1, beta_max=20.0, eps_small=1e-3):
    """The variance-preserving SDE discretised at T points, as the denoising-diffusion GAN
    code does it (Xiao, Kreis & Vahdat 2022, "Tackling the Generative Learning Trilemma with
    Denoising Diffusion GANs", ICLR; its CIFAR-10 setting T = 4, β_min = 0.1, β_max = 20).

    The VP SDE of Song et al. (2021) with β(t) = β_min + t (β_max − β_min) has
    ᾱ(t) = exp(−½ t² (β_max − β_min) − t β_min). Sampling it at

        t_i = (i / T)(1 − ε) + ε,   i = 0, …, T,   ε = 10⁻³,

    gives the per-step variances β_i = 1 − ᾱ(t_i) / ᾱ(t_{i−1}), i = 1, …, T (returned as indices
    0 … T − 1). For T = 4: β ≈ 0.478, 0.849, 0.956, 0.987 — a few large steps.

    Returns float32 ``(T,)``.
    """
    num_timesteps = check_positive_int(num_timesteps, "num_timesteps")
    beta_min = check_positive_float(beta_min, "beta_min", allow_zero=True)
    beta_max = check_positive_float(beta_max, "beta_max")
    if beta_max < beta_min:
        raise ValueError(f"`beta_max` must be ≥ `beta_min`={beta_min}; got {beta_max}.")
    eps_small = _check_unit_interval(eps_small, "eps_small")
    times = np.arange(num_timesteps + 1, dtype=np.float64) / num_timesteps
    times = times * (1.0 - eps_small) + eps_small
    log_alpha_bar = -0.5 * times**2 * (beta_max - beta_min) - times * beta_min
    return (-np.expm1(np.diff(log_alpha_bar))).astype(np.float32)


#: Schedule name -> function, as ``make_betas`` accepts them.
SCHEDULES = {"linear": linear_betas, "cosine": cosine_betas, "vp": vp_betas}


def make_betas(schedule, num_timesteps, **kwargs):
    """β for the schedule named ``schedule`` (a key of ``SCHEDULES``: ``"linear"``,
    ``"cosine"``, ``"vp"``) with ``num_timesteps`` steps; ``kwargs`` go to its function."""
    check_choice(schedule, "schedule", tuple(SCHEDULES))
    return SCHEDULES[schedule](num_timesteps, **kwargs)


def ddim_timesteps(num_timesteps, num_steps):
    """The DDIM sampling subsequence τ (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit
    Models", §4.2): ``num_steps`` evenly spaced indices of 0 … T − 1, descending, from T − 1
    (pure noise) down to 0:

        τ = round(linspace(T − 1, 0, S)),

    all distinct. With S = 1 it is [T − 1], a single jump. A sampler evaluates the network at
    each τ_i and steps to τ_{i+1}, and from the last one (0) to ``t_prev = −1``, the data.

    Returns int64 ``(S,)``.
    """
    num_timesteps = check_positive_int(num_timesteps, "num_timesteps")
    num_steps = check_positive_int(num_steps, "num_steps")
    if num_steps > num_timesteps:
        raise ValueError(
            f"`num_steps` must be at most `num_timesteps`={num_timesteps}; got {num_steps}."
        )
    return np.round(np.linspace(num_timesteps - 1, 0, num_steps)).astype(np.int64)


# ------------------------------------------------------------------------------ the schedule
class DiffusionSchedule:
    """The tables of a Gaussian diffusion with variances ``betas``, and the formulas on them.

    Immutable: the tables are computed once, in float64, and exposed as read-only float32 NumPy
    arrays of shape (T,). Indices are 0-based and ᾱ_{−1} = 1 (see the module docstring).

    Args:
        betas: β_0, …, β_{T−1}, each in (0, 1), e.g. from :func:`make_betas`.

    Example:
        >>> schedule = DiffusionSchedule(make_betas("linear", 1000))
        >>> x_t = schedule.q_sample(x0, t, noise)   # t: int (batch,) in [0, 999]
    """

    def __init__(self, betas):
        betas = _check_betas(betas)
        alphas = 1.0 - betas
        log_alpha_bar = np.cumsum(np.log1p(-betas))
        alpha_bar = np.exp(log_alpha_bar)
        one_minus = -np.expm1(log_alpha_bar)  # 1 − ᾱ_t without cancellation for small t
        alpha_bar_prev, one_minus_prev = np.r_[1.0, alpha_bar[:-1]], np.r_[0.0, one_minus[:-1]]
        posterior_variance = betas * one_minus_prev / one_minus
        # log β̃_t is −∞ at t = 0; DDPM's code replaces it by log β̃ of the next step (there is
        # no next step when T = 1: use log β_0). The step t = 0 adds no noise either way.
        first = posterior_variance[1] if len(betas) > 1 else betas[0]
        tables = {
            "betas": betas,
            "alphas_cumprod": alpha_bar,
            "alphas_cumprod_prev": alpha_bar_prev,
            "sqrt_alphas_cumprod": np.sqrt(alpha_bar),
            "sqrt_one_minus_alphas_cumprod": np.sqrt(one_minus),
            "posterior_variance": posterior_variance,
            "posterior_log_variance_clipped": np.log(np.r_[first, posterior_variance[1:]]),
            "posterior_mean_coef1": betas * np.sqrt(alpha_bar_prev) / one_minus,
            "posterior_mean_coef2": one_minus_prev * np.sqrt(alphas) / one_minus,
            # ᾱ_s and 1 − ᾱ_s for s = −1, …, T − 1 at index s + 1 (for DDIM's t_prev = −1).
            "log_alphas_cumprod_from_data": np.r_[0.0, log_alpha_bar],
            "one_minus_alphas_cumprod_from_data": np.r_[0.0, one_minus],
        }
        self._tables = {name: _frozen_float32(values) for name, values in tables.items()}

    def __repr__(self):
        return f"DiffusionSchedule(num_timesteps={self.num_timesteps})"

    # --------------------------------------------------------------------------- the tables
    @property
    def num_timesteps(self):
        """T, the number of diffusion steps."""
        return len(self._tables["betas"])

    @property
    def betas(self):
        """β_t, float32 (T,)."""
        return self._tables["betas"]

    @property
    def alphas_cumprod(self):
        """ᾱ_t = Π_{s ≤ t} (1 − β_s), float32 (T,): strictly decreasing in (0, 1)."""
        return self._tables["alphas_cumprod"]

    @property
    def alphas_cumprod_prev(self):
        """ᾱ_{t−1}, float32 (T,), with ᾱ_{−1} = 1."""
        return self._tables["alphas_cumprod_prev"]

    @property
    def posterior_variance(self):
        """β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t), float32 (T,); β̃_0 = 0."""
        return self._tables["posterior_variance"]

    @property
    def posterior_log_variance_clipped(self):
        """log β̃_t with the first entry (log 0) replaced by log β̃_1, float32 (T,)."""
        return self._tables["posterior_log_variance_clipped"]

    @property
    def posterior_mean_coefficients(self):
        """``(coef1, coef2)``, float32 (T,) each, of the posterior mean coef1·x_0 + coef2·x_t:

            coef1 = β_t √ᾱ_{t−1} / (1 − ᾱ_t),   coef2 = (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t)

        (Ho et al. 2020, eq. 7).
        """
        return self._tables["posterior_mean_coef1"], self._tables["posterior_mean_coef2"]

    # ------------------------------------------------------------------ the forward process
    def q_sample(self, x0, t, noise):
        """Draw x_t ~ q(x_t | x_0) by reparameterisation (Ho et al. 2020, eq. 4):

            x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε,   ε = ``noise`` ~ N(0, I), the shape of ``x0``.
        """
        x0, noise = self._float_pair(x0, noise, ("x0", "noise"))
        t = self._check_t(t, x0)
        return self._at("sqrt_alphas_cumprod", t, x0) * x0 + self._at(
            "sqrt_one_minus_alphas_cumprod", t, x0
        ) * noise

    def q_mean_variance(self, x0, t):
        """Mean √ᾱ_t x_0 and variance (1 − ᾱ_t) of q(x_t | x_0), both the shape of ``x0``."""
        x0 = _float32(x0, "x0")
        t = self._check_t(t, x0)
        variance = ops.square(self._at("sqrt_one_minus_alphas_cumprod", t, x0))
        return self._at("sqrt_alphas_cumprod", t, x0) * x0, variance * ops.ones_like(x0)

    # ----------------------------------------------------------------------- the posterior
    def posterior_mean_variance(self, x0, xt, t):
        """The posterior q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I) (Ho et al. 2020, eq. 6–7):

            μ̃_t = β_t √ᾱ_{t−1} / (1 − ᾱ_t) · x_0 + (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t) · x_t,
            β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t).

        Returns ``(mean, variance, log_variance_clipped)``, each the shape of ``x0``; at t = 0
        the mean is x_0 itself and the variance 0.
        """
        x0, xt = self._float_pair(x0, xt, ("x0", "xt"))
        t = self._check_t(t, x0)
        mean = self._at("posterior_mean_coef1", t, x0) * x0 + self._at(
            "posterior_mean_coef2", t, x0
        ) * xt
        ones = ops.ones_like(x0)
        variance = self._at("posterior_variance", t, x0) * ones
        log_variance = self._at("posterior_log_variance_clipped", t, x0) * ones
        return mean, variance, log_variance

    def posterior_sample(self, x0, xt, t, noise):
        """Draw x_{t−1} ~ q(x_{t−1} | x_t, x_0) = μ̃_t + √β̃_t · ε; no noise at t = 0, where the
        result is the posterior mean (x_0). This is DDGAN's sampling step, with x_0 predicted
        by the generator (Xiao et al. 2022)."""
        mean, _, log_variance = self.posterior_mean_variance(x0, xt, t)
        noise = _float32(noise, "noise")
        _check_same_shape(mean, noise, ("x0", "noise"))
        t = self._check_t(t, mean)
        noisy_step = ops.cast(ops.not_equal(t, 0), "float32")
        noisy_step = ops.reshape(noisy_step, _broadcast_shape(t, mean))
        return mean + noisy_step * ops.exp(0.5 * log_variance) * noise

    # ----------------------------------------------------------------- ε-prediction and DDIM
    def predict_x0_from_noise(self, xt, t, eps):
        """Invert q_sample for x_0 given the noise (Ho et al. 2020, eq. 4 solved for x_0):

            x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t.
        """
        xt, eps = self._float_pair(xt, eps, ("xt", "eps"))
        t = self._check_t(t, xt)
        return (xt - self._at("sqrt_one_minus_alphas_cumprod", t, xt) * eps) / self._at(
            "sqrt_alphas_cumprod", t, xt
        )

    def ddim_step(self, x_t, eps, t, t_prev, eta=0.0, noise=None):
        """One generalised DDIM step from index ``t`` to ``t_prev`` < t (Song, Meng & Ermon
        2021, "Denoising Diffusion Implicit Models", eq. 12), with ε = ``eps`` predicted at x_t:

            x_{t_prev} = √ᾱ_prev · x̂_0 + √(1 − ᾱ_prev − σ_t²) · ε + σ_t · z,
            x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t,
            σ_t(η) = η · √((1 − ᾱ_prev) / (1 − ᾱ_t)) · √(1 − ᾱ_t / ᾱ_prev),

        with ᾱ_prev = 1 at ``t_prev = −1`` (the data). η = 0 is the deterministic DDIM sampler;
        η = 1 with t_prev = t − 1 is DDPM's ancestral step (σ_t² = β̃_t).

        Args:
            x_t: the current state.
            eps: the predicted noise, the shape of ``x_t``.
            t, t_prev: timestep indices, −1 ≤ t_prev < t ≤ T − 1 (scalars or (batch,)).
            eta: η in [0, 1].
            noise: z ~ N(0, I), the shape of ``x_t``; needed only when η > 0.
        """
        x_t, eps = self._float_pair(x_t, eps, ("x_t", "eps"))
        eta = check_positive_float(eta, "eta", allow_zero=True)
        if eta > 1.0:
            raise ValueError(f"`eta` must lie in [0, 1]; got {eta}.")
        if eta > 0.0 and noise is None:
            raise ValueError(f"`noise` is needed when `eta` > 0; got eta={eta} and no noise.")
        if _is_numpy_like(t) and _is_numpy_like(t_prev) and np.any(np.less_equal(t, t_prev)):
            raise ValueError(f"`t_prev` must be smaller than `t`; got t={t}, t_prev={t_prev}.")
        t = self._check_t(t, x_t)
        t_prev = self._check_t(t_prev, x_t, name="t_prev", low=-1)
        log_alpha_bar = self._at("log_alphas_cumprod_from_data", t + 1, x_t)
        log_alpha_bar_prev = self._at("log_alphas_cumprod_from_data", t_prev + 1, x_t)
        one_minus = self._at("one_minus_alphas_cumprod_from_data", t + 1, x_t)
        one_minus_prev = self._at("one_minus_alphas_cumprod_from_data", t_prev + 1, x_t)
        x0 = (x_t - ops.sqrt(one_minus) * eps) * ops.exp(-0.5 * log_alpha_bar)
        ratio = -ops.expm1(log_alpha_bar - log_alpha_bar_prev)  # 1 − ᾱ_t / ᾱ_prev, accurately
        sigma2 = (eta**2) * one_minus_prev / one_minus * ratio
        direction = ops.sqrt(ops.maximum(one_minus_prev - sigma2, 0.0)) * eps
        x_prev = ops.exp(0.5 * log_alpha_bar_prev) * x0 + direction
        if eta == 0.0:
            return x_prev
        noise = _float32(noise, "noise")
        _check_same_shape(x_t, noise, ("x_t", "noise"))
        return x_prev + ops.sqrt(sigma2) * noise

    # -------------------------------------------------------------------------------- helpers
    def _at(self, table, t, x):
        """The entries of ``table`` at ``t``, shaped to broadcast against ``x``."""
        values = ops.take(self._tables[table], t)
        return ops.reshape(values, _broadcast_shape(t, x))

    def _check_t(self, t, x, name="t", low=0):
        """``t`` as an int32 tensor, checked for dtype and rank, for range when it is a NumPy or
        Python value, and for a batch size that matches ``x``'s when both are known."""
        numpy_like = _is_numpy_like(t)
        dtype = standardize_dtype(np.asarray(t).dtype if numpy_like else t.dtype)
        if "int" not in dtype:
            raise TypeError(f"`{name}` must hold integer timestep indices; got dtype {dtype}.")
        shape = np.shape(t) if numpy_like else tuple(t.shape)
        if len(shape) > 1:
            raise ValueError(
                f"`{name}` must be a scalar or a vector of shape (batch,); got shape {shape}."
            )
        if numpy_like and np.size(t):
            high = self.num_timesteps - 1
            if np.min(t) < low or np.max(t) > high:
                raise ValueError(
                    f"`{name}` must lie in [{low}, {high}] for a schedule of {self.num_timesteps} "
                    f"steps; got values in [{np.min(t)}, {np.max(t)}]."
                )
        if len(shape) == 1 and None not in (shape[0], x.shape[0]) and shape[0] != x.shape[0]:
            raise ValueError(f"`{name}` has {shape[0]} entries but the batch has {x.shape[0]}.")
        return ops.convert_to_tensor(t, dtype="int32")

    @staticmethod
    def _float_pair(a, b, names):
        a, b = _float32(a, names[0]), _float32(b, names[1])
        _check_same_shape(a, b, names)
        return a, b


# ------------------------------------------------------------------------- argument checks
def _check_unit_interval(value, name):
    value = check_positive_float(value, name)
    if value >= 1.0:
        raise ValueError(f"`{name}` must lie in (0, 1); got {value}.")
    return value


def _check_betas(betas):
    """β as a float64 vector, non-empty, finite and inside (0, 1)."""
    values = np.asarray(betas, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"`betas` must be a non-empty 1-D array; got shape {values.shape}.")
    outside = ~((values > 0.0) & (values < 1.0))  # also catches NaN
    if outside.any():
        index = int(np.argmax(outside))
        raise ValueError(
            f"`betas` must lie in (0, 1) (a variance per step); got betas[{index}]={values[index]}."
        )
    return values


def _is_numpy_like(t):
    """Python ints, NumPy scalars and arrays, lists: values that can be checked before use."""
    return isinstance(t, (numbers.Integral, np.ndarray, np.generic, list, tuple))


def _float32(x, name):
    x = ops.cast(ops.convert_to_tensor(x), "float32")
    if len(x.shape) == 0:
        raise ValueError(f"`{name}` must have a batch axis, shape (batch, ...); got a scalar.")
    return x


def _check_same_shape(a, b, names):
    if len(a.shape) != len(b.shape) or any(
        None not in (m, n) and m != n for m, n in zip(a.shape, b.shape)
    ):
        raise ValueError(
            f"`{names[1]}` must have the shape of `{names[0]}`, {tuple(a.shape)}; "
            f"got {tuple(b.shape)}."
        )


def _broadcast_shape(t, x):
    """() for a scalar ``t``, else (batch, 1, …, 1) to broadcast over the axes of ``x``."""
    return () if len(t.shape) == 0 else (-1,) + (1,) * (len(x.shape) - 1)


def _frozen_float32(values):
    values = np.asarray(values, dtype=np.float32)
    values.setflags(write=False)
    return values
