"""``ae``: a plain autoencoder, the baseline the VAEs are judged against.

The ``vae``'s encoder and decoder with a deterministic code (one linear head,
no noise), trained on the squared error alone with the ``vae``'s AdamW, batch
and epochs. ``generate`` decodes codes drawn from a diagonal Gaussian fitted
to the training codes, the reference's way of showing why an autoencoder is a
poor generator: its input ``z`` is standard normal and is mapped to
``code_mean + z * code_std``.

Where tfgen differs: the reference fits that Gaussian once, after training,
over a whole pass of codes; here ``code_mean``/``code_std`` are running
averages (momentum 0.99, like BatchNorm's moving statistics) of the batch
statistics during training, so every per-epoch grid and the export use the
codes of the current encoder without an extra pass over the data.
"""

from __future__ import annotations

from typing import Annotated, Any

import keras
import tensorflow as tf

from tfgen.losses import squared_error
from tfgen.models.base import EncoderDecoder
from tfgen.models.vae import adamw, decode, hidden_code, mlp_networks
from tfgen.options import MAX_UNITS, Range
from tfgen.registry import register


@register
class AE(EncoderDecoder):
    """Plain autoencoder (the vae's networks, deterministic code); samples from a Gaussian fitted to its codes."""

    loss_names = ("loss", "reconstruction")
    capabilities = frozenset({"encoder"})  # a deterministic code: no q(z|x), so no ELBO
    train_defaults = {"epochs": 20, "batch_size": 64}
    input_range = "unit"
    grid_shape = (8, 8)
    default_steps_per_execution = 25  # as the vae's (bench/throughput.py --spe-sweep)
    default_jit_compile = True  # bench/throughput.py: fit() 11.3k images/s, 17.8k with XLA
    counterpart = "vae"

    def __init__(self, latent_dim: int = 50, learning_rate: float = 1e-3, seed: int | None = None, *,
                 hidden: Annotated[int, Range(2, MAX_UNITS)] = 512, momentum: Annotated[float, Range(0, 1)] = 0.99,
                 **kwargs: Any):
        """``hidden`` as the ``vae``'s; ``momentum``: of the running code statistics."""
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, **kwargs)
        self.hidden, self.momentum = hidden, momentum
        mlp_networks(self, hidden, ("code",))
        self.code_mean = self.add_weight(shape=(latent_dim,), initializer="zeros", trainable=False,
                                         name="code_mean", aggregation="mean")
        self.code_std = self.add_weight(shape=(latent_dim,), initializer="ones", trainable=False,
                                        name="code_std", aggregation="mean")
        self.built = True

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        return adamw(self.learning_rate)

    decode = decode

    def encode(self, images, labels=None, training=False):
        """The deterministic code (not a distribution)."""
        return self.code_head(hidden_code(self, images, labels, training))

    def latent_mean(self, images, labels=None):
        return self.encode(images, labels)

    def encode_outputs(self, images, labels=None):
        return {"code": self.encode(images, labels)}

    def sample(self, z, labels=None):
        return self.decode(self.code_mean + z * self.code_std, labels)

    def decode_latent(self, code, labels=None):
        return self.decode(code, labels)  # codes are decoded as they are; only ``sample`` maps z to codes

    def compute_losses(self, batch, training: bool = False) -> dict[str, tf.Tensor]:
        x, labels = batch
        code = self.encode(x, labels, training=training)
        if training:
            mean, variance = tf.nn.moments(code, axes=[0])
            self.code_mean.assign(self.momentum * self.code_mean + (1.0 - self.momentum) * mean)
            self.code_std.assign(self.momentum * self.code_std + (1.0 - self.momentum) * tf.sqrt(variance))
        reconstruction = tf.reduce_mean(squared_error(x, self.decode(code, labels)))
        return {"loss": reconstruction, "reconstruction": reconstruction}
