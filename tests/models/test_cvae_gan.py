"""cvae_gan: the CVAE-GAN."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen import config, registry

from conftest import body
from conftest import build_model as build
from conftest import model_batch as batch


def test_cvae_gan_architecture_matches_the_reference():
    model = build("cvae_gan", latent_dim=2)
    assert model.decoder.layers[0].kernel.shape[0] == 2 + 10  # concat(z, one-hot label)
    for net, outputs in ((model.discriminator, 1), (model.classifier, 10)):
        kinds = [type(layer).__name__ for layer in body(net)]
        assert kinds == ["Conv2D", "LeakyReLU", "MaxPooling2D", "Conv2D", "LeakyReLU", "MaxPooling2D", "Flatten",
                         "Dense", "LeakyReLU", "Dense"]
        assert [layer.units for layer in net.layers if hasattr(layer, "units")] == [1024, outputs]
    assert config.model_defaults("cvae_gan") == {"epochs": 10, "batch_size": 128, "latent_dim": 2, "lr": 1e-4}
    assert config.model_options("cvae_gan") == {"filters": 16, "fake_draw": "onehot", "recon_weighting": "sum",
                                                "likelihood": "auto"}


@pytest.mark.parametrize("weighting", ["sum", "reference"])
def test_cvae_gan_reconstruction_weighting(weighting):
    model = registry.get("cvae_gan")(latent_dim=2, learning_rate=1e-3, seed=1, recon_weighting=weighting)
    data = batch(model, n=8)
    for net in (model.discriminator, model.classifier):  # zeroed output layers: each BCE term is log 2
        out = body(net)[-1]
        out.kernel.assign(tf.zeros_like(out.kernel))
        out.bias.assign(tf.zeros_like(out.bias))
    losses = {k: float(v) for k, v in model.vae_losses(data).items()}
    rec, kl = losses["reconstruction"], losses["kl"]
    expected = rec + kl if weighting == "sum" else rec / 784 + kl * 8  # MSELoss mean + KL summed over the batch
    np.testing.assert_allclose(losses["vae_loss"], expected + 2 * np.log(2), rtol=1e-5)


def test_cvae_gan_fake_codes_follow_the_option():
    onehot = registry.get("cvae_gan")(latent_dim=2, learning_rate=1e-3, seed=1).fake_codes(64).numpy()
    assert onehot.shape == (64, 12)
    assert set(np.unique(onehot[:, 2:])) == {0.0, 1.0} and np.all(onehot[:, 2:].sum(axis=1) == 1)
    assert len(np.unique(onehot[:, 2:].argmax(axis=1))) > 5  # labels drawn uniformly
    reference = registry.get("cvae_gan")(latent_dim=2, learning_rate=1e-3, seed=1, fake_draw="reference")
    codes = reference.fake_codes(64).numpy()  # every dimension N(0, I), label dims included
    assert codes.shape == (64, 12) and abs(codes[:, 2:].mean()) < 0.2 and 0.8 < codes[:, 2:].std() < 1.2
