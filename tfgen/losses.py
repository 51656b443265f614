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

