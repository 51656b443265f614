"""Training on several devices through ``tf.distribute`` (``--strategy``).

``--batch-size`` is the global batch: Keras splits each batch across the
replicas, every replica's losses are means over its own share, and
``tfgen.models.base.apply_gradients`` divides them by the number of replicas
before the gradients are summed across replicas, so that a global batch gives
the same update on one device or on N. Noise is drawn for the whole global
batch and sliced per replica (``tfgen.models.base.normal``) for the same reason.
"""

from __future__ import annotations

STRATEGIES = ("auto", "one-device", "mirrored")


def make_strategy(name: str):
    """The ``tf.distribute`` strategy for ``--strategy NAME``.

    ``auto``: ``MirroredStrategy`` over every GPU when more than one is visible,
    else TensorFlow's default (one device, GPU if there is one). ``one-device``:
    the first GPU, else the CPU. ``mirrored``: ``MirroredStrategy`` over every
    visible GPU (over the CPU's logical devices when there is no GPU).
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "one-device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)
