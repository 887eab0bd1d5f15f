"""Input pipelines: :func:`as_dataset` for any dataset, and the models' resumable one.

:func:`as_dataset` hands out a ``tf.data.Dataset`` of batches for every name of
``kgen.data.DATASETS``, for an array, and for data too large for memory, streamed from files:
the original idx files of Fashion-MNIST / MNIST (gzip, read record by record) or a folder of
``.npy`` shards (:func:`kgen.data.write_shards`). The pipeline is the usual one — cache, shuffle
with a seed, repeat, batch, decode, prefetch — with the choices made once, here:

* data held in memory (arrays, and every catalog name unless streamed) are never copied into a
  shuffle buffer: the *indices* are shuffled, batched and gathered, so a pass over the data is an
  exact permutation for the memory of one index per example;
* a stream reads fixed-length records (``tf.data.FixedLengthRecordDataset``: an example is
  ``record_bytes`` bytes after a header of ``header_bytes``), shuffles the order of the shards
  each pass and then the records in a buffer of ``shuffle_buffer`` examples, and decodes whole
  batches of raw bytes at once; ``cache`` keeps the *raw* records (1 byte per Fashion-MNIST
  pixel, against 4 decoded), in memory or in a file, before any shuffle so that every pass is
  shuffled anew.

``resumable_batches`` is the pipeline ``GenerativeModel.fit`` builds for an array with
``shuffle=True``. ``keras.callbacks.BackupAndRestore`` restores a model's weights, optimizers
and epoch counter, but not the place a shuffled, repeated input pipeline had reached: a
restarted pipeline hands the resumed run the first epoch's batches again (measured: a
``BetaVAE`` ends 1e-2 away in weights from the uninterrupted run). :func:`resumable_batches`
makes the order of the batches a pure function of a seed and of the number of batches already
consumed, which it reads from a counter variable *when iteration starts* — after
``BackupAndRestore`` has put the counter back. Pass k over the data (k = 0, 1, …) is the
permutation ``stateless_shuffle(range(N), (seed, k))`` cut into ``N // batch_size`` batches (the
incomplete last batch of a pass is dropped), so the resumed run sees exactly the batches the
uninterrupted one would have seen. A dataset from :func:`as_dataset` handed to ``fit`` trains
the same way but resumes at the start of the interrupted epoch, not at its batch.
"""

import math
import numbers
import os
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from kgen.data.catalog import DATASETS, load
from kgen.data.images import SPLITS, idx_files, read_idx_header
from kgen.data.shards import shard_layout
from kgen.validation import check_choice, check_positive_int, check_seed

#: Examples in the shuffle buffer of a stream when ``shuffle_buffer`` is not given.
STREAM_SHUFFLE_BUFFER = 10_000
#: The catalog names that ``stream=True`` reads from their idx files.
STREAMED_NAMES = ("fashion_mnist", "mnist")
#: Shards read at once by a shuffled stream, so that a buffer mixes several of them.
_SHARDS_INTERLEAVED = 8


def resumable_batches(x, batch_size, seed, position):
    """An endless ``tf.data.Dataset`` of shuffled batches of ``x`` that starts at batch
    ``position``; both variables are read when iteration starts.

    Args:
        x: an array of examples, shape (N, …), N ≥ ``batch_size``.
        batch_size: examples per batch.
        seed: an int64 scalar variable, the seed of the passes' permutations (a model's
            ``input_order_seed``, restored with its weights).
        position: an int64 scalar variable counting the batches consumed so far (a model's
            ``batches_seen``); the caller advances it once per training step.
    """
    x = tf.convert_to_tensor(x)
    count = int(x.shape[0])
    per_pass = count // batch_size
    if per_pass < 1:
        raise ValueError(f"`batch_size` {batch_size} is larger than the {count} examples given.")

    def batch_indices(start_and_seed, index):
        shuffled = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([start_and_seed[1], index // per_pass])
        )
        return tf.reshape(shuffled[: per_pass * batch_size], (per_pass, batch_size))[index % per_pass]

    def from_current_position(_):
        start_and_seed = tf.stack([tf.cast(position.value, tf.int64), tf.cast(seed.value, tf.int64)])
        indices = tf.data.Dataset.range(start_and_seed[0], tf.int64.max)
        return indices.map(lambda index: batch_indices(start_and_seed, index))

    return (
        tf.data.Dataset.range(1)
        .flat_map(from_current_position)
        .map(lambda indices: tf.gather(x, indices), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def as_dataset(
    data,
    batch_size=32,
    *,
    split="train",
    n=None,
    seed=0,
    shuffle=True,
    shuffle_buffer=None,
    cache=None,
    repeat=False,
    drop_remainder=True,
    stream=False,
):
    """A ``tf.data.Dataset`` of shuffled batches of ``data``, ready for ``model.fit``.

    Args:
        data: a name of ``kgen.data.DATASETS`` (read by ``kgen.data.load(data, n, split,
            seed)``, or streamed from its idx files with ``stream=True``); an array ``(N, …)``;
            or a folder of ``.npy`` shards (or one ``.npy`` file), always streamed.
        batch_size: examples per batch.
        split: ``"train"`` or ``"test"``, for a dataset name.
        n: for a dataset name held in memory, the number of examples, as in ``kgen.data.load``.
        seed: the int seed of the order (and of the ``n`` examples ``load`` draws): the same
            seed gives the same batches, pass after pass; ``None`` a different order each run
            (the ``n`` examples are then those of seed 0).
        shuffle: shuffle the examples anew at every pass over the data.
        shuffle_buffer: examples in the shuffle buffer. Data in memory: default (and at most)
            all of them, an exact permutation of indices. Streams: default
            ``min(N, STREAM_SHUFFLE_BUFFER)`` decoded-size examples, on top of shuffling the
            order of the shards.
        cache: for a stream, keep the raw records after the first pass: ``True`` in memory, a
            path in that file (``tf.data.Dataset.cache``), ``None``/``False`` not at all (the
            default: a stream is for data that do not fit). Data in memory are already cached;
            a path is refused for them.
        repeat: ``False`` one pass (``fit`` starts a new, reshuffled pass every epoch),
            ``True`` endless (give ``fit`` a ``steps_per_epoch``), or a number of passes.
        drop_remainder: drop the incomplete last batch (default, as ``fit`` on an array does):
            every batch then has the static size ``batch_size``.
        stream: read ``"fashion_mnist"`` or ``"mnist"`` record by record from the gzip idx files
            instead of loading them whole.

    Returns:
        A dataset of batches ``(batch_size, *example_shape)`` whose ``cardinality`` is known:
        float32 for a name (images in [0, 1]) and for shards (cast, values unchanged); an
        array keeps its dtype.

    Raises:
        TypeError, ValueError: a bad argument (an unknown name lists the names), before any data
            are read; ``DatasetNotFoundError``: the files of a dataset are not on this machine.

    Example:
        >>> train = kgen.data.as_dataset("fashion_mnist", batch_size=64, stream=True)
        >>> model.fit(train, epochs=5)
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    check_choice(split, "split", SPLITS)
    if n is not None:
        n = check_positive_int(n, "n")
    seed = check_seed(seed)
    for flag, value in (("shuffle", shuffle), ("drop_remainder", drop_remainder), ("stream", stream)):
        if not isinstance(value, bool):
            raise TypeError(f"`{flag}` must be True or False; got {value!r} ({type(value).__name__}).")
    if shuffle_buffer is not None:
        shuffle_buffer = check_positive_int(shuffle_buffer, "shuffle_buffer")
    passes = _check_repeat(repeat)
    if not (cache is None or isinstance(cache, (bool, str, os.PathLike))):
        raise TypeError(f"`cache` must be None, True, False or a file path; got {type(cache).__name__}.")
    if isinstance(cache, (str, os.PathLike)) and not str(cache):
        raise ValueError("`cache` must be a non-empty file path when it is a string (True caches in memory).")

    source = _describe(data, split, n, stream)
    if source["kind"] == "memory" and isinstance(cache, (str, os.PathLike)):
        raise ValueError(f"`cache`={str(cache)!r}: a cache file is for streams; {source['what']} is held in memory.")
    if source["kind"] == "stream":
        _check_enough(source["count"], batch_size, drop_remainder, source["what"])
        return _streamed(source, batch_size, seed, shuffle, shuffle_buffer, cache, passes, drop_remainder)
    x = data if source["name"] is None else load(data, n, split, 0 if seed is None else seed)
    _check_enough(int(x.shape[0]), batch_size, drop_remainder, source["what"])
    return _in_memory(x, batch_size, seed, shuffle, shuffle_buffer, passes, drop_remainder)


def _check_enough(count, batch_size, drop_remainder, what):
    if count < 1 or (drop_remainder and count < batch_size):
        raise ValueError(
            f"`batch_size` {batch_size} is larger than the {count} examples of {what} "
            "(with drop_remainder=True every batch is full)."
        )


def _check_repeat(repeat):
    """``repeat`` as a number of passes, ``None`` for endless."""
    if isinstance(repeat, bool):
        return None if repeat else 1
    if isinstance(repeat, numbers.Integral):
        return check_positive_int(repeat, "repeat")
    raise TypeError(f"`repeat` must be True, False or a number of passes; got {repeat!r} ({type(repeat).__name__}).")


def _describe(data, split, n, stream):
    """What ``data`` is, from its arguments and file headers only: a dict with ``kind``
    (``"memory"`` or ``"stream"``), ``what`` (for messages), for data in memory the catalog
    ``name`` (or None), and for streams the ``count``, the files, their headers, the record
    layout and the decoding."""
    if isinstance(data, (str, os.PathLike)):
        if isinstance(data, str) and data in DATASETS:
            return _describe_name(data, split, n, stream)
        if not Path(data).exists():
            raise ValueError(
                f"Unknown `data` {str(data)!r}: expected a dataset name (one of: {', '.join(DATASETS)}), "
                "an array, or a folder of .npy shards."
            )
        if n is not None or split != "train":
            raise ValueError("`n` and `split` apply to a dataset name; a folder of shards is read whole, in order.")
        layout = shard_layout(data)
        dtype = layout.dtype
        return {
            "kind": "stream", "count": layout.count, "what": f"the shards in {data}",
            "paths": [str(path) for path in layout.paths], "header_bytes": list(layout.header_bytes),
            "record_bytes": layout.record_bytes, "compression": "",
            "dtype": tf.as_dtype(dtype.newbyteorder("=")), "scale": None,
            "little_endian": dtype.byteorder in ("<", "|") or (dtype.byteorder == "=" and sys.byteorder == "little"),
            "example_shape": layout.example_shape,
        }
    if isinstance(data, np.ndarray) or tf.is_tensor(data):
        if stream:
            raise ValueError("`stream=True` reads files; an array is already in memory (write it with write_shards).")
        if n is not None or split != "train":
            raise ValueError("`n` and `split` apply to a dataset name; slice the array instead.")
        if len(data.shape) < 1:
            raise ValueError(f"`data` must be an array of examples, shape (N, ...); got a scalar of shape {tuple(data.shape)}.")
        return {"kind": "memory", "what": "the array", "name": None}
    raise TypeError(
        f"`data` must be a dataset name, an array or a folder of .npy shards; got {type(data).__name__}."
    )


def _describe_name(name, split, n, stream):
    if not stream:
        return {"kind": "memory", "what": f"the {split} split of {name!r}", "name": name}
    if name not in STREAMED_NAMES:
        raise ValueError(
            f"`stream=True` reads the idx files of {' or '.join(map(repr, STREAMED_NAMES))}; {name!r} is "
            "generated or bundled and held in memory (pass stream=False)."
        )
    if n is not None:
        raise ValueError("`n` draws examples of data held in memory; a stream reads every record (use .take()).")
    images = idx_files(name, split)[0]
    shape, header_bytes = read_idx_header(images)
    return {
        "kind": "stream", "count": shape[0], "what": f"the {split} idx file of {name!r}",
        "paths": [str(images)], "header_bytes": [header_bytes], "record_bytes": math.prod(shape[1:]),
        "compression": "GZIP", "dtype": tf.uint8, "scale": 255.0, "little_endian": True,
        "example_shape": (*shape[1:], 1),
    }


def _in_memory(x, batch_size, seed, shuffle, shuffle_buffer, passes, drop_remainder):
    x = tf.convert_to_tensor(x)
    count = int(x.shape[0])
    indices = tf.data.Dataset.range(count)
    if shuffle:
        indices = indices.shuffle(min(shuffle_buffer or count, count), seed=seed, reshuffle_each_iteration=True)
    indices = indices.repeat(passes).batch(batch_size, drop_remainder=drop_remainder)
    batches = indices.map(lambda batch: tf.gather(x, batch), num_parallel_calls=tf.data.AUTOTUNE)
    return batches.prefetch(tf.data.AUTOTUNE)


def _streamed(source, batch_size, seed, shuffle, shuffle_buffer, cache, passes, drop_remainder):
    count, paths = source["count"], source["paths"]
    cached = cache is not None and cache is not False
    files = tf.data.Dataset.from_tensor_slices((paths, tf.constant(source["header_bytes"], tf.int64)))
    if shuffle and not cached:  # a cache would freeze the first pass's order of the shards
        files = files.shuffle(len(paths), seed=None if seed is None else seed + 1, reshuffle_each_iteration=True)
    cycle = min(len(paths), _SHARDS_INTERLEAVED) if shuffle else 1

    def records_of(path, header_bytes):
        return tf.data.FixedLengthRecordDataset(
            path, source["record_bytes"], header_bytes=header_bytes, compression_type=source["compression"]
        )

    parallel = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True} if cycle > 1 else {}
    records = files.interleave(records_of, cycle_length=cycle, block_length=1, **parallel)
    records = records.apply(tf.data.experimental.assert_cardinality(count))
    if cached:
        records = records.cache("" if cache is True else str(cache))
    if shuffle:
        records = records.shuffle(min(shuffle_buffer or STREAM_SHUFFLE_BUFFER, count), seed=seed,
                                  reshuffle_each_iteration=True)
    records = records.repeat(passes).batch(batch_size, drop_remainder=drop_remainder)
    example_shape, scale = source["example_shape"], source["scale"]

    def decode(raw):
        values = tf.cast(tf.io.decode_raw(raw, source["dtype"], little_endian=source["little_endian"]), tf.float32)
        if scale is not None:
            values = values / scale
        return tf.reshape(values, (values.shape[0] or -1, *example_shape))  # a static batch size stays

    return records.map(decode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
