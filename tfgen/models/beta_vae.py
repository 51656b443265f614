"""``beta_vae``: the ``vae`` with its KL term weighted by beta (Higgins et al. 2017).

The ``vae``'s networks, optimizer, data and schedule (MLP 784-512-256-z, AdamW
1e-3, batch 64, 20 epochs, inputs in [0, 1]); the loss is squared error +
beta * KL(q(z|x) || N(0, I)), ``--option beta=4.0`` by default. beta > 1 presses
the posterior towards the prior, trading reconstruction for a smoother, more
disentangled latent space; ``beta=1`` is exactly the ``vae``, step for step, for
the same seed. ``kl`` is logged unweighted, so it compares with the ``vae``'s.
"""

from __future__ import annotations

from typing import Annotated, Any

import keras
import tensorflow as tf

from tfgen.models.base import EncoderDecoder, Likelihood
from tfgen.models.vae import adamw, decode, gaussian_encode, mlp_networks, objective
from tfgen.options import MAX_UNITS, Range
from tfgen.registry import register


@register
class BetaVAE(EncoderDecoder):
    """MLP VAE with the KL term weighted by beta (beta-VAE), the vae's networks and training otherwise.

    Args:
        hidden, likelihood: as the ``vae``'s.
        beta: the weight of the KL term (1 gives the ``vae``).
    """

    loss_names = ("loss", "reconstruction", "kl")
    train_defaults = {"epochs": 20, "batch_size": 64}
    input_range = "unit"
    grid_shape = (8, 8)
    default_steps_per_execution = 25  # as the vae's (bench/throughput.py --spe-sweep)
    default_jit_compile = True  # as the vae's
    counterpart = "vae"

    def __init__(self, latent_dim: int = 50, learning_rate: float = 1e-3, seed: int | None = None, *,
                 hidden: Annotated[int, Range(2, MAX_UNITS)] = 512, beta: Annotated[float, Range(0)] = 4.0,
                 likelihood: Likelihood = "auto", **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, likelihood=likelihood,
                         **kwargs)
        self.hidden, self.beta = hidden, beta
        mlp_networks(self, hidden, ("mean", "logvar"))
        self.built = True

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        return adamw(self.learning_rate)

    encode = gaussian_encode
    decode = decode

    def sample(self, z, labels=None):
        return self.decode(z, labels)

    def compute_losses(self, batch, training: bool = False) -> dict[str, tf.Tensor]:
        return objective(self, batch, training, kl_weight=self.beta)
