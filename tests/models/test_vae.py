"""vae: the MLP VAE."""

import numpy as np


from conftest import body
from conftest import build_model as build
from conftest import model_batch as batch


def test_mlp_vae_architecture_matches_the_reference():
    model = build("vae", latent_dim=50)
    assert [layer.units for layer in model.encoder.layers] == [512, 256]
    assert model.mean_head.units == model.logvar_head.units == 50
    dense = [layer for layer in body(model.decoder, "sigmoid") if hasattr(layer, "units")]
    assert [layer.units for layer in dense] == [256, 512, 784]
    assert type(model.optimizer).__name__ == "AdamW" and model.optimizer.weight_decay == 0.01
    assert model.grid_shape == (8, 8) and model.input_range == "unit"


def test_vae_loss_is_squared_error_plus_kl():
    model = build("vae")
    x, labels = batch(model)
    model.reparameterize = lambda mean, logvar: mean  # z = the posterior mean: the loss becomes deterministic
    losses = model.compute_losses((x, labels))
    mean, logvar = (t.numpy() for t in model.encode(x))
    decoded = model.decoder(mean).numpy()
    squared = ((x.numpy() - decoded) ** 2).reshape(len(x), -1).sum(axis=1).mean()  # summed over pixels
    kl = (-0.5 * (1 + logvar - mean**2 - np.exp(logvar)).sum(axis=1)).mean()
    np.testing.assert_allclose(float(losses["reconstruction"]), squared, rtol=1e-5)
    np.testing.assert_allclose(float(losses["kl"]), kl, rtol=1e-5)
    np.testing.assert_allclose(float(losses["loss"]), squared + kl, rtol=1e-5)
