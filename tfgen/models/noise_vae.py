"""``noise_vae``: the "poor man's VAE": fixed unit noise added to the code, L2 norm of the codes.

Mirrors the reference: encoder 784-392 (sigmoid) -> linear code h (no
variance head); during training z = h + eps with eps ~ N(0, I); decoder
z-392 (sigmoid) -784 (sigmoid); loss = summed squared error + the L2 norm of
the whole batch of noisy codes, sqrt(sum z^2), exactly as the reference
writes it (not a per-example norm).

Where tfgen differs: the reference's batch total is divided by the batch size
(tfgen's mean-over-the-batch convention), i.e. loss = (sum of squared errors +
sqrt(sum z^2)) / batch, which keeps the two terms' balance; the reference
gives no optimizer, latent size or schedule, so tfgen uses the ``vae``'s for a
like-for-like comparison: latent 50, Adam 1e-3, batch 64, 20 epochs. Its
``encode`` reports the code as ``mean`` and a zero ``logvar``: q(z|x) is
N(h, I), the fixed unit noise.
"""

from __future__ import annotations

from typing import Annotated, Any

import keras
import tensorflow as tf

from tfgen.losses import batch_l2_norm, squared_error
from tfgen.models.base import EncoderDecoder, Likelihood
from tfgen.options import MAX_UNITS, Range
from tfgen.precision import float32_output
from tfgen.registry import register


@register
class NoiseVAE(EncoderDecoder):
    """Fixed-noise ("poor man's") VAE: code + N(0, I) noise, L2 norm of the batch of codes as regulariser.

    Args:
        hidden: units of the encoder's and the decoder's hidden layer (the reference's 392).
        likelihood: p(x | z) of the test ELBO, as the ``vae``'s.
    """

    loss_names = ("loss", "reconstruction", "code_norm")
    train_defaults = {"epochs": 20, "batch_size": 64}
    input_range = "unit"
    grid_shape = (8, 8)
    default_steps_per_execution = 25  # bench/throughput.py --spe-sweep: 14.7k images/s at 1, 19.2k at 25
    counterpart = "vae"

    def __init__(self, latent_dim: int = 50, learning_rate: float = 1e-3, seed: int | None = None, *,
                 hidden: Annotated[int, Range(1, MAX_UNITS)] = 392, likelihood: Likelihood = "auto", **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, likelihood=likelihood,
                         **kwargs)
        self.hidden = hidden
        self.encoder = keras.Sequential(
            [keras.Input((self.pixels,)), keras.layers.Dense(hidden, activation="sigmoid"),
             keras.layers.Dense(latent_dim), float32_output()],
            name="encoder",
        )
        self.decoder = keras.Sequential(
            [keras.Input((latent_dim,)), keras.layers.Dense(hidden, activation="sigmoid"),
             keras.layers.Dense(self.pixels), keras.layers.Reshape(self.image_shape), float32_output("sigmoid")],
            name="decoder",
        )
        self.built = True

    def encode(self, images, labels=None, training=False):
        h = self.encoder(tf.reshape(images, (-1, self.pixels)), training=training)
        return h, tf.zeros_like(h)

    def sample(self, z, labels=None):
        return self.decoder(z)

    def compute_losses(self, batch, training: bool = False) -> dict[str, tf.Tensor]:
        x = batch[0]
        h, logvar = self.encode(x, training=training)
        z = self.reparameterize(h, logvar)  # h + eps: logvar is 0
        batch_size = tf.cast(tf.shape(x)[0], tf.float32)
        reconstruction = tf.reduce_mean(squared_error(x, self.decoder(z)))
        code_norm = batch_l2_norm(z) / batch_size
        return {"loss": reconstruction + code_norm, "reconstruction": reconstruction, "code_norm": code_norm}
