"""``sngan``: the spectrally normalised GAN (Miyato et al. 2018) with the hinge loss, for colour images.

The networks are the paper's "standard CNN" for CIFAR-10 (its Table 3),
built from the data's size: G maps z ~ N(0, I) (128 values) through a dense
layer, BatchNorm and ReLU to an s x s x 8w seed (s = H/8, the paper's 4x4 at
32x32), then three 4x4 stride-2 transposed convolutions with BatchNorm and
ReLU to 4w, 2w and w channels (a kernel the stride divides leaves no
checkerboard), and a 3x3 convolution to the image's channels with tanh. D
has, at w, 2w and 4w channels, a 3x3 stride-1 and a 4x4 stride-2
convolution, then a 3x3 convolution to 8w channels, each followed by
LeakyReLU(0.1), and a dense layer to one logit; every convolution and dense
layer of D is spectrally normalised (``tfgen.layers.SpectralNormalization``),
and D has no BatchNorm. w is ``--option width``: 32 by default, half the paper's 64, chosen by
measurement: at 32x32x3 on 2 CPU cores ``fit()`` on batches in memory runs at about 300
images/s at width 32 and 80 at width 64; a full CIFAR-10 run at width 32 (test losses,
previews, checkpoints) reached 12 epochs (9,400 updates) in an hour, where width 64 would
reach about 3; published reproductions of the paper's FID take 40,000 or more.

Sizes: multiples of 8 from 32 take the paper's three levels; other multiples
of 4 from 16 (MNIST's 28x28: a 7x7 seed) take two, the 4w-channel level
dropped from both networks (and the seed then has 4w channels).

Training: the hinge loss by default (``--option loss=hinge``; D minimises
mean(relu(1 - D(x))) + mean(relu(1 + D(G(z)))), G minimises -mean(D(G(z)))),
or the non-saturating cross-entropies (``loss=nonsaturating``); Adam 2e-4
with betas (0.5, 0.999) and one D update per G update, the paper's setting
C, its best for the standard CNN with spectral normalisation. Measured against
5 D updates with betas (0, 0.9) and batch 320 (the common reproductions'
setting) for the same time: far better on MNIST (``cond_sngan``, Fréchet
distance 3.30 against 164), behind on CIFAR-10 after six minutes (39.2
against 32.7, both still blobs); the README's table. D sees the real
and fake images in one call, so each update advances the power iteration
once. With one D update, G's update reuses D's batch of fakes (as ``dcgan``);
with more (``--option critic_steps``), each D update takes its own share of
the batch and G draws fresh noise (as ``wgan_gp``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import keras
import tensorflow as tf

from tfgen.layers import SpectralNormalization
from tfgen.losses import (hinge_discriminator_loss, hinge_generator_loss, minimax_discriminator_loss,
                          non_saturating_generator_loss)
from tfgen.models.base import AdversarialModel
from tfgen.options import Range
from tfgen.precision import float32_output
from tfgen.registry import register

Width = Annotated[int, Range(4, 512)]
CriticSteps = Annotated[int, Range(1, 10)]
Beta = Annotated[float, Range(0, 0.9999)]
Loss = Literal["hinge", "nonsaturating"]


def levels(image_shape) -> int:
    """How many times the networks halve (D) and double (G) the size: 3 where both sides are multiples of 8
    from 32, else 2."""
    return 3 if all(side % 8 == 0 and side >= 32 for side in image_shape[:2]) else 2


def generator_network(latent_dim: int, image_shape, width: int, num_classes: int = 0) -> keras.Model:
    """The paper's CNN generator (module docstring): z (and, with ``num_classes``, a label) -> H x W x C in [-1, 1].

    Its BatchNorms take their statistics over the global batch (``synchronized``), so that training on several
    replicas takes the same steps as on one device.

    With labels, every BatchNorm is class-conditional (de Vries et al. 2017, as Miyato and Koyama's
    generator): normalised without its own scale and offset, then scaled by 1 + gamma(label) and shifted by
    beta(label), both embedded per class and starting at zero.
    """
    L = keras.layers
    h, w, c = image_shape
    n = levels(image_shape)
    z = keras.Input((latent_dim,), name="z")
    inputs = [z]
    if num_classes:
        labels = keras.Input((), dtype="int32", name="label")
        inputs.append(labels)

    def norm(x):
        if not num_classes:
            return L.BatchNormalization(synchronized=True)(x)
        channels = x.shape[-1]
        gamma, beta = (L.Reshape((1, 1, channels))(L.Embedding(num_classes, channels, embeddings_initializer="zeros")(
            labels)) for _ in range(2))
        x = L.BatchNormalization(center=False, scale=False, synchronized=True)(x)
        return L.Add()([x, L.Multiply()([x, gamma]), beta])

    x = L.Reshape((h >> n, w >> n, width << n))(L.Dense((h >> n) * (w >> n) * (width << n))(z))
    x = L.ReLU()(norm(x))
    for level in reversed(range(n)):
        x = L.ReLU()(norm(L.Conv2DTranspose(width << level, 4, strides=2, padding="same")(x)))
    x = L.Conv2D(c, 3, padding="same")(x)
    return keras.Model(inputs if num_classes else z, float32_output("tanh")(x), name="generator")


def discriminator_network(image_shape, width: int, num_classes: int = 0, spectral: bool = True) -> keras.Model:
    """The paper's spectrally normalised CNN discriminator (module docstring): images (and, with
    ``num_classes``, their labels) -> logits; ``spectral`` False leaves the weights as they are.

    With labels it is Miyato and Koyama's projection discriminator: the logit is dense(phi) + <embed(label),
    phi>, phi the flattened features before the dense layer, the embedding spectrally normalised too.
    """
    L = keras.layers
    sn = SpectralNormalization if spectral else (lambda layer: layer)
    n = levels(image_shape)
    images = keras.Input(tuple(image_shape), name="images")
    x = images
    for level in range(n):
        for kernel, stride in ((3, 1), (4, 2)):
            x = L.LeakyReLU(0.1)(sn(L.Conv2D(width << level, kernel, stride, padding="same"))(x))
    x = L.LeakyReLU(0.1)(sn(L.Conv2D(width << n, 3, padding="same"))(x))
    features = L.Flatten()(x)
    logits = sn(L.Dense(1))(features)
    inputs = [images]
    if num_classes:
        labels = keras.Input((), dtype="int32", name="label")
        inputs.append(labels)
        embedded = sn(L.Embedding(num_classes, features.shape[-1]))(labels)
        projection = L.Dot(axes=1)([embedded, features])
        logits = L.Add()([logits, projection])
    return keras.Model(inputs if num_classes else images, float32_output()(logits), name="discriminator")


def use_networks(model: AdversarialModel, width: int, loss: str, spectral_norm: bool) -> None:
    """Keeps ``width``, ``loss`` and ``spectral_norm`` on ``model`` and builds its generator and discriminator
    (conditional ones when the model is)."""
    model.width, model.loss, model.spectral_norm = width, loss, spectral_norm
    classes = model.num_classes if model.has("conditional") else 0
    model.generator = generator_network(model.latent_dim, model.image_shape, width, classes)
    model.discriminator = discriminator_network(model.image_shape, width, classes, spectral_norm)
    model.built = True


def d_losses(model: AdversarialModel, batch, training: bool = False, fakes=None) -> dict[str, tf.Tensor]:
    """D's loss (``model.loss``) on the real images and ``fakes`` (drawn fresh when not given), both in one call of
    D: one power iteration per D update. Both models' ``d_losses``."""
    real, labels = batch
    n = tf.shape(real)[0]
    fake, fake_labels = fakes if fakes is not None else model.fake_batch(n, training)
    both = tf.concat([tf.cast(real, fake.dtype), tf.stop_gradient(fake)], 0)
    logits = model.critic(both, None if fake_labels is None else tf.concat([tf.cast(labels, tf.int32), fake_labels], 0),
                          training)
    real_logits, fake_logits = logits[:n], logits[n:]
    if model.loss == "hinge":
        return {"d_loss": hinge_discriminator_loss(real_logits, fake_logits)}
    return {"d_loss": minimax_discriminator_loss(real_logits, fake_logits)}


def g_losses(model: AdversarialModel, batch, training: bool = False, fakes=None) -> dict[str, tf.Tensor]:
    """G's loss (``model.loss``) on ``fakes``, or on as many fresh samples as one D update's real images. Both
    models' ``g_losses``."""
    if fakes is None:
        fakes = model.fake_batch(tf.maximum(tf.shape(batch[0])[0] // model.critic_steps, 1), training)
    logits = model.critic(*fakes, training)
    return {"g_loss": hinge_generator_loss(logits) if model.loss == "hinge" else non_saturating_generator_loss(logits)}


@register
class SNGAN(AdversarialModel):
    """Spectrally normalised GAN: the SNGAN paper's CNN generator and discriminator, the hinge loss.

    Args:
        width: the channels of G's last and D's first level (each level doubles them; the paper's 64, here 32
            for speed, module docstring).
        loss: ``hinge`` or ``nonsaturating``.
        critic_steps: D updates per G update.
        beta_1, beta_2: Adam's moment decays, for both networks.
        spectral_norm: false leaves D's weights unnormalised (what the normalisation costs and brings).
    """

    train_defaults = {"epochs": 20, "batch_size": 64}
    input_range = "tanh"
    size_multiple, min_size = 4, 16  # module docstring: two or three levels

    def __init__(self, latent_dim: int = 128, learning_rate: float = 2e-4, seed: int | None = None, *,
                 width: Width = 32, loss: Loss = "hinge", critic_steps: CriticSteps = 1, beta_1: Beta = 0.5,
                 beta_2: Beta = 0.999, spectral_norm: bool = True, **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, beta_1=beta_1,
                         beta_2=beta_2, reuse_fakes=critic_steps == 1, critic_steps=critic_steps, **kwargs)
        use_networks(self, width, loss, spectral_norm)

    d_losses, g_losses = d_losses, g_losses
