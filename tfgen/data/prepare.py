"""A run's data made ready: loaded as its configuration says, fitted to the configuration, and batched.

Training, ``tfgen.Run``, the benches and the test fixtures all go this one
way: :func:`load_for` (the data a configuration names), :func:`prepare` (the
training data, with the configuration fitted to its shape and classes; the
model is then ``config.make_model()``) and :func:`pipelines`.
"""

from __future__ import annotations

from tfgen.config import RunConfig
from tfgen.data.batches import pipeline, too_small_for_replicas
from tfgen.data.convert import InputRange
from tfgen.data.dataset import Dataset
from tfgen.data.sources import load
from tfgen.errors import warn


def load_for(config: RunConfig, name: str | None = None, data_dir: str | None = None) -> Dataset:
    """The data ``config`` names (or ``name``, the data a run actually used), resized, converted and split as it says.

    ``data_dir``: where the data is now, if not the configuration's.
    """
    return load(name or config.dataset, data_dir or config.data_dir, seed=config.seed, image_size=config.image_size,
                channels=config.channels, test_fraction=config.test_fraction)


def prepare(config: RunConfig, dataset: Dataset | None = None) -> tuple[RunConfig, Dataset]:
    """The configuration fitted to its data, and the data it trains on (``train_size`` applied).

    ``dataset``: data to use instead of loading the configuration's.

    Raises:
        tfgen.errors.BadInputError: data that cannot be loaded, or that the model cannot take.
    """
    dataset = (dataset or load_for(config)).take_train(config.train_size)
    config = config.with_data(dataset.image_shape, dataset.num_classes)
    if config.batch_size > len(dataset.x_train):
        warn(f"--batch-size {config.batch_size} is more than the {len(dataset.x_train)} training images: each epoch "
             f"is one batch of {len(dataset.x_train)}")
    return config, dataset


def pipelines(config: RunConfig, dataset: Dataset, input_range: InputRange, replicas: int = 1, epoch=None):
    """The training and test pipelines of a run, batched as ``config`` says, the training one in its seeded order.

    ``epoch``: the CPU variable the training pipeline's order is drawn from (see ``tfgen.data.pipeline``).
    """
    for split, labels in (("training", dataset.y_train), ("test", dataset.y_test)):
        dropped = too_small_for_replicas(len(labels), config.batch_size, replicas)
        if dropped:
            warn(f"the {split} set's last batch of {dropped} cannot be split across {replicas} replicas and is left "
                 f"out each epoch; a --batch-size that divides {len(labels)} keeps it")
    train = pipeline(dataset.x_train, dataset.y_train, config.batch_size, input_range, shuffle=True, seed=config.seed,
                     replicas=replicas, epoch=epoch)
    test = pipeline(dataset.x_test, dataset.y_test, config.batch_size, input_range, shuffle=False, replicas=replicas)
    return train, test
