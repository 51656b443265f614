"""conv_vae: the BatchNorm convolutional VAE."""

import numpy as np

from tfgen import config

from conftest import build_model as build
from conftest import model_batch as batch


def test_conv_vae_architecture_and_log_std_head():
    model = build("conv_vae", latent_dim=2)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.encoder.layers]
    assert shapes[:3] == [(14, 14, 16), (14, 14, 16), (14, 14, 16)]
    assert shapes[-1] == (32 * 7 * 7,)
    assert [type(layer).__name__ for layer in model.encoder.layers].count("BatchNormalization") == 3
    x = batch(model)[0]
    _, logvar = model.encode(x)
    log_std = model.log_std_head(model.encoder(x))
    np.testing.assert_allclose(logvar.numpy(), 2.0 * log_std.numpy(), rtol=1e-6)
    assert config.model_defaults("conv_vae")["latent_dim"] == 2
