"""InceptionV3's ImageNet pool features, for the standard FID and KID (``tfgen evaluate --features inception``).

tfgen never downloads the weights: it uses them when ``keras.applications``
has already cached them (``$KERAS_HOME/models/``, by default
``~/.keras/models/``), and otherwise says what it looked for. Images in [0, 1]
of any size are resized to 299x299 (bilinear), grey is repeated to RGB, and
pixels are scaled to [-1, 1] as InceptionV3 expects; the features are the
2,048 values of the global average pool, as the FID paper's.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tfgen.errors import BadInputError

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"  # keras.applications' own file name
SIZE = 299
FEATURES = 2048  # the pool features' width


class InceptionUnavailableError(BadInputError):
    """The ImageNet weights are not in the Keras cache; the message names where tfgen looked."""


def weights_path() -> Path:
    """Where ``keras.applications.InceptionV3(weights="imagenet", include_top=False)`` caches its weights."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models" / WEIGHTS_FILE


class Features:
    """InceptionV3 pool features of images in [0, 1], (N, H, W, 1 or 3) -> (N, 2048)."""

    def __init__(self):
        self.weights = weights_path()
        if not self.weights.is_file():
            raise InceptionUnavailableError(
                f"--features inception needs InceptionV3's ImageNet weights in the Keras cache, and {self.weights} "
                "is not there; tfgen does not download them. Fetch them once where there is internet "
                "(python -c 'import keras; keras.applications.InceptionV3(include_top=False)') and copy the file "
                "there, or use --features classifier")
        import keras

        self.model = keras.applications.InceptionV3(include_top=False, weights=str(self.weights), pooling="avg",
                                                    input_shape=(SIZE, SIZE, 3))

    def __call__(self, images: np.ndarray, batch_size: int = 50) -> np.ndarray:
        import tensorflow as tf

        out = []
        for start in range(0, len(images), batch_size):
            x = tf.convert_to_tensor(np.asarray(images[start:start + batch_size], np.float32))
            if x.shape[-1] == 1:
                x = tf.repeat(x, 3, axis=-1)
            x = tf.image.resize(x, (SIZE, SIZE), method="bilinear") * 2.0 - 1.0
            out.append(np.asarray(self.model(x, training=False)))
        return np.concatenate(out)
