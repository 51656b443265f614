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
