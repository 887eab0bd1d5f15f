"""Data too large for memory as a folder of ``.npy`` shards, read by their headers alone.

A shard is an ordinary ``numpy.save`` file holding a run of examples ``(m, *example_shape)``.
The ``.npy`` format (NumPy Enhancement Proposal 1, ``numpy.lib.format``) is a magic string and
version, a header giving the dtype, ``fortran_order`` and the shape, padded so that the data
start on an aligned byte, then the elements in C order. Example ``i`` of a C-ordered shard is
therefore the fixed-length record of ``prod(example_shape) * itemsize`` bytes starting at
``header_bytes + i * record_bytes``: :func:`kgen.data.as_dataset` streams shards record by
record with ``tf.data.FixedLengthRecordDataset`` from what :func:`shard_layout` reads here —
the headers, never the data.

:func:`write_shards` cuts an array (a ``numpy.memmap`` too, so the source need not fit in
memory either) into such a folder; the shards sort by name in the array's order.
"""

import math
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from kgen.validation import check_positive_int

#: The element types a shard may hold (``kind`` and ``itemsize`` of a ``numpy.dtype``): those
#: ``tf.io.decode_raw`` decodes — booleans, signed integers, uint8 and uint16, floats.
SHARD_DTYPES = ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "f2", "f4", "f8")


def streamable(dtype):
    """True if shards of ``dtype`` can be streamed (:data:`SHARD_DTYPES`)."""
    dtype = np.dtype(dtype)
    return dtype.fields is None and f"{dtype.kind}{dtype.itemsize}" in SHARD_DTYPES


class ShardLayout(NamedTuple):
    """Where the examples of a folder of ``.npy`` shards lie (see the module docstring)."""

    paths: tuple  #: the shard files, in reading order (sorted by name)
    header_bytes: tuple  #: the length of each file's header
    counts: tuple  #: the number of examples in each file
    example_shape: tuple  #: the shape of one example, the same in every shard
    dtype: np.dtype  #: the element type, the same in every shard

    @property
    def record_bytes(self):
        """Bytes per example."""
        return math.prod(self.example_shape) * self.dtype.itemsize

    @property
    def count(self):
        """Examples in all the shards."""
        return sum(self.counts)


def shard_layout(source):
    """Read the headers of the ``.npy`` shards in the folder ``source`` (or of the one file
    ``source``) and check that they hold one kind of example, in C order, whole.

    Raises:
        TypeError: ``source`` is not a path.
        ValueError: no ``.npy`` file; a file that is not ``.npy``, is truncated, holds another
            example shape or dtype than the first shard, is in Fortran order, or holds a
            dtype outside :data:`SHARD_DTYPES`.
    """
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"`source` must be a folder of .npy files or a .npy file; got {type(source).__name__}.")
    source = Path(source)
    if source.is_dir():
        paths = sorted(path for path in source.iterdir() if path.suffix == ".npy" and path.is_file())
        if not paths:
            raise ValueError(f"The folder {source} holds no .npy shards (write them with kgen.data.write_shards).")
    elif source.is_file() and source.suffix == ".npy":
        paths = [source]
    else:
        raise ValueError(f"`source` must be a folder of .npy shards or a .npy file; {source} is neither.")
    headers = [_read_header(path) for path in paths]
    first_path, (_, first_shape, first_dtype) = paths[0], headers[0]
    for path, (_, shape, dtype) in zip(paths, headers):
        if shape[1:] != first_shape[1:] or dtype != first_dtype:
            raise ValueError(
                f"Every shard must hold examples of one shape and dtype: {first_path.name} holds "
                f"{first_shape[1:]} {first_dtype}, {path.name} holds {shape[1:]} {dtype}."
            )
    return ShardLayout(
        paths=tuple(paths),
        header_bytes=tuple(header for header, _, _ in headers),
        counts=tuple(shape[0] for _, shape, _ in headers),
        example_shape=tuple(first_shape[1:]),
        dtype=first_dtype,
    )


def _read_header(path):
    """``(header_bytes, shape, dtype)`` of one ``.npy`` file, from its header only."""
    with open(path, "rb") as file:
        try:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(file)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(file)
            else:
                raise ValueError(f"version {version} is not supported (1.0 and 2.0 are)")
        except ValueError as error:
            raise ValueError(f"{path} is not a .npy file kgen can stream: {error}") from error
        header_bytes = file.tell()
    if not streamable(dtype) or len(shape) < 1:
        raise ValueError(
            f"{path} must hold an array (examples, ...) of bool, int8-int64, uint8, uint16 or "
            f"float16-float64; got shape {shape} of dtype {dtype}."
        )
    if fortran_order and len(shape) > 1:
        raise ValueError(f"{path} is in Fortran order; save it with np.save(path, np.ascontiguousarray(x)).")
    expected = header_bytes + math.prod(shape) * dtype.itemsize
    if os.path.getsize(path) != expected:
        raise ValueError(
            f"{path} should be {expected} bytes long for its shape {shape} of {dtype}; it is "
            f"{os.path.getsize(path)} (truncated or appended to?)."
        )
    return header_bytes, tuple(int(d) for d in shape), dtype


def write_shards(x, folder, examples_per_shard=10_000, prefix="shard"):
    """Save ``x`` as ``.npy`` shards of ``examples_per_shard`` examples each in ``folder``, for
    :func:`kgen.data.as_dataset` to stream.

    Args:
        x: an array ``(N, *example_shape)`` of a dtype of :data:`SHARD_DTYPES`; a ``numpy.memmap``
            is read one shard at a time.
        folder: the folder to write; created if missing, and it must hold no ``.npy`` file yet
            (a stream reads every ``.npy`` file of its folder).
        examples_per_shard: examples per file (the last one holds the rest).
        prefix: file names are ``{prefix}-00000.npy``, ``{prefix}-00001.npy``, … (zero-padded,
            so that they sort in the order of ``x``).

    Returns:
        The list of the written paths, in order.

    Example:
        >>> write_shards(images, "data/shards", examples_per_shard=5000)
        >>> dataset = kgen.data.as_dataset("data/shards", batch_size=64)
    """
    if not (isinstance(x, np.ndarray) or (hasattr(x, "shape") and hasattr(x, "dtype"))):
        raise TypeError(f"`x` must be an array (N, ...); got {type(x).__name__}.")
    if len(x.shape) < 1 or x.shape[0] < 1:
        raise ValueError(f"`x` must be an array of at least one example, shape (N, ...); got shape {tuple(x.shape)}.")
    if not streamable(x.dtype):
        raise TypeError(
            f"`x` must hold bool, int8-int64, uint8, uint16 or float16-float64 values (what "
            f"tf.io.decode_raw reads); got dtype {x.dtype}. Cast it first, e.g. x.astype('float32')."
        )
    examples_per_shard = check_positive_int(examples_per_shard, "examples_per_shard")
    if not isinstance(prefix, str) or not prefix or os.sep in prefix:
        raise ValueError(f"`prefix` must be a non-empty file-name prefix; got {prefix!r}.")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"`folder` {folder} exists and is not a folder.")
    if folder.is_dir() and any(path.suffix == ".npy" for path in folder.iterdir()):
        raise FileExistsError(f"`folder` {folder} already holds .npy files; write the shards to an empty folder.")
    folder.mkdir(parents=True, exist_ok=True)
    total = int(x.shape[0])
    num_shards = -(-total // examples_per_shard)
    width = max(5, len(str(num_shards - 1)))
    paths = []
    for index in range(num_shards):
        path = folder / f"{prefix}-{index:0{width}d}.npy"
        start = index * examples_per_shard
        np.save(path, np.ascontiguousarray(np.asarray(x[start : start + examples_per_shard])))
        paths.append(path)
    return paths
