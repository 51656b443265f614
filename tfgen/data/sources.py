"""Where a run's data comes from: a built-in name or a path (a folder of images or an npz), loaded by :func:`load`."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from tfgen.data import builtin
from tfgen.data.dataset import TEST_FRACTION, DataError, Dataset
from tfgen.data.decode import conform_image, pixels
from tfgen.data.folders import load_folder
from tfgen.data.npz import load_npz
from tfgen.data.points import POINT_DATASETS, make_points

IMAGE_DATASETS = ("mnist", "mnist-sample", "fashion-mnist", "cifar10")
DATASETS = IMAGE_DATASETS + POINT_DATASETS


def is_path(spec: str) -> bool:
    """Whether ``--dataset`` names a path (it holds a path separator or ends in .npz) rather than a built-in set."""
    return any(sep and sep in spec for sep in (os.sep, os.altsep)) or spec.lower().endswith(".npz")


def load(name: str, data_dir: str | os.PathLike | None = None, seed: int = 0,
         image_size: Sequence[int] | None = None, channels: int | None = None,
         test_fraction: float = TEST_FRACTION) -> Dataset:
    """Loads a data set by name or path, then resizes and converts its images as asked.

    Args:
        name: a built-in image set (``mnist``, ``mnist-sample``,
            ``fashion-mnist``, ``cifar10``), a 2-D point set (``ring``, ``moons``,
            ``spiral``, ``grid``), or a path (:func:`is_path`): a folder of
            images (:func:`load_folder`) or an npz (:func:`load_npz`).
        data_dir: a folder with ``mnist.npz`` / ``fashion-mnist.npz`` (or the
            Fashion-MNIST idx files) / ``cifar10.npz``. When given, the file must be there.
        seed: draws the point sets (image sets ignore it).
        image_size: (H, W) every image is resized to; None keeps the size the
            images share (mixed sizes are refused).
        channels: 1 (grey) or 3 (colour) to convert to; None keeps the data's own.
        test_fraction: the share of the images held out for testing when the
            data brings no test split (seeded with :data:`SPLIT_SEED`).

    Raises:
        DataError: unknown name, or a file that is missing or malformed.
    """
    if is_path(name):
        path = Path(name).expanduser()
        if path.is_dir():
            return load_folder(path, image_size, channels, test_fraction)
        if not path.exists():
            raise DataError(f"--dataset {name}: no such file or directory; give a folder of images or an .npz file")
        if path.suffix.lower() != ".npz":
            raise DataError(f"--dataset {name}: not a folder or an .npz file")
        return conform(load_npz(path, name, test_fraction), image_size, channels)
    loaders: dict[str, Callable[[Path | None], Dataset]] = {
        "mnist": builtin.load_mnist,
        "mnist-sample": lambda _dir: builtin.load_mnist_sample(),
        "fashion-mnist": builtin.load_fashion_mnist,
        "cifar10": builtin.load_cifar10,
        **{point_set: (lambda _dir, n=point_set: make_points(n, seed)) for point_set in POINT_DATASETS},
    }
    if name not in loaders:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(loaders)}, or a path to a folder "
                        "of images or an .npz file")
    dataset = loaders[name](Path(data_dir) if data_dir else None)
    return dataset if name in POINT_DATASETS else conform(dataset, image_size, channels)


def conform(dataset: Dataset, image_size: Sequence[int] | None, channels: int | None) -> Dataset:
    """``dataset`` with every image resized to ``image_size`` and converted to ``channels`` (as :func:`read_image`)."""
    h, w, c = dataset.image_shape
    size = tuple(image_size) if image_size else (h, w)
    channels = channels or c
    if (size, channels) == ((h, w), c):
        return dataset

    def convert(x: np.ndarray) -> np.ndarray:
        from PIL import Image

        out = np.empty((len(x), *size, channels), np.uint8)
        for i, image in enumerate(x):
            out[i] = pixels(conform_image(Image.fromarray(image[..., 0] if c == 1 else image), channels, size),
                             channels)
        return out

    return dataclasses.replace(dataset, x_train=convert(dataset.x_train), x_test=convert(dataset.x_test))
