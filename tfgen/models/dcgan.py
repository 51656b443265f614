"""``dcgan``: the DCGAN of the course notes, with the TensorFlow tutorial's generator.

D mirrors the reference: Conv 16 3x3 stride 2 LeakyReLU(0.2) (no BN) -> Conv
32 3x3 s2 BN LeakyReLU -> Conv 64 3x3 s2 BN LeakyReLU -> Conv 128 4x4 s1 BN
LeakyReLU -> Dense 1. The stride-2 convolutions pad one pixel on every side,
as PyTorch's ``padding=1`` does (28 -> 14 -> 7 -> 4), so the last 4x4 kernel
sees the whole map. The notes give no generator: G is the TensorFlow DCGAN
tutorial's (Dense 7*7*256 without bias, BN, LeakyReLU, Conv2DTranspose 128
5x5 s1, 64 5x5 s2, 1 5x5 s2 tanh, BN + LeakyReLU between, no biases), with its
noise size 100, Adam 1e-4 for both networks (the tutorial's default beta_1
0.9) and batch 256. Images in [-1, 1] for training, [0, 1] out of
``sample``/``generate``.

Where tfgen differs: 25 epochs by default, not the tutorial's 50. An epoch
costs about 80 s on a 2-core CPU, and the digits are recognisable from about
epoch 10 (see the README); ``--epochs 50`` gives the tutorial's length.

Losses: D minimises BCE(D(x), 1) + BCE(D(G(z)), 0), G minimises BCE(D(G(z)), 1),
as the tutorial's ``BinaryCrossentropy(from_logits=True)``; the step updates D,
then G (the notes' order), each network with its own optimizer and tape.
"""

from __future__ import annotations

from typing import Annotated, Any

import keras

from tfgen.models.base import AdversarialModel, leaky
from tfgen.options import Range
from tfgen.precision import float32_output
from tfgen.registry import register


def strided_conv(filters: int) -> list[keras.layers.Layer]:
    """3x3 stride-2 convolution with PyTorch's symmetric one-pixel padding."""
    return [keras.layers.ZeroPadding2D(1), keras.layers.Conv2D(filters, 3, strides=2)]


def generator_network(latent_dim: int, image_shape: tuple[int, int, int]) -> keras.Sequential:
    """The TensorFlow DCGAN tutorial's generator: noise -> H x W x C in [-1, 1] (tanh), from H/4 x W/4 x 256."""
    BN = keras.layers.BatchNormalization
    h, w, c = image_shape
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            keras.layers.Dense(h // 4 * w // 4 * 256, use_bias=False), BN(), leaky(0.3),
            keras.layers.Reshape((h // 4, w // 4, 256)),
            keras.layers.Conv2DTranspose(128, 5, padding="same", use_bias=False), BN(), leaky(0.3),
            keras.layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False), BN(), leaky(0.3),
            keras.layers.Conv2DTranspose(c, 5, strides=2, padding="same", use_bias=False),
            float32_output("tanh"),
        ],
        name="generator",
    )


def discriminator_network(image_shape: tuple[int, int, int], normalization=keras.layers.BatchNormalization,
                          activation=leaky) -> keras.Sequential:
    """The course notes' DCGAN discriminator (logits out): ``normalization()`` after its last three convolutions,
    ``activation()`` (LeakyReLU 0.2) after each."""
    return keras.Sequential(
        [
            keras.Input(image_shape),
            *strided_conv(16), activation(),
            *strided_conv(32), normalization(), activation(),
            *strided_conv(64), normalization(), activation(),
            keras.layers.Conv2D(128, 4), normalization(), activation(),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
            float32_output(),  # logits
        ],
        name="discriminator",
    )


@register
class DCGAN(AdversarialModel):
    """Convolutional GAN: transposed-conv generator, strided-conv discriminator with BatchNorm.

    Args:
        beta_1: Adam's first-moment decay, for both networks (the tutorial's 0.9).
    """

    train_defaults = {"epochs": 25, "batch_size": 256}
    input_range = "tanh"
    size_multiple, min_size = 4, 28  # the generator doubles H/4 twice; D's three stride-2 convolutions leave 4x4

    def __init__(self, latent_dim: int = 100, learning_rate: float = 1e-4, seed: int | None = None, *,
                 beta_1: Annotated[float, Range(0, 0.9999)] = 0.9, **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, beta_1=beta_1, **kwargs)
        self.generator = generator_network(latent_dim, self.image_shape)
        self.discriminator = discriminator_network(self.image_shape)
        self.built = True
