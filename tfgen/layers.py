"""Layers tfgen's networks share beyond what Keras ships: :class:`SpectralNormalization`.

Keras 3 ships ``keras.layers.SpectralNormalization``, and it keeps its ``u``
as a weight (so checkpoints hold it), but it is not the paper's layer: in
training it overwrites the wrapped layer's own kernel with W / sigma(W)
before using it, so no gradient reaches W through sigma (the optimizer then
moves the normalised kernel, and inference uses that moved kernel, which is
no longer normalised). Miyato et al. (2018) train W through W / sigma(W),
gradient through sigma included, and always compute with the normalised
kernel. This wrapper does that, and leaves the wrapped layer's weights to the
optimizer alone.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


class SpectralNormalization(keras.layers.Wrapper):
    """A ``Dense``, ``Conv2D`` or ``Embedding`` layer computed with its kernel divided by its largest singular
    value (Miyato et al. 2018), estimated by power iteration.

    The kernel is seen as a matrix W of shape (everything else, output channels).
    Each call in training runs one power iteration from the kept vector ``u``
    (v = normalise(u W^T), u = normalise(v W)) and keeps the new ``u``, a
    non-trainable weight, so it is checkpointed and a resumed run continues
    the same iteration; sigma = v W u^T with u and v held constant, so the
    gradient reaches W through sigma as in the paper. Outside training ``u``
    is read, not changed. The power iteration runs in float32 whatever the
    precision policy (the wrapper does not autocast), and the normalised
    kernel is cast to the layer's compute dtype.
    """

    def __init__(self, layer: keras.layers.Layer, **kwargs: Any):
        if not isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Embedding)) or \
                isinstance(layer, keras.layers.Conv2DTranspose) or getattr(layer, "groups", 1) != 1 or \
                getattr(layer, "data_format", "channels_last") != "channels_last":
            raise TypeError(f"SpectralNormalization wraps a Dense, Conv2D (channels last, groups=1) or Embedding "
                            f"layer; got {type(layer).__name__}")
        kwargs.setdefault("autocast", False)
        super().__init__(layer, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        self.u = self.add_weight(shape=(1, int(self.kernel.shape[-1])), initializer="random_normal", trainable=False,
                                 name="u", dtype="float32")

    @property
    def kernel(self):
        """The wrapped layer's own kernel (the embeddings of an ``Embedding``): the variable the optimizer trains."""
        return self.layer.embeddings if isinstance(self.layer, keras.layers.Embedding) else self.layer.kernel

    def normalized_kernel(self, training: bool = False):
        """W / sigma(W) in float32, after one power iteration (kept in ``u`` when ``training``)."""
        kernel = ops.convert_to_tensor(self.kernel, "float32")
        w = ops.reshape(kernel, (-1, kernel.shape[-1]))
        v = unit(ops.matmul(self.u, ops.transpose(w)))
        u = ops.stop_gradient(unit(ops.matmul(v, w)))
        v = ops.stop_gradient(v)
        if training:
            self.u.assign(u)
        sigma = ops.sum(ops.matmul(v, w) * u)
        return kernel / sigma

    def call(self, inputs, training: bool = False):
        layer = self.layer
        kernel = ops.cast(self.normalized_kernel(training), self.compute_dtype)
        if isinstance(layer, keras.layers.Embedding):
            return ops.take(kernel, ops.cast(inputs, "int32"), axis=0)
        inputs = ops.cast(inputs, self.compute_dtype)
        if isinstance(layer, keras.layers.Dense):
            outputs = ops.matmul(inputs, kernel)
        else:
            outputs = ops.conv(inputs, kernel, strides=layer.strides, padding=layer.padding,
                               data_format=layer.data_format, dilation_rate=layer.dilation_rate)
        if layer.use_bias:
            outputs = outputs + ops.cast(layer.bias, self.compute_dtype)
        return layer.activation(outputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)


def unit(x):
    """``x`` divided by its L2 norm (over every element), as the power iteration needs."""
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x)), 1e-24))
