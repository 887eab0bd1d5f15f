"""A small convolutional image classifier whose penultimate layer is a feature space.

FID and its relatives compare generated and real images through the features of a trained
classifier (Inception-v3 on ImageNet in Heusel et al. 2017). kgen trains one such network per
image set instead (:mod:`kgen.metrics.features`), so nothing is downloaded; this is the network:

    image (H, W, C) → [Conv 3×3, 32, ReLU → MaxPool 2] → [Conv 3×3, 64, ReLU → MaxPool 2]
                    → Flatten → Dense(128, ReLU)  ← the "features" layer
                    → Dense(num_classes)           ← logits

the two convolution blocks of Keras' "simple MNIST convnet" example, with a 128-unit feature
layer before the logits. Pooling uses "same" padding, so any H, W ≥ 1 works (8×8 digits pool
to 2×2, 28×28 to 7×7, 64×64 dSprites to 16×16).
"""

import keras
from keras import layers

from kgen.validation import check_positive_int, check_shape

#: Name of the penultimate layer, whose output :func:`feature_model` returns.
FEATURES_LAYER = "features"


def conv_classifier(input_shape, num_classes, filters=(32, 64), feature_units=128,
                    name="classifier"):
    """Image (H, W, C) → logits (num_classes,), with the feature layer named ``"features"``.

    Args:
        input_shape: (H, W, C) of one image.
        num_classes: number of classes, ≥ 2.
        filters: channels of the convolution blocks, one block each.
        feature_units: width of the penultimate (feature) layer.
        name: the model's name.

    Returns:
        A built functional ``keras.Model`` that outputs logits.
    """
    input_shape = check_shape(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"`input_shape` must be (H, W, C) for images; got {input_shape}.")
    num_classes = check_positive_int(num_classes, "num_classes")
    if num_classes < 2:
        raise ValueError(f"`num_classes` must be at least 2; got {num_classes}.")
    feature_units = check_positive_int(feature_units, "feature_units")
    inputs = keras.Input(shape=input_shape)
    h = inputs
    for channels in filters:
        h = layers.Conv2D(check_positive_int(channels, "filters"), 3, padding="same",
                          activation="relu")(h)
        h = layers.MaxPooling2D(2, padding="same")(h)
    h = layers.Flatten()(h)
    h = layers.Dense(feature_units, activation="relu", name=FEATURES_LAYER)(h)
    return keras.Model(inputs, layers.Dense(num_classes, name="logits")(h), name=name)


def feature_model(classifier):
    """The part of ``classifier`` (from :func:`conv_classifier`) that maps images to the
    output of its ``"features"`` layer; it shares the classifier's weights."""
    features = classifier.get_layer(FEATURES_LAYER).output
    return keras.Model(classifier.input, features, name=f"{classifier.name}_features")
