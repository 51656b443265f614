"""What a run's Python methods (``tfgen.api.Run``) are given, checked before any network runs.

A count, a seed, labels, codes and images are each refused with a
:class:`~tfgen.errors.ConfigError` (a ``ValueError``) that names the argument,
what it allows and what it got, instead of an error from inside NumPy or a
TensorFlow kernel, or normal-looking output for NaN input.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tfgen.errors import ConfigError
from tfgen.settings import MAX_SEED
from tfgen.values import as_type

MAX_OUTPUT_BYTES = 4 * 2**30  # one call's float32 output; more is refused with the count that fits (call in parts)


def _integer(value: Any) -> int | None:
    """``value`` as a Python int when it is a whole number (not a bool; a NumPy scalar as its Python value)."""
    return as_type(value.item() if isinstance(value, np.generic) else value, int)


def count(n: Any, what: str, item_shape: Sequence[int]) -> int:
    """``n``, a number of outputs of ``item_shape`` each: a whole number from 1 to what fits in
    :data:`MAX_OUTPUT_BYTES` of float32."""
    most = max(1, MAX_OUTPUT_BYTES // (4 * int(np.prod(item_shape))))
    number = _integer(n)
    if number is None or not 1 <= number <= most:
        raise ConfigError(f"{what} must be a whole number from 1 to {most:,} (outputs of shape "
                          f"{tuple(item_shape)} that fit in {MAX_OUTPUT_BYTES // 2**30} GiB; ask in parts for more); "
                          f"got {n!r}")
    return number


def whole(n: Any, what: str, low: int, high: int) -> int:
    """``n``, a whole number from ``low`` to ``high``."""
    number = _integer(n)
    if number is None or not low <= number <= high:
        raise ConfigError(f"{what} must be a whole number from {low} to {high:,}; got {n!r}")
    return number


def seed(value: Any) -> int:
    """A seed: a whole number from 0 to 2**32 - 1, as ``--seed`` takes."""
    number = _integer(value)
    if number is None or not 0 <= number <= MAX_SEED:
        raise ConfigError(f"seed must be a whole number from 0 to {MAX_SEED}; got {value!r}")
    return number


def labels(values: Any, n: int, num_classes: int, what: str = "labels") -> np.ndarray:
    """One class per output: ``n`` whole numbers from 0 to ``num_classes - 1``, as int32."""
    array = np.asarray(values)
    if array.shape != (n,):
        raise ConfigError(f"{what} must hold one class for each of the {n} outputs, shape ({n},); got shape "
                          f"{array.shape}")
    whole = array.dtype.kind in "iu" or (array.dtype.kind == "f" and bool(np.all(np.isfinite(array)))
                                         and bool(np.all(array == np.round(array))))
    if not whole or (n and (array.min() < 0 or array.max() >= num_classes)):
        bad = (array[0] if not whole else array[(array < 0) | (array >= num_classes)][0]).item()
        raise ConfigError(f"{what} must be classes: whole numbers from 0 to {num_classes - 1}; got {bad!r}")
    return array.astype(np.int32)


def class_weights(values: Any, n: int, num_classes: int, what: str = "labels") -> np.ndarray:
    """One row of class weights per output (a blend of classes), shape (n, num_classes), finite, as float32."""
    array = np.asarray(values, np.float32)
    if array.shape != (n, num_classes) or not np.all(np.isfinite(array)):
        raise ConfigError(f"{what} must be classes (shape ({n},)) or finite rows of class weights (shape "
                          f"({n}, {num_classes})); got shape {array.shape}")
    return array


def codes(z: Any, shape: Sequence[int], what: str = "z") -> np.ndarray:
    """A model's noise (or points of its code space): finite float32 of shape (N, *shape), N at least 1."""
    array = _floats(z, what)
    if array.shape[1:] != tuple(shape) or not len(array):
        raise ConfigError(f"{what} must have shape (N, {', '.join(map(str, shape))}), N at least 1; got shape "
                          f"{array.shape}")
    return _finite(array, what)


def images(x: Any, image_shape: Sequence[int], what: str = "images") -> np.ndarray:
    """Images as ``Run.sample`` returns them or as they are stored: uint8 (N, H, W[, C]), or floats in [0, 1]
    (N, H, W, C); N at least 1, and the run's own H, W and C. Returned as given (uint8 or float32)."""
    array = np.asarray(x)
    if array.dtype != np.uint8:
        array = _floats(array, what)
    if array.ndim == len(image_shape) and image_shape[-1] == 1:
        array = array[..., None]
    if array.shape[1:] != tuple(image_shape) or not len(array):
        shape = ", ".join(map(str, image_shape))
        raise ConfigError(f"{what} must have shape (N, {shape}), N at least 1 (the run's images); got shape "
                          f"{np.asarray(x).shape}")
    if array.dtype != np.uint8 and not (np.all(np.isfinite(array)) and array.min() >= 0 and array.max() <= 1):
        raise ConfigError(f"{what} must be uint8 pixels or floats in [0, 1], with no NaN or infinity")
    return array


def _floats(x: Any, what: str) -> np.ndarray:
    try:
        array = np.asarray(x)
        if array.dtype.kind not in "iuf":
            raise TypeError
        return array.astype(np.float32)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be an array of numbers; got {type(x).__name__}") from None


def _finite(array: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"{what} must be finite (no NaN or infinity)")
    return array
