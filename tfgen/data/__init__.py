"""A run's data: where it comes from, how it is split and converted, and the tf.data pipeline.

- :mod:`~tfgen.data.sources`: :func:`load` a built-in set by name or a path;
  :mod:`~tfgen.data.builtin` (MNIST, Fashion-MNIST, CIFAR-10),
  :mod:`~tfgen.data.npz`, :mod:`~tfgen.data.folders` (with their listing and
  held-out split) and :mod:`~tfgen.data.points` (the toy GAN's sets);
- :mod:`~tfgen.data.dataset`: the :class:`Dataset` every source returns, and
  :class:`ImageFiles`, a split decoded from its files as it is read;
- :mod:`~tfgen.data.decode`: PIL's decoding, colour conversion and resizing;
- :mod:`~tfgen.data.convert`: the one converter to a model's value range;
- :mod:`~tfgen.data.batches`: :func:`pipeline`, a split as tf.data batches.

Every loader returns uint8 images (N, H, W, C), C 1 or 3, and int64 labels
(or 2-D points for the toy GAN).
"""

from tfgen.data.batches import pipeline, too_small_for_replicas
from tfgen.data.convert import INPUT_RANGES, InputRange, from_unit, to_float
from tfgen.data.dataset import TEST_FRACTION, DataError, Dataset, ImageFiles
from tfgen.data.points import POINT_DATASETS, make_points
from tfgen.data.sources import DATASETS, IMAGE_DATASETS, is_path, load

__all__ = ["DATASETS", "DataError", "Dataset", "IMAGE_DATASETS", "INPUT_RANGES", "ImageFiles", "InputRange",
           "POINT_DATASETS", "TEST_FRACTION", "from_unit", "is_path", "load", "make_points", "pipeline", "to_float",
           "too_small_for_replicas"]
