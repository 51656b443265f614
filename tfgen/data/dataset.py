"""The data set every source returns (:class:`Dataset`), a split streamed from its files (:class:`ImageFiles`),
and the held-out test share of data that brings no test split."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os

import numpy as np

from tfgen.data.decode import read_image, unreadable
from tfgen.errors import BadInputError, DataChangedError, warn

TEST_FRACTION = 0.1  # the test share held out of a data set that brings no test split

SPLIT_SEED = 0  # the held-out share is the same for every run, so one classifier serves every run on the data


class DataError(BadInputError):
    """A data file or source that cannot be used; the message names it."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One data set, already split: images, or 2-D points for the toy GAN.

    Attributes:
        name: the dataset name the user asked for (a built-in name or a path), or the one actually used.
        x_train, x_test: uint8 images (N, H, W, C) with C 1 or 3, in memory or
            read from files when asked for (:class:`ImageFiles`); or float32 points (N, 2).
        y_train, y_test: int64 label arrays (N,): the class, or the mode/arm a
            point came from; all 0 for unlabelled images.
        source: where the arrays came from, for config.json and messages.
        num_classes: how many classes the labels name; 0: unlabelled.
        class_names: the class of each label (a folder's class folders), when known.
        modes: for Gaussian-mixture point sets, the mode centres (M, 2).
        mode_std: the standard deviation of every mode.
    """

    name: str
    x_train: np.ndarray | ImageFiles
    y_train: np.ndarray
    x_test: np.ndarray | ImageFiles
    y_test: np.ndarray
    source: str
    num_classes: int = 0
    class_names: tuple[str, ...] | None = None
    modes: np.ndarray | None = None
    mode_std: float | None = None

    @functools.cached_property  # computed once per data set: the resume check, config.json, the classifier cache
    def fingerprint(self) -> str:
        """A short hash of the four arrays: what a run trained on (config.json), and whose classifier is cached.

        Streamed images (:class:`ImageFiles`) are hashed by their file names,
        sizes and modification times, and the shape they are decoded to.
        """
        digest = hashlib.sha256()
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            if isinstance(array, ImageFiles):
                stats = [(p, s.st_size, s.st_mtime_ns) for p, s in ((p, os.stat(p)) for p in array.paths)]
                digest.update(repr((stats, array.shape, array.size)).encode())
            else:
                digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:12]

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(H, W, C) of every image (for points: (2,))."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def label_names(self) -> list[str]:
        """Each class's name (:func:`label_names`)."""
        return label_names(self.class_names, self.num_classes)

    @property
    def streamed(self) -> bool:
        """Whether the images are read from disk as they are needed rather than held in memory."""
        return isinstance(self.x_train, ImageFiles)

    @property
    def read_failure(self) -> DataChangedError | None:
        """The first streamed image file that could not be read, if any."""
        return next((f for x in (self.x_train, self.x_test) if isinstance(x, ImageFiles) for f in x.failures), None)

    def take_train(self, n: int | None) -> "Dataset":
        """The first ``n`` training images (all of them if ``n`` is None or too large, with a warning)."""
        if n is None or n == len(self.x_train):
            return self
        if n > len(self.x_train):
            warn(f"--train-size {n} is more than the {len(self.x_train)} training images of {self.name}; "
                 "using all of them")
            return self
        x = self.x_train.subset(slice(0, n)) if isinstance(self.x_train, ImageFiles) else self.x_train[:n]
        return dataclasses.replace(self, x_train=x, y_train=self.y_train[:n])


@dataclasses.dataclass(frozen=True)
class ImageFiles:
    """A split of an image folder too large to hold in memory: decoded from its files when asked for.

    Indexing decodes (``files[:n]`` is an (n, H, W, C) uint8 array), as does
    ``numpy.asarray(files)``; :func:`pipeline` decodes batch by batch.

    Attributes:
        paths: one image file per example.
        size: (H, W) every image is resized to (None: each already has the size of ``shape``).
        shape: (N, H, W, C) of the decoded split.
    """

    paths: tuple[str, ...]
    size: tuple[int, int] | None
    shape: tuple[int, int, int, int]
    # Each file that failed, as raised. tf.data turns what its readers raise into a TensorFlow error whose
    # message is a traceback; training finds the failure here and raises it as it was.
    failures: list[DataChangedError] = dataclasses.field(default_factory=list, compare=False, repr=False)
    dtype = np.dtype(np.uint8)
    ndim = 4

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index) -> np.ndarray:
        return self.read(np.arange(len(self))[index])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.read(np.arange(len(self)))
        return out if dtype is None else out.astype(dtype)

    def subset(self, index: slice) -> "ImageFiles":
        paths = self.paths[index]
        return dataclasses.replace(self, paths=paths, shape=(len(paths), *self.shape[1:]))

    def read(self, indices) -> np.ndarray:
        """The images at ``indices``, decoded, as one uint8 array.

        Raises:
            DataChangedError: a file can no longer be decoded to this split's shape (also kept in ``failures``).
        """
        indices = np.atleast_1d(np.asarray(indices))
        out = np.empty((len(indices), *self.shape[1:]), np.uint8)
        for row, i in enumerate(indices):
            path = self.paths[int(i)]
            try:
                image = read_image(path, self.shape[3], self.size)
            except unreadable() as e:  # the reason without the path, which the message names first
                reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).replace(f" '{path}'", "")
                raise self.failed(path, reason or type(e).__name__) from None
            if image.shape != out.shape[1:]:
                raise self.failed(path, f"it is now {'x'.join(map(str, image.shape))}, not "
                                        f"{'x'.join(map(str, out.shape[1:]))} as when the run began")
            out[row] = image
        return out

    def failed(self, path: str, reason: str) -> DataChangedError:
        error = DataChangedError(path, reason)
        self.failures.append(error)
        return error


def label_names(class_names, num_classes: int) -> list[str]:
    """Each class's name, label 0 first: a folder's class folder names, else the label numbers ("0", "1", ...)."""
    return list(class_names or map(str, range(num_classes)))


def held_out(labels: np.ndarray, fraction: float, source) -> np.ndarray:
    """Which examples are held out for testing: ``fraction`` of each class (at least one, never all), seeded."""
    rng = np.random.default_rng(SPLIT_SEED)
    test = np.zeros(len(labels), bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        k = min(max(int(round(fraction * len(members))), 1), len(members) - 1)
        test[rng.permutation(members)[:k]] = True
    if not test.any():
        raise DataError(f"--dataset {source}: too few images to hold out a test share; give at least two per class")
    return test
