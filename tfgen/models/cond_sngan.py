"""``cond_sngan``: the class-conditional spectrally normalised GAN, with a projection discriminator.

``sngan``'s networks, optimizer and hinge loss (``tfgen.models.sngan``), with
the label brought in as Miyato and Koyama (2018) do: G's BatchNorms are
class-conditional (a scale and an offset embedded per class), and D's logit
adds the inner product of an embedded label with its features (the
projection discriminator), the embedding spectrally normalised like D's other
weights. The labels of the fakes are drawn uniformly; the preview has one row
per class.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfgen.models.base import AdversarialModel
from tfgen.models.sngan import Beta, CriticSteps, Loss, Width, d_losses, g_losses, use_networks
from tfgen.registry import register


@register
class CondSNGAN(AdversarialModel):
    """Conditional SNGAN: class-conditional BatchNorm in G, a projection discriminator, the hinge loss.

    Args:
        width, loss, critic_steps, beta_1, beta_2, spectral_norm: as ``sngan``'s.
    """

    capabilities = frozenset({"conditional"})
    grid_shape = (10, 10)
    train_defaults = {"epochs": 20, "batch_size": 64}
    input_range = "tanh"
    size_multiple, min_size = 4, 16  # sngan's networks

    def __init__(self, latent_dim: int = 128, learning_rate: float = 2e-4, seed: int | None = None, *,
                 width: Width = 32, loss: Loss = "hinge", critic_steps: CriticSteps = 1, beta_1: Beta = 0.5,
                 beta_2: Beta = 0.999, spectral_norm: bool = True, **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, beta_1=beta_1,
                         beta_2=beta_2, reuse_fakes=critic_steps == 1, critic_steps=critic_steps, **kwargs)
        use_networks(self, width, loss, spectral_norm)

    d_losses, g_losses = d_losses, g_losses

    def generate_images(self, z, labels, training: bool = False) -> tf.Tensor:
        """G's images in [-1, 1] for the classes ``labels``."""
        return self.generator([tf.convert_to_tensor(z, tf.float32), tf.cast(labels, tf.int32)], training=training)

    def critic(self, x, labels, training: bool = False):
        """D's logits for images and their labels (the projection)."""
        return self.discriminator([x, tf.cast(labels, tf.int32)], training=training)
