"""What training a model needs in memory, estimated before anything is allocated, and what this machine has.

A network too large for the machine would otherwise fail (or be killed by
the operating system) while its weights are allocated, after the run
directory was written. :func:`estimate` builds the model in a throwaway
TensorFlow graph, where a variable is declared but never allocated, so a
model of any size is counted in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

# Bytes per element: tfgen keeps its variables in float32 whatever the precision.
BYTES = 4
# Per trainable weight: the weight, its gradient and Adam's two moments.
COPIES_PER_WEIGHT = 4
# Per activation: the layer's output, kept for the backward pass, and its gradient.
COPIES_PER_ACTIVATION = 2


@dataclasses.dataclass(frozen=True)
class Footprint:
    """A model's size: its trainable weights, and its networks' layer outputs for one image (each network once)."""

    parameters: int
    activations_per_image: int

    def training_bytes(self, batch: int) -> int:
        """A lower bound on the memory one training step at ``batch`` images needs."""
        activations = batch * self.activations_per_image
        return BYTES * (COPIES_PER_WEIGHT * self.parameters + COPIES_PER_ACTIVATION * activations)


def estimate(config) -> Footprint:
    """The footprint of ``config``'s model (a :class:`tfgen.config.RunConfig` fitted to its data)."""
    import tensorflow as tf

    with tf.Graph().as_default():  # variables made here are graph nodes: nothing is allocated
        model = config.make_model("float32")
        parameters = sum(math.prod(v.shape) for v in model.trainable_variables)
        return Footprint(parameters, sum(_outputs(layer) for layer in model.layers))


def _outputs(layer) -> int:
    """The elements ``layer`` outputs for one input: a network's layers summed; 0 for a layer not yet called (a
    model's own head, applied to a network's output)."""
    inner = getattr(layer, "layers", None)
    if inner:
        return sum(_outputs(sub) for sub in inner)
    try:
        shape = layer.output.shape
    except AttributeError:
        return 0
    return math.prod(shape[1:])


def machine_bytes() -> int:
    """This machine's memory: its physical memory, or the container's limit if that is lower."""
    found = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for limit in (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")):
        try:
            found = min(found, int(limit.read_text()))
        except (OSError, ValueError):  # no such control group, or "max": no limit
            pass
    return found
