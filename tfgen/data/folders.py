"""A folder of images in one of three layouts, listed, split and decoded (or streamed when too large to hold)."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from tfgen.data.dataset import TEST_FRACTION, DataError, Dataset, ImageFiles, held_out
from tfgen.data import decode
from tfgen.data.decode import GREY_MODES, read_image
from tfgen.backend import load_tensorflow
from tfgen.errors import warn

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")  # what keras.utils.image_dataset_from_directory reads

# A folder whose decoded images (uint8, both splits) exceed this many MiB is read from disk every epoch
# instead of being held in memory; $TFGEN_IN_MEMORY_MB changes it.
IN_MEMORY_MB = 2048

IN_MEMORY_ENV = "TFGEN_IN_MEMORY_MB"

# A pass over a folder's files that has run this many seconds shows a Keras progress bar (CIFAR-10's 60,000
# JPEG files take about 10-25 s to read); a quick load prints nothing.
PROGRESS_AFTER_S = 2.0


def _memory_limit_bytes() -> int:
    value = os.environ.get(IN_MEMORY_ENV)
    try:
        mib = float(value) if value else IN_MEMORY_MB
    except ValueError:
        mib = math.nan
    if not (math.isfinite(mib) and mib >= 0):
        raise DataError(f"${IN_MEMORY_ENV}={value!r} is not a number of MiB (a finite number, 0 or more)")
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
    skipped files are counted in one warning; so is an image larger than PIL's
    decompression-bomb limit (twice ``PIL.Image.MAX_IMAGE_PIXELS``: 178,956,970
    pixels), whatever its header claims. A load that takes more than
    :data:`PROGRESS_AFTER_S` seconds shows its progress (a Keras progress bar on
    stdout). Without ``image_size`` every
    image must have the same size; ``channels`` defaults to 1 when every image
    is grey, else 3. Decoded data larger than ``$TFGEN_IN_MEMORY_MB``
    (:data:`IN_MEMORY_MB`) is read from disk each epoch instead of held in memory.

    Raises:
        DataError: no images, no readable image, mixed sizes without
            ``image_size``, a layout that mixes images and class folders, or a
            class folder that links back into the data set.
    """
    from PIL import Image

    unreadable = decode.unreadable()

    if (root / "train").is_dir() and (root / "test").is_dir():
        train_files, train_labels, names = _listing(root / "train", None)
        test_files, test_labels, _ = _listing(root / "test", names)
        paths, labels = train_files + test_files, np.concatenate([train_labels, test_labels])
        given_test = np.arange(len(paths)) >= len(train_files)
    else:
        (paths, labels, names), given_test = _listing(root, None), None
    sizes, grey, bad = {}, True, []
    started = time.monotonic()
    for path in _progress(paths, started, f"reading the sizes of {len(paths):,} image files in {root}"):
        # headers only: sizes and colour, before anything is decoded
        try:
            with Image.open(path) as image:
                sizes[path], grey = image.size, grey and image.mode in GREY_MODES
        except unreadable as e:
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
    test = given_test[readable] if given_test is not None else held_out(labels, test_fraction, root)
    order = np.concatenate([np.flatnonzero(~test), np.flatnonzero(test)])  # training images first
    candidates = [p for p, ok in zip(paths, readable) if ok]
    streamed = len(order) * int(np.prod(shape)) > _memory_limit_bytes()
    keep, pixels = [], np.empty((0 if streamed else len(order), *shape), np.uint8)
    # decoding every file now finds truncated ones before training starts
    for i in _progress(order, started, f"decoding {len(order):,} image files in {root}"):
        try:
            image = read_image(candidates[i], channels, size)
        except unreadable as e:
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


def _progress(items: Sequence, started: float, what: str):
    """``items``, one by one; once :data:`PROGRESS_AFTER_S` seconds have passed since ``started``, with ``what``
    said once and a Keras progress bar counting them (as training's: a bar on a terminal, else one line at the
    end)."""
    bar = None
    for done, item in enumerate(items):
        if bar is None and time.monotonic() - started > PROGRESS_AFTER_S:
            load_tensorflow()
            from keras.utils import Progbar

            print(f"tfgen: {what}", flush=True)
            bar = Progbar(len(items), verbose=1 if sys.stdout.isatty() else 2, unit_name="file")
        if bar is not None:
            bar.update(done)
        yield item
    if bar is not None:
        bar.update(len(items), finalize=True)


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
    seen: dict[Path, str] = {}
    for sub in subfolders:  # a link back to the folder (or above it), or two names for one folder, lists images twice
        target = sub.resolve()
        if folder.resolve().is_relative_to(target):
            raise DataError(f"--dataset {folder}: class folder {sub.name!r} links back to {target}: every image would "
                            "be listed twice; remove the link")
        if target in seen:
            raise DataError(f"--dataset {folder}: class folders {seen[target]!r} and {sub.name!r} are one folder "
                            f"({target}): its images would be listed twice; remove one")
        seen[target] = sub.name
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
