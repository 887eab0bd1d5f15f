"""The energy network of a latent-space energy-based prior.

Pang, Han, Nijkamp, Zhu & Wu (2020, "Learning Latent Space Energy-Based Prior Model", NeurIPS)
tilt a Gaussian base by a scalar energy E_α(z) of the latent vector, p_α(z) ∝ exp(−E_α(z))·N(z; 0, I),
and parametrise E_α by "a very simple multi-layer perceptron". In the authors' released code
(``train_svhn.py``, ``_netE``; facts read from it, no code taken) the energy is
Linear(d → 200) → GELU → Linear(200 → 200) → GELU → Linear(200 → 1), with the network's output
used as the energy as is (their ``e_energy_form='identity'``) and no spectral normalisation by
default: :func:`energy_mlp` with its defaults.
"""

import keras
from keras import layers

#: Widths of the hidden layers of the authors' energy MLP (``ndf = 200``, two layers).
ENERGY_UNITS = (200, 200)


def energy_mlp(latent_dim, hidden_units=ENERGY_UNITS, activation="gelu", name="energy"):
    """z (latent_dim,) → E(z) (1,): an MLP with a linear scalar output.

    Args:
        latent_dim: d, the dimension of z.
        hidden_units: the widths of the hidden layers ((200, 200) in the authors' code).
        activation: the hidden layers' activation (``"gelu"``, the exact erf form, as
            PyTorch's ``F.gelu`` that the authors use).
        name: the model's name.

    Returns:
        A built functional ``keras.Model``.
    """
    inputs = keras.Input(shape=(int(latent_dim),))
    h = inputs
    for units in hidden_units:
        h = layers.Dense(int(units), activation=activation)(h)
    return keras.Model(inputs, layers.Dense(1)(h), name=name)
