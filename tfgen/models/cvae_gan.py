"""``cvae_gan``: the CVAE-GAN of the reference (a BN-conv VAE, a discriminator D, a classifier C).

Mirrors the reference: the VAE is ``conv_vae``'s (2-D latent) with a decoder
that takes concat(z, one-hot label); D is Conv 32 3x3 LeakyReLU(0.2) MaxPool 2
-> Conv 64 3x3 LeakyReLU MaxPool 2 -> Dense 1024 LeakyReLU -> Dense 1 sigmoid,
and C the same body with Dense 10 sigmoid. Each step, in this order:

1. C learns BCE(C(x), one-hot y);
2. D learns BCE(D(x), 1) + BCE(D(decoder(z_fake)), 0);
3. the VAE learns squared error + KL of its reconstruction (decoded from
   concat(z, one-hot y)) + BCE(D(recon), 1) + BCE(C(recon), one-hot y), scored
   by the D and C just updated.

Batch 128, images in [0, 1], Adam 1e-4 for each of the three networks, each
applied to its own variables only. D and C output logits and the losses are
``sigmoid_cross_entropy_with_logits``: the reference's BCELoss on sigmoid
outputs, stable when they saturate.

Two choices where the reference does something tfgen does not default to,
each kept behind ``--option``:

- ``fake_draw``: the reference draws all latent+10 decoder inputs of z_fake
  from N(0, I), label dims included, which the conditional decoder never sees
  in its own training. tfgen defaults to ``onehot``: z ~ N(0, I) concatenated
  with uniformly drawn one-hot labels. ``reference`` restores the reference's
  draw.
- ``recon_weighting``: the reference's ``MSELoss`` averages the squared error
  over pixels while its KL is summed (over latent dimensions and the batch), so
  the KL swamps reconstruction. tfgen defaults to ``sum``: the squared error
  summed over pixels and the KL summed over latent dimensions, both averaged
  over the batch (as ``conv_vae``). ``reference`` restores the reference's
  weighting. Either way ``reconstruction`` and ``kl`` are logged per image.

The reference gives no epoch count: tfgen trains 10 epochs (4,690 steps of 128);
the class-conditional digits are recognisable after 2.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import keras
import tensorflow as tf

from tfgen.losses import bce_with_logits, minimax_discriminator_loss, non_saturating_generator_loss, vae_objective
from tfgen.models.base import EncoderDecoder, Likelihood, Update, leaky, normal
from tfgen.models.conv_vae import conv_networks, decode, encode
from tfgen.options import MAX_FILTERS, Range
from tfgen.precision import float32_output
from tfgen.registry import register


def critic_network(image_shape: tuple[int, int, int], outputs: int, name: str) -> keras.Sequential:
    """The reference's Discriminator(outputn): two conv + max-pool blocks, Dense 1024, ``outputs`` logits."""
    return keras.Sequential(
        [
            keras.Input(image_shape),
            keras.layers.Conv2D(32, 3, padding="same"), leaky(0.2),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, padding="same"), leaky(0.2),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(1024), leaky(0.2),
            keras.layers.Dense(outputs),
            float32_output(),  # logits
        ],
        name=name,
    )


@register
class CVAEGAN(EncoderDecoder):
    """CVAE-GAN: label-conditioned BN-conv VAE trained against a discriminator and a class classifier.

    Args:
        filters, likelihood: the VAE's, as ``conv_vae``'s.
        fake_draw: how D's fakes are drawn (see the module docstring).
        recon_weighting: how reconstruction and KL are weighted (see the module docstring).
    """

    loss_names = ("vae_loss", "d_loss", "c_loss", "reconstruction", "kl")
    train_defaults = {"epochs": 10, "batch_size": 128}
    capabilities = EncoderDecoder.capabilities | {"conditional"}
    input_range = "unit"
    counterpart = "conv_vae"
    grid_shape = (10, 10)
    size_multiple, min_size = 4, 4  # conv_vae's networks: two stride-2 convolutions
    # bench/throughput.py --spe-sweep: no gain for a 160 ms step (806 images/s at 1, 778 at 10)
    default_steps_per_execution = 1

    def __init__(self, latent_dim: int = 2, learning_rate: float = 1e-4, seed: int | None = None, *,
                 filters: Annotated[int, Range(1, MAX_FILTERS)] = 16,
                 fake_draw: Literal["onehot", "reference"] = "onehot",
                 recon_weighting: Literal["sum", "reference"] = "sum", likelihood: Likelihood = "auto",
                 **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, likelihood=likelihood,
                         **kwargs)
        self.filters, self.fake_draw, self.recon_weighting = filters, fake_draw, recon_weighting
        conv_networks(self, filters)
        self.discriminator = critic_network(self.image_shape, 1, "discriminator")
        self.classifier = critic_network(self.image_shape, self.num_classes, "classifier")
        self.built = True

    encode = encode
    decode = decode

    def sample(self, z, labels=None):
        return self.decode(z, labels)

    def updates(self) -> tuple[Update, ...]:
        """C, then D, then the VAE against the C and D just updated, each with Adam at the learning rate."""
        return (Update("c_optimizer", "c_loss", self.c_losses, self.make_optimizer, ("classifier",)),
                Update("d_optimizer", "d_loss", self.d_losses, self.make_optimizer, ("discriminator",)),
                Update("optimizer", "vae_loss", self.vae_losses, self.make_optimizer,
                       ("encoder", "mean_head", "log_std_head", "decoder")))

    def fake_codes(self, n) -> tf.Tensor:
        """The decoder inputs z_fake of D's fake half, (n, latent + 10) (see ``fake_draw``)."""
        if self.fake_draw == "reference":
            return normal((n, self.latent_dim + self.num_classes), self.seed_generator)
        labels = self.random_labels(n)
        return tf.concat([normal((n, self.latent_dim), self.seed_generator), self.one_hot(labels)], 1)

    def c_losses(self, batch, training: bool = False) -> dict[str, tf.Tensor]:
        x, labels = batch
        return {"c_loss": bce_with_logits(self.one_hot(labels), self.classifier(x, training=training))}

    def d_losses(self, batch, training: bool = False) -> dict[str, tf.Tensor]:
        x = batch[0]
        real = self.discriminator(x, training=training)
        fakes = tf.stop_gradient(self.decoder(self.fake_codes(tf.shape(x)[0]), training=training))
        return {"d_loss": minimax_discriminator_loss(real, self.discriminator(fakes, training=training))}

    def vae_losses(self, batch, training: bool = False) -> dict[str, tf.Tensor]:
        x, labels = batch
        mean, logvar = self.encode(x, training=training)
        recon = self.decode(self.reparameterize(mean, logvar), labels, training=training)
        losses = vae_objective(x, recon, mean, logvar)  # reconstruction and kl per image
        if self.recon_weighting == "reference":  # MSELoss (mean over pixels) + KL summed over the batch
            batch_size = tf.cast(tf.shape(x)[0], tf.float32)
            vae_loss = losses["reconstruction"] / float(self.pixels) + losses["kl"] * batch_size
        else:
            vae_loss = losses["loss"]
        vae_loss += non_saturating_generator_loss(self.discriminator(recon, training=training))
        vae_loss += bce_with_logits(self.one_hot(labels), self.classifier(recon, training=training))
        return {"vae_loss": vae_loss, "reconstruction": losses["reconstruction"], "kl": losses["kl"]}
