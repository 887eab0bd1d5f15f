"""Feature nets: the classifier's shapes, a digits net trained on a tiny budget (well above
chance, cached and reloaded without training), its features telling data from noise and blur,
the labelled splits, and bad arguments."""

import json

import keras
import numpy as np
import pytest

from kgen.data import DatasetNotFoundError, DSprites, load_images
from kgen.layers.classifier import conv_classifier, feature_model
from kgen.metrics.features import feature_extractor, labelled_images
from kgen.metrics.sample_quality import frechet_distance, sample_quality

EPOCHS = 6  # about 3 s on two CPU cores; test accuracy ≈ 0.87–0.91 (0.94–0.96 at the default 30)


@pytest.fixture(scope="module")
def digits_net(tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("features")
    keras.utils.set_random_seed(0)
    return feature_extractor("digits", cache_dir=cache_dir, epochs=EPOCHS, verbose=0), cache_dir


@pytest.fixture(scope="module")
def digits():
    return load_images("digits", "train")[0], load_images("digits", "test")[0]


def _box_blur(images, times):
    """``times`` passes of a 3×3 mean filter (edges repeated)."""
    for _ in range(times):
        padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        height, width = images.shape[1:3]
        shifted = (padded[:, i : i + height, j : j + width] for i in range(3) for j in range(3))
        images = sum(shifted) / 9
    return images


# ------------------------------------------------------------------------------ the network
@pytest.mark.parametrize("input_shape", [(8, 8, 1), (28, 28, 1), (7, 5, 3)])
def test_classifier_gives_logits_and_its_feature_model_the_penultimate_layer(input_shape):
    classifier = conv_classifier(input_shape, num_classes=4, feature_units=16)
    images = np.random.default_rng(0).random((2, *input_shape)).astype(np.float32)
    assert classifier(images).shape == (2, 4)
    features = feature_model(classifier)
    assert features(images).shape == (2, 16)
    assert features.get_layer("features") is classifier.get_layer("features")  # shared weights


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_shape": (8, 8), "num_classes": 3}, r"`input_shape` must be \(H, W, C\)"),
        ({"input_shape": (8, 8, 1), "num_classes": 1}, "`num_classes` must be at least 2"),
        ({"input_shape": (8, 8, 1), "num_classes": 3, "feature_units": 0}, "`feature_units`"),
    ],
)
def test_classifier_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv_classifier(**kwargs)


# ------------------------------------------------------------------------ a trained digits net
def test_the_digits_net_is_far_above_chance_and_records_its_accuracy(digits_net):
    net, cache_dir = digits_net
    assert net.test_accuracy > 0.8  # chance: 0.1
    assert net.input_shape == (8, 8, 1) and net.feature_dim == 128
    record = json.loads((cache_dir / f"digits-v1-epochs{EPOCHS}-seed0.json").read_text())
    assert record["test_accuracy"] == pytest.approx(net.test_accuracy)
    assert (record["dataset"], record["epochs"], record["num_train"], record["num_test"]) == (
        "digits", EPOCHS, 1500, 297
    )


def test_a_second_call_loads_the_cache_without_training(digits_net, digits, monkeypatch):
    net, cache_dir = digits_net
    path = cache_dir / f"digits-v1-epochs{EPOCHS}-seed0.keras"
    written = path.stat().st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("the cached feature net was trained again")

    monkeypatch.setattr(keras.Model, "fit", no_training)
    again = feature_extractor("digits", cache_dir=cache_dir, epochs=EPOCHS, verbose=0)
    test = digits[1]
    np.testing.assert_array_equal(again(test), net(test))
    assert again.test_accuracy == net.test_accuracy
    assert path.stat().st_mtime_ns == written
    assert sorted(p.name for p in cache_dir.iterdir()) == [
        path.with_suffix(".json").name, path.name
    ]


def test_features_put_test_digits_near_training_digits_and_noise_and_blur_far(digits_net, digits):
    net, _ = digits_net
    train, test = digits
    reference = net(train[: len(test)])
    held_out = frechet_distance(net(test), reference)
    noise = np.random.default_rng(0).random(test.shape).astype(np.float32)
    assert frechet_distance(net(noise), reference) > 5 * held_out
    blurred = [frechet_distance(net(_box_blur(test, times)), reference) for times in (1, 2, 3)]
    assert np.all(np.diff([held_out, *blurred]) > 0)


def test_sample_quality_on_the_trained_net_puts_training_images_at_the_floor(digits_net, digits):
    net, _ = digits_net
    train = digits[0]
    figures = sample_quality(train[-297:], "digits", seed=1, feature_net=net)
    assert figures["feature_net_accuracy"] == net.test_accuracy
    assert figures["frechet_distance"] < 2 * figures["reference_frechet_distance"]
    assert figures["precision"] > 0.5 and figures["recall"] > 0.5  # ~0.9, ~0.7 with 297 in 128-D


def test_extractor_rejects_images_of_another_shape_or_range(digits_net):
    net, _ = digits_net
    with pytest.raises(ValueError, match=r"`images` must have shape \(batch, 8, 8, 1\)"):
        net(np.zeros((3, 28, 28, 1), np.float32))
    with pytest.raises(ValueError, match=r"`images` must lie in \[0.0, 1.0\]"):
        net(np.full((3, 8, 8, 1), 2.0, np.float32))


# -------------------------------------------------------------------------- labelled splits
def test_labelled_images_subsample_a_split_with_its_labels():
    images, labels = load_images("digits", "test")
    some, some_labels = labelled_images("digits", "test", n=40, seed=2)
    assert some.shape == (40, 8, 8, 1) and some_labels.dtype == np.int64
    rows = [int(np.flatnonzero((images == image).all(axis=(1, 2, 3)))[0]) for image in some]
    np.testing.assert_array_equal(labels[rows], some_labels)
    assert len(labelled_images("digits", "test", n=1000)[0]) == 297  # capped at the split


def test_dsprites_labels_are_the_shape_factor_of_the_rendered_images():
    images, labels = labelled_images("dsprites", "test", n=30, seed=1)
    expected_images, factors = DSprites().sample(30, np.random.default_rng([1, 1]))
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, factors[:, 0])
    assert set(labels) <= {0, 1, 2}


# ----------------------------------------------------------------------------- bad arguments
def test_unknown_dataset_and_bad_epochs_are_rejected(tmp_path):
    names = "digits, fashion_mnist, mnist, dsprites"
    with pytest.raises(ValueError, match=rf"`dataset` 'cifar10'.*{names}"):
        feature_extractor("cifar10", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="`epochs` must be a positive integer"):
        feature_extractor("digits", cache_dir=tmp_path, epochs=0)
    with pytest.raises(ValueError, match=r"`dataset` '8gaussians'"):
        labelled_images("8gaussians", "train")


def test_missing_mnist_says_where_to_put_it_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("KGEN_DATA_DIR", str(tmp_path))

    def refuse_download():
        raise OSError("network access is disabled in this test")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", refuse_download)
    with pytest.raises(DatasetNotFoundError, match="mnist.npz"):
        feature_extractor("mnist", cache_dir=tmp_path / "features", verbose=0)
    assert not (tmp_path / "features").exists()
