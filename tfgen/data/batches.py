"""A split as a batched tf.data pipeline in the model's value range, in a seeded order per epoch."""

from __future__ import annotations

import numpy as np

from tfgen.data.convert import InputRange, in_range, in_range_chunked
from tfgen.data.dataset import ImageFiles

# A split held in memory is converted to float32 once when that copy is at most this large, as MNIST's 188 MB
# (nothing to do per batch: bench/throughput.py measured the fast MLP models 12-16% slower converting each
# batch), else kept as uint8 and each batch converted as it is gathered: CIFAR-10's vae run peaks at 1.6 GB
# that way, 2.8 GB with the float32 copy.
FLOAT_COPY_MB = 256


def too_small_for_replicas(num_examples: int, batch_size: int, replicas: int) -> int:
    """Examples in the final partial batch when it is too small to give each of ``replicas`` one, else 0."""
    remainder = num_examples % batch_size
    return remainder if remainder < replicas else 0


def pipeline(images: np.ndarray | ImageFiles, labels: np.ndarray, batch_size: int, input_range: InputRange,
             shuffle: bool, seed: int | None = None, replicas: int = 1, epoch=None):
    """A tf.data pipeline of (images, labels) batches.

    Images held in memory are converted to the model's value range once and
    kept as one float32 tensor, or, when that copy would exceed
    :data:`FLOAT_COPY_MB`, kept as uint8 (a quarter of the size) with each
    batch converted as it is gathered; images too large to hold
    (:class:`ImageFiles`) are decoded from their files batch by batch, in
    parallel, in the same order. Every way gives the same values.
    Training shuffles the example indices every epoch with a seeded order,
    rather than shuffling the images themselves: no shuffle buffer holds a
    second copy of the split.

    ``epoch``, when given, is a CPU ``tf.Variable`` (int64) that holds the
    0-based number of the epoch about to be read (training sets it as each
    epoch begins). Each pass's order is then a function of ``seed`` and that
    number alone, so a resumed run sees every epoch in the order the
    uninterrupted run saw it. (A reshuffle per pass would not do: Keras starts
    more passes than it trains epochs.)

    With several ``replicas``, a final partial batch too small to give every
    replica an example (:func:`too_small_for_replicas`) is dropped: a replica
    with an empty share fails (convolutions) or turns BatchNorm statistics and
    loss means into NaN.
    """
    import tensorflow as tf

    if isinstance(images, ImageFiles):
        def read(i):
            batch = tf.numpy_function(images.read, [i], tf.uint8, stateful=False)
            batch.set_shape((None, *images.shape[1:]))
            return in_range(batch, input_range)
    elif input_range == "points" or images.size * 4 <= FLOAT_COPY_MB * 2**20:
        x = in_range_chunked(images, input_range)
        read = lambda i: tf.gather(x, i)  # noqa: E731
    else:
        x = tf.constant(images)
        read = lambda i: in_range(tf.gather(x, i), input_range)  # noqa: E731
    y = tf.constant(labels.astype(np.int32))
    indices = tf.data.Dataset.range(len(labels))
    if shuffle and epoch is not None:
        order = lambda _: tf.data.Dataset.from_tensor_slices(tf.random.experimental.stateless_shuffle(  # noqa: E731
            tf.range(len(labels), dtype=tf.int64), seed=tf.stack([tf.constant(seed or 0, tf.int64), epoch.value()])))
        indices = tf.data.Dataset.from_tensors(0).flat_map(order).apply(
            tf.data.experimental.assert_cardinality(len(labels)))  # so Keras knows an epoch's length
    elif shuffle:
        indices = indices.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    drop = too_small_for_replicas(len(labels), batch_size, replicas) > 0
    batches = indices.batch(batch_size, drop_remainder=drop).map(lambda i: (read(i), tf.gather(y, i)),
                                                                 num_parallel_calls=tf.data.AUTOTUNE)
    # Several workers (--strategy multi-worker): each one builds this same seeded pipeline and keeps its
    # replicas' share of every global batch. There are no files to shard by.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return batches.prefetch(tf.data.AUTOTUNE).with_options(options)
