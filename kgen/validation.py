"""Checks of user input that fail early, with messages that name the argument.

Each check raises ``TypeError`` for a wrong kind of value and ``ValueError`` for a wrong shape,
range or content, saying what was expected and what was given, before any training starts.

The module starts no TensorFlow: the checks that take tensors, datasets or networks import
Keras and TensorFlow when first called, so that ``kgen list`` and the CLI's argument errors
answer at once.
"""

import numbers

import numpy as np


def check_positive_int(value, name):
    """Return ``value`` as an ``int`` if it is a whole number ≥ 1; raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be a positive integer; got {value!r} ({type(value).__name__}).")
    if value < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {value}.")
    return int(value)


def check_seed(seed, name="seed"):
    """Return ``seed`` if it is ``None`` or a whole number ≥ 0; raise otherwise."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`{name}` must be None or a non-negative integer; got {seed!r} ({type(seed).__name__}).")
    if seed < 0:
        raise ValueError(f"`{name}` must be None or a non-negative integer; got {seed}.")
    return int(seed)


def check_shape(input_shape, name="input_shape"):
    """Return ``input_shape`` as a tuple of positive ints (the shape of one example); raise otherwise."""
    if not isinstance(input_shape, (tuple, list)) or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in input_shape
    ):
        raise TypeError(
            f"`{name}` must be a tuple of positive ints, e.g. (64, 64, 1) for images or (2,) "
            f"for vectors; got {input_shape!r}."
        )
    return tuple(int(d) for d in input_shape)


def check_positive_float(value, name, allow_zero=False):
    """Return ``value`` as a ``float`` if it is a real number > 0 (or ≥ 0); raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {value!r} ({type(value).__name__}).")
    if value < 0 or (value == 0 and not allow_zero) or not np.isfinite(value):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be a finite number {bound}; got {value}.")
    return float(value)


def check_choice(value, name, choices):
    """Return ``value`` if it is one of ``choices``; raise a ``ValueError`` listing them otherwise."""
    if value not in choices:
        raise ValueError(f"Unknown `{name}` {value!r}; expected one of: {', '.join(map(str, choices))}.")
    return value


def check_data(x, event_shape, name="x", value_range=None, range_reason=""):
    """Check a batch of data: a floating array of shape ``(batch, *event_shape)``, finite, in range.

    Args:
        x: a NumPy array or an eager tensor.
        event_shape: the shape of one example, e.g. ``(64, 64, 1)``.
        name: the argument's name, used in messages.
        value_range: ``(low, high)`` the values must lie in, or ``None``.
        range_reason: why the range applies (e.g. "for a Bernoulli likelihood").
    """
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):  # an eager tensor
        x = x.numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"`{name}` must be a NumPy array or a tensor of shape (batch, {_dims(event_shape)}); "
            f"got {type(x).__name__}."
        )
    if not np.issubdtype(x.dtype, np.floating):
        hint = " Convert images with `x.astype('float32') / 255`." if np.issubdtype(x.dtype, np.integer) else ""
        raise TypeError(f"`{name}` must hold floating-point values; got dtype {x.dtype}.{hint}")
    expected = tuple(event_shape)
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        hint = ""
        if x.ndim == len(expected) and tuple(x.shape[1:]) == expected[:-1] and expected[-1] == 1:
            hint = " Add the channel axis with `x[..., None]`."
        raise ValueError(
            f"`{name}` must have shape (batch, {_dims(expected)}); got {tuple(x.shape)}.{hint}"
        )
    finite = np.isfinite(x)
    if not finite.all():
        bad = int(x.size - finite.sum())
        first = np.unravel_index(int(np.argmin(finite)), x.shape)
        raise ValueError(f"`{name}` contains {bad} NaN or infinite value(s), the first at index {first}.")
    if value_range is not None and x.size:
        low, high = value_range
        x_min, x_max = float(x.min()), float(x.max())
        if x_min < low or x_max > high:
            raise ValueError(
                f"`{name}` must lie in [{low}, {high}]{(' ' + range_reason) if range_reason else ''}; "
                f"got values in [{x_min:.4g}, {x_max:.4g}]."
            )
    return x


def check_dataset(dataset, event_shape, name="x", value_range=None, range_reason=""):
    """Check a ``tf.data.Dataset`` of batches by its element spec and by its first batch."""
    import tensorflow as tf  # here: see the module docstring

    spec = dataset.element_spec
    features = spec[0] if isinstance(spec, tuple) else spec
    if not isinstance(features, tf.TensorSpec):
        raise TypeError(f"`{name}` must yield tensors (or (tensor, ...) tuples); got element spec {spec}.")
    rank = len(event_shape) + 1
    if features.shape.rank is not None and features.shape.rank != rank:
        raise ValueError(
            f"`{name}` must yield batches of shape (batch, {_dims(event_shape)}); got element shape "
            f"{tuple(features.shape)}. Did you forget `.batch(batch_size)`?"
        )
    for first in dataset.take(1):
        first = first[0] if isinstance(first, tuple) else first
        check_data(first.numpy(), event_shape, name, value_range, range_reason)


def check_input(x, event_shape, name="x", value_range=None, range_reason=""):
    """Check whatever a user hands to ``fit``/``evaluate``: an array, a tensor or a dataset.

    Other inputs (generators, ``keras.utils.PyDataset``) pass through unchecked: reading them
    here would consume them. Returns an array or tensor as the checked NumPy array, anything
    else as it was given.
    """
    import tensorflow as tf  # here: see the module docstring

    if isinstance(x, tf.data.Dataset):
        check_dataset(x, event_shape, name, value_range, range_reason)
    elif isinstance(x, (np.ndarray, tf.Tensor)):
        return check_data(x, event_shape, name, value_range, range_reason)
    elif isinstance(x, (list, tuple)):
        raise TypeError(f"`{name}` must be a NumPy array, a tensor or a tf.data.Dataset; got a {type(x).__name__}.")
    return x


def check_network(network, name, inputs, output_shape):
    """Return ``network`` if it is a Keras layer that maps a batch of ``inputs`` to
    ``(batch, *output_shape)``; raise a clear ``TypeError``/``ValueError`` otherwise.

    Args:
        network: the user's (or a default) network.
        name: the constructor argument it came from, used in messages.
        inputs: the shape of one input example, or a list of shapes for a network of several
            inputs (called with a list of batches of one, all zeros).
        output_shape: the shape of one output example.
    """
    import keras  # here: see the module docstring

    if not isinstance(network, keras.layers.Layer):
        raise TypeError(f"`{name}` must be a Keras layer or model; got {type(network).__name__}.")
    several = isinstance(inputs, list)
    shapes = inputs if several else [inputs]
    batch = [keras.ops.zeros((1, *shape)) for shape in shapes]
    described = ", ".join(f"(batch, {_dims(shape)})" for shape in shapes)
    expected = f"`{name}` must map {'[' + described + ']' if several else described} to (batch, {_dims(output_shape)})"
    try:
        produced = tuple(keras.ops.shape(network(batch if several else batch[0]))[1:])
    except (ValueError, TypeError) as error:
        raise ValueError(f"{expected}; calling it failed: {error}") from error
    if produced != tuple(output_shape):
        raise ValueError(f"{expected}; it gives (batch, {_dims(produced)}).")
    return network


def _dims(shape):
    return ", ".join(str(d) for d in shape)
