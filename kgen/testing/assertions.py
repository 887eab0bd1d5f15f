"""Assertions that explain themselves to a beginner, the building blocks of every ``check_*``.

Each raises ``AssertionError`` with what was compared, the worst element, the input that
produced it and a hint, and returns the checked value as a float64 NumPy array. The smaller
helpers (``as_float32``, ``function_name``, ``ratio_hint``, ``format_array``,
``describe_inputs``, ``shape_text``) are shared by the check modules of :mod:`kgen.testing`.
"""

import keras
import numpy as np
import tensorflow as tf


def to_numpy(value, what="the result"):
    """``value`` (a tensor, a NumPy array, a number or a nested list) as a float64 NumPy array.

    Raises ``AssertionError`` for ``None`` (a function that forgot ``return``) and for values
    that are not numbers.
    """
    if value is None:
        raise AssertionError(
            f"{what} is None. Hint: did your function forget its `return` statement?"
        )
    if isinstance(value, (tuple, list)) and value and not np.isscalar(value[0]):
        raise AssertionError(
            f"{what} is a {type(value).__name__} of {len(value)} items; expected a single tensor. "
            "Hint: return one tensor, not a tuple or list of them."
        )
    try:
        if hasattr(value, "numpy"):
            value = value.numpy()
        array = np.asarray(keras.ops.convert_to_numpy(value) if keras.ops.is_tensor(value) else value)
        return array.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise AssertionError(
            f"{what} could not be read as numbers (got a {type(value).__name__}: {err})."
        ) from None


def format_array(values, limit=6):
    values = np.asarray(values)
    if values.ndim == 0:
        return f"{float(values):.6g}"
    flat = values.ravel()
    text = ", ".join(f"{v:.4g}" for v in flat[:limit])
    more = f", … ({flat.size} values)" if flat.size > limit else ""
    return f"[{text}{more}]"


def describe_inputs(inputs, row):
    """Lines that show the batch row ``row`` of each named input."""
    if not inputs:
        return ""
    lines = []
    for name, value in inputs.items():
        value = np.asarray(value)
        if value.ndim >= 1 and row is not None and row < value.shape[0]:
            lines.append(f"  {name}[{row}] = {format_array(value[row])}")
        else:
            lines.append(f"  {name} = {format_array(value)}")
    return "\n" + "\n".join(lines)


def assert_shape(actual, expected_shape, what, hint=""):
    """Raise ``AssertionError`` unless ``actual`` has exactly ``expected_shape``.

    Args:
        actual: a tensor or array (anything :func:`to_numpy` reads).
        expected_shape: a tuple of ints.
        what: a phrase naming the value for the message, e.g. "`gaussian_kl(mean, log_var)`".
        hint: a sentence that helps fix the usual cause.

    Returns:
        ``actual`` as a float64 NumPy array.
    """
    array = to_numpy(actual, what)
    expected_shape = tuple(int(d) for d in expected_shape)
    if array.shape != expected_shape:
        message = f"{what} has shape {array.shape}; expected shape {expected_shape}."
        raise AssertionError(message + (f"\nHint: {hint}" if hint else ""))
    return array


def assert_finite(actual, what, hint="", inputs=None):
    """Raise ``AssertionError`` if ``actual`` holds a NaN or an infinity; return it as NumPy."""
    array = to_numpy(actual, what)
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        row = index[0] if index else None
        message = (
            f"{what} contains {int(bad.sum())} NaN or infinite value(s); the first is "
            f"{array[index]} at index {index}."
        )
        if inputs:
            message += f"\nFor the input:{describe_inputs(inputs, row)}"
        raise AssertionError(message + (f"\nHint: {hint}" if hint else ""))
    return array


def assert_allclose(actual, expected, what, rtol=1e-5, atol=1e-6, hint="", inputs=None):
    """Raise an ``AssertionError`` a beginner can act on unless ``actual`` ≈ ``expected``.

    The shapes must match exactly (no broadcasting) and every element must satisfy
    ``|actual − expected| ≤ atol + rtol·|expected|``. The message names ``what`` was compared,
    the worst element (its index, the expected and the actual value), how many elements are off,
    the batch row of each of ``inputs`` that produced the worst element, and ``hint``.

    Args:
        actual: the value to check (tensor, array, number).
        expected: the right value.
        what: a phrase naming the value, e.g. "`reparameterize(mean, log_var)`".
        rtol, atol: relative and absolute tolerances.
        hint: a sentence suggesting the likely mistake.
        inputs: optional dict ``name → array`` of the inputs; their row at the worst element's
            first index (the batch index) is shown.

    Returns:
        ``actual`` as a float64 NumPy array.
    """
    expected = np.asarray(to_numpy(expected, "the expected value"))
    array = assert_shape(actual, expected.shape, what, hint=hint)
    finite = np.isfinite(expected)
    nonfinite = ~np.isfinite(array) & finite
    if nonfinite.any():
        index = tuple(int(i) for i in np.argwhere(nonfinite)[0])
        row = index[0] if index else None
        raise AssertionError(
            f"{what} contains NaN or infinite values where finite ones are expected: at index "
            f"{index} it is {array[index]}, expected {expected[index]:.6g}."
            + (f"\nFor the input:{describe_inputs(inputs, row)}" if inputs else "")
            + (f"\nHint: {hint}" if hint else "")
        )
    error = np.abs(array - expected)
    allowed = atol + rtol * np.abs(expected)
    wrong = (error > allowed) & finite
    if wrong.any():
        index = tuple(int(i) for i in np.unravel_index(np.argmax(np.where(wrong, error, -1.0)), error.shape))
        row = index[0] if index else None
        where = f" at index {index}" if index else ""
        message = (
            f"{what} is not what was expected: {int(wrong.sum())} of {wrong.size} value(s) differ.\n"
            f"  worst{where}: expected {expected[index]:.6g}, got {array[index]:.6g} "
            f"(difference {error[index]:.3g}, allowed {allowed[index]:.3g})"
        )
        if inputs:
            message += f"\nFor the input:{describe_inputs(inputs, row)}"
        raise AssertionError(message + (f"\nHint: {hint}" if hint else ""))
    return array


def call_student(fn, *args, what=None, hint=None, **kwargs):
    """Call ``fn(*args, **kwargs)``, turning any exception into an ``AssertionError`` that says
    which call failed, with ``hint`` (the original error stays chained below it in the
    traceback)."""
    what = what or f"`{getattr(fn, '__name__', 'your function')}`"
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise AssertionError(
            f"{what} is not implemented yet: replace `raise NotImplementedError()` with your code."
        ) from None
    except AssertionError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure of the student's code is reported
        shapes = ", ".join(shape_text(a) for a in args)
        shapes += "".join(f", {k}={shape_text(v)}" for k, v in kwargs.items())
        raise AssertionError(
            f"Calling {what} with ({shapes}) raised {type(err).__name__}: {err}\n"
            + (f"Hint: {hint}" if hint else "Hint: read the error above; the inputs are float32 "
               "tensors — use `keras.ops` (or TensorFlow) functions on them.")
        ) from err


def shape_text(value):
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"tensor of shape {tuple(shape)}"
    if isinstance(value, keras.random.SeedGenerator):
        return "SeedGenerator"
    return repr(value)


def as_float32(array):
    return tf.constant(np.asarray(array, dtype=np.float32))


def function_name(fn, default):
    return f"`{getattr(fn, '__name__', default)}`"


def ratio_hint(actual, expected, hints):
    """The hint of the first ``(ratio, text)`` pair for which ``actual ≈ ratio · expected``."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        return ""
    for ratio, text in hints:
        if np.allclose(actual, ratio * expected, rtol=1e-3, atol=1e-4):
            return text
    return ""


