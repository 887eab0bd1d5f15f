"""Langevin dynamics: the annealed sampler of NCSN and the short-run sampler of latent EBMs.

Langevin dynamics draws from a density p(x) knowing only its score ∇ₓ log p(x). With step size
s > 0 and z_t ~ N(0, I) (Welling & Teh 2011, "Bayesian Learning via Stochastic Gradient
Langevin Dynamics", eq. 4; Song & Ermon 2019, eq. 4):

    x_{t+1} = x_t + (s/2)·∇ₓ log p(x_t) + √s · z_t,

whose law tends to p as s → 0 and t → ∞ (the unadjusted Langevin algorithm: for s > 0 the chain
is biased by O(s)). :func:`langevin` runs this rule as is, with an optional ``noise_scale`` on
the √s·z term (0 gives gradient ascent, < 1 the "cold" chains some EBM papers use).

Annealed Langevin dynamics (Song & Ermon 2019, "Generative Modeling by Estimating Gradients of
the Data Distribution", Algorithm 1) runs the rule through a decreasing sequence of noise
levels σ_1 > σ_2 > … > σ_L, each for T steps, with a score s(x, i) ≈ ∇ₓ log p_{σ_i}(x) of the
data smoothed by N(0, σ_i² I) and a step size that shrinks with σ:

    α_i = ε · σ_i² / σ_L²,    x ← x + (α_i/2)·s(x, i) + √α_i · z.

Large σ first moves the chains between the modes (where the data density is too low for the
score to be learned, Song & Ermon §3), small σ then settles them on the data. The optional last
step x ← x + σ_L²·s(x, L) removes the remaining N(0, σ_L²) noise: it is Tweedie's formula for
E[x_data | x] (Jolicoeur-Martineau et al. 2021, "Adversarial score matching and improved
sampling for image generation", §3; also used by Song & Ermon 2020, NCSNv2).

Note on ε: the paper's default ε = 2·10⁻⁵ (Song & Ermon 2019, appendix B.2) is stated for the
rule above. The authors' released code writes the same loop as x + a·s + √(2a)·z with
a = 2·10⁻⁵·σ_i²/σ_L², i.e. it runs with ε = 4·10⁻⁵ in Algorithm 1's notation.

Inpainting (Song & Ermon 2019, Algorithm 2 in the appendix) is the same loop in which, after
every step, the known entries (``mask == 1``) are replaced by the known values noised at the
current level, ỹ = y + σ_i·z̃, with z̃ drawn once per level.

Short-run Langevin dynamics (Nijkamp, Hill, Zhu & Wu 2019, "Learning Non-Convergent
Non-Persistent Short-Run MCMC Toward Energy-Based Model"; Pang, Han, Nijkamp, Zhu & Wu 2020,
"Learning Latent Space Energy-Based Prior Model", eq. 13) is the same rule run for a small fixed
number K of steps from a fixed noise distribution, inside every training step of the model that
learns from its samples. Pang et al. write it z ← z + (δ²/2)·∇ log π(z) + δ·ε, so their step δ
is √s here: :func:`short_run_langevin` runs it inside a traced function (a ``fit`` step), and
:func:`langevin` is the same loop compiled on its own, for sampling outside training.

Implementation: the whole chain is one ``tf.function`` (optionally XLA-compiled) built from
``tf.while_loop``s, with the kept states (every ``thin``-th one) written to a ``tf.TensorArray``;
the noise is drawn statelessly from one seed, so the same seed gives the same chain. Compiled
programs are cached per score function (bound methods per object) and per static setting, so
calling a sampler again with new values of ``x0``, ``sigmas``, the step size, the seed or the
``context`` does not retrace. :func:`short_run_langevin` builds the same loop with the same step
and the same noise into the caller's traced function instead (no compilation or caching of its
own), so that a model's training chains and its sampling chains are one piece of code. This
module and the model files' gradient tapes are the only TensorFlow-specific parts of the
sampling code: :func:`gradient_of` is the one place here that takes input gradients.
"""

import functools
import weakref

import keras
import numpy as np
import tensorflow as tf

from kgen.distributions import tfp_seed
from kgen.validation import check_data, check_positive_float, check_positive_int, check_seed

__all__ = ["annealed_langevin", "check_sigmas", "gradient_of", "langevin", "short_run_langevin"]


# ----------------------------------------------------------------------------------- checks
def check_sigmas(sigmas, name="sigmas"):
    """Return ``sigmas`` as a float64 NumPy vector if it is a non-empty, finite, positive and
    strictly decreasing 1-D sequence (σ_1 > σ_2 > … > σ_L > 0); raise otherwise."""
    try:
        values = np.asarray(keras.ops.convert_to_numpy(sigmas), dtype="float64")
    except (TypeError, ValueError) as error:
        raise TypeError(f"`{name}` must be a 1-D sequence of numbers; got {sigmas!r}.") from error
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"`{name}` must be a non-empty 1-D sequence; got shape {values.shape}.")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"`{name}` must hold finite values > 0; got {values.tolist()}.")
    if np.any(np.diff(values) >= 0):
        raise ValueError(
            f"`{name}` must be strictly decreasing (largest noise level first, σ_1 > … > σ_L); "
            f"got {values.tolist()}."
        )
    return values


def _check_callable(fn, name):
    if not callable(fn):
        raise TypeError(f"`{name}` must be a function; got {type(fn).__name__}.")
    return fn


def _check_x0(x0, name="x0"):
    """``x0`` as a float tensor of rank ≥ 1 (batch first) with finite values."""
    array = np.asarray(keras.ops.convert_to_numpy(x0)) if not isinstance(x0, np.ndarray) else x0
    if array.ndim < 1:
        raise ValueError(f"`{name}` must have a batch axis, shape (batch, ...); got shape {array.shape}.")
    check_data(array, array.shape[1:], name)
    return tf.convert_to_tensor(array)


def _check_seed_arg(seed):
    """A stateless seed (int32 tensor [2]) from ``None``, an int or a ``SeedGenerator``."""
    if not isinstance(seed, keras.random.SeedGenerator):
        seed = check_seed(seed)
    return tfp_seed(seed)


def _check_thin(thin, return_chain, total_steps):
    if thin is None:
        return 1
    thin = check_positive_int(thin, "thin")
    if not return_chain:
        raise ValueError("`thin` only applies to the returned chain; pass return_chain=True with it.")
    if thin > total_steps:
        raise ValueError(f"`thin` must be at most the number of steps ({total_steps}); got {thin}.")
    return thin


def _check_mask(mask, known, x0):
    """The inpainting mask as a float tensor of 0s and 1s that broadcasts against ``x0``."""
    if (known is None) != (mask is None):
        raise ValueError("Inpainting needs both `known` and `mask`; got only one of them.")
    known = tf.cast(_check_x0(known, "known"), x0.dtype)
    if known.shape != x0.shape:
        raise ValueError(f"`known` must have the shape of `x0`, {tuple(x0.shape)}; got {tuple(known.shape)}.")
    mask = np.asarray(keras.ops.convert_to_numpy(mask), dtype=x0.dtype.as_numpy_dtype)
    if not np.all((mask == 0) | (mask == 1)):
        raise ValueError("`mask` must hold 0 (unknown, to sample) or 1 (known) only.")
    try:
        broadcast = np.broadcast_to(mask, tuple(x0.shape))
    except ValueError:
        raise ValueError(
            f"`mask` of shape {mask.shape} does not broadcast to the shape of `x0`, {tuple(x0.shape)}."
        ) from None
    return known, tf.convert_to_tensor(broadcast)


# ---------------------------------------------------------------------------- compiled loops
_PROGRAMS = weakref.WeakKeyDictionary()


def _weak_callable(fn):
    """(owner, key, resolve): a cache owner held weakly, a key for ``fn`` within it, and a
    zero-argument function returning ``fn`` (``None`` once its owner is gone).

    A bound method is rebuilt on every attribute access, so it is cached by its object and its
    function; anything else by itself. The compiled program refers to ``fn`` only weakly, so the
    cache keeps no model alive.
    """
    if hasattr(fn, "__self__") and hasattr(fn, "__func__"):
        owner, func = fn.__self__, fn.__func__
        owner_ref = weakref.ref(owner)
        return owner, func, lambda: func.__get__(owner_ref())
    return fn, None, weakref.ref(fn)


def _compiled(program, jit_compile):
    """``tf.function`` of one sampler program. TensorFlow counts traces per code object, so all
    programs (one per score function and settings) would share one count and warn of
    "excessive retracing" after a few models or batch sizes; a ``partial`` gives each its own."""
    return tf.function(functools.partial(program), jit_compile=jit_compile, reduce_retracing=True)


def _program(fn, static, build, jit_compile):
    """The cached ``tf.function`` for ``fn`` and the static settings, built by ``build(resolve)``."""
    try:
        owner, key, resolve = _weak_callable(fn)
        programs = _PROGRAMS.setdefault(owner, {})
    except TypeError:  # not weak-referenceable: compile without caching
        return _compiled(build(lambda: fn), jit_compile)
    key = (key, static, bool(jit_compile))
    if key not in programs:
        programs[key] = _compiled(build(resolve), jit_compile)
    return programs[key]


# The same seed must give the same chain with and without XLA. TensorFlow's stateless normal
# draws do not (XLA converts the random bits to floats its own way, even with Philox named), but
# the raw Philox bits agree, so the normals are made from them here by the Box–Muller transform.
_ALG = "philox"


def _step_seed(seed, step):
    return tf.random.experimental.stateless_fold_in(seed, step, alg=_ALG)


def _normal(x, seed):
    """Standard normal noise of the shape and dtype of ``x``, from Philox bits (Box–Muller:
    √(−2 log u₁)·(cos 2πu₂, sin 2πu₂) with u₁, u₂ uniform on (0, 1])."""
    shape = tf.shape(x)
    half = (tf.reduce_prod(shape) + 1) // 2
    bits = tf.random.stateless_uniform(
        tf.stack([2, half]), seed, minval=None, maxval=None, dtype=tf.uint32, alg=_ALG
    )
    uniform = (tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) + 1.0) * 2.0**-24  # (0, 1]
    radius = tf.sqrt(-2.0 * tf.math.log(uniform[0]))
    angle = 2.0 * np.pi * uniform[1]
    z = tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], axis=0)
    return tf.cast(tf.reshape(z[: tf.reduce_prod(shape)], shape), x.dtype)


def _run_chain(step_fn, x, n_steps, thin, return_chain):
    """x ← step_fn(t, x) for t = 0 … n_steps − 1, in ``tf.while_loop``s.

    With ``return_chain``, also returns the stacked states [x_0, x_thin, x_2·thin, …] (a
    ``tf.TensorArray`` of n_steps // thin + 1 frames; trailing steps past the last full frame
    still run but are not kept).
    """

    def run(start, stop, x):
        _, x = tf.while_loop(
            lambda t, x: t < stop, lambda t, x: (t + 1, step_fn(t, x)), (tf.convert_to_tensor(start), x)
        )
        return x

    if not return_chain:
        return run(0, n_steps, x), None
    n_frames = n_steps // thin
    frames = tf.TensorArray(x.dtype, size=n_frames + 1, element_shape=x.shape).write(0, x)

    def frame(j, x, frames):
        x = run(j * thin, (j + 1) * thin, x)
        return j + 1, x, frames.write(j + 1, x)

    _, x, frames = tf.while_loop(lambda j, x, frames: j < n_frames, frame, (tf.constant(0), x, frames))
    return run(n_frames * thin, n_steps, x), frames.stack()


def _checked_output(value, x, name):
    """Fail at trace time, with a clear message, if a score or gradient has the wrong shape."""
    value = tf.cast(value, x.dtype)
    if value.shape.is_fully_defined() and value.shape != x.shape:
        raise ValueError(
            f"`{name}` must return an array of the shape of x, {tuple(x.shape)}; "
            f"it returned {tuple(value.shape)}."
        )
    return value


# ------------------------------------------------------------------------------------ samplers
def annealed_langevin(
    score_fn,
    x0,
    sigmas,
    steps_per_level=100,
    step_size=2e-5,
    seed=None,
    denoise=True,
    thin=None,
    return_chain=False,
    known=None,
    mask=None,
    jit_compile=False,
):
    """Annealed Langevin dynamics (Song & Ermon 2019, Algorithms 1 and 2).

    For levels i = 1 … L (here indexed 0 … L − 1), ``steps_per_level`` times:
    x ← x + (α_i/2)·s(x, i) + √α_i·z with α_i = ε·σ_i²/σ_L², z ~ N(0, I); then, with
    ``denoise``, x ← x + σ_L²·s(x, L) (Tweedie's denoising step, no noise).

    Args:
        score_fn: ``score_fn(x, i)`` → an estimate of ∇ₓ log p_{σ_i}(x), the shape of x. ``i`` is
            a scalar int32 tensor, the index of the level in ``sigmas``; the function is traced
            into a ``tf.function``, so it must use tensor operations.
        x0: the starting batch, shape (n, ...): e.g. uniform noise on images, N(0, σ_1² I) on
            vectors (with σ_1 of the order of the largest distance between data points, the
            chains forget x0 within the first levels).
        sigmas: σ_1 > … > σ_L > 0, largest first.
        steps_per_level: T, Langevin steps per level (100 in the paper).
        step_size: ε, the step size at the last level (2·10⁻⁵ in the paper for images in [0, 1]
            with σ_L = 0.01; scale it with σ_L² for other schedules).
        seed: ``None``, an int or a ``keras.random.SeedGenerator``: all noise is drawn
            statelessly from one seed taken from it, so the same int gives the same chain.
        denoise: end with the noise-free step x + σ_L²·s(x, L).
        thin: with ``return_chain``, keep every ``thin``-th state (default 1: all of them).
        return_chain: also return the states visited.
        known, mask: inpainting (Algorithm 2): where ``mask`` is 1 the entries are not sampled
            but set, after every step, to ``known`` + σ_i·z̃ (z̃ drawn once per level); after
            the final (denoising) step they are set to ``known`` exactly. ``known`` has the shape
            of ``x0``; ``mask`` holds 0s and 1s and broadcasts against it.
        jit_compile: compile the loop with XLA.

    Returns:
        The final states, shape of ``x0``; with ``return_chain``, the pair ``(x, chain)`` where
        ``chain`` has shape (L·T // thin + 1, *x0.shape): x0, then every ``thin``-th state (before
        the denoising step).
    """
    score_fn = _check_callable(score_fn, "score_fn")
    x0 = _check_x0(x0)
    sigmas = check_sigmas(sigmas)
    steps_per_level = check_positive_int(steps_per_level, "steps_per_level")
    epsilon = check_positive_float(step_size, "step_size")
    total_steps = len(sigmas) * steps_per_level
    thin = _check_thin(thin, return_chain, total_steps)
    inpainting = known is not None or mask is not None
    if inpainting:
        known, mask = _check_mask(mask, known, x0)
    else:
        known = mask = tf.zeros((), x0.dtype)
    seed = _check_seed_arg(seed)

    def build(resolve):
        def program(x, sigmas, alphas, seed, known, mask):
            last = tf.shape(sigmas)[0] - 1
            noise_seed, known_seed = _step_seed(seed, 0), _step_seed(seed, 1)

            def score(x, i):
                return _checked_output(resolve()(x, i), x, "score_fn")

            def step(t, x):
                i = t // steps_per_level
                alpha = tf.gather(alphas, i)
                z = _normal(x, _step_seed(noise_seed, t))
                x = x + 0.5 * alpha * score(x, i) + tf.sqrt(alpha) * z
                if inpainting:  # ỹ = y + σ_i z̃, the same z̃ through level i
                    z_known = _normal(x, _step_seed(known_seed, i))
                    x = x * (1 - mask) + (known + tf.gather(sigmas, i) * z_known) * mask
                return x

            x, chain = _run_chain(step, x, total_steps, thin, return_chain)
            if denoise:
                x = x + tf.square(sigmas[-1]) * score(x, last)
                if inpainting:
                    x = x * (1 - mask) + known * mask
            return x if chain is None else (x, chain)

        return program

    static = ("annealed", steps_per_level, thin, bool(return_chain), bool(denoise), inpainting)
    program = _program(score_fn, static, build, jit_compile)
    dtype = x0.dtype
    alphas = epsilon * sigmas**2 / sigmas[-1] ** 2
    return program(x0, tf.constant(sigmas, dtype), tf.constant(alphas, dtype), seed, known, mask)


def _langevin_step(grad_fn, step_size, noise_scale, seed):
    """The unadjusted Langevin step t ↦ (x ↦ x + (s/2)·g(x) + noise_scale·√s·z_t), z_t drawn
    statelessly from ``(seed, t)``: the one rule of :func:`langevin` and
    :func:`short_run_langevin`."""

    def step(t, x):
        grad = _checked_output(grad_fn(x), x, "grad_log_density_fn")
        z = _normal(x, _step_seed(seed, t))
        return x + 0.5 * step_size * grad + noise_scale * tf.sqrt(step_size) * z

    return step


def _with_context(fn, context):
    return fn if context is None else (lambda x: fn(x, context))


def langevin(
    grad_log_density_fn,
    x0,
    steps,
    step_size,
    seed=None,
    noise_scale=1.0,
    thin=None,
    return_chain=False,
    jit_compile=False,
    context=None,
):
    """Unadjusted Langevin dynamics: x ← x + (s/2)·∇ₓ log p(x) + noise_scale·√s·z, ``steps`` times.

    The short-run sampler of latent EBMs (Pang et al. 2020, "Learning Latent Space Energy-Based
    Prior Model", eq. 13 writes z ← z + (δ²/2)·∇ log π(z) + δ·ε: their step δ is √s here, so
    their prior setting δ = 0.4 is ``step_size=0.16``). Inside a traced training step use
    :func:`short_run_langevin`, the same chain without checks or compilation of its own.

    Args:
        grad_log_density_fn: x → ∇ₓ log p(x) (up to a constant of no consequence), the shape of
            x; traced into a ``tf.function``. For a log-density or negative energy, use
            :func:`gradient_of` once and keep the result (a new function retraces). With
            ``context``, it is called as ``grad_log_density_fn(x, context)``.
        x0: the starting batch, shape (n, ...).
        steps: number of steps, ≥ 1.
        step_size: s > 0.
        seed: ``None``, an int or a ``keras.random.SeedGenerator`` (stateless draws: the same
            int gives the same chain).
        noise_scale: factor ≥ 0 on the noise term (1: Langevin dynamics; 0: gradient ascent).
        thin, return_chain: as in :func:`annealed_langevin`; the chain has
            steps // thin + 1 frames, x0 first.
        jit_compile: compile the loop with XLA.
        context: ``None``, or a tensor (or nested structure of tensors) the density is
            conditioned on, e.g. the observed data of a posterior p(z | x): it is an input of the
            compiled program, so new values do not retrace it.

    Returns:
        The final states, or ``(x, chain)`` with ``return_chain``.
    """
    grad_fn = _check_callable(grad_log_density_fn, "grad_log_density_fn")
    x0 = _check_x0(x0)
    steps = check_positive_int(steps, "steps")
    step_size = check_positive_float(step_size, "step_size")
    noise_scale = check_positive_float(noise_scale, "noise_scale", allow_zero=True)
    thin = _check_thin(thin, return_chain, steps)
    seed = _check_seed_arg(seed)
    conditioned = context is not None
    if conditioned:
        context = tf.nest.map_structure(tf.convert_to_tensor, context)

    def build(resolve):
        def program(x, step_size, noise_scale, seed, context):
            fn = _with_context(resolve(), context if conditioned else None)
            step = _langevin_step(fn, step_size, noise_scale, seed)
            x, chain = _run_chain(step, x, steps, thin, return_chain)
            return x if chain is None else (x, chain)

        return program

    static = ("langevin", steps, thin, bool(return_chain), conditioned)
    program = _program(grad_fn, static, build, jit_compile)
    dtype = x0.dtype
    context = context if conditioned else tf.zeros(())
    return program(x0, tf.constant(step_size, dtype), tf.constant(noise_scale, dtype), seed, context)


def short_run_langevin(grad_log_density_fn, x0, steps, step_size, seed, noise_scale=1.0,
                       context=None):
    """K steps of :func:`langevin`'s rule, x ← x + (s/2)·∇ₓ log p(x) + noise_scale·√s·z, built into
    the caller's traced function: the short-run chains of a training step.

    Short-run MCMC (Nijkamp et al. 2019; Pang et al. 2020, §3.3) starts every chain afresh from
    a fixed noise distribution and runs a fixed, small number of steps, inside each parameter
    update. This function is that loop as part of the caller's graph: it checks only the
    Python arguments (``steps``, ``step_size``, ``noise_scale``), never tensor values, so it
    works on symbolic tensors, under ``tf.function``, XLA and ``tf.distribute``, and compiles
    nothing of its own. Called eagerly it runs step by step (slowly): outside a traced function
    prefer :func:`langevin`, which gives the same chain for the same seed.

    The chain is not differentiated: the result is passed through ``stop_gradient``, as the
    short-run learning rule prescribes (the samples stand in for draws of the distribution;
    their dependence on the parameters is not part of the gradient).

    Args:
        grad_log_density_fn: x → ∇ₓ log p(x), the shape of x (``(x, context)`` → … with
            ``context``); e.g. −∇E(x) from :func:`kgen.backend.value_and_input_gradient`.
        x0: the starting batch, a tensor of shape (n, ...).
        steps: K ≥ 1, a Python int (the loop's length is fixed when the caller is traced).
        step_size: s > 0, a Python float (Pang et al.'s δ²).
        seed: a ``keras.random.SeedGenerator`` (its next seed is drawn, in the traced function
            too) or a stateless seed, an int32 tensor of shape [2].
        noise_scale: factor ≥ 0 on the noise term.
        context: ``None`` or the tensors the density is conditioned on.

    Returns:
        The chains' last states, shape and dtype of ``x0``, with gradients stopped.
    """
    grad_fn = _check_callable(grad_log_density_fn, "grad_log_density_fn")
    steps = check_positive_int(steps, "steps")
    step_size = check_positive_float(step_size, "step_size")
    noise_scale = check_positive_float(noise_scale, "noise_scale", allow_zero=True)
    x0 = tf.convert_to_tensor(x0)
    if isinstance(seed, keras.random.SeedGenerator):
        seed = tfp_seed(seed)
    else:
        seed = tf.cast(seed, tf.int32)
    dtype = x0.dtype
    step = _langevin_step(_with_context(grad_fn, context), tf.constant(step_size, dtype),
                          tf.constant(noise_scale, dtype), seed)
    x, _ = _run_chain(step, tf.stop_gradient(x0), steps, 1, False)
    return tf.stop_gradient(x)


def gradient_of(log_density_fn):
    """x ↦ ∇ₓ Σ_batch log p(x): the input gradient that :func:`langevin` needs, from a function
    returning one log-density (or negative energy) per example. TensorFlow-specific (a
    ``tf.GradientTape``); summing over the batch gives each example its own gradient because the
    examples do not interact.
    """
    log_density_fn = _check_callable(log_density_fn, "log_density_fn")

    def grad_log_density(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(log_density_fn(x))
        return tape.gradient(total, x)

    return grad_log_density
