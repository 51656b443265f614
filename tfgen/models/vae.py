"""``vae``: the MLP VAE (784-512-256-50, squared error + KL, AdamW).

Mirrors the reference PyTorch VAE: encoder 784-512-256 (ReLU) with two linear
heads for mean and log-variance, decoder z-256-512-784 with a sigmoid output,
loss = squared error summed over pixels + closed-form KL summed over latent
dimensions, AdamW 1e-3 (PyTorch's defaults: weight decay 0.01, epsilon 1e-8),
batch 64, 20 epochs, inputs in [0, 1] (not binarized); the per-epoch grid is
64 samples from N(0, I).

Where tfgen differs: the loss is averaged over the batch instead of summed
(tfgen's convention; Adam(W)'s steps do not depend on that scale), and the
test set is evaluated with the same loss every epoch.
"""

from __future__ import annotations

from typing import Annotated, Any

import keras
import numpy as np
import tensorflow as tf

from tfgen.losses import vae_objective
from tfgen.models.base import EncoderDecoder, Likelihood
from tfgen.options import MAX_UNITS, Range
from tfgen.precision import float32_output
from tfgen.registry import register


def mlp_encoder(inputs: int, hidden: int) -> keras.Sequential:
    """The reference's encoder body: ``inputs`` -> hidden -> hidden // 2, ReLU."""
    return keras.Sequential([keras.Input((inputs,))] + [keras.layers.Dense(n, activation="relu")
                                                        for n in (hidden, hidden // 2)], name="encoder")


def mlp_decoder(inputs: int, hidden: int, image_shape: tuple[int, int, int]) -> keras.Sequential:
    """The reference's decoder: ``inputs`` -> hidden // 2 -> hidden (ReLU) -> the image's pixels (sigmoid)."""
    pixels = int(np.prod(image_shape))
    return keras.Sequential(
        [keras.Input((inputs,))] + [keras.layers.Dense(n, activation="relu") for n in (hidden // 2, hidden)]
        + [keras.layers.Dense(pixels), keras.layers.Reshape(image_shape), float32_output("sigmoid")],
        name="decoder",
    )


def linear_head(units: int, inputs: int, name: str) -> keras.layers.Dense:
    """A linear layer on the encoder's last hidden layer, built, computing in float32."""
    head = keras.layers.Dense(units, name=name, dtype="float32")
    head.build((None, inputs))
    return head


def mlp_networks(model, hidden: int, heads: tuple[str, ...]) -> None:
    """Builds the MLP encoder, the named linear heads and the decoder on ``model``, in the reference's order.

    A conditional model's encoder and decoder also take the one-hot label.
    """
    condition = model.num_classes if model.has("conditional") else 0
    model.encoder = mlp_encoder(model.pixels + condition, hidden)
    for name in heads:
        setattr(model, f"{name}_head", linear_head(model.latent_dim, hidden // 2, name))
    model.decoder = mlp_decoder(model.latent_dim + condition, hidden, model.image_shape)


def adamw(learning_rate: float) -> keras.optimizers.Optimizer:
    """The reference's optimizer: PyTorch's AdamW defaults (weight decay 0.01, epsilon 1e-8)."""
    return keras.optimizers.AdamW(learning_rate, weight_decay=0.01, epsilon=1e-8)


def hidden_code(model, images: tf.Tensor, labels: tf.Tensor | None, training: bool = False) -> tf.Tensor:
    """The encoder's last hidden layer for flattened images (plus one-hot labels when conditional)."""
    x = tf.reshape(images, (-1, model.pixels))
    if model.has("conditional"):
        x = tf.concat([x, model.one_hot(labels)], axis=1)
    return model.encoder(x, training=training)


def decode(model, z: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
    """Pixel probabilities (N, H, W, C) for codes ``z`` (and labels when conditional)."""
    if model.has("conditional"):
        z = tf.concat([z, model.one_hot(labels)], axis=1)
    return model.decoder(z)


def gaussian_encode(model, images, labels=None, training=False):
    """(mean, logvar) of q(z | x) from the two linear heads."""
    h = hidden_code(model, images, labels, training)
    return model.mean_head(h), model.logvar_head(h)


def objective(model, batch, training: bool = False, kl_weight: float = 1.0) -> dict[str, tf.Tensor]:
    """Squared error + ``kl_weight`` * KL of one batch, on one draw of z (``tfgen.losses.vae_objective``)."""
    x, labels = batch
    mean, logvar = model.encode(x, labels, training=training)
    return vae_objective(x, decode(model, model.reparameterize(mean, logvar), labels), mean, logvar,
                         kl_weight=kl_weight)


@register
class VAE(EncoderDecoder):
    """MLP VAE: 784-512-256 encoder, z-256-512-784 decoder, squared error + KL.

    Args:
        latent_dim: size of z.
        learning_rate: AdamW learning rate.
        seed: seed of the reparameterization noise.
        hidden: units of the encoder's first hidden layer and the decoder's
            last; the other hidden layer has half as many (the reference's 512, 256).
        likelihood: p(x | z) of the test ELBO (``tfgen.models.base.Likelihood``);
            training minimises squared error, as the reference does.
    """

    loss_names = ("loss", "reconstruction", "kl")
    train_defaults = {"epochs": 20, "batch_size": 64}
    input_range = "unit"
    grid_shape = (8, 8)
    default_steps_per_execution = 25  # bench/throughput.py --spe-sweep: 9.1k images/s at 1, 11.0k at 25
    default_jit_compile = True  # bench/throughput.py: fit() 10.3k images/s, 14.2k with XLA (ae 11.3k -> 17.8k)
    counterpart = "ae"

    def __init__(self, latent_dim: int = 50, learning_rate: float = 1e-3, seed: int | None = None, *,
                 hidden: Annotated[int, Range(2, MAX_UNITS)] = 512, likelihood: Likelihood = "auto", **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, likelihood=likelihood,
                         **kwargs)
        self.hidden = hidden
        mlp_networks(self, hidden, ("mean", "logvar"))
        self.built = True

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        return adamw(self.learning_rate)

    encode = gaussian_encode
    decode = decode

    def sample(self, z, labels=None):
        return self.decode(z, labels)

    compute_losses = objective
