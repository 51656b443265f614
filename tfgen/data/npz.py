"""Arrays: an npz (``x_train``, optional ``y_train``, ``x_test``, ``y_test``), checked before and as NumPy reads it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from tfgen.data.dataset import TEST_FRACTION, DataError, Dataset, held_out

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")  # x_train is required; the others are optional
# A label names a class: the class count sizes the conditional models' embeddings and one-hot inputs, so a label of
# 10**9 would ask for a billion-class network. The built-in sets keep their own count.
MAX_CLASSES = 10_000
BUILTIN_CLASSES = {"mnist": 10, "fashion-mnist": 10, "cifar10": 10}


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
            _check_labels(arrays["x_train"], labels, "train", name, str(path))
        test = held_out(np.zeros(len(arrays["x_train"]), np.int64) if labels is None else np.asarray(labels),
                         test_fraction, path)
        for key in ("x", "y"):
            if f"{key}_train" in arrays:
                whole = arrays.pop(f"{key}_train")
                arrays[f"{key}_train"], arrays[f"{key}_test"] = whole[~test], whole[test]
    return validated(name, arrays, str(path))


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


def validated(name: str, arrays: dict[str, np.ndarray], source: str) -> Dataset:
    """A Dataset of checked arrays: images as (N, H, W, C) uint8, labels int64 (all 0 when there are none).

    A built-in set (``mnist``, ...) keeps its own class count (:data:`BUILTIN_CLASSES`); any other npz may have up
    to :data:`MAX_CLASSES` classes.
    """
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
            _check_labels(images[split], arrays[f"y_{split}"], split, name, source)
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


def _check_labels(x: np.ndarray, y: np.ndarray, split: str, name: str, source: str) -> None:
    """Integer labels, one per image, each a class number of the set (checked in their own dtype, before any
    conversion could wrap a uint64 around to a negative number)."""
    classes = BUILTIN_CLASSES.get(name, MAX_CLASSES)
    if y.ndim != 1 or y.shape[0] != x.shape[0] or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{source}: y_{split} must be integer labels of shape ({x.shape[0]},); got {y.dtype} {y.shape}")
    low, high = (int(y.min()), int(y.max())) if len(y) else (0, 0)
    if low < 0 or high >= classes:
        what = f"the {classes} classes of {name}" if name in BUILTIN_CLASSES else f"at most {classes:,} classes"
        raise DataError(f"{source}: y_{split} labels must be class numbers from 0 to {classes - 1:,} ({what}); got "
                        f"{low if low < 0 else high:,}")
