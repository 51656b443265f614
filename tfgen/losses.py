"""Loss functions: pure functions of tensors.

Each docstring says how it reduces. Per-example functions return a tensor of
shape (batch,); the models average over the batch.
"""

from __future__ import annotations

import math

import tensorflow as tf

LOG_2PI = math.log(2.0 * math.pi)


def log_normal_pdf(sample: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor, raxis: int = 1) -> tf.Tensor:
    """Log density of a diagonal Gaussian, as in the TensorFlow CVAE tutorial.

    Summed over ``raxis`` (the latent dimensions), one value per example.
    ``mean`` and ``logvar`` broadcast against ``sample``.
    """
    return tf.reduce_sum(-0.5 * ((sample - mean) ** 2.0 * tf.exp(-logvar) + logvar + LOG_2PI), axis=raxis)


def bernoulli_log_likelihood(x: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """log p(x | logits) for Bernoulli pixels, from logits (numerically stable).

    Summed over every non-batch axis (the pixels), one value per example.
    """
    cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
    return -tf.reduce_sum(cross_ent, axis=tf.range(1, tf.rank(x)))


def elbo_terms(x: tf.Tensor, logits: tf.Tensor, z: tf.Tensor, mean: tf.Tensor,
               logvar: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The terms of the one-sample Monte Carlo ELBO for a code ``z`` drawn from q(z | x) = N(mean, exp(logvar)).

    One value each per example: log p(x | z) (Bernoulli pixels from the
    decoder's ``logits`` for ``z``), log p(z) (standard normal) and log q(z | x).
    Their sum log p(x | z) + log p(z) - log q(z | x) is the ELBO's estimate, and
    with K codes per image, each code's log importance weight (the IWAE bound's).
    """
    return bernoulli_log_likelihood(x, logits), log_normal_pdf(z, 0.0, 0.0), log_normal_pdf(z, mean, logvar)


def squared_error(x: tf.Tensor, x_hat: tf.Tensor) -> tf.Tensor:
    """Squared error between images, summed over every non-batch axis (the pixels), one value per example.

    The references' ``MSELoss(reduction='sum')`` is this summed over the batch too.
    """
    return tf.reduce_sum(tf.square(x - x_hat), axis=tf.range(1, tf.rank(x)))


def gaussian_kl(mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """Closed-form KL(N(mean, exp(logvar)) || N(0, I)), summed over the latent dimensions (axis 1).

    One value per example: -0.5 * sum(1 + logvar - mean^2 - exp(logvar)).
    """
    return -0.5 * tf.reduce_sum(1.0 + logvar - tf.square(mean) - tf.exp(logvar), axis=1)


def batch_l2_norm(z: tf.Tensor) -> tf.Tensor:
    """The L2 norm of a whole batch of codes, sqrt(sum z^2) over examples and dimensions: one scalar.

    The "poor man's VAE" regulariser. It does not split into per-example terms,
    so it is reduced over the batch by its definition, not by a mean.
    """
    return tf.sqrt(tf.reduce_sum(tf.square(z)))


def bce_with_logits(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy -mean(y log sigmoid(l) + (1 - y) log(1 - sigmoid(l))), from logits.

    Mean over every element (for a discriminator's (N, 1) output: over the batch),
    as PyTorch's ``BCELoss`` on sigmoid outputs, but stable when |logits| is large.
    """
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def vae_objective(x: tf.Tensor, x_hat: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor,
                  kl_weight: float = 1.0) -> dict[str, tf.Tensor]:
    """The VAE loss: squared error + ``kl_weight`` * KL(q(z|x) || N(0, I)), both averaged over the batch.

    The squared error is summed over pixels and the KL over latent dimensions
    (:func:`squared_error`, :func:`gaussian_kl`), then each is a mean over the
    examples. Returns ``loss``, ``reconstruction`` and ``kl`` (scalars);
    ``kl_weight`` 1 is the ELBO's weighting, above 1 a beta-VAE's.
    """
    reconstruction = tf.reduce_mean(squared_error(x, x_hat))
    kl = tf.reduce_mean(gaussian_kl(mean, logvar))
    return {"loss": reconstruction + kl_weight * kl, "reconstruction": reconstruction, "kl": kl}


# ----- adversarial objectives: every D output is a logit (or a critic's score), shape (N, 1) or (N,) -----

def minimax_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """D's side of the minimax game, -mean(log D(x)) - mean(log(1 - D(G(z)))), from logits.

    Each term is a mean over its own examples (:func:`bce_with_logits`); one scalar.
    """
    return bce_with_logits(tf.ones_like(real_logits), real_logits) + \
        bce_with_logits(tf.zeros_like(fake_logits), fake_logits)


def minimax_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """G's side of the minimax game, mean(log(1 - D(G(z)))), from logits: -mean(softplus(l)).

    A mean over the examples; one scalar. It saturates (vanishing gradient) when
    D rejects the fakes confidently, which is why GANs train G with
    :func:`non_saturating_generator_loss` instead.
    """
    return -tf.reduce_mean(tf.nn.softplus(fake_logits))


def non_saturating_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """G's non-saturating loss -mean(log D(G(z))), from logits: mean(softplus(-l)).

    A mean over the examples (:func:`bce_with_logits` with target 1); one scalar.
    """
    return bce_with_logits(tf.ones_like(fake_logits), fake_logits)


def wasserstein_critic_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
    """The critic's loss mean(D(G(z))) - mean(D(x)): minus its estimate of the Wasserstein distance.

    Each mean over its own examples; one scalar.
    """
    return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)


def wasserstein_generator_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    """The generator's Wasserstein loss -mean(D(G(z))), a mean over the examples; one scalar."""
    return -tf.reduce_mean(fake_scores)


def hinge_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """D's hinge loss mean(relu(1 - D(x))) + mean(relu(1 + D(G(z)))) (Lim and Ye 2017; SNGAN's, Miyato et al.
    2018): real scores above 1 and fake scores below -1 cost nothing.

    Each mean over its own examples; one scalar.
    """
    return tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))


def hinge_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """G's side of the hinge game, -mean(D(G(z))) (the same as :func:`wasserstein_generator_loss`: the hinge is
    D's alone); a mean over the examples, one scalar."""
    return -tf.reduce_mean(fake_logits)


def interpolate(real: tf.Tensor, fake: tf.Tensor, epsilon: tf.Tensor) -> tf.Tensor:
    """Points on the lines between real and fake samples: epsilon * real + (1 - epsilon) * fake.

    ``epsilon`` holds one weight per example, shaped to broadcast (for images (N, 1, 1, 1)).
    """
    return epsilon * real + (1.0 - epsilon) * fake


def gradient_penalty(gradients: tf.Tensor) -> tf.Tensor:
    """WGAN-GP's penalty mean((||g||_2 - 1)^2) on the critic's gradients at :func:`interpolate`'s points.

    The norm is over every non-batch axis (one per example), then a mean over
    the examples; one scalar (Gulrajani et al. 2017, eq. 3, without the weight).
    """
    norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=tf.range(1, tf.rank(gradients))))
    return tf.reduce_mean(tf.square(norms - 1.0))


def diffusion_schedule(t: tf.Tensor, min_signal: float = 0.02, max_signal: float = 0.9999) -> tuple[tf.Tensor,
                                                                                                     tf.Tensor]:
    """The cosine schedule in continuous time: (signal rate, noise rate) at diffusion times ``t`` in [0, 1].

    x_t = signal * x_0 + noise * eps, signal = cos(angle), noise = sin(angle), the angle linear in t from
    acos(``max_signal``) at t = 0 to acos(``min_signal``) at t = 1 (Nichol and Dhariwal's cosine schedule,
    whose offset s = 0.008 gives a signal rate of 0.99992 at t = 0, clipped so that t = 1 keeps a trace of the
    signal; signal² + noise² = 1). Elementwise: the rates have ``t``'s shape.
    """
    start, end = math.acos(max_signal), math.acos(min_signal)
    angle = start + tf.cast(t, tf.float32) * (end - start)
    return tf.cos(angle), tf.sin(angle)


def denoising_loss(prediction: tf.Tensor, target: tf.Tensor, kind: str = "mae", axis=None) -> tf.Tensor:
    """A diffusion network's loss: the mean absolute (``mae``) or squared (``mse``) error of its ``prediction``
    of ``target`` (the noise, or v), averaged over every pixel and example (one scalar), or over ``axis``."""
    error = tf.cast(prediction, tf.float32) - tf.cast(target, tf.float32)
    return tf.reduce_mean(tf.abs(error) if kind == "mae" else tf.square(error), axis=axis)
