"""``kgen.data.as_dataset``: batches for every dataset, seeded shuffles, streams from files.

Streams are checked against the whole-file loaders (same records, same order, same values),
and shown not to use them: the loaders are replaced by functions that raise while a stream is
built and read, and the idx header is read through a counting ``gzip.open``.
"""

import gzip
import importlib

import numpy as np
import pytest

from kgen.data import (
    DATASETS,
    DatasetNotFoundError,
    as_dataset,
    load,
    load_images,
    missing,
    write_shards,
)

images_module = importlib.import_module("kgen.data.images")
catalog_module = importlib.import_module("kgen.data.catalog")
pipeline_module = importlib.import_module("kgen.data.pipeline")


def passes(dataset, count=1):
    """The examples of ``count`` passes over a finite dataset, one array per pass."""
    return [np.concatenate([batch.numpy() for batch in dataset]) for _ in range(count)]


def numbered_images(count, size=6):
    """uint8 images whose pixels spell their index (base 256), so every image is unique."""
    index = np.arange(count)
    pixels = np.zeros((count, size, size), np.uint8)
    pixels[:, 0, 0], pixels[:, 0, 1] = index % 256, index // 256
    pixels[:, 1:, :] = (index[:, None, None] * 7 + np.arange(size)) % 256
    return pixels


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_mnist(monkeypatch, tmp_path):
    """A made-up MNIST of 500 train images as the original gzip idx files in KGEN_DATA_DIR."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    pixels = numbered_images(500)
    write_idx(folder / "train-images-idx3-ubyte.gz", pixels)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(500) % 10)
    monkeypatch.setenv("KGEN_DATA_DIR", str(tmp_path))
    return pixels


def refuse(*args, **kwargs):
    raise AssertionError("a stream must not load the whole file")


def refuse_whole_file_loaders(monkeypatch):
    """Make every whole-file loader raise: whatever works under it streams."""
    for module, name in [
        (images_module, "read_idx"), (images_module, "load_images"), (catalog_module, "load_images"),
        (catalog_module, "load"), (pipeline_module, "load"), (np, "load"), (np, "fromfile"),
        (np, "memmap"),
    ]:
        monkeypatch.setattr(module, name, refuse)


@pytest.fixture
def no_whole_file_loaders(monkeypatch):
    refuse_whole_file_loaders(monkeypatch)


# ------------------------------------------------------------------------- every dataset
@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_name_gives_the_loaded_examples_in_batches(name):
    if missing(name) is not None:
        with pytest.raises(DatasetNotFoundError):
            as_dataset(name, batch_size=16, n=64)
        return
    expected = load(name, n=64, seed=3)
    in_order = as_dataset(name, batch_size=16, n=64, seed=3, shuffle=False)
    assert tuple(in_order.element_spec.shape) == (16, *expected.shape[1:])
    assert int(in_order.cardinality()) == 4
    (examples,) = passes(in_order)
    np.testing.assert_array_equal(examples, expected)
    (shuffled,) = passes(as_dataset(name, batch_size=16, n=64, seed=3))
    flat = shuffled.reshape(64, -1)
    np.testing.assert_array_equal(np.unique(flat, axis=0), np.unique(expected.reshape(64, -1), axis=0))


def test_a_pass_is_a_new_permutation_and_the_seed_fixes_the_sequence():
    x = np.arange(100, dtype=np.float32)[:, None]
    first, second = passes(as_dataset(x, batch_size=8, seed=5), 2)
    for one_pass in (first, second):
        assert one_pass.shape == (96, 1)  # 100 // 8 full batches, the remainder dropped
        assert len(np.unique(one_pass)) == 96 and set(one_pass[:, 0]) <= set(range(100))
    assert not np.array_equal(first, second)  # reshuffled each pass
    again = passes(as_dataset(x, batch_size=8, seed=5), 2)
    np.testing.assert_array_equal(np.stack(again), np.stack([first, second]))
    other = passes(as_dataset(x, batch_size=8, seed=6), 1)[0]
    assert not np.array_equal(other, first)
    (unshuffled,) = passes(as_dataset(x, batch_size=8, shuffle=False, drop_remainder=False))
    np.testing.assert_array_equal(unshuffled, x)


def test_repeat_and_the_last_batch():
    x = np.arange(10, dtype=np.float32)[:, None]
    three = as_dataset(x, batch_size=5, repeat=3)
    assert int(three.cardinality()) == 6
    (examples,) = passes(three)
    np.testing.assert_array_equal(np.sort(examples[:, 0]), np.repeat(np.arange(10), 3))
    endless = as_dataset(x, batch_size=4, repeat=True)
    assert int(endless.cardinality()) == -1  # tf.data.INFINITE_CARDINALITY
    assert sum(1 for _ in endless.take(7)) == 7
    sizes = [len(batch) for batch in as_dataset(x, batch_size=4, drop_remainder=False)]
    assert sizes == [4, 4, 2]
    small = as_dataset(x, batch_size=4, shuffle_buffer=2)  # a small buffer still permutes
    np.testing.assert_array_equal(np.unique(passes(small)[0]).size, 8)


@pytest.mark.parametrize(
    "data, kwargs, error, match",
    [
        ("cifar10", {}, ValueError, "Unknown `data` 'cifar10'.*fashion_mnist.*digits"),
        ("digits", {"batch_size": 0}, ValueError, "`batch_size` must be a positive integer; got 0"),
        ("digits", {"batch_size": 2.5}, TypeError, "`batch_size`"),
        ("digits", {"split": "validation"}, ValueError, "`split` 'validation'.*train, test"),
        ("digits", {"n": -1}, ValueError, "`n`"),
        ("digits", {"seed": "abc"}, TypeError, "`seed`"),
        ("digits", {"shuffle": "yes"}, TypeError, "`shuffle` must be True or False"),
        ("digits", {"repeat": 0}, ValueError, "`repeat`"),
        ("digits", {"repeat": "always"}, TypeError, "`repeat`"),
        ("digits", {"shuffle_buffer": 0}, ValueError, "`shuffle_buffer`"),
        ("digits", {"cache": 3}, TypeError, "`cache`"),
        ("digits", {"cache": "/tmp/kgen-cache"}, ValueError, "a cache file is for streams"),
        ("digits", {"stream": True}, ValueError, "`stream=True` reads the idx files"),
        ("digits", {"n": 10, "batch_size": 32}, ValueError, "`batch_size` 32 is larger than the 10"),
        ("fashion_mnist", {"stream": True, "n": 10}, ValueError, "`n`"),
        (np.zeros((4, 2), np.float32), {"n": 2}, ValueError, "`n` and `split` apply to a dataset name"),
        (np.zeros((4, 2), np.float32), {"stream": True}, ValueError, "write it with write_shards"),
        (np.array(1.0, np.float32), {}, ValueError, "shape \\(N, ...\\)"),
        ([[0.0, 1.0]], {}, TypeError, "got list"),
    ],
)
def test_bad_arguments_fail_before_any_data_are_read(monkeypatch, data, kwargs, error, match):
    if "batch_size" not in kwargs:
        kwargs["batch_size"] = 2
    loads_left = [1 if kwargs.get("n") == 10 else 0]  # the size check needs the 10 examples

    def load_once(*args, **load_kwargs):
        assert loads_left[0] > 0, "the arguments must be checked before any data are loaded"
        loads_left[0] -= 1
        return load(*args, **load_kwargs)

    monkeypatch.setattr(pipeline_module, "load", load_once)
    with pytest.raises(error, match=match):
        as_dataset(data, **kwargs)


# ------------------------------------------------------------------------ idx streams
def test_fashion_mnist_streams_the_records_of_load_images(monkeypatch, require_data):
    require_data(
        (images_module.DEBIAN_FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(),
        "Fashion-MNIST (apt-get install dataset-fashion-mnist)",
    )
    reference = load_images("fashion_mnist", "train")[0]
    header_bytes_read = []
    real_open = gzip.open

    class CountingFile:
        """``gzip.open`` that counts the bytes read and refuses to read to the end."""

        def __init__(self, *args, **kwargs):
            self.file = real_open(*args, **kwargs)

        def read(self, size=-1):
            assert size >= 0, "the header is read by size, never to the end of the file"
            data = self.file.read(size)
            header_bytes_read.append(len(data))
            return data

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    refuse_whole_file_loaders(monkeypatch)
    monkeypatch.setattr(images_module.gzip, "open", CountingFile)
    stream = as_dataset("fashion_mnist", batch_size=100, stream=True, shuffle=False, drop_remainder=False)
    assert sum(header_bytes_read) == 16  # 4 magic bytes and 3 sizes: the header only
    assert tuple(stream.element_spec.shape[1:]) == (28, 28, 1) and int(stream.cardinality()) == 600
    first = np.concatenate([batch.numpy() for batch in stream.take(3)])
    np.testing.assert_array_equal(first, reference[:300])
    assert sum(len(batch) for batch in stream) == len(reference) == 60_000


def test_an_idx_stream_equals_the_file_and_a_shuffled_one_permutes_it(fake_mnist, no_whole_file_loaders):
    expected = fake_mnist[..., None].astype(np.float32) / np.float32(255)
    (in_order,) = passes(as_dataset("mnist", batch_size=50, stream=True, shuffle=False))
    np.testing.assert_array_equal(in_order, expected)
    stream = as_dataset("mnist", batch_size=50, stream=True, seed=2, shuffle_buffer=200)
    assert int(stream.cardinality()) == 10
    first, second = passes(stream, 2)
    for one_pass in (first, second):
        np.testing.assert_array_equal(np.unique(one_pass, axis=0), np.unique(expected, axis=0))
    assert not np.array_equal(first, second) and not np.array_equal(first, expected)
    np.testing.assert_array_equal(passes(as_dataset("mnist", batch_size=50, stream=True, seed=2,
                                                    shuffle_buffer=200))[0], first)


@pytest.mark.parametrize("where", ["memory", "file"])
def test_a_cached_stream_is_reshuffled_every_pass(fake_mnist, tmp_path, where):
    cache = True if where == "memory" else str(tmp_path / "records.cache")
    stream = as_dataset("mnist", batch_size=50, stream=True, seed=0, cache=cache)
    first, second, third = passes(stream, 3)
    assert not np.array_equal(first, second) and not np.array_equal(second, third)
    for one_pass in (first, second, third):
        assert len(np.unique(one_pass, axis=0)) == 500
    if where == "file":
        assert list(tmp_path.glob("records.cache*"))  # tf.data wrote the cache there


def test_streaming_a_set_whose_idx_files_are_missing_says_where_to_put_them(monkeypatch, tmp_path):
    monkeypatch.setenv("KGEN_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte.gz.*mnist"):
        as_dataset("mnist", stream=True)


# ----------------------------------------------------------------------------- shards
@pytest.mark.parametrize("dtype", ["float32", "float64", "uint8", "bool", ">i2"])
def test_shards_stream_their_examples_in_order(tmp_path, no_whole_file_loaders, dtype):
    x = (np.arange(230 * 3 * 2).reshape(230, 3, 2) % 97).astype(dtype)
    paths = write_shards(x, tmp_path / "shards", examples_per_shard=64)
    assert [path.name for path in paths] == [f"shard-0000{i}.npy" for i in range(4)]
    stream = as_dataset(tmp_path / "shards", batch_size=20, shuffle=False, drop_remainder=False)
    assert int(stream.cardinality()) == 12
    (examples,) = passes(stream)
    assert examples.dtype == np.float32
    np.testing.assert_array_equal(examples, x.astype(np.float32))


def test_shuffled_shards_are_a_new_permutation_each_pass(tmp_path, no_whole_file_loaders):
    x = np.arange(300, dtype=np.float32)[:, None]
    write_shards(x, tmp_path, examples_per_shard=30)
    first, second = passes(as_dataset(tmp_path, batch_size=10, seed=4, shuffle_buffer=50), 2)
    for one_pass in (first, second):
        np.testing.assert_array_equal(np.sort(one_pass[:, 0]), x[:, 0])
    assert not np.array_equal(first, second) and not np.array_equal(first, x)
    again = passes(as_dataset(tmp_path, batch_size=10, seed=4, shuffle_buffer=50), 2)
    np.testing.assert_array_equal(np.stack(again), np.stack([first, second]))
    (single,) = passes(as_dataset(tmp_path / "shard-00003.npy", batch_size=10, shuffle=False))
    np.testing.assert_array_equal(single, x[90:120])


def test_bad_shards_and_bad_writes(tmp_path):
    with pytest.raises(ValueError, match="holds no .npy shards"):
        as_dataset(tmp_path)
    np.save(tmp_path / "a.npy", np.zeros((4, 3), np.float32))
    np.save(tmp_path / "b.npy", np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"one shape and dtype: a.npy holds \(3,\) float32, b.npy holds \(5,\)"):
        as_dataset(tmp_path)
    with pytest.raises(FileExistsError, match="already holds .npy files"):
        write_shards(np.zeros((4, 3)), tmp_path)
    truncated = tmp_path / "t"
    truncated.mkdir()
    write_shards(np.zeros((8, 3), np.float32), truncated)
    path = truncated / "shard-00000.npy"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ValueError, match="truncated"):
        as_dataset(truncated)
    fortran = tmp_path / "f"
    fortran.mkdir()
    np.save(fortran / "x.npy", np.asfortranarray(np.zeros((4, 3), np.float32)))
    with pytest.raises(ValueError, match="Fortran order"):
        as_dataset(fortran)
    with pytest.raises(TypeError, match="uint32"):
        write_shards(np.zeros((4, 3), np.uint32), tmp_path / "u")
    with pytest.raises(ValueError, match="`examples_per_shard`"):
        write_shards(np.zeros((4, 3)), tmp_path / "e", examples_per_shard=0)
    with pytest.raises(ValueError, match="`n` and `split` apply to a dataset name"):
        as_dataset(truncated, split="test")


# ----------------------------------------------------------------------------- models
def test_models_fit_on_pipelines_and_streams(fake_mnist, tmp_path):
    from kgen.models import BetaVAE

    write_shards(fake_mnist[..., None].astype(np.float32) / 255, tmp_path / "shards", examples_per_shard=128)
    for data, kwargs in [("mnist", {"stream": True}), (tmp_path / "shards", {})]:
        model = BetaVAE((6, 6, 1), latent_dim=2, seed=1)
        model.compile()
        history = model.fit(as_dataset(data, batch_size=50, **kwargs), epochs=2, verbose=0)
        assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))
        assert int(model.optimizer.iterations) == 2 * 500 // 50  # every batch of both passes


def test_fit_on_a_seeded_pipeline_repeats_and_checks_the_data():
    from kgen.models import BetaVAE

    start = BetaVAE((8, 8, 1), latent_dim=2, seed=0).get_weights()

    def trained_weights():
        model = BetaVAE((8, 8, 1), latent_dim=2, seed=0)
        model.set_weights(start)  # the same start (Keras initialisers draw from a global stream)
        model.compile()
        model.fit(as_dataset("digits", batch_size=100, seed=7), epochs=2, verbose=0)
        return model.get_weights()

    for a, b in zip(trained_weights(), trained_weights()):
        np.testing.assert_array_equal(a, b)
    model = BetaVAE((8, 8, 1), latent_dim=2, seed=0)
    model.compile()
    out_of_range = load("digits", n=64) * 16.0  # grey levels 0..16, not [0, 1]
    with pytest.raises(ValueError, match=r"`x` must lie in \[0"):
        model.fit(as_dataset(out_of_range, batch_size=16), verbose=0)
