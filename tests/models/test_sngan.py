"""sngan: the spectrally normalised GAN with the hinge loss."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen import config
from tfgen.errors import ConfigError
from tfgen.layers import SpectralNormalization
from tfgen.losses import hinge_discriminator_loss, minimax_discriminator_loss

from conftest import body
from conftest import build_model as build
from conftest import model_batch as batch


def test_defaults_are_the_papers_setting_c():
    assert config.model_options("sngan") == {"width": 32, "loss": "hinge", "critic_steps": 1, "beta_1": 0.5,
                                             "beta_2": 0.999, "spectral_norm": True}
    assert config.model_defaults("sngan") == {"epochs": 20, "batch_size": 64, "latent_dim": 128, "lr": 2e-4}
    with pytest.raises(ValueError, match="--option loss='wasserstein' is not allowed; choose one of: hinge, "
                                         "nonsaturating"):
        config.check_options("sngan", {"loss": "wasserstein"})
    with pytest.raises(ValueError, match="--option critic_steps='0' is not allowed; it takes an integer from 1 to 10"):
        config.check_options("sngan", {"critic_steps": "0"})


def test_networks_are_the_papers_standard_cnn_at_32x32():
    model = build("sngan", latent_dim=128, width=64, image_shape=(32, 32, 3))
    d = body(model.discriminator)
    wrapped = [layer.layer for layer in d if isinstance(layer, SpectralNormalization)]
    assert [(c.filters, c.kernel_size, c.strides) for c in wrapped[:-1]] == [
        (64, (3, 3), (1, 1)), (64, (4, 4), (2, 2)), (128, (3, 3), (1, 1)), (128, (4, 4), (2, 2)),
        (256, (3, 3), (1, 1)), (256, (4, 4), (2, 2)), (512, (3, 3), (1, 1))]
    assert type(wrapped[-1]).__name__ == "Dense" and wrapped[-1].units == 1
    # every weight layer of D is spectrally normalised, each followed by LeakyReLU(0.1); no BatchNorm
    kinds = [type(layer).__name__ for layer in d if type(layer).__name__ != "InputLayer"]
    assert kinds == ["SpectralNormalization", "LeakyReLU"] * 7 + ["Flatten", "SpectralNormalization"]
    assert {layer.negative_slope for layer in d if type(layer).__name__ == "LeakyReLU"} == {0.1}
    g = [layer for layer in body(model.generator, "tanh") if type(layer).__name__ != "InputLayer"]
    assert [type(layer).__name__ for layer in g] == [
        "Dense", "Reshape", "BatchNormalization", "ReLU",
        *["Conv2DTranspose", "BatchNormalization", "ReLU"] * 3, "Conv2D"]
    assert g[0].units == 4 * 4 * 512
    assert [(c.filters, c.kernel_size, c.strides) for c in g if type(c).__name__ == "Conv2DTranspose"] == [
        (256, (4, 4), (2, 2)), (128, (4, 4), (2, 2)), (64, (4, 4), (2, 2))]  # kernels the stride divides
    assert model.generator(tf.zeros((2, 128))).shape == (2, 32, 32, 3)
    plain = build("sngan", latent_dim=128, width=64, image_shape=(32, 32, 3), spectral_norm=False)
    assert not any(isinstance(layer, SpectralNormalization) for layer in plain.discriminator.layers)
    assert plain.discriminator.count_params() == model.discriminator.count_params() - sum(
        int(layer.u.shape[-1]) for layer in d if isinstance(layer, SpectralNormalization))
    for optimizer in model.named_optimizers().values():
        assert (type(optimizer).__name__, optimizer.beta_1, optimizer.beta_2) == ("Adam", 0.5, 0.999)


def test_mnist_sizes_take_two_levels_and_sizes_the_strides_cannot_take_are_refused():
    model = build("sngan", width=8)
    assert model.generator.layers[1].units == 7 * 7 * 32  # a 7x7 seed of 4w channels
    assert model.generator(tf.zeros((2, 8))).shape == (2, 28, 28, 1)
    assert model.discriminator(tf.zeros((2, 28, 28, 1))).shape == (2, 1)
    sngan = type(model)
    with pytest.raises(ConfigError, match="cannot take images of height 30: it takes sizes that are multiples of 4 "
                                          "from 16; the nearest: 28 or 32"):
        sngan.check_data((30, 32, 3), 10)
    with pytest.raises(ConfigError, match="the nearest: 16"):
        sngan.check_data((12, 12, 3), 10)


@pytest.mark.parametrize("loss, reference", [("hinge", hinge_discriminator_loss),
                                             ("nonsaturating", minimax_discriminator_loss)])
def test_d_sees_real_and_fake_images_in_one_call_and_takes_the_chosen_loss(loss, reference):
    model = build("sngan", width=8, loss=loss)
    data = batch(model, n=6)
    fake = tf.random.normal((6, 28, 28, 1), seed=2)
    calls = []
    original = model.discriminator.call
    model.discriminator.call = lambda x, *a, **k: calls.append(x.shape[0]) or original(x, *a, **k)
    got = float(model.d_losses(data, fakes=(fake, None))["d_loss"])
    assert calls == [12]  # one call: one power iteration per D update
    model.discriminator.call = original
    expected = reference(model.discriminator(data[0]), model.discriminator(fake))
    np.testing.assert_allclose(got, float(expected), rtol=1e-5)


def test_a_step_advances_each_power_iteration_once_per_update_of_d_and_once_for_g():
    model = build("sngan", width=8)
    norms = [layer for layer in model.discriminator.layers if isinstance(layer, SpectralNormalization)]
    before = [layer.u.numpy() for layer in norms]
    model.train_step(batch(model, n=8))
    optimizers = model.named_optimizers()
    assert int(optimizers["d_optimizer"].iterations) == 1 and int(optimizers["optimizer"].iterations) == 1
    assert all(not np.array_equal(layer.u.numpy(), u) for layer, u in zip(norms, before))
    model = build("sngan", width=8, critic_steps=3)
    assert not model.reuse_fakes  # each D update has its own share of the batch, and G draws fresh noise
    model.train_step(batch(model, n=9))
    assert int(model.named_optimizers()["d_optimizer"].iterations) == 3
