"""The value ranges a model takes its images in, from uint8 pixels: one converter, for NumPy arrays and tf.data alike.

``binarized`` is the CVAE tutorial's static binarization (pixel >= 0.5),
``unit`` leaves the pixels in [0, 1], ``tanh`` maps them to [-1, 1], and
``points`` passes the toy GAN's 2-D points through. The arithmetic is
TensorFlow's float32 in every case, so an array converted once and a batch
converted in a pipeline hold the same values, bit for bit.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

# The one type of a value range, a model's (``input_range``, ``likelihood_range``) and the converters' alike.
InputRange = Literal["binarized", "unit", "tanh", "points"]
INPUT_RANGES: tuple[InputRange, ...] = get_args(InputRange)


def in_range(images, input_range: InputRange):
    """uint8 images (a tensor or array, any shape) -> float32 tensor in ``input_range``; ``points`` as float32."""
    import tensorflow as tf

    if input_range == "points":
        return tf.cast(images, tf.float32)
    return unit_in_range(tf.cast(images, tf.float32) / 255.0, input_range)


def unit_in_range(x, input_range: InputRange):
    """float32 images in [0, 1] (a tensor or array) -> float32 tensor in ``input_range``."""
    import tensorflow as tf

    if input_range not in INPUT_RANGES:
        raise ValueError(f"unknown input range {input_range!r}; choose one of: {', '.join(INPUT_RANGES)}")
    x = tf.convert_to_tensor(x, tf.float32)
    if input_range == "binarized":
        return tf.cast(x >= 0.5, tf.float32)
    if input_range == "tanh":
        return x * 2.0 - 1.0
    return x


def to_float(images, input_range: InputRange) -> np.ndarray:
    """uint8 images (N, H, W, C) (an array or ``ImageFiles``) -> float32 array in ``input_range`` (:func:`in_range`)."""
    return in_range_chunked(np.asarray(images), input_range).numpy()


def in_range_chunked(images: np.ndarray, input_range: InputRange, chunk: int = 4096):
    """:func:`in_range` of a whole split, ``chunk`` images at a time, so its intermediate tensors stay small: the
    conversion of MNIST's training split peaks at twice its 188 MB float32 result rather than three or four times."""
    import tensorflow as tf

    if len(images) <= chunk:
        return in_range(images, input_range)
    return tf.concat([in_range(images[i:i + chunk], input_range) for i in range(0, len(images), chunk)], axis=0)


def from_unit(x: np.ndarray, input_range: InputRange) -> np.ndarray:
    """float32 images in [0, 1] -> a float32 array in ``input_range`` (:func:`unit_in_range`)."""
    return unit_in_range(x, input_range).numpy()
