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
1e-3 with beta_1 0.5 for both networks (``--option beta_1``), batch 128, 100 epochs of 10,000 points.
Measured on ``ring`` (``bench/gan_modes.py``, see the README): after 100
epochs 3 to 7 of the 8 modes are covered depending on the seed (7 for
``train.py gan`` with seed 0), and other learning rates, batch sizes, Adam
betas and D/G rate ratios tried did not cover all 8 reliably: the mode dropping
of a plain GAN, which the reference does not guard against.

``--option pack=2`` (or 4) is tfgen's remedy, off by default so that the
default model is the reference's: D judges packs of 2 (or 4) samples, all real
or all generated, concatenated into one input (PacGAN, Lin et al. 2018), with
the same losses, G and D's hidden layer unchanged. A generator that drops modes
makes packs that look unlike real packs, so D penalises it. Measured: all 8
modes covered after 75 epochs for each of six seeds.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import keras
import numpy as np
import tensorflow as tf

from tfgen import images
from tfgen.models.base import AdversarialModel
from tfgen.options import MAX_UNITS, Range
from tfgen.precision import float32_output
from tfgen.registry import register


@register
class GAN(AdversarialModel):
    """Toy 2-D GAN: MLP generator and discriminator (128 hidden units each) on point sets.

    Args:
        hidden: units of G's and D's hidden layer.
        pack: samples D judges together (PacGAN); 1 is the reference's D.
        beta_1: Adam's first-moment decay, for both networks.
    """

    train_defaults = {"epochs": 100, "batch_size": 128, "dataset": "ring"}
    capabilities = frozenset({"points"})
    input_range = "points"
    num_grid_samples = 1000
    default_steps_per_execution = 25  # bench/throughput.py --spe-sweep: 89k images/s at 1, 171k at 25

    def __init__(self, latent_dim: int = 32, learning_rate: float = 1e-3, seed: int | None = None, *,
                 hidden: Annotated[int, Range(1, MAX_UNITS)] = 128, pack: Literal[1, 2, 4] = 1,
                 beta_1: Annotated[float, Range(0, 0.9999)] = 0.5, **kwargs: Any):
        # The reference draws fresh noise for G's update (reuse_fakes off).
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, beta_1=beta_1,
                         reuse_fakes=False, **kwargs)
        self.hidden, self.pack = hidden, pack
        self.generator = keras.Sequential(
            [keras.Input((latent_dim,)), keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(2),
             float32_output()],
            name="generator",
        )
        self.discriminator = keras.Sequential(
            [keras.Input((2 * pack,)), keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(1),
             float32_output()],
            name="discriminator",
        )
        self.built = True

    # ----- sampling -----

    def sample(self, z, labels=None):
        """Generated points (N, 2)."""
        return self.generator(z)

    def discriminate(self, points):
        """D's probability that each point is real, shape (N,) (packed D: a pack of copies of the point)."""
        return tf.sigmoid(self.discriminator(tf.tile(points, [1, self.pack])))[:, 0]

    def critic(self, x, labels, training: bool = False):
        """D's logits, one per pack of ``pack`` samples (a remainder that fills no pack is left out)."""
        n = tf.shape(x)[0] // self.pack * self.pack
        return self.discriminator(tf.reshape(x[:n], (-1, 2 * self.pack)), training=training)

    def preview_inputs(self, seed: int, real: np.ndarray, mesh: int = 80) -> dict:
        """Fixed noise for 1,000 points, the real test points, fixed axes (so the GIF's frames line up) and an
        80 x 80 mesh over them where D's surface is drawn."""
        z = np.random.default_rng(seed).standard_normal((self.num_grid_samples, self.latent_dim))
        low, high = real.min(axis=0), real.max(axis=0)
        pad = 0.25 * (high - low).max()
        limits = (low[0] - pad, high[0] + pad, low[1] - pad, high[1] + pad)
        xs, ys = np.meshgrid(np.linspace(*limits[:2], mesh), np.linspace(*limits[2:], mesh))
        return {"z": z.astype(np.float32), "real": real, "limits": limits, "mesh": (xs, ys)}

    def preview(self, inputs: dict, epoch: int) -> np.ndarray:
        """Real and generated points over D's decision surface (D's probability on the mesh)."""
        xs, ys = inputs["mesh"]
        points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
        probability = np.asarray(self.discriminate(points)).reshape(xs.shape)
        return images.scatter_frame(inputs["real"], np.asarray(self.sample(inputs["z"])), inputs["limits"],
                                    (xs, ys, probability), f"epoch {epoch}")

    def export_functions(self):
        spec = tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")
        return {"generate": (lambda z: {"points": self.sample(z)}, [spec])}
