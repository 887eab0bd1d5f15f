"""A small β-VAE learns dSprites: its loss falls, its reconstructions improve, its ELBO rises."""

import keras
import numpy as np

from kgen.data import DSprites
from kgen.models import BetaVAE


def test_loss_falls_and_reconstructions_improve_on_dsprites():
    images, _ = DSprites(resolution=32).sample(1200, seed=0)
    train, test = images[:1024], images[1024:]
    model = BetaVAE((32, 32, 1), latent_dim=6, seed=0)
    error_before = np.mean(np.square(model.reconstruct(test).numpy() - test))
    elbo_before = model.elbo(test, seed=0).numpy().mean()
    model.compile(keras.optimizers.Adam(2e-3))
    history = model.fit(train, batch_size=64, epochs=8, verbose=0).history
    error_after = np.mean(np.square(model.reconstruct(test).numpy() - test))
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    assert history["reconstruction"][-1] < history["reconstruction"][0]
    assert error_after < 0.5 * error_before
    assert model.elbo(test, seed=0).numpy().mean() > elbo_before + 100.0
