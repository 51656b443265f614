"""dcgan: the DCGAN."""

import tensorflow as tf

from tfgen import config

from conftest import body
from conftest import build_model as build


def test_dcgan_architecture_matches_the_reference_and_the_tutorial():
    model = build("dcgan", latent_dim=100)
    d_kinds = [type(layer).__name__ for layer in body(model.discriminator)]
    assert d_kinds == ["ZeroPadding2D", "Conv2D", "LeakyReLU",
                       "ZeroPadding2D", "Conv2D", "BatchNormalization", "LeakyReLU",
                       "ZeroPadding2D", "Conv2D", "BatchNormalization", "LeakyReLU",
                       "Conv2D", "BatchNormalization", "LeakyReLU", "Flatten", "Dense"]
    convs = [layer for layer in model.discriminator.layers if type(layer).__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size, c.strides) for c in convs] == [
        (16, (3, 3), (2, 2)), (32, (3, 3), (2, 2)), (64, (3, 3), (2, 2)), (128, (4, 4), (1, 1))]
    # PyTorch's padding=1: 28 -> 14 -> 7 -> 4, and the 4x4 kernel sees the whole map.
    x, sizes = tf.zeros((1, 28, 28, 1)), []
    for layer in body(model.discriminator)[:-2]:
        x = layer(x)
        if layer in convs:
            sizes.append(tuple(x.shape[1:3]))
    assert sizes == [(14, 14), (7, 7), (4, 4), (1, 1)]
    g_kinds = [type(layer).__name__ for layer in body(model.generator, "tanh")]
    assert g_kinds == ["Dense", "BatchNormalization", "LeakyReLU", "Reshape",
                       "Conv2DTranspose", "BatchNormalization", "LeakyReLU",
                       "Conv2DTranspose", "BatchNormalization", "LeakyReLU", "Conv2DTranspose"]
    assert model.generator.layers[0].units == 7 * 7 * 256
    assert not any(getattr(layer, "use_bias", False) for layer in model.generator.layers)
    assert model.generator(tf.zeros((2, 100))).shape == (2, 28, 28, 1)
    assert config.model_defaults("dcgan") == {"epochs": 25, "batch_size": 256, "latent_dim": 100, "lr": 1e-4}
    assert {o.beta_1 for o in model.named_optimizers().values()} == {0.9}
