"""The shared base of every tfgen model (the model contract)."""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import keras
import numpy as np
import tensorflow as tf


class GenerativeModel(keras.Model):
    """Base class: one objective, compiled train/test steps, metric trackers.

    A subclass defines its networks in ``__init__``, the objective in
    :meth:`compute_losses` (a dict of named scalars whose ``"loss"`` is
    minimised), :meth:`sample`, and the functions it exports. Single-optimizer
    models get ``train_step`` from here; adversarial models override it.

    Class attributes:
        registry_name: the CLI name, set by ``@register``.
        loss_names: the scalars ``compute_losses`` returns, in display order.
        train_defaults: the model's default ``epochs`` and ``batch_size``.
        input_range: value range of the training images (see ``tfgen.data.to_float``).
        grid_shape: rows and columns of the per-epoch sample grid.
    """

    registry_name: ClassVar[str] = ""
    loss_names: ClassVar[tuple[str, ...]] = ("loss",)
    train_defaults: ClassVar[dict[str, int]] = {"epochs": 10, "batch_size": 64}
    input_range: ClassVar[str] = "unit"
    grid_shape: ClassVar[tuple[int, int]] = (4, 4)

    def __init__(self, latent_dim: int, learning_rate: float, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.learning_rate = learning_rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}

    # ----- the objective and sampling: subclasses define these -----

    def compute_losses(self, batch: tuple[tf.Tensor, tf.Tensor], training: bool = False) -> dict[str, tf.Tensor]:
        """Named scalar losses of one batch ``(images, labels)``; ``"loss"`` is minimised."""
        raise NotImplementedError

    def sample(self, z: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """Images in [0, 1], shape (N, 28, 28, 1), fully determined by the inputs."""
        raise NotImplementedError

    def export_functions(self) -> dict[str, tuple[Callable, list[tf.TensorSpec]]]:
        """Name -> (function returning a dict of named tensors, input signature) to export."""
        return {
            "generate": (
                lambda z: {"images": self.sample(z)},
                [tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")],
            )
        }

    def grid_inputs(self, seed: int) -> dict[str, np.ndarray]:
        """The fixed inputs of the per-epoch sample grid, drawn once from ``seed``."""
        rows, cols = self.grid_shape
        z = np.random.default_rng(seed).standard_normal((rows * cols, self.latent_dim))
        return {"z": z.astype(np.float32)}

    # ----- Keras plumbing shared by every model -----

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        """The optimizer of a single-optimizer model."""
        return keras.optimizers.Adam(self.learning_rate)

    def compile(self, jit_compile: bool = False, steps_per_execution: int = 1) -> None:  # type: ignore[override]
        """Compiles with the model's own optimizer; XLA only when asked for."""
        super().compile(optimizer=self.make_optimizer(), jit_compile=jit_compile,
                        steps_per_execution=steps_per_execution)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def train_step(self, data):
        with tf.GradientTape() as tape:
            losses = self.compute_losses(data, training=True)
        variables = self.trainable_variables
        gradients = tape.gradient(losses["loss"], variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self.update_trackers(losses, data)

    def test_step(self, data):
        return self.update_trackers(self.compute_losses(data, training=False), data)

    def update_trackers(self, losses: dict[str, tf.Tensor], data) -> dict[str, tf.Tensor]:
        """Adds one batch's losses, weighted by its size, so epoch means are exact."""
        weight = tf.cast(tf.shape(data[0])[0], tf.float32)
        for name, tracker in self.trackers.items():
            tracker.update_state(losses[name], sample_weight=weight)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self) -> dict[str, Any]:
        return {"latent_dim": self.latent_dim, "learning_rate": self.learning_rate, "seed": self.seed}
