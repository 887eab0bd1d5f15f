"""A small β-VAE learns dSprites: its loss falls and its reconstructions improve."""

import keras
import numpy as np

from kgen.data import DSprites
from kgen.models import BetaVAE


def test_loss_falls_and_reconstructions_improve_on_dsprites():
    images, _ = DSprites(resolution=32).sample(1200, seed=0)
    train, test = images[:1024], images[1024:]
    model = BetaVAE((32, 32, 1), latent_dim=6, beta=1.0, seed=0)
    before = -model.likelihood.log_prob(test, keras.ops.log(model.reconstruct(test) / (1 - model.reconstruct(test) + 1e-7) + 1e-7))
    error_before = np.mean(np.square(model.reconstruct(test).numpy() - test))
    model.compile(keras.optimizers.Adam(2e-3))
    history = model.fit(train, batch_size=64, epochs=8, verbose=0).history
    error_after = np.mean(np.square(model.reconstruct(test).numpy() - test))
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    assert history["reconstruction"][-1] < history["reconstruction"][0]
    assert error_after < 0.5 * error_before
    assert np.isfinite(before.numpy()).all()
    assert model.elbo(test, seed=0).numpy().mean() > -history["loss"][0]
