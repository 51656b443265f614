"""``gan``: the toy 2-D GAN of the course notes.

Mirrors the reference: G = Dense(z=32 -> 128) ReLU -> Dense(2); D = Dense(2 ->
128) ReLU -> Dense(1) sigmoid; each step D minimises
-mean(log D(x) + log(1 - D(G(z)))), then G minimises -mean(log D(G(z))) on
fresh noise, each with its own optimizer applied to its own network's variables only; the real
samples are reshuffled every epoch (the tf.data pipeline does that).

Where tfgen differs: D outputs logits and both losses are
``sigmoid_cross_entropy_with_logits``, which is mathematically the reference's
-log(sigmoid) terms but does not overflow when D saturates; ``discriminate``
applies the sigmoid for D's probability. The notes give no optimizer or
schedule ("the learning rate and batch size matter a lot"): tfgen uses Adam
1e-3 with beta_1 0.5 for both networks, batch 128, 100 epochs of 10,000 points.
Measured on ``ring`` (``bench/gan_modes.py``, see the README): after 100
epochs 3 to 7 of the 8 modes are covered depending on the seed (7 for
``train.py gan`` with seed 0), and other learning rates, batch sizes, Adam
betas and D/G rate ratios tried did not cover all 8 reliably: the mode dropping
of a plain GAN, which the reference does not guard against.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfgen.models.base import AdversarialModel
from tfgen.registry import register


@register("gan")
class GAN(AdversarialModel):
    """Toy 2-D GAN: MLP generator and discriminator (128 hidden units each) on point sets."""

    train_defaults = {"epochs": 100, "batch_size": 128, "dataset": "ring"}
    input_range = "points"
    data_kind = "points"
    num_grid_samples = 1000
    reuse_fakes = False  # the reference draws fresh noise for G's update

    def __init__(self, latent_dim: int = 32, learning_rate: float = 1e-3, seed: int | None = None, **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, **kwargs)
        self.generator = keras.Sequential(
            [keras.Input((latent_dim,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(2)],
            name="generator",
        )
        self.discriminator = keras.Sequential(
            [keras.Input((2,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(1)],  # logits
            name="discriminator",
        )
        self.built = True

    # ----- sampling -----

    def sample(self, z, labels=None):
        """Generated points (N, 2)."""
        return self.generator(z)

    def discriminate(self, points):
        """D's probability that each point is real, shape (N,)."""
        return tf.sigmoid(self.discriminator(points))[:, 0]

    def grid_inputs(self, seed: int) -> dict[str, np.ndarray]:
        z = np.random.default_rng(seed).standard_normal((self.num_grid_samples, self.latent_dim))
        return {"z": z.astype(np.float32)}

    def export_functions(self):
        spec = tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")
        return {"generate": (lambda z: {"points": self.sample(z)}, [spec])}
