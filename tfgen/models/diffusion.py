"""``diffusion``: denoising diffusion with a residual U-Net, trained in continuous time and sampled with DDIM.

Training and sampling are the family's (``tfgen.models.base.DiffusionModel``):
the cosine schedule, the noise (or v) as target, AdamW, a moving average of
the weights that samples, DDIM in one compiled loop. The defaults are the
keras.io DDIM example's (two blocks per level, no attention, AdamW 1e-3 with
weight decay 1e-4, a moving average of 0.999) but for two choices made by
measurement on 2 CPU cores:

- A smaller U-Net, widths 16, 32, 64 instead of its 32, 64, 96, 128
  (:data:`KERAS_IO_WIDTHS`): at 28x28x1, batch 64, it trains at 156 images/s
  and samples at 24 images/s in 20 steps, where this U-Net at the example's
  widths trains at 49 and samples at 7 (the example's own network is lighter:
  see ``bench/throughput.py --diffusion``), so that a 30-minute CPU budget
  sees three times the images and an evaluation's 10,000 samples take 7
  minutes instead of 24.
- The network predicts v under the squared error (Salimans and Ho's
  v-prediction, DDPM's loss), not the noise under the absolute error (the
  example's). After one epoch of the full MNIST (seed 0; 2,000 samples, 20
  steps), the Fréchet distance was 82 for v and the squared error, 151 for v
  and the absolute error, 179 for the noise and the absolute error. The
  noise-predicting model's grid had grey, speckled or saturated samples (x_0
  from the predicted noise divides its error by a signal rate down to 0.02),
  and v with the absolute error drew thin digits, mostly 1s and 7s (at high
  noise v is about -x_0, and the absolute error seeks each pixel's median,
  which is black): 26% ones and 20% sevens among 600 samples after 4 epochs,
  and 80% of the real images' ink.

The network (:func:`unet`, DDPM's U-Net, Ho et al. 2020): a 3x3 convolution
to ``widths[0]`` channels; per level ``blocks`` residual blocks (GroupNorm,
swish, 3x3 convolution, the noise level's embedding added, GroupNorm, swish,
dropout, 3x3 convolution; a 1x1 convolution on the skip where the width
changes), self-attention after each block at the resolutions in
``attention``, and a stride-2 convolution to the next level; a middle of two
residual blocks (self-attention between them when any resolution has it);
the levels back up, each block taking the matching skip, with
nearest-neighbour upsampling and a 3x3 convolution between levels;
GroupNorm, swish and a zero-initialised 3x3 convolution out. The noise
level's embedding is DDPM's sinusoidal features of 1000 t through two dense
layers (a conditional model adds its label's embedding). Images whose sides
the levels do not halve evenly (28x28 with four levels) are padded with zeros
to the next multiple of 2^(levels - 1) and the output is cropped back, so
every size trains.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import keras
import tensorflow as tf

from tfgen.errors import ConfigError
from tfgen.models.base import DiffusionModel
from tfgen.options import MAX_SAMPLING_STEPS, Count, Range
from tfgen.precision import float32_output
from tfgen.registry import register

# The options both diffusion models take, typed once.
Widths = Annotated[tuple[int, ...], Range(1, 1024), Count(1, 6)]
Resolutions = Annotated[tuple[int, ...], Range(1, 4096), Count(0, 6)]
Blocks = Annotated[int, Range(1, 8)]
Rate = Annotated[float, Range(0, 0.9)]
Target = Literal["eps", "v"]
Loss = Literal["mae", "mse"]
Decay = Annotated[float, Range(0, 0.99999)]
WeightDecay = Annotated[float, Range(0, 1)]
Steps = Annotated[int, Range(1, MAX_SAMPLING_STEPS)]
Eta = Annotated[float, Range(0, 1)]
DEFAULT_WIDTHS = (16, 32, 64)
KERAS_IO_WIDTHS = (32, 64, 96, 128)  # the keras.io DDIM example's U-Net (bench/keras_io_ddim.py)


class NoiseLevelEmbedding(keras.layers.Layer):
    """DDPM's sinusoidal features of a diffusion time t in [0, 1] (as 1000 t): ``dim`` values per example."""

    def __init__(self, dim: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.dim = dim

    def call(self, t):
        half = self.dim // 2
        frequencies = tf.exp(-math.log(10_000.0) * tf.range(half, dtype=tf.float32) / half)
        angles = 1000.0 * tf.cast(tf.reshape(t, (-1, 1)), tf.float32) * frequencies[None]
        return tf.cast(tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1), self.compute_dtype)


def groups(width: int) -> int:
    """GroupNorm's groups for ``width`` channels: 32 where 32 divides it (DDPM's), else the most that do."""
    return math.gcd(width, 32)


def residual_block(x, embedding, width: int, dropout: float):
    """DDPM's residual block: two 3x3 convolutions, the noise level's embedding added between them."""
    L = keras.layers
    skip = x if x.shape[-1] == width else L.Conv2D(width, 1)(x)
    h = L.Conv2D(width, 3, padding="same")(L.Activation("swish")(L.GroupNormalization(groups(x.shape[-1]))(x)))
    h = L.Add()([h, L.Reshape((1, 1, width))(L.Dense(width)(L.Activation("swish")(embedding)))])
    h = L.Activation("swish")(L.GroupNormalization(groups(width))(h))
    h = L.Conv2D(width, 3, padding="same")(L.Dropout(dropout)(h))
    return L.Add()([skip, h])


def attention_block(x):
    """Single-head self-attention over the positions of ``x``, added to it (DDPM's, at low resolutions)."""
    height, width, channels = x.shape[1:]
    h = keras.layers.Reshape((height * width, channels))(keras.layers.GroupNormalization(groups(channels))(x))
    h = keras.layers.MultiHeadAttention(num_heads=1, key_dim=channels)(h, h)
    return keras.layers.Add()([x, keras.layers.Reshape((height, width, channels))(h)])


def padded(side: int, levels: int) -> int:
    """``side`` padded to what ``levels`` levels halve evenly: the next multiple of 2^(levels - 1)."""
    multiple = 2 ** (levels - 1)
    return -(-side // multiple) * multiple


def resolutions(image_shape, levels: int) -> list[int]:
    """The side (of the padded height) each level of the U-Net works at, from the first down."""
    return [padded(int(image_shape[0]), levels) >> level for level in range(levels)]


def check_attention(image_shape, options: dict[str, Any]) -> None:
    """Refuses ``attention`` at a resolution the U-Net never reaches on ``image_shape``, naming those it does."""
    levels = len(options.get("widths", DEFAULT_WIDTHS))
    reached = resolutions(image_shape, levels)
    never = [r for r in options.get("attention", ()) if r not in reached]
    if never:
        raise ConfigError(f"--option attention={','.join(map(str, options['attention']))}: the U-Net never works at "
                          f"{never[0]}x{never[0]} on {image_shape[0]}x{image_shape[1]} images with {levels} levels; "
                          f"it works at {', '.join(map(str, reached))} (or none)")


def unet(image_shape, widths, blocks: int, attention, dropout: float, num_classes: int = 0,
         name: str = "unet") -> keras.Model:
    """The residual U-Net (module docstring): (x_t, t[, label]) -> the prediction, shaped as x_t.

    ``num_classes`` > 0 adds a label input: classes 0..num_classes-1, and ``num_classes`` itself for
    "no label" (what classifier-free guidance trains and samples unconditionally with).
    """
    L = keras.layers
    h, w, c = image_shape
    levels = len(widths)
    ph, pw = padded(h, levels), padded(w, levels)
    images, times = keras.Input(tuple(image_shape), name="x_t"), keras.Input((), name="t")
    inputs = [images, times]
    dim = 4 * widths[0]
    embedding = L.Dense(dim)(L.Dense(dim, activation="swish")(NoiseLevelEmbedding(max(2, widths[0]))(times)))
    if num_classes:
        labels = keras.Input((), dtype="int32", name="label")
        inputs.append(labels)
        embedding = L.Add()([embedding, L.Embedding(num_classes + 1, dim)(labels)])
    x = L.ZeroPadding2D(((0, ph - h), (0, pw - w)))(images) if (ph, pw) != (h, w) else images
    x = L.Conv2D(widths[0], 3, padding="same")(x)
    skips = [x]
    for level, width in enumerate(widths):
        for _ in range(blocks):
            x = residual_block(x, embedding, width, dropout)
            x = attention_block(x) if x.shape[1] in attention else x
            skips.append(x)
        if level < levels - 1:
            x = L.Conv2D(width, 3, strides=2, padding="same")(x)
            skips.append(x)
    x = residual_block(x, embedding, widths[-1], dropout)
    x = attention_block(x) if attention else x
    x = residual_block(x, embedding, widths[-1], dropout)
    for level in reversed(range(levels)):
        for _ in range(blocks + 1):
            x = residual_block(L.Concatenate()([x, skips.pop()]), embedding, widths[level], dropout)
            x = attention_block(x) if x.shape[1] in attention else x
        if level > 0:
            x = L.Conv2D(widths[level], 3, padding="same")(L.UpSampling2D(2)(x))
    x = L.Activation("swish")(L.GroupNormalization(groups(widths[0]))(x))
    x = L.Conv2D(c, 3, padding="same", kernel_initializer="zeros")(x)
    x = L.Cropping2D(((0, ph - h), (0, pw - w)))(x) if (ph, pw) != (h, w) else x
    return keras.Model(inputs, float32_output()(x), name=name)


def use_unet(model: DiffusionModel, widths, blocks: int, attention, dropout: float) -> None:
    """Keeps the U-Net's options on ``model`` and builds its network (and moving average) from them: :func:`unet`
    over the model's images, with a label input when the model is conditional."""
    model.widths, model.blocks, model.attention, model.dropout = tuple(widths), blocks, tuple(attention), dropout
    classes = model.num_classes if model.has("conditional") else 0
    model.set_network(lambda name: unet(model.image_shape, model.widths, blocks, model.attention, dropout, classes,
                                        name=name))


@register
class Diffusion(DiffusionModel):
    """Denoising diffusion: a residual U-Net predicting the noise in continuous time, sampled with DDIM.

    ``--latent-dim`` is not used: the noise has the images' shape.

    Args:
        widths: the U-Net's channels per level (each level after the first halves the size).
        blocks: residual blocks per level.
        attention: the resolutions (sides) at which self-attention follows each block, or none.
        dropout: the residual blocks' dropout rate.
        target: what the network predicts: the noise (``eps``) or ``v``.
        loss: ``mae`` or ``mse`` between the prediction and the target.
        ema: the decay of the weights' moving average that samples (0: the weights themselves).
        weight_decay: AdamW's.
        steps: DDIM sampling steps (``sample``, the preview, the evaluation).
        eta: 0 deterministic DDIM; 1 DDPM-like ancestral sampling.
    """

    def __init__(self, latent_dim: int = 1, learning_rate: float = 1e-3, seed: int | None = None, *,
                 widths: Widths = DEFAULT_WIDTHS, blocks: Blocks = 2, attention: Resolutions = (), dropout: Rate = 0.0,
                 target: Target = "v", loss: Loss = "mse", ema: Decay = 0.999, weight_decay: WeightDecay = 1e-4,
                 steps: Steps = 20, eta: Eta = 0.0, **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, target=target, loss=loss,
                         ema=ema, weight_decay=weight_decay, steps=steps, eta=eta, **kwargs)
        use_unet(self, widths, blocks, attention, dropout)

    @classmethod
    def check_data(cls, image_shape, num_classes, options=None) -> None:
        super().check_data(image_shape, num_classes, options)
        check_attention(image_shape, options or {})
