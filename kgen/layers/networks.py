"""Default encoder and decoder networks, chosen from the shape of the data.

Images (H, W, C) get the convolutional pair of the β-VAE papers: 4×4 convolutions with stride 2
and filters (32, 32, 64, 64), then a 256-unit dense layer (Higgins et al. 2017, appendix A;
Burgess et al. 2018). The stack halves H and W while both stay even and above 4, so 64×64 uses
four stages (to 4×4), 28×28 two (to 7×7) and 8×8 one; the decoder mirrors it with transposed
convolutions and returns exactly (H, W, C). Vectors (D,) get a two-layer MLP.

Each builder returns a built functional ``keras.Model``, so its weights exist before training.
"""

import keras
from keras import layers

CONV_FILTERS = (32, 32, 64, 64)
DENSE_UNITS = 256
MLP_UNITS = (256, 256)


def downsampling_stages(height, width, max_stages=4):
    """How many stride-2 stages fit: halve while H and W are both even and above 4."""
    stages = 0
    while stages < max_stages and height % 2 == 0 and width % 2 == 0 and min(height, width) > 4:
        height, width, stages = height // 2, width // 2, stages + 1
    return stages


def mlp(input_dim, output_dim, hidden_units=MLP_UNITS, activation="relu", name="mlp"):
    """x (D,) → Dense(hidden)… → Dense(output_dim) with a linear output."""
    inputs = keras.Input(shape=(input_dim,))
    h = inputs
    for units in hidden_units:
        h = layers.Dense(units, activation=activation)(h)
    return keras.Model(inputs, layers.Dense(output_dim)(h), name=name)


def conv_encoder(input_shape, output_dim, name="encoder"):
    """Image (H, W, C) → (output_dim,): conv stages, flatten, Dense(256), linear output."""
    height, width, _ = input_shape
    inputs = keras.Input(shape=tuple(input_shape))
    h = inputs
    for filters in CONV_FILTERS[: downsampling_stages(height, width)]:
        h = layers.Conv2D(filters, 4, strides=2, padding="same", activation="relu")(h)
    h = layers.Flatten()(h)
    h = layers.Dense(DENSE_UNITS, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(output_dim)(h), name=name)


def conv_decoder(latent_dim, output_shape, name="decoder"):
    """z (latent_dim,) → image parameters (H, W, C): the mirror of :func:`conv_encoder`."""
    height, width, channels = output_shape
    stages = downsampling_stages(height, width)
    inputs = keras.Input(shape=(latent_dim,))
    h = layers.Dense(DENSE_UNITS, activation="relu")(inputs)
    if stages == 0:
        h = layers.Dense(height * width * channels)(h)
        return keras.Model(inputs, layers.Reshape(tuple(output_shape))(h), name=name)
    filters = CONV_FILTERS[:stages]
    small = (height >> stages, width >> stages, filters[-1])
    h = layers.Dense(small[0] * small[1] * small[2], activation="relu")(h)
    h = layers.Reshape(small)(h)
    for f in reversed(filters[:-1]):
        h = layers.Conv2DTranspose(f, 4, strides=2, padding="same", activation="relu")(h)
    outputs = layers.Conv2DTranspose(channels, 4, strides=2, padding="same")(h)
    return keras.Model(inputs, outputs, name=name)


def default_encoder(input_shape, output_dim):
    """The conv encoder for images (rank 3), the MLP for vectors (rank 1)."""
    if len(input_shape) == 3:
        return conv_encoder(input_shape, output_dim)
    if len(input_shape) == 1:
        return mlp(input_shape[0], output_dim, name="encoder")
    raise ValueError(
        f"No default encoder for data of shape {tuple(input_shape)}: expected images (H, W, C) "
        "or vectors (D,). Pass your own `encoder=` network."
    )


def default_decoder(latent_dim, output_shape):
    """The conv decoder for images (rank 3), the MLP for vectors (rank 1)."""
    if len(output_shape) == 3:
        return conv_decoder(latent_dim, output_shape)
    if len(output_shape) == 1:
        return mlp(latent_dim, output_shape[0], name="decoder")
    raise ValueError(
        f"No default decoder for data of shape {tuple(output_shape)}: expected images (H, W, C) "
        "or vectors (D,). Pass your own `decoder=` network."
    )


def tc_discriminator(latent_dim, units=1000, layers=6, name="tc_discriminator"):
    """z (latent_dim,) → 2 logits: the FactorVAE discriminator that tells draws of q(z) (class 0)
    from draws of Π_j q(z_j) (class 1).

    Defaults from Kim & Mnih (2018, "Disentangling by Factorising", appendix): 6 hidden layers
    of 1000 units with LeakyReLU (slope 0.2), 2 output logits.
    """
    inputs = keras.Input(shape=(latent_dim,))
    h = inputs
    for _ in range(layers):
        h = keras.layers.LeakyReLU(negative_slope=0.2)(keras.layers.Dense(units)(h))
    return keras.Model(inputs, keras.layers.Dense(2)(h), name=name)
