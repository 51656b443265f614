"""The keras.io DDIM example's network and training step, rewritten as the speed reference of ``bench/throughput.py``.

The example ("Denoising Diffusion Implicit Models", keras.io, A. Béres, 2022)
is a single script; this is its network and ``train_step`` written anew from
its description, so that tfgen's ``diffusion`` can be timed against it on the
same images (as ``bench/tutorial_cvae.py`` is for the cvae tutorial):

- the network: a U-Net whose residual block is BatchNorm (no centre or scale),
  a 3x3 convolution with swish, a 3x3 convolution, plus its input (through a
  1x1 convolution where the width changes); the noise variance's sinusoidal
  embedding (32 dimensions, frequencies 1 to 1000) is upsampled to the image
  and concatenated with a 1x1 convolution of it at the input only; ``widths[:-1]``
  levels down (``block_depth`` blocks each, every block's output kept as a
  skip, then 2x2 average pooling), ``block_depth`` blocks at ``widths[-1]``, and
  back up (bilinear upsampling, each block after concatenating a skip); a
  zero-initialised 1x1 convolution out. Widths 32, 64, 96, 128, two blocks.
- the step: noise and times drawn for the batch, the cosine schedule as
  angles between signal rates 0.95 and 0.02, the network predicting the noise
  from the noised images and the noise variance, the mean absolute error,
  AdamW (learning rate 1e-3, weight decay 1e-4), then the weights' moving
  average (0.999) updated weight by weight.

Left out as costing nothing per step or not part of it: the example's
``Normalization`` layer (the images arrive already scaled), its loss trackers'
image loss, and its KID metric (computed only at evaluation).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

WIDTHS = (32, 64, 96, 128)
BLOCK_DEPTH = 2
EMBEDDING_DIMS, EMBEDDING_MAX_FREQUENCY = 32, 1000.0
MIN_SIGNAL_RATE, MAX_SIGNAL_RATE = 0.02, 0.95
EMA = 0.999


class SinusoidalEmbedding(keras.layers.Layer):
    """(N, 1, 1, 1) noise variances -> (N, 1, 1, EMBEDDING_DIMS) sines and cosines at log-spaced frequencies."""

    def call(self, variances):
        frequencies = tf.exp(tf.linspace(0.0, math.log(EMBEDDING_MAX_FREQUENCY), EMBEDDING_DIMS // 2))
        angles = 2.0 * math.pi * frequencies * tf.cast(variances, tf.float32)
        return tf.cast(tf.concat([tf.sin(angles), tf.cos(angles)], axis=3), self.compute_dtype)


def residual_block(x, width: int):
    skip = x if x.shape[3] == width else keras.layers.Conv2D(width, 1)(x)
    x = keras.layers.BatchNormalization(center=False, scale=False)(x)
    x = keras.layers.Conv2D(width, 3, padding="same", activation="swish")(x)
    x = keras.layers.Conv2D(width, 3, padding="same")(x)
    return keras.layers.Add()([x, skip])


def network(image_size: int, channels: int = 3, widths=WIDTHS, block_depth: int = BLOCK_DEPTH) -> keras.Model:
    images = keras.Input((image_size, image_size, channels))
    variances = keras.Input((1, 1, 1))
    embedding = keras.layers.UpSampling2D(image_size)(SinusoidalEmbedding()(variances))
    x = keras.layers.Concatenate()([keras.layers.Conv2D(widths[0], 1)(images), embedding])
    skips = []
    for width in widths[:-1]:
        for _ in range(block_depth):
            x = residual_block(x, width)
            skips.append(x)
        x = keras.layers.AveragePooling2D(2)(x)
    for _ in range(block_depth):
        x = residual_block(x, widths[-1])
    for width in reversed(widths[:-1]):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear")(x)
        for _ in range(block_depth):
            x = residual_block(keras.layers.Concatenate()([x, skips.pop()]), width)
    out = keras.layers.Conv2D(channels, 1, kernel_initializer="zeros", dtype="float32")(x)
    return keras.Model([images, variances], out)


class DDIM:
    """The example's two networks, optimizer and training step (``step(images)``: one batch in [-1, 1])."""

    def __init__(self, image_size: int, channels: int = 3):
        self.network = network(image_size, channels)
        self.ema_network = keras.models.clone_model(self.network)
        self.ema_network.set_weights(self.network.get_weights())
        self.optimizer = keras.optimizers.AdamW(1e-3, weight_decay=1e-4)
        self.optimizer.build(self.network.trainable_weights)

    @staticmethod
    def schedule(times):
        """(noise rates, signal rates) at ``times`` in [0, 1]."""
        start, end = math.acos(MAX_SIGNAL_RATE), math.acos(MIN_SIGNAL_RATE)
        angles = start + times * (end - start)
        return tf.sin(angles), tf.cos(angles)

    def step(self, images):
        images = tf.cast(images, tf.float32)
        noises = tf.random.normal(tf.shape(images))
        times = tf.random.uniform((tf.shape(images)[0], 1, 1, 1))
        noise_rates, signal_rates = self.schedule(times)
        noisy = signal_rates * images + noise_rates * noises
        with tf.GradientTape() as tape:
            predicted = self.network([noisy, noise_rates ** 2], training=True)
            loss = tf.reduce_mean(tf.abs(noises - tf.cast(predicted, tf.float32)))
        weights = self.network.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        for weight, average in zip(self.network.weights, self.ema_network.weights):
            average.assign(EMA * average + (1 - EMA) * weight)
        return loss


class NoiseVariance(keras.layers.Layer):
    """tfgen's times t (N,) -> the noise variance of tfgen's schedule at t, (N, 1, 1, 1): the example's input."""

    def call(self, t):
        from tfgen.losses import diffusion_schedule

        return tf.reshape(diffusion_schedule(t)[1] ** 2, (-1, 1, 1, 1))


def in_tfgen(size: int, channels: int = 3):
    """tfgen's ``diffusion`` training (``fit()``, its loss, AdamW, warmed-up moving average, per-replica draws) with
    the example's network in place of its own U-Net: what tfgen's machinery costs, apart from the network."""
    from tfgen.models.base import DiffusionModel

    def build(name: str) -> keras.Model:
        x_t, t = keras.Input((size, size, channels), name="x_t"), keras.Input((), name="t")
        return keras.Model([x_t, t], network(size, channels)([x_t, NoiseVariance()(t)]), name=name)

    model = DiffusionModel(latent_dim=1, learning_rate=1e-3, image_shape=(size, size, channels))
    model.set_network(build)
    return model
