"""Checks of the normalizing-flow exercises (course notebook 03): the forward and inverse passes of
an affine coupling layer with their log-determinants, and the masks of MADE."""

import math

import numpy as np
import tensorflow as tf

from kgen.layers.made import made_masks as reference_made_masks
from kgen.testing.assertions import (
    as_float32,
    assert_allclose,
    assert_shape,
    call_student,
    function_name,
    to_numpy,
)


# ------------------------------------------------------------------------------- coupling
class _RecordingConditioner:
    """A fixed smooth function of the kept part, standing in for the coupling's network:
    (shift, log_scale) = (2·tanh(h A + a), 0.8·tanh(h B + b)) on the flattened input h, reshaped
    to the input's shape. Its outputs are non-zero at *every* entry, kept ones included, so the
    mask must be applied to them. It records the largest |input| at the changed entries (where
    the mask is 0): a coupling's network may only see the kept part b ⊙ z."""

    def __init__(self, mask, seed):
        rng = np.random.default_rng(seed)
        size = mask.size
        self.mask = mask
        self.weights = [as_float32(rng.normal(size=(size, size)) * 1.5 / math.sqrt(size)) for _ in range(2)]
        self.biases = [as_float32(rng.normal(size=(size,))) for _ in range(2)]
        self.calls, self.leak = 0, 0.0

    def __call__(self, kept):
        kept = tf.convert_to_tensor(kept, tf.float32)
        self.calls += 1
        changed = tf.abs(kept * (1.0 - as_float32(self.mask)))
        self.leak = max(self.leak, float(tf.reduce_max(changed)))
        flat = tf.reshape(kept, (tf.shape(kept)[0], -1))
        shift = 2.0 * tf.tanh(flat @ self.weights[0] + self.biases[0])
        log_scale = 0.8 * tf.tanh(flat @ self.weights[1] + self.biases[1])
        return tf.reshape(shift, tf.shape(kept)), tf.reshape(log_scale, tf.shape(kept))

    def numpy(self, kept):
        return tuple(to_numpy(value) for value in self(as_float32(kept)))


def _per_example(values):
    return values.reshape(values.shape[0], -1).sum(axis=1)


def _coupling_case(input_shape, batch, seed):
    """Inputs z, a mask b (1 = kept) of the input shape, or of (H, W, 1) for images, and a conditioner."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(batch, *input_shape))
    if len(input_shape) == 1:
        mask = (rng.permutation(input_shape[0]) < input_shape[0] // 2).astype(float)
    else:
        rows, cols = np.indices(input_shape[:2])
        mask = ((rows + cols) % 2 == 0).astype(float)[..., None]
    return z, mask, _RecordingConditioner(mask, seed)


def _reference_forward(z, mask, conditioner):
    shift, log_scale = conditioner.numpy(mask * z)
    x = mask * z + (1 - mask) * (z * np.exp(log_scale) + shift)
    return x, _per_example((1 - mask) * log_scale)


def _unpack_pair(result, what, names):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise AssertionError(
            f"{what} returned a {type(result).__name__}; expected a pair ({names[0]}, {names[1]}).\n"
            f"Hint: end with `return {names[0]}, {names[1]}`: a flow layer returns its output and "
            "the log-determinant of its Jacobian."
        )
    return result


def _log_det_shape_hint(shape, batch, input_shape):
    if shape == ():
        return ("you returned one number for the whole batch; the log-determinant has one value "
                "per example: sum over every axis except the first.")
    if shape == (batch, *input_shape):
        return "you returned one value per entry; sum them over every axis except the first."
    return f"the log-determinant has one value per example, shape ({batch},)."


def _call_coupling(fn, name, inputs, mask, conditioner, what, output_name, input_shape):
    """Call the student's coupling ``fn(inputs, mask, conditioner)`` and check the shapes of its
    (output, log_det) pair and that the conditioner saw only the kept part; returns the pair as
    arrays and the hint for image batches (appended to every later hint)."""
    batch = inputs.shape[0]
    image_hint = ("" if len(input_shape) == 1 else
                  " For images, sum over every axis but the first, "
                  f"`axis=tuple(range(1, len({output_name}.shape)))`; the mask broadcasts against "
                  "(batch, H, W, C).")
    result = call_student(fn, as_float32(inputs), as_float32(mask), conditioner, what=name)
    output, log_det = _unpack_pair(result, what, (output_name, "log_det"))
    output = assert_shape(output, inputs.shape, f"{output_name} from {what}",
                          hint=f"{output_name} has the shape of the input.")
    shape = to_numpy(log_det, f"log_det from {what}").shape
    log_det = assert_shape(log_det, (batch,), f"log_det from {what}",
                           hint=_log_det_shape_hint(shape, batch, input_shape) + image_hint)
    _check_conditioner_input(conditioner, what)
    return output, log_det, image_hint


def _check_conditioner_input(conditioner, what):
    if conditioner.calls == 0:
        raise AssertionError(
            f"{what} never called `conditioner`: the shift and log-scale come from "
            "`conditioner(mask * input)`."
        )
    if conditioner.leak > 1e-6:
        raise AssertionError(
            f"{what} called `conditioner` with an input that is non-zero where mask = 0 (up to "
            f"{conditioner.leak:.3g}).\nHint: the network must see only the kept part, "
            "`conditioner(mask * z)`; otherwise the Jacobian is not triangular and the layer "
            "cannot be inverted."
        )


def _first_matching_hint(actual, mistakes, default):
    for value, text in mistakes:
        if value.shape == actual.shape and np.allclose(actual, value, rtol=1e-4, atol=1e-4):
            return text
    return default


def _autodiff_log_det(fn, inputs, what):
    """log |det ∂fn(inputs)/∂inputs| per example, from TensorFlow's Jacobian of ``fn``'s first output."""
    inputs = as_float32(inputs)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(inputs)
        output = call_student(fn, inputs)[0]
        output = tf.reshape(tf.convert_to_tensor(output, tf.float32), (inputs.shape[0], -1))
    jacobian = tape.batch_jacobian(output, inputs, experimental_use_pfor=False)
    if jacobian is not None:
        jacobian = tf.reshape(jacobian, (inputs.shape[0], output.shape[1], -1)).numpy().astype(np.float64)
        log_det = np.linalg.slogdet(jacobian)[1]
    if jacobian is None or not np.isfinite(log_det).all():
        raise AssertionError(
            f"{what}: TensorFlow finds no derivative of your output with respect to the input.\n"
            "Hint: compute with `keras.ops` (or TensorFlow) functions, not NumPy, so that gradients "
            "flow through the layer when it is trained."
        )
    return log_det


def _coupling_mistakes_forward(z, mask, shift, log_scale):
    changed = 1 - mask
    return [
        (z * np.exp(log_scale) + shift,
         "the kept entries (mask = 1) must pass through unchanged: x = b⊙z + (1 − b)⊙(z⊙exp(log_scale) + shift)."),
        (mask * z + changed * (z * log_scale + shift),
         "`log_scale` is the logarithm of the scale: multiply by exp(log_scale), not by log_scale."),
        (mask * z + changed * ((z + shift) * np.exp(log_scale)),
         "scale first, then shift: z ⊙ exp(log_scale) + shift (not (z + shift) ⊙ exp(log_scale))."),
        (mask * z + changed * (z * np.exp(-log_scale) + shift),
         "the forward pass multiplies by exp(+log_scale); the inverse divides."),
        (changed * z + mask * (z * np.exp(log_scale) + shift),
         "the mask is 1 on the kept entries: x = b⊙z + (1 − b)⊙(…), not the other way round."),
    ]


def _log_det_mistakes(mask, log_scale, sign):
    """Typical wrong log-determinants; ``sign`` is +1 for the forward pass, −1 for the inverse."""
    changed = 1 - mask
    size = log_scale[0].size
    return [
        (-sign * _per_example(changed * log_scale),
         "wrong sign: the forward log-det is +Σ (1 − b)·log_scale (the layer stretches by exp(log_scale)); "
         "the inverse undoes it, so its log-det is −Σ (1 − b)·log_scale."),
        (sign * _per_example(log_scale),
         "only the changed entries (mask = 0) contribute: sum (1 − mask)·log_scale, not all of log_scale "
         "(the kept entries have a derivative of 1, log 1 = 0)."),
        (sign * _per_example(changed * log_scale) / size,
         "sum the log-scales over the entries of each example instead of averaging them."),
        (sign * _per_example(changed * np.exp(log_scale)),
         "the log-determinant is the sum of the log-scales themselves, not of exp(log_scale)."),
    ]


def check_affine_coupling_forward(fn):
    """Check ``fn(z, mask, conditioner) → (x, log_det)``, the forward pass of an affine coupling
    layer (Dinh et al. 2017, eq. 7–9, with a binary mask b that is 1 on the kept entries):

        (shift, log_scale) = conditioner(b ⊙ z),
        x = b ⊙ z + (1 − b) ⊙ (z ⊙ exp(log_scale) + shift),
        log_det = log |det ∂x/∂z| = Σ (1 − b) ⊙ log_scale   (one value per example).

    Properties checked, in order: a pair of the right shapes; ``conditioner`` sees only the kept
    part b ⊙ z; the value of x; the log-determinant, against the formula and against the
    log |det| of TensorFlow's Jacobian of your x; image batches (batch, H, W, C) with a
    checkerboard mask of shape (H, W, 1).
    """
    name = function_name(fn, "affine_coupling_forward")
    for input_shape, batch, seed in (((4,), 5, 0), ((4, 4, 1), 3, 1)):
        z, mask, conditioner = _coupling_case(input_shape, batch, seed)
        what = f"{name}(z, mask, conditioner) with z of shape {z.shape} and mask of shape {mask.shape}"
        x, log_det, image_hint = _call_coupling(fn, name, z, mask, conditioner, what, "x", input_shape)

        shift, log_scale = conditioner.numpy(mask * z)
        expected_x, expected_log_det = _reference_forward(z, mask, conditioner)
        hint = _first_matching_hint(x, _coupling_mistakes_forward(z, mask, shift, log_scale),
                                    "x = b⊙z + (1 − b)⊙(z⊙exp(log_scale) + shift)." + image_hint)
        assert_allclose(x, expected_x, f"x from {what}", rtol=1e-4, atol=1e-4, hint=hint, inputs={"z": z})
        hint = _first_matching_hint(log_det, _log_det_mistakes(mask, log_scale, +1),
                                    "log_det = Σ (1 − b)·log_scale over each example's entries." + image_hint)
        assert_allclose(log_det, expected_log_det, f"log_det from {what}", rtol=1e-4, atol=1e-4, hint=hint)
        autodiff = _autodiff_log_det(lambda t, c=conditioner, b=mask: fn(t, as_float32(b), c), z, what)
        assert_allclose(log_det, autodiff, f"log_det from {what} against log |det ∂x/∂z| by autodiff",
                        rtol=1e-3, atol=1e-3,
                        hint="the log-determinant must be that of the Jacobian of the x you return.")


def check_affine_coupling_inverse(fn):
    """Check ``fn(x, mask, conditioner) → (z, log_det)``, the inverse of the affine coupling layer
    of :func:`check_affine_coupling_forward`:

        (shift, log_scale) = conditioner(b ⊙ x)     (b ⊙ x = b ⊙ z: the kept part did not change),
        z = b ⊙ x + (1 − b) ⊙ (x − shift) ⊙ exp(−log_scale),
        log_det = log |det ∂z/∂x| = −Σ (1 − b) ⊙ log_scale.

    Properties checked, in order: a pair of the right shapes; ``conditioner`` sees only the kept
    part; invertibility, ``fn`` undoes the forward pass (z → x → z); the log-determinant is minus
    the forward one and matches the log |det| of TensorFlow's Jacobian of your z; image batches.
    """
    name = function_name(fn, "affine_coupling_inverse")
    for input_shape, batch, seed in (((4,), 5, 2), ((4, 4, 1), 3, 3)):
        z, mask, conditioner = _coupling_case(input_shape, batch, seed)
        x, forward_log_det = _reference_forward(z, mask, conditioner)
        what = (f"{name}(x, mask, conditioner) with x = forward(z) of shape {x.shape} and mask of "
                f"shape {mask.shape}")
        conditioner.calls, conditioner.leak = 0, 0.0
        z_back, log_det, image_hint = _call_coupling(fn, name, x, mask, conditioner, what, "z", input_shape)

        shift, log_scale = conditioner.numpy(mask * x)
        changed = 1 - mask
        mistakes = [
            ((x - shift) * np.exp(-log_scale),
             "the kept entries (mask = 1) must pass through unchanged: z = b⊙x + (1 − b)⊙(…)."),
            (mask * x + changed * (x - shift) * np.exp(log_scale),
             "to undo the multiplication by exp(log_scale), multiply by exp(−log_scale)."),
            (mask * x + changed * (x * np.exp(-log_scale) - shift),
             "undo the steps in reverse order: subtract the shift first, then divide by the scale, "
             "z = (x − shift)⊙exp(−log_scale)."),
            (mask * x + changed * (x + shift) * np.exp(-log_scale),
             "the forward pass added the shift, so the inverse subtracts it."),
        ]
        hint = _first_matching_hint(z_back, mistakes,
                                    "z = b⊙x + (1 − b)⊙(x − shift)⊙exp(−log_scale) must give back the z "
                                    "that the forward pass started from." + image_hint)
        assert_allclose(z_back, z, f"z from {what} (the inverse must give back the original z)",
                        rtol=1e-4, atol=1e-4, hint=hint, inputs={"x": x})
        hint = _first_matching_hint(log_det, _log_det_mistakes(mask, log_scale, -1),
                                    "log_det = −Σ (1 − b)·log_scale, minus the forward pass's." + image_hint)
        assert_allclose(log_det, -forward_log_det, f"log_det from {what} (minus the forward log-det)",
                        rtol=1e-4, atol=1e-4, hint=hint)
        autodiff = _autodiff_log_det(lambda t, c=conditioner, b=mask: fn(t, as_float32(b), c), x, what)
        assert_allclose(log_det, autodiff, f"log_det from {what} against log |det ∂z/∂x| by autodiff",
                        rtol=1e-3, atol=1e-3,
                        hint="the log-determinant must be that of the Jacobian of the z you return.")


# ----------------------------------------------------------------------------------- MADE
def _masked_mlp_dependencies(masks, dims, seed):
    """Which inputs each output of a random tanh MLP with these masks depends on: a (D, D) boolean
    array, [d, d'] = output d changes with input d' (from TensorFlow's Jacobian at 4 random points)."""
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(4, dims)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        h = x
        for index, mask in enumerate(masks):
            weights = tf.constant(rng.normal(size=mask.shape) * mask)
            h = h @ weights + tf.constant(rng.normal(size=mask.shape[1]) * 0.1)
            if index < len(masks) - 1:
                h = tf.tanh(h)
    jacobian = tape.batch_jacobian(h, x).numpy()
    return np.abs(jacobian).max(axis=0) > 1e-9


def check_made_masks(fn):
    """Check ``fn(degrees, hidden_units) → masks``, the MADE masks (Germain et al. 2015, eq. 12–13).

    ``degrees`` are the D inputs' positions in the autoregressive order (a permutation of 1 … D),
    ``hidden_units`` the widths of the hidden layers. Hidden unit k (counting from 0) of every
    layer has degree m(k) = (k mod (D − 1)) + 1. The answer is one 0/1 array per weight matrix,
    shape (fan_in, fan_out), the output layer (D outputs, one per input) last:

        hidden:  M[k′, k] = 1 if m_l(k) ≥ m_{l−1}(k′),     output:  M[k, d] = 1 if degrees[d] > m_L(k).

    Properties checked, in order: the number and shapes of the masks; their entries are 0 or 1;
    the *autoregressive property* of a random MLP built with them, by TensorFlow's Jacobian:
    output d depends on no input d′ with degrees[d′] ≥ degrees[d], and on every input that comes
    before it; the masks equal the formulas, for a left-to-right and a shuffled order.
    """
    name = function_name(fn, "made_masks")
    cases = ((np.array([1, 2, 3, 4]), [8]), (np.array([3, 1, 5, 2, 4]), [10, 7]), (np.array([2, 1]), [3, 3]))
    for degrees, hidden_units in cases:
        dims = len(degrees)
        what = f"{name}(degrees={degrees.tolist()}, hidden_units={hidden_units})"
        result = call_student(fn, degrees.copy(), list(hidden_units), what=name)
        if not isinstance(result, (list, tuple)) or len(result) != len(hidden_units) + 1:
            got = f"{len(result)} items" if isinstance(result, (list, tuple)) else f"a {type(result).__name__}"
            raise AssertionError(
                f"{what} returned {got}; expected a list of {len(hidden_units) + 1} masks, one per "
                "weight matrix: one per hidden layer and one for the output layer.\n"
                "Hint: the output layer needs its own mask, M[k, d] = 1 if degrees[d] > m_L(k)."
            )
        fans = [dims, *hidden_units, dims]
        masks = []
        for index, mask in enumerate(result):
            expected_shape = (fans[index], fans[index + 1])
            layer = "the output layer" if index == len(hidden_units) else f"hidden layer {index + 1}"
            transposed = to_numpy(mask, f"mask {index}").shape == expected_shape[::-1]
            mask = assert_shape(mask, expected_shape, f"mask {index} ({layer}) from {what}",
                                hint="the mask has the shape of the weight matrix it multiplies, "
                                     "(fan_in, fan_out), as in h = x @ (W * M)"
                                     + (": yours is transposed." if transposed else "."))
            if not np.isin(mask, (0.0, 1.0)).all():
                raise AssertionError(f"mask {index} from {what} holds values other than 0 and 1.\n"
                                     "Hint: a mask keeps (1) or cuts (0) each connection.")
            masks.append(mask)

        depends = _masked_mlp_dependencies(masks, dims, seed=dims)
        before = degrees[None, :] < degrees[:, None]          # [d, d']: input d' precedes output d
        forbidden = np.argwhere(depends & ~before)
        if len(forbidden):
            d, d_in = forbidden[0]
            itself = "itself" if d == d_in else f"input {d_in}, of degree {degrees[d_in]}"
            hint = ("the output mask needs a strict inequality, degrees[d] > m_L(k): an output may not "
                    "see its own input." if d == d_in else
                    "use the degrees you are given (the order of the variables), not the positions 1 … D; "
                    "hidden masks use m_l(k) ≥ m_{l−1}(k′) and the output mask degrees[d] > m_L(k).")
            raise AssertionError(
                f"The masks of {what} break the autoregressive property: in an MLP built with them, "
                f"output {d} (degree {degrees[d]}) depends on {itself}.\nHint: {hint}"
            )
        missing = np.argwhere(before & ~depends)
        if len(missing):
            d, d_in = missing[0]
            raise AssertionError(
                f"The masks of {what} cut too much: in an MLP built with them, output {d} (degree "
                f"{degrees[d]}) does not depend on input {d_in} (degree {degrees[d_in]}), which comes "
                "before it.\nHint: hidden masks use ≥, M[k′, k] = 1 if m_l(k) ≥ m_{l−1}(k′): a unit of "
                "degree k may see inputs of degree up to k. Hidden degrees run over 1 … D − 1."
            )
        for index, (mask, expected) in enumerate(zip(masks, reference_made_masks(degrees, hidden_units))):
            assert_allclose(mask, expected, f"mask {index} from {what}", atol=0,
                            hint="hidden unit k (from 0) of every layer has degree (k mod (D − 1)) + 1; "
                                 "hidden masks: 1 if m_l(k) ≥ m_{l−1}(k′); output mask: 1 if "
                                 "degrees[d] > m_L(k).")
