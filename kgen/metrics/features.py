"""Feature nets for the sample-quality metrics: a small classifier that kgen trains per dataset.

The Fréchet distance, KID and precision/recall of images are computed on features of a
classifier (Heusel et al. 2017 use Inception-v3 trained on ImageNet). kgen downloads no
weights: :func:`feature_extractor` trains :func:`kgen.layers.classifier.conv_classifier` on the
dataset's training split, with the labels

* ``digits``, ``fashion_mnist``, ``mnist``: the ten classes, loaded by
  :func:`kgen.data.load_images` (MNIST must be on disk or downloadable; the error says where to
  put it);
* ``dsprites``: the shape (square, ellipse, heart) of kgen's procedural dSprites, on
  ``DSPRITES_SIZES`` images per split drawn like :func:`kgen.data.load` draws them,

measures its accuracy on the test split, and returns a :class:`FeatureExtractor` that maps
images to the 128 features of the penultimate layer. The trained classifier is cached as
``<cache_dir>/<dataset>-v<version>-epochs<E>-seed<S>.keras``, with its test accuracy and
training setup in a ``.json`` file beside it; later calls load it instead of training.
``FEATURE_NET_VERSION`` names the network and its training recipe: change it with either, so
that no stale net is loaded. The default cache directory is ``features/`` inside kgen's data
directory (:func:`kgen.data.data_dir`: ``$KGEN_DATA_DIR``, else ``datasets/`` in a checkout,
else ``~/.keras/datasets``).

Features of a classifier trained on the data measure what that classifier finds salient, so a
figure computed on them is comparable across models on one dataset (with the same cached
net), not across datasets nor with published FIDs.
"""

import json
import os
from pathlib import Path

import numpy as np

from kgen.data import DSprites, data_dir, load_images
from kgen.data.images import SPLITS
from kgen.validation import check_choice, check_data, check_positive_int, check_seed

FEATURE_DATASETS = ("digits", "fashion_mnist", "mnist", "dsprites")
#: Bump with any change to the classifier or its training: the cache key holds it.
FEATURE_NET_VERSION = 1
#: Training epochs when ``epochs`` is not given. Measured test accuracies (seed 0, 2 CPU cores):
#: digits 0.94 (11 s), Fashion-MNIST 0.90 (3 min), dSprites shape 0.92 (5–12 min); MNIST not
#: measured (no copy on the build machine).
DEFAULT_EPOCHS = {"digits": 30, "fashion_mnist": 5, "mnist": 3, "dsprites": 6}
#: Images per split of the generated dSprites sets.
DSPRITES_SIZES = {"train": 20_000, "test": 5_000}
NUM_CLASSES = {"digits": 10, "fashion_mnist": 10, "mnist": 10, "dsprites": 3}
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
#: Images sent through the feature net at once.
FEATURE_BATCH = 500


class FeatureExtractor:
    """Maps images (n, H, W, C) in [0, 1] to features (n, d), float32.

    Args:
        model: a ``keras.Model`` from images to features, e.g.
            :func:`kgen.layers.classifier.feature_model` of a trained classifier.
        test_accuracy: the accuracy of the classifier behind ``model`` on held-out data.

    Attributes:
        model, test_accuracy; ``input_shape`` (H, W, C) and ``feature_dim`` d, read off ``model``.
    """

    def __init__(self, model, test_accuracy):
        self.model = model
        self.test_accuracy = float(test_accuracy)
        self.input_shape = tuple(model.input_shape[1:])
        self.feature_dim = int(model.output_shape[-1])

    def __repr__(self):
        return (
            f"FeatureExtractor(input_shape={self.input_shape}, feature_dim={self.feature_dim}, "
            f"test_accuracy={self.test_accuracy:.4f})"
        )

    def __call__(self, images):
        reason = "(the feature net was trained on images in [0, 1])"
        images = check_data(images, self.input_shape, "images", (0.0, 1.0), reason)
        images = images.astype(np.float32, copy=False)
        batches = [
            np.asarray(self.model(images[start : start + FEATURE_BATCH], training=False))
            for start in range(0, len(images), FEATURE_BATCH)
        ]
        return np.concatenate(batches) if batches else np.zeros((0, self.feature_dim), np.float32)


def feature_extractor(dataset, cache_dir=None, epochs=None, seed=0, verbose=1):
    """The feature net of ``dataset``: loaded from the cache, or trained and cached.

    Training seeds Keras' global random generators with ``seed`` (as ``kgen train`` does),
    fits the classifier with Adam (learning rate 10⁻³, batches of 64) and a progress bar,
    and evaluates it on the test split.

    Args:
        dataset: one of ``FEATURE_DATASETS``.
        cache_dir: the cache directory (created if needed); default ``data_dir()/"features"``.
        epochs: training epochs; default ``DEFAULT_EPOCHS[dataset]``.
        seed: seed of the weights, of the shuffling and of the dSprites draws.
        verbose: Keras' ``verbose`` for ``fit`` (1: a progress bar, 0: quiet).

    Returns:
        A :class:`FeatureExtractor` whose ``test_accuracy`` is the classifier's on the test
        split.
    """
    import keras  # here: `import kgen.metrics` starts no TensorFlow

    from kgen.layers.classifier import conv_classifier, feature_model

    check_choice(dataset, "dataset", FEATURE_DATASETS)
    epochs = DEFAULT_EPOCHS[dataset] if epochs is None else check_positive_int(epochs, "epochs")
    seed = check_seed(seed)
    cache_dir = Path(cache_dir) if cache_dir is not None else data_dir() / "features"
    path = cache_dir / f"{dataset}-v{FEATURE_NET_VERSION}-epochs{epochs}-seed{seed}.keras"
    record_path = path.with_suffix(".json")
    if path.is_file() and record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        classifier = keras.saving.load_model(path)
        return FeatureExtractor(feature_model(classifier), record["test_accuracy"])

    keras.utils.set_random_seed(seed)
    images, labels = labelled_images(dataset, "train", seed=seed)
    test_images, test_labels = labelled_images(dataset, "test", seed=seed)
    classifier = conv_classifier(images.shape[1:], NUM_CLASSES[dataset],
                                 name=f"{dataset}_classifier")
    classifier.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,  # measured: XLA's compile time dominates these small fits on CPU
    )
    classifier.fit(images, labels, batch_size=BATCH_SIZE, epochs=epochs, verbose=verbose)
    accuracy = classifier.evaluate(test_images, test_labels, batch_size=FEATURE_BATCH, verbose=0,
                                   return_dict=True)["accuracy"]
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial_path = path.with_suffix(".partial.keras")  # a crash mid-save leaves no cache behind
    classifier.save(partial_path)
    os.replace(partial_path, path)
    record = {
        "dataset": dataset, "version": FEATURE_NET_VERSION, "epochs": epochs, "seed": seed,
        "test_accuracy": float(accuracy), "num_train": len(images), "num_test": len(test_images),
    }
    record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return FeatureExtractor(feature_model(classifier), accuracy)


def labelled_images(dataset, split, n=None, seed=0):
    """Images and class labels of one split of ``dataset``, the feature nets' training data.

    Args:
        dataset: one of ``FEATURE_DATASETS``.
        split: ``"train"`` or ``"test"``.
        n: at most this many examples, drawn without replacement with ``seed`` (all of the
            split when it is smaller); None: the whole split (``DSPRITES_SIZES`` for dSprites).
        seed: seed of the subsample, and of the generated dSprites split (drawn from
            ``numpy.random.default_rng([seed, 0 or 1])``, as :func:`kgen.data.load` does).

    Returns:
        float32 images ``(N, H, W, 1)`` in [0, 1] and int64 labels ``(N,)``.
    """
    check_choice(dataset, "dataset", FEATURE_DATASETS)
    check_choice(split, "split", SPLITS)
    seed = check_seed(seed)
    if dataset == "dsprites":
        size = DSPRITES_SIZES[split] if n is None else check_positive_int(n, "n")
        rng = np.random.default_rng([seed, SPLITS.index(split)])
        images, factors = DSprites().sample(size, rng)
        return images, factors[:, 0].astype(np.int64)
    images, labels = load_images(dataset, split)
    if n is None:
        return images, labels
    keep = np.random.default_rng(seed).permutation(len(images))[: check_positive_int(n, "n")]
    return images[keep], labels[keep]
