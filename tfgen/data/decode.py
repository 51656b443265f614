"""Decoding and conforming images: PIL opens, converts (grey or colour) and resizes, for files and arrays alike."""

from __future__ import annotations

import os

import numpy as np

GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")  # PIL modes without colour


def unreadable() -> tuple[type[Exception], ...]:
    """What PIL raises for a file it cannot decode (UnidentifiedImageError is an OSError), a decompression bomb
    included."""
    from PIL import Image

    return (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def conform_image(image, channels: int, size: tuple[int, int] | None):
    """A PIL image converted to grey (``L``) or ``RGB`` (alpha dropped) and resized bilinearly to ``size`` (H, W).

    Grey from colour is PIL's ITU-R 601-2 luma; resizing down antialiases (PIL's bilinear filter widens with the scale).
    """
    from PIL import Image

    image = image.convert("L" if channels == 1 else "RGB")
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return image


def pixels(image, channels: int) -> np.ndarray:
    array = np.asarray(image, dtype=np.uint8)
    return array.reshape(*array.shape[:2], channels)


def read_image(path: str | os.PathLike, channels: int, size: tuple[int, int] | None) -> np.ndarray:
    """One image file (PNG, JPEG, BMP, GIF: its first frame), decoded by PIL, as a uint8 (H, W, ``channels``) array."""
    from PIL import Image

    with Image.open(path) as image:
        return pixels(conform_image(image, channels, size), channels)
