"""The shared base of every tfgen model (the model contract)."""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import keras
import numpy as np
import tensorflow as tf

from tfgen.distribute import in_multi_worker_mode
from tfgen.losses import bce_with_logits

NUM_CLASSES = 10
LABEL_SPEC = tf.TensorSpec([None], tf.int32, name="label")


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
        conditional: whether the model takes digit labels (then ``sample`` needs them).
        data_kind: ``images`` (28x28 digits) or ``points`` (2-D toy sets).
        options: the model's own choices, name -> allowed values (the first is
            the default); each is a constructor keyword, set with ``--option``.
        default_steps_per_execution: training steps per call into the compiled
            loop under ``fit()``, chosen per model from ``bench/throughput.py --spe-sweep``.
        default_jit_compile: whether ``train.py`` compiles with XLA unless told
            otherwise (on where ``bench/throughput.py`` measured it faster).
    """

    registry_name: ClassVar[str] = ""
    loss_names: ClassVar[tuple[str, ...]] = ("loss",)
    train_defaults: ClassVar[dict[str, int]] = {"epochs": 10, "batch_size": 64}
    input_range: ClassVar[str] = "unit"
    grid_shape: ClassVar[tuple[int, int]] = (4, 4)
    conditional: ClassVar[bool] = False
    data_kind: ClassVar[str] = "images"
    options: ClassVar[dict[str, tuple[str, ...]]] = {}
    default_steps_per_execution: ClassVar[int] = 1
    default_jit_compile: ClassVar[bool] = False

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
        z_spec = tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")
        if self.conditional:
            return {"generate": (lambda z, label: {"images": self.sample(z, checked_labels(label))},
                                 [z_spec, LABEL_SPEC])}
        return {"generate": (lambda z: {"images": self.sample(z)}, [z_spec])}

    def grid_inputs(self, seed: int) -> dict[str, np.ndarray]:
        """The fixed inputs of the per-epoch sample grid, drawn once from ``seed``.

        Conditional models get one row per digit 0-9, each row decoding the
        same fixed codes, so a column shows one style across the digits.
        """
        rows, cols = self.grid_shape
        rng = np.random.default_rng(seed)
        if self.conditional:
            z = np.tile(rng.standard_normal((cols, self.latent_dim)), (rows, 1))
            return {"z": z.astype(np.float32), "labels": np.repeat(np.arange(rows, dtype=np.int32), cols)}
        return {"z": rng.standard_normal((rows * cols, self.latent_dim)).astype(np.float32)}

    # ----- Keras plumbing shared by every model -----

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        """The optimizer of a single-optimizer model."""
        return keras.optimizers.Adam(self.learning_rate)

    def new_optimizer(self) -> keras.optimizers.Optimizer:
        """A fresh :meth:`make_optimizer`, with dynamic loss scaling when the model computes in float16."""
        optimizer = self.make_optimizer()
        if self.dtype_policy.name == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def compile(self, jit_compile: bool | None = None, steps_per_execution: int | None = None) -> None:  # type: ignore[override]
        """Compiles with the model's own optimizer(s), each built for its own variables.

        ``jit_compile`` and ``steps_per_execution`` default to the model's own
        measured choices (``default_jit_compile``, ``default_steps_per_execution``).
        """
        super().compile(optimizer=self.new_optimizer(),
                        jit_compile=self.default_jit_compile if jit_compile is None else jit_compile,
                        steps_per_execution=steps_per_execution or self.default_steps_per_execution)
        for optimizer, variables in self.optimizer_variables():
            optimizer.build(variables)

    def optimizer_variables(self) -> list[tuple[keras.optimizers.Optimizer, list]]:
        """Each optimizer with the variables it updates (adversarial models: one pair per network)."""
        return [(self.optimizer, self.trainable_variables)]

    def named_optimizers(self) -> dict[str, keras.optimizers.Optimizer]:
        """Every optimizer by a stable name, for checkpoints (``optimizer`` is the one Keras knows)."""
        return {"optimizer": self.optimizer}

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def train_step(self, data):
        with tf.GradientTape() as tape:
            losses = self.compute_losses(data, training=True)
        apply_gradients(tape, losses["loss"], self.trainable_variables, self.optimizer)
        return self.update_trackers(losses, data)

    def test_step(self, data):
        return self.update_trackers(self.compute_losses(data, training=False), data)

    def update_trackers(self, losses: dict[str, tf.Tensor], data) -> dict[str, tf.Tensor]:
        """Adds one batch's losses, weighted by its size, so epoch means are exact."""
        weight = tf.cast(tf.shape(data[0])[0], tf.float32)
        for name, tracker in self.trackers.items():
            tracker.update_state(losses[name], sample_weight=weight)
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if in_multi_worker_mode():
            # Keras 3.15 reduces a step's outputs across workers with reduce(MEAN, axis=0), which fails on
            # scalars (keras-team/keras#20585): give it shape (1,), which that reduction turns back into a scalar.
            # (These are the progress bar's per-step values; an epoch's logs are the trackers' synced results.)
            results = {name: value[None] for name, value in results.items()}
        return results

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a tf.distribute strategy Keras 3.15's fit() first averages a sample batch across the replicas
        # to build the model. That fails across workers for (images, labels) batches (keras-team/keras#20585)
        # and for a global batch that does not split evenly (AddN of unequal shapes). A tfgen model is built
        # by its constructor and compile(), so there is nothing to build: skip it, as Keras itself does
        # outside a strategy.
        return

    def get_config(self) -> dict[str, Any]:
        return {"latent_dim": self.latent_dim, "learning_rate": self.learning_rate, "seed": self.seed}


def apply_gradients(tape: tf.GradientTape, loss: tf.Tensor, variables: list,
                    optimizer: keras.optimizers.Optimizer) -> None:
    """One ``optimizer`` step on ``variables`` only (one network of a multi-network model).

    A ``LossScaleOptimizer`` (``mixed_float16``) gets the gradients of the
    scaled loss; it unscales them and skips a step whose gradients overflowed.
    Under a ``tf.distribute`` strategy with N replicas the loss, a mean over
    this replica's share of the global batch, is divided by N: the replicas'
    gradients are summed, which then gives the gradient of the global mean.
    """
    scale = None
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        scale = optimizer.scale_loss(tf.ones_like(loss))
    replicas = num_replicas()
    if replicas > 1:
        scale = (tf.ones_like(loss) if scale is None else scale) / replicas
    optimizer.apply_gradients(zip(tape.gradient(loss, variables, output_gradients=scale), variables))


def num_replicas() -> int:
    """Replicas training in sync (1 outside a ``tf.distribute`` strategy or in its cross-replica context)."""
    context = tf.distribute.get_replica_context()
    return context.num_replicas_in_sync if context is not None else 1


def normal(shape, seed_generator: keras.random.SeedGenerator, dtype="float32") -> tf.Tensor:
    """N(0, I) noise of ``shape`` (examples first), the same per example however the batch is split."""
    return _replica_share(lambda s: keras.random.normal(s, seed=seed_generator, dtype=dtype), shape)


def random_labels(n, seed_generator: keras.random.SeedGenerator) -> tf.Tensor:
    """``n`` digit labels drawn uniformly (int32), the same per example however the batch is split."""
    return _replica_share(lambda s: keras.random.randint(s, 0, NUM_CLASSES, seed=seed_generator, dtype="int32"),
                          (n,))


def _replica_share(draw: Callable, shape) -> tf.Tensor:
    """``draw(shape)``, or with N replicas this replica's share of ``draw`` for the global batch.

    Every replica draws for the whole global batch from the same generator
    state and keeps its own slice, so that a step on N replicas sees the same
    random numbers as on one device (equal shares assumed).
    """
    replicas = num_replicas()
    if replicas == 1:
        return draw(shape)
    shape = tf.convert_to_tensor(shape, dtype=tf.int32)
    n = shape[0]
    full = draw(tf.concat([[n * replicas], shape[1:]], 0))
    start = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.int32) * n
    return full[start:start + n]


def checked_labels(labels: tf.Tensor) -> tf.Tensor:
    """``labels`` once they are checked to be digits 0-9 (an exported function's ``label`` input)."""
    labels = tf.convert_to_tensor(labels)
    ok = tf.reduce_all(tf.logical_and(labels >= 0, labels < NUM_CLASSES))
    with tf.control_dependencies([tf.debugging.Assert(ok, [f"label must be a digit 0..{NUM_CLASSES - 1}; got",
                                                           labels], summarize=20)]):
        return tf.identity(labels)


def one_hot(labels: tf.Tensor) -> tf.Tensor:
    """Integer digit labels -> one-hot float32; float (N, 10) rows pass through.

    Passing mixed rows (for example a blend of two one-hots) lets a
    conditional model decode between two digits.
    """
    labels = tf.convert_to_tensor(labels)
    if labels.dtype.is_floating:
        return tf.cast(labels, tf.float32)
    return tf.one_hot(tf.cast(labels, tf.int32), NUM_CLASSES)


class EncoderDecoder(GenerativeModel):
    """A model with an encoder and a decoder of pixel probabilities.

    Subclasses define :meth:`encode` (``(mean, logvar)`` of q(z|x) for the VAEs,
    the code itself for a plain autoencoder), :meth:`sample` (the decoder) and
    the objective. Exported: ``generate`` and ``encode``.
    """

    # Whether ``encode`` gives (mean, logvar) of a Gaussian q(z|x), so that the model has an ELBO.
    has_posterior: ClassVar[bool] = True

    def encode(self, images: tf.Tensor, labels: tf.Tensor | None = None, training: bool = False):
        raise NotImplementedError

    def decoder_logits(self, z: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """Pixel logits of the Bernoulli p(x | z): the decoder's probabilities, clipped to keep them finite."""
        p = tf.clip_by_value(self.decode_latent(z, labels), 1e-6, 1.0 - 1e-6)
        return tf.math.log(p) - tf.math.log1p(-p)

    def latent_mean(self, images: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """The point estimate of each image's code (the posterior mean)."""
        return self.encode(images, labels)[0]

    def decode_latent(self, code: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """Images in [0, 1] for points of the code space (where ``latent_mean`` lives)."""
        return self.sample(code, labels)

    def reconstruct(self, images: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """Decodes each image's posterior mean: images in [0, 1]."""
        return self.decode_latent(self.latent_mean(images, labels), labels)

    def reparameterize(self, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
        """z = mean + eps * exp(logvar / 2), eps ~ N(0, I) from the model's seeded generator."""
        eps = normal(tf.shape(mean), self.seed_generator, dtype=mean.dtype)
        return eps * tf.exp(logvar * 0.5) + mean

    def encode_outputs(self, images: tf.Tensor, labels: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """The named outputs of the exported ``encode``."""
        mean, logvar = self.encode(images, labels)
        return {"mean": mean, "logvar": logvar}

    def export_functions(self):
        image_spec = tf.TensorSpec([None, 28, 28, 1], tf.float32, name="images")
        if self.conditional:
            encode = (lambda images, label: self.encode_outputs(images, checked_labels(label)),
                      [image_spec, LABEL_SPEC])
        else:
            encode = (lambda images: self.encode_outputs(images), [image_spec])
        return {**super().export_functions(), "encode": encode}


class AdversarialModel(GenerativeModel):
    """A generator and a discriminator, each with its own optimizer.

    Subclasses set ``self.generator`` and ``self.discriminator`` (logits out);
    conditional models override :meth:`fake_batch` and :meth:`critic` to bring
    labels in. ``train_step`` takes one tape per network and applies each
    network's gradients to its own variables only.
    ``optimizer`` (the one Keras knows) is the generator's; ``d_optimizer`` the
    discriminator's. ``reuse_fakes`` says whether G's update scores the batch
    D just learned on (see :meth:`train_step`).
    """

    loss_names = ("d_loss", "g_loss")
    beta_1: ClassVar[float] = 0.5
    reuse_fakes: ClassVar[bool] = True

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        return keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1)

    def compile(self, jit_compile: bool | None = None, steps_per_execution: int | None = None) -> None:  # type: ignore[override]
        self.d_optimizer = self.new_optimizer()
        super().compile(jit_compile=jit_compile, steps_per_execution=steps_per_execution)

    def optimizer_variables(self):
        return [(self.optimizer, self.generator.trainable_variables),
                (self.d_optimizer, self.discriminator.trainable_variables)]

    def named_optimizers(self):
        return {"optimizer": self.optimizer, "d_optimizer": self.d_optimizer}

    def noise(self, n) -> tf.Tensor:
        """z ~ N(0, I) from the model's seeded generator."""
        return normal((n, self.latent_dim), self.seed_generator)

    def fake_batch(self, n, training: bool = False) -> tuple[tf.Tensor, tf.Tensor | None]:
        """``n`` generated samples and their labels (None for unconditional models), from fresh noise."""
        return self.generator(self.noise(n), training=training), None

    def critic(self, x, labels, training: bool = False) -> tf.Tensor:
        """D's logits for samples ``x`` (with their labels for conditional models)."""
        return self.discriminator(x, training=training)

    def d_loss(self, batch, training: bool = False, fakes=None) -> tf.Tensor:
        """-mean(log D(x) + log(1 - D(G(z)))) on logits: the cross-entropies, stable when D saturates.

        ``fakes`` (samples, labels) are drawn fresh when not given.
        """
        real, labels = batch
        fake, fake_labels = fakes if fakes is not None else self.fake_batch(tf.shape(real)[0], training)
        real_logits = self.critic(real, labels, training)
        fake_logits = self.critic(fake, fake_labels, training)
        return bce_with_logits(tf.ones_like(real_logits), real_logits) + \
            bce_with_logits(tf.zeros_like(fake_logits), fake_logits)

    def g_loss(self, batch, training: bool = False, fakes=None) -> tf.Tensor:
        """-mean(log D(G(z))) on logits (the non-saturating generator loss); fresh fakes when none are given."""
        fake, fake_labels = fakes if fakes is not None else self.fake_batch(tf.shape(batch[0])[0], training)
        fake_logits = self.critic(fake, fake_labels, training)
        return bce_with_logits(tf.ones_like(fake_logits), fake_logits)

    def d_step(self, batch, fakes=None) -> tf.Tensor:
        """One discriminator update; applies gradients to D's variables only."""
        with tf.GradientTape() as tape:
            loss = self.d_loss(batch, True, fakes)
        apply_gradients(tape, loss, self.discriminator.trainable_variables, self.d_optimizer)
        return loss

    def g_step(self, batch) -> tf.Tensor:
        """One generator update on fresh fakes; applies gradients to G's variables only."""
        with tf.GradientTape() as tape:
            loss = self.g_loss(batch, True)
        apply_gradients(tape, loss, self.generator.trainable_variables, self.optimizer)
        return loss

    def train_step(self, data):
        """D's update, then G's, each on its own tape and optimizer.

        With ``reuse_fakes`` one generated batch serves both: D learns on it
        (gradient stopped), then G's loss is D's updated verdict on the same
        batch, as PyTorch's ``fake.detach()`` pattern does, saving a generator
        forward pass. Otherwise G's update draws fresh noise.
        """
        if not self.reuse_fakes:
            losses = {"d_loss": self.d_step(data), "g_loss": self.g_step(data)}
            return self.update_trackers(losses, data)
        with tf.GradientTape() as tape:
            fake, fake_labels = self.fake_batch(tf.shape(data[0])[0], training=True)
            with tape.stop_recording():
                d_loss = self.d_step(data, (tf.stop_gradient(fake), fake_labels))
            g_loss = self.g_loss(data, True, (fake, fake_labels))
        apply_gradients(tape, g_loss, self.generator.trainable_variables, self.optimizer)
        return self.update_trackers({"d_loss": d_loss, "g_loss": g_loss}, data)

    def compute_losses(self, batch, training: bool = False) -> dict[str, tf.Tensor]:
        return {"d_loss": self.d_loss(batch, training), "g_loss": self.g_loss(batch, training)}
