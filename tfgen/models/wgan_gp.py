"""``wgan_gp``: the Wasserstein GAN with gradient penalty (Gulrajani et al. 2017) on MNIST.

Follows the paper's Algorithm 1 with its defaults: the critic minimises
mean(D(G(z))) - mean(D(x)) + lambda * mean((||grad D(x_hat)||_2 - 1)^2) at points
x_hat = eps x + (1 - eps) G(z) with eps ~ U[0, 1] per example, lambda = 10
(``--option gp_weight``); it takes 5 steps (``--option critic_steps``) per
generator step, each on a fresh minibatch of real images; the generator
minimises -mean(D(G(z))); Adam 1e-4 with betas (0.5, 0.9) for both networks.

The networks are ``dcgan``'s: the TensorFlow tutorial's generator, and as
critic the DCGAN discriminator without its BatchNorm, which the paper rules
out (the penalty is taken per example and BatchNorm mixes the examples of a
batch). The paper offers layer normalisation or none in its place; its own
MNIST critic has none, and so does tfgen's by default: trained on the full
MNIST with seed 0, the layer-normalised critic (``--option
critic_norm=layer``, over each example's whole feature map) held until
epoch 17 and then collapsed (the Wasserstein estimate went negative and the
samples fell apart; Fréchet distance 108 after 20 epochs), while the default
stayed steady (estimate 1.0 to 0.97 over epochs 13-20; Fréchet distance 66).
The critic outputs an unbounded score, not a logit. Its LeakyReLU(0.2) is
written max(x, 0.2 x), the same function: with the ``LeakyRelu`` op,
TensorFlow's graph optimiser fails to fuse it with the convolution under the
penalty's second-order gradient and logs an error on every run (TF 2.21).

A training step consumes ``batch_size`` real images: ``critic_steps`` critic
updates of ``batch_size // critic_steps`` images each, then one generator
update on as many fresh samples. The default batch 320 gives the paper's
minibatch of 64 for every critic step. ``w_distance`` is the critic's estimate
of the Wasserstein distance, mean(D(x)) - mean(D(G(z))), and ``gp`` the
penalty before its weight.

tfgen's choices where the paper leaves them open: 20 epochs (3,760 generator
steps of the full MNIST), images in [-1, 1] for training, [0, 1] out of
``sample``/``generate``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import keras
import tensorflow as tf

from tfgen.losses import gradient_penalty, interpolate, wasserstein_critic_loss, wasserstein_generator_loss
from tfgen.models.base import AdversarialModel, uniform
from tfgen.models.dcgan import discriminator_network, generator_network
from tfgen.options import Range
from tfgen.registry import register


NORMALIZATIONS = {
    "layer": lambda: keras.layers.LayerNormalization(axis=[1, 2, 3]),  # over each example's whole feature map
    "none": keras.layers.Identity,
}


def leaky() -> keras.layers.Layer:
    """LeakyReLU(0.2) as max(x, 0.2 x) (see the module docstring)."""
    return keras.layers.Activation(lambda x: tf.maximum(x, 0.2 * x))


@register
class WGANGP(AdversarialModel):
    """Wasserstein GAN with gradient penalty: dcgan's generator and critic (no BatchNorm), 5 critic steps per G step.

    Args:
        gp_weight: the gradient penalty's weight lambda.
        critic_norm: what stands where dcgan's discriminator has BatchNorm.
        critic_steps: critic updates per generator update.
        beta_1, beta_2: Adam's moment decays, for both networks.
    """

    loss_names = ("d_loss", "g_loss", "w_distance", "gp")
    train_defaults = {"epochs": 20, "batch_size": 320}
    input_range = "tanh"
    size_multiple, min_size = 4, 28  # dcgan's networks
    counterpart = "dcgan"

    def __init__(self, latent_dim: int = 100, learning_rate: float = 1e-4, seed: int | None = None, *,
                 gp_weight: Annotated[float, Range(0)] = 10.0, critic_steps: Annotated[int, Range(1, 100)] = 5,
                 critic_norm: Literal["none", "layer"] = "none",
                 beta_1: Annotated[float, Range(0, 0.9999)] = 0.5, beta_2: Annotated[float, Range(0, 0.9999)] = 0.9,
                 **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, beta_1=beta_1,
                         beta_2=beta_2, reuse_fakes=False, critic_steps=critic_steps, **kwargs)
        self.gp_weight, self.critic_norm = gp_weight, critic_norm
        self.generator = generator_network(latent_dim, self.image_shape)
        self.discriminator = discriminator_network(self.image_shape, NORMALIZATIONS[critic_norm], leaky)
        self.built = True

    def d_losses(self, batch, training: bool = False, fakes=None) -> dict[str, tf.Tensor]:
        """The critic's Wasserstein loss plus the weighted gradient penalty, on fresh fakes."""
        real = batch[0]
        n = tf.shape(real)[0]
        fake = tf.stop_gradient(self.generator(self.noise(n), training=training))
        points = interpolate(real, fake, uniform((n, 1, 1, 1), self.seed_generator))
        with tf.GradientTape() as tape:
            tape.watch(points)
            scores = self.discriminator(points, training=training)
        gp = gradient_penalty(tape.gradient(scores, points))
        critic_loss = wasserstein_critic_loss(self.discriminator(real, training=training),
                                              self.discriminator(fake, training=training))
        return {"d_loss": critic_loss + self.gp_weight * gp, "w_distance": -critic_loss, "gp": gp}

    def g_losses(self, batch, training: bool = False, fakes=None) -> dict[str, tf.Tensor]:
        """-mean(D(G(z))) on as many fresh samples as one critic step's real images."""
        n = tf.maximum(tf.shape(batch[0])[0] // self.critic_steps, 1)
        fake = self.generator(self.noise(n), training=training)
        return {"g_loss": wasserstein_generator_loss(self.discriminator(fake, training=training))}
