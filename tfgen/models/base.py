"""The shared base of every tfgen model (the model contract).

A model is one file in ``tfgen/models/`` whose class, decorated with
``@register``, subclasses :class:`GenerativeModel` (or one of its families
here). The contract, declared once and queried one way:

- options: the typed keyword arguments of the constructor (``tfgen.options``);
  ``get_config`` returns all of them;
- capabilities: ``capabilities``, asked with :meth:`GenerativeModel.has`;
- training: :meth:`GenerativeModel.updates` declares each network with its
  optimizer and loss, and the base builds the optimizers, their checkpoint
  names and the one generic ``train_step`` from it;
- outputs: ``sample`` (images in [0, 1]), ``preview`` (the per-epoch picture)
  and ``export_functions`` (the SavedModel's signatures).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar, Literal, Sequence, get_args

import keras
import numpy as np
import tensorflow as tf

from tfgen import images, options
from tfgen.data.convert import InputRange
from tfgen.distribute import in_multi_worker_mode
from tfgen.errors import ConfigError
from tfgen.losses import denoising_loss, diffusion_schedule, minimax_discriminator_loss, non_saturating_generator_loss

# A conditional model's per-epoch grid has a row per class, for at most this many classes (the first ones).
MAX_CLASS_ROWS = 20

LABEL_SPEC = tf.TensorSpec([None], tf.int32, name="label")

Capability = Literal["conditional", "encoder", "likelihood", "points", "steps"]
CAPABILITIES: tuple[str, ...] = get_args(Capability)

# The likelihood p(x | z) of a model that has one (``--option likelihood``):
# ``binarized``: Bernoulli on statically binarized pixels (the cvae tutorial's, for grey digits);
# ``bernoulli``: Bernoulli cross-entropy on the pixels in [0, 1] as they are (colour, or grey that
# binarizing would destroy); ``auto``: binarized for grey images, bernoulli for colour.
Likelihood = Literal["auto", "binarized", "bernoulli"]


@dataclasses.dataclass(frozen=True)
class Update:
    """One network (or group of networks) trained by one loss with its own optimizer, declared once.

    Attributes:
        name: the optimizer's stable name in checkpoints; ``optimizer`` is the
            one Keras knows (every model has it).
        loss: the key of the scalar this update minimises.
        compute: ``compute(batch, training, **shared)`` -> named scalars,
            ``loss`` among them (``shared``: :meth:`GenerativeModel.shared_draws`).
        optimizer: makes the optimizer.
        networks: the model attributes holding the layers it trains; empty: every trainable variable.
        repeat: updates per training step, each on its own share of the batch
            (a Wasserstein critic's steps per generator step).
    """

    name: str
    loss: str
    compute: Callable[..., dict[str, tf.Tensor]]
    optimizer: Callable[[], keras.optimizers.Optimizer]
    networks: tuple[str, ...] = ()
    repeat: int = 1


class GenerativeModel(keras.Model):
    """Base class: declared updates, one generic train step, test step, metric trackers, preview.

    A subclass builds its networks in ``__init__`` (every option a typed
    keyword argument stored under its own name), defines the objective in
    :meth:`compute_losses` (a dict of named scalars whose ``"loss"`` is
    minimised) or, with several networks, declares them in :meth:`updates`,
    and defines :meth:`sample`.

    Class attributes:
        registry_name: the CLI name, set by ``@register`` (the module's name).
        capabilities: what the model can do beyond sampling (see :meth:`has`).
        loss_names: the scalars the losses return, in display order.
        train_defaults: the model's default ``epochs`` and ``batch_size`` (and ``dataset``).
        input_range: the value range the model takes images in (``tfgen.data.InputRange``); an encoder-decoder's
            likelihood is scored in its ``likelihood_range``, of the same type.
        grid_shape: rows and columns of the per-epoch sample grid.
        counterpart: the model this one is judged against (``explore compare``'s default), if any.
        default_steps_per_execution: training steps per call into the compiled
            loop under ``fit()``, chosen per model from ``bench/throughput.py --spe-sweep``.
        default_jit_compile: whether ``train.py`` compiles with XLA unless told
            otherwise (on where ``bench/throughput.py`` measured it faster).
        size_multiple, min_size: the image heights and widths the networks
            take: multiples of ``size_multiple`` from ``min_size`` (strided
            convolutions halve the size; see :meth:`check_data`).

    Constructor arguments every model takes besides its options: ``latent_dim``,
    ``learning_rate``, ``seed`` (the run's settings) and ``image_shape`` (H, W, C)
    and ``num_classes`` (found in the data; 28x28x1 and 10 by default).
    """

    registry_name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset()
    loss_names: ClassVar[tuple[str, ...]] = ("loss",)
    train_defaults: ClassVar[dict[str, Any]] = {"epochs": 10, "batch_size": 64}
    input_range: ClassVar[InputRange] = "unit"
    grid_shape: ClassVar[tuple[int, int]] = (4, 4)
    counterpart: ClassVar[str | None] = None
    default_steps_per_execution: ClassVar[int] = 1
    default_jit_compile: ClassVar[bool] = False
    size_multiple: ClassVar[int] = 1
    min_size: ClassVar[int] = 1

    def __init__(self, latent_dim: int, learning_rate: float, seed: int | None = None,
                 image_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10, **kwargs: Any):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.learning_rate = learning_rate
        self.seed = seed
        self.image_shape = tuple(int(d) for d in image_shape)
        self.num_classes = num_classes
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}

    @classmethod
    def has(cls, capability: Capability) -> bool:
        """Whether the model has ``capability``:

        - ``conditional``: it takes class labels (``sample``, ``encode`` and the exports need them);
        - ``encoder``: ``encode``, ``latent_mean``, ``decode_latent``, ``reconstruct``, ``encode_outputs``;
        - ``likelihood``: a Gaussian posterior from ``encode`` and ``decoder_logits`` (an ELBO);
        - ``points``: it generates 2-D points, not images;
        - ``steps``: it samples in a number of steps (its ``steps``; ``sample(..., steps=N)``) and shows the way
          there (``trajectory``).
        """
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}; choose one of: {', '.join(CAPABILITIES)}")
        return capability in cls.capabilities

    @classmethod
    def check_data(cls, image_shape: tuple[int, ...], num_classes: int, options: dict[str, Any] | None = None) -> None:
        """Refuses data the model cannot train on: a size its strides do not divide (with ``options``, the
        model's options, where they decide the sizes: :meth:`sizes`), or unlabelled data for a conditional model.

        Raises:
            ConfigError: naming the size and the nearest sizes the model takes, or the missing labels.
        """
        name = cls.registry_name or cls.__name__
        if cls.has("conditional") and num_classes < 1:
            raise ConfigError(f"model {name!r} is conditional and needs labelled data (class folders, or y_train in "
                              "an npz); this data has no labels")
        m, low = cls.sizes(**(options or {}))
        for side, label in zip(image_shape[:2], ("height", "width")):
            if side % m or side < low:
                below = (side // m) * m
                nearest = [s for s in (below, below + m) if s >= low] or [max(low, m * -(-low // m))]
                raise ConfigError(f"model {name!r} cannot take images of {label} {side}: it takes sizes that are "
                                  f"multiples of {m} from {low}; the nearest: {' or '.join(map(str, nearest))} "
                                  "(pass --image-size)")

    @classmethod
    def sizes(cls, **options: Any) -> tuple[int, int]:
        """The image heights and widths the networks take with ``options``: multiples of the first from the
        second (``size_multiple`` and ``min_size`` unless the options decide them)."""
        return cls.size_multiple, cls.min_size

    @property
    def noise_shape(self) -> tuple[int, ...]:
        """The shape of one sample's noise, what :meth:`sample` takes per image: a ``latent_dim`` code by default."""
        return (self.latent_dim,)

    def draw_noise(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of the model's noise, N(0, I) of shape (n, *noise_shape), float32, from ``rng``: the one
        way every caller (``Run.sample``, the evaluation, the preview, ``explore``) draws what ``sample`` takes."""
        return rng.standard_normal((n, *self.noise_shape)).astype(np.float32)

    @property
    def pixels(self) -> int:
        """H * W * C of one image."""
        return int(np.prod(self.image_shape))

    def one_hot(self, labels: tf.Tensor) -> tf.Tensor:
        """:func:`one_hot` over the model's classes."""
        return one_hot(labels, self.num_classes)

    def random_labels(self, n) -> tf.Tensor:
        """:func:`random_labels` over the model's classes, from its seeded generator."""
        return random_labels(n, self.seed_generator, self.num_classes)

    # ----- the objective and sampling: subclasses define these -----

    def compute_losses(self, batch: tuple[tf.Tensor, tf.Tensor], training: bool = False) -> dict[str, tf.Tensor]:
        """Every named scalar loss of one batch ``(images, labels)``, on fresh random draws.

        A single-network model defines its objective here (``"loss"`` is
        minimised); by default it is every declared update's terms in turn.
        """
        return {name: value for update in self.updates() for name, value in update.compute(batch, training).items()}

    def sample(self, z: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
        """Images in [0, 1], shape (N, H, W, C), fully determined by the inputs."""
        raise NotImplementedError

    def export_functions(self) -> dict[str, tuple[Callable, list[tf.TensorSpec]]]:
        """Name -> (function returning a dict of named tensors, input signature) to export."""
        z_spec = tf.TensorSpec([None, *self.noise_shape], tf.float32, name="z")
        if self.has("conditional"):
            return {"generate": (lambda z, label: {"images": self.sample(z, checked_labels(label, self.num_classes))},
                                 [z_spec, LABEL_SPEC])}
        return {"generate": (lambda z: {"images": self.sample(z)}, [z_spec])}

    # ----- the per-epoch picture -----

    def preview_inputs(self, seed: int, real: np.ndarray) -> dict[str, Any]:
        """The fixed inputs of every epoch's :meth:`preview`, drawn once from ``seed`` (``real``: test data).

        Conditional models get one row per class (the first
        :data:`MAX_CLASS_ROWS` classes when there are more), each row decoding
        the same fixed codes, so a column shows one style across the classes.
        """
        rows, cols = self.grid_shape
        rng = np.random.default_rng(seed)
        if self.has("conditional"):
            rows = min(self.num_classes, MAX_CLASS_ROWS)
            z = np.tile(self.draw_noise(cols, rng), (rows, *[1] * len(self.noise_shape)))
            return {"z": z, "labels": np.repeat(np.arange(rows, dtype=np.int32), cols)}
        return {"z": self.draw_noise(rows * cols, rng)}

    def preview(self, inputs: dict[str, Any], epoch: int, row_labels: Sequence[str] | None = None) -> np.ndarray:
        """The picture of the model after ``epoch`` (an RGB or grey uint8 array): its samples, tiled
        (``row_labels``: a conditional model's class names, written left of its rows)."""
        cols = self.grid_shape[1]
        samples = np.asarray(self.sample(**inputs))
        rows = -(-len(samples) // cols)
        return images.tile(samples, rows, cols, row_labels=None if row_labels is None else list(row_labels)[:rows])

    # ----- training: declared updates, one generic step -----

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        """The optimizer of each update unless it declares another: Adam at the model's learning rate."""
        return keras.optimizers.Adam(self.learning_rate)

    def updates(self) -> tuple[Update, ...]:
        """The networks trained each step, in order, each with its loss and optimizer.

        The default is one update of every trainable variable minimising
        ``compute_losses``'s ``"loss"``.
        """
        return (Update("optimizer", "loss", self.compute_losses, self.make_optimizer),)

    def shared_draws(self, batch, training: bool = False) -> dict[str, Any]:
        """Random draws every update of one step shares (passed to each ``compute`` as keywords); none by default."""
        return {}

    def compile(self, jit_compile: bool | None = None, steps_per_execution: int | None = None) -> None:  # type: ignore[override]
        """Compiles with one optimizer per declared update, each built for its own variables.

        ``jit_compile`` and ``steps_per_execution`` default to the model's own
        measured choices (``default_jit_compile``, ``default_steps_per_execution``).
        """
        updates = self.updates()
        self.update_optimizers = {update.name: self.new_optimizer(update.optimizer) for update in updates}
        super().compile(optimizer=self.update_optimizers["optimizer"],
                        jit_compile=self.default_jit_compile if jit_compile is None else jit_compile,
                        steps_per_execution=steps_per_execution or self.default_steps_per_execution)
        for update in updates:
            self.update_optimizers[update.name].build(self.variables_of(update))

    def new_optimizer(self, make: Callable[[], keras.optimizers.Optimizer]) -> keras.optimizers.Optimizer:
        """``make()``, with dynamic loss scaling when the model computes in float16."""
        optimizer = make()
        if self.dtype_policy.name == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def variables_of(self, update: Update) -> list:
        """The trainable variables ``update`` changes."""
        if not update.networks:
            return self.trainable_variables
        return [v for name in update.networks for v in getattr(self, name).trainable_variables]

    def named_optimizers(self) -> dict[str, keras.optimizers.Optimizer]:
        """Every optimizer by its stable name, for checkpoints (after ``compile``)."""
        return dict(self.update_optimizers)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def train_step(self, data):
        """Every declared update in order, each on its own variables with its own optimizer.

        One persistent tape records the step, so an update may differentiate
        through the shared draws (a GAN's generator through the fakes its
        discriminator just learned on); each gradient is taken with recording
        paused. An update with ``repeat`` N runs N times, each on its own share
        of the batch, and logs the mean of its N losses.
        """
        logs = {}
        with tf.GradientTape(persistent=True) as tape:
            shared = self.shared_draws(data, training=True)
            for update in self.updates():
                variables, optimizer, results = self.variables_of(update), self.update_optimizers[update.name], []
                for part in batch_shares(data, update.repeat):
                    losses = update.compute(part, True, **shared)
                    with tape.stop_recording():
                        apply_gradients(tape, losses[update.loss], variables, optimizer)
                    results.append(losses)
                logs.update(mean_of(results))
        return self.update_trackers(logs, data)

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
        """Every constructor argument: the run's settings, the data's shape and classes, and each option."""
        return {"latent_dim": self.latent_dim, "learning_rate": self.learning_rate, "seed": self.seed,
                "image_shape": self.image_shape, "num_classes": self.num_classes,
                **{name: getattr(self, name) for name in options.of(type(self))}}


def mean_of(results: list[dict[str, tf.Tensor]]) -> dict[str, tf.Tensor]:
    """Each named loss averaged over the repeats of one update (one repeat: as it is)."""
    if len(results) == 1:
        return results[0]
    return {name: tf.add_n([r[name] for r in results]) / len(results) for name in results[0]}


def batch_shares(data, n: int) -> list:
    """``data`` itself for ``n`` = 1, else ``n`` disjoint shares of its examples, ``len // n`` each.

    Share i holds examples i, i + n, i + 2n, ...: strided, so that on N
    replicas whose own batches split evenly the shares hold the same examples
    as on one device. The ``len % n`` examples left over sit this step out; a
    batch of fewer than ``n`` examples gives shares of one example each, in turn.
    """
    if n == 1:
        return [data]
    size = tf.shape(data[0])[0]
    each = tf.maximum(size // n, 1)
    return [tuple(tf.gather(t, (tf.range(each) * n + i) % size) for t in data) for i in range(n)]


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


def uniform(shape, seed_generator: keras.random.SeedGenerator) -> tf.Tensor:
    """U[0, 1) noise of ``shape`` (examples first), the same per example however the batch is split."""
    return _replica_share(lambda s: keras.random.uniform(s, seed=seed_generator), shape)


def random_labels(n, seed_generator: keras.random.SeedGenerator, num_classes: int) -> tf.Tensor:
    """``n`` labels drawn uniformly from 0..num_classes-1 (int32), the same per example however the batch is split."""
    return _replica_share(lambda s: keras.random.randint(s, 0, num_classes, seed=seed_generator, dtype="int32"),
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


def checked_labels(labels: tf.Tensor, num_classes: int) -> tf.Tensor:
    """``labels`` once they are checked to be classes 0..num_classes-1 (an exported function's ``label`` input)."""
    labels = tf.convert_to_tensor(labels)
    ok = tf.reduce_all(tf.logical_and(labels >= 0, labels < num_classes))
    with tf.control_dependencies([tf.debugging.Assert(ok, [f"label must be a class 0..{num_classes - 1}; got",
                                                           labels], summarize=20)]):
        return tf.identity(labels)


def leaky(slope: float = 0.2) -> keras.layers.Layer:
    """LeakyReLU with ``slope`` (the references' 0.2 by default), the activation the models' networks share."""
    return keras.layers.LeakyReLU(negative_slope=slope)


def one_hot(labels: tf.Tensor, num_classes: int) -> tf.Tensor:
    """Integer class labels -> one-hot float32; float (N, num_classes) rows pass through.

    Passing mixed rows (for example a blend of two one-hots) lets a
    conditional model decode between two classes.
    """
    labels = tf.convert_to_tensor(labels)
    if labels.dtype.is_floating:
        return tf.cast(labels, tf.float32)
    return tf.one_hot(tf.cast(labels, tf.int32), num_classes)


class EncoderDecoder(GenerativeModel):
    """A model with an encoder and a decoder of pixel probabilities.

    Subclasses define :meth:`encode` (``(mean, logvar)`` of q(z|x) for the VAEs,
    the code itself for a plain autoencoder), :meth:`sample` (the decoder) and
    the objective. Exported: ``generate`` and ``encode``.
    """

    capabilities = frozenset({"encoder", "likelihood"})

    def __init__(self, latent_dim: int, learning_rate: float, seed: int | None = None,
                 likelihood: Likelihood = "auto", **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, **kwargs)
        self.likelihood = likelihood

    @property
    def likelihood_range(self) -> InputRange:
        """The pixels p(x | z) is a likelihood of (``tfgen.data.to_float``): ``binarized``, or ``unit`` as they are.

        ``auto`` (the ``likelihood`` option's default) is binarized for grey images, as they are for colour.
        """
        choice = self.likelihood
        if choice == "auto":
            choice = "binarized" if self.image_shape[-1] == 1 else "bernoulli"
        return "binarized" if choice == "binarized" else "unit"

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
        image_spec = tf.TensorSpec([None, *self.image_shape], tf.float32, name="images")
        if self.has("conditional"):
            encode = (lambda images, label: self.encode_outputs(images, checked_labels(label, self.num_classes)),
                      [image_spec, LABEL_SPEC])
        else:
            encode = (lambda images: self.encode_outputs(images), [image_spec])
        return {**super().export_functions(), "encode": encode}


class AdversarialModel(GenerativeModel):
    """A generator and a discriminator (or critic), each with its own optimizer.

    Subclasses set ``self.generator`` (images in [-1, 1] out, or points) and
    ``self.discriminator`` (logits out); conditional models override
    :meth:`generate_images` and :meth:`critic` to bring labels in. The
    discriminator's update runs first, ``critic_steps`` times per step, then
    the generator's; ``optimizer`` (the one Keras knows) is
    the generator's, ``d_optimizer`` the discriminator's.

    Args:
        beta_1, beta_2: Adam's moment decays, for both networks.
        reuse_fakes: one generated batch serves both updates: D learns on it
            (gradient stopped), then G's loss is D's updated verdict on the same
            batch, as PyTorch's ``fake.detach()`` pattern does, saving a
            generator forward pass. Otherwise G's update draws fresh noise.
        critic_steps: discriminator updates per generator update.
    """

    loss_names = ("d_loss", "g_loss")

    def __init__(self, latent_dim: int, learning_rate: float, seed: int | None = None, *, beta_1: float = 0.9,
                 beta_2: float = 0.999, reuse_fakes: bool = True, critic_steps: int = 1, **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, **kwargs)
        if reuse_fakes and critic_steps > 1:
            raise ValueError("reuse_fakes needs critic_steps 1: one batch of fakes serves one update of each network")
        self.beta_1, self.beta_2 = beta_1, beta_2
        self.reuse_fakes, self.critic_steps = reuse_fakes, critic_steps

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        return keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1, beta_2=self.beta_2)

    def updates(self) -> tuple[Update, ...]:
        return (Update("d_optimizer", "d_loss", self.d_losses, self.make_optimizer, ("discriminator",),
                       self.critic_steps),
                Update("optimizer", "g_loss", self.g_losses, self.make_optimizer, ("generator",)))

    def shared_draws(self, batch, training: bool = False) -> dict[str, Any]:
        if not self.reuse_fakes:
            return {}
        return {"fakes": self.fake_batch(tf.shape(batch[0])[0], training)}

    def noise(self, n) -> tf.Tensor:
        """z ~ N(0, I) from the model's seeded generator."""
        return normal((n, self.latent_dim), self.seed_generator)

    def generate_images(self, z, labels=None, training: bool = False) -> tf.Tensor:
        """G's samples from the codes ``z`` (for the classes ``labels``, conditional models)."""
        return self.generator(z, training=training)

    def sample(self, z, labels=None):
        """G's images, from [-1, 1] to [0, 1]."""
        return (self.generate_images(z, labels) + 1.0) / 2.0

    def fake_batch(self, n, training: bool = False) -> tuple[tf.Tensor, tf.Tensor | None]:
        """``n`` generated samples and their labels (drawn uniformly; None for unconditional models), from fresh
        noise."""
        labels = self.random_labels(n) if self.has("conditional") else None
        return self.generate_images(self.noise(n), labels, training=training), labels

    def critic(self, x, labels, training: bool = False) -> tf.Tensor:
        """D's logits for samples ``x`` (with their labels for conditional models)."""
        return self.discriminator(x, training=training)

    def d_losses(self, batch, training: bool = False, fakes=None) -> dict[str, tf.Tensor]:
        """D's minimax loss on real samples and ``fakes`` (samples, labels; drawn fresh when not given).

        D does not train G: the gradient through the fakes is stopped.
        """
        real, labels = batch
        fake, fake_labels = fakes if fakes is not None else self.fake_batch(tf.shape(real)[0], training)
        real_logits = self.critic(real, labels, training)
        fake_logits = self.critic(tf.stop_gradient(fake), fake_labels, training)
        return {"d_loss": minimax_discriminator_loss(real_logits, fake_logits)}

    def g_losses(self, batch, training: bool = False, fakes=None) -> dict[str, tf.Tensor]:
        """G's non-saturating loss on ``fakes`` (drawn fresh when not given)."""
        fake, fake_labels = fakes if fakes is not None else self.fake_batch(tf.shape(batch[0])[0], training)
        return {"g_loss": non_saturating_generator_loss(self.critic(fake, fake_labels, training))}


class DiffusionModel(GenerativeModel):
    """Denoising diffusion in continuous time: a network predicting the noise (or v) of noised images, an
    exponential moving average of its weights that samples, and DDIM sampling in one compiled loop.

    Training (Ho et al. 2020, in continuous time as Kingma et al. 2021): each
    image x_0 in [-1, 1] is noised to x_t = signal(t) x_0 + noise(t) eps at a
    time t ~ U[0, 1) of the cosine schedule (``tfgen.losses.diffusion_schedule``),
    and the network predicts from (x_t, t) the noise eps (``target`` ``eps``) or
    v = signal eps - noise x_0 (``v``, Salimans and Ho 2022) with the mean
    absolute or squared error (``loss``); AdamW. A conditional model trains
    with its label dropped (the "no label" class ``num_classes``) for a share
    ``uncond`` of the examples, so that one network also predicts without it.

    Sampling (Song et al. 2021, DDIM): from the noise ``z`` at t = 1, ``steps``
    updates on an even grid of times down to 0, each predicting x_0 (clipped to
    [-1, 1]) and stepping to the next time; ``eta`` 0 is deterministic, 1 is
    DDPM-like ancestral sampling, its fresh noise drawn statelessly from the
    model's seed and the step, so the same inputs give the same images. A
    conditional model mixes its predictions with and without the label,
    (1 + guidance) cond - guidance uncond (classifier-free guidance, Ho and
    Salimans 2022). ``sample`` returns the last x_0 prediction in [0, 1].

    A subclass builds its network with :meth:`set_network`, given a function
    ``build(name)`` returning a fresh Keras model (x_t, t[, label]) -> prediction.
    ``latent_dim`` is not used: the noise has the images' shape (``noise_shape``).
    """

    capabilities = frozenset({"steps"})
    input_range = "tanh"
    grid_shape = (6, 6)

    def __init__(self, latent_dim: int, learning_rate: float, seed: int | None = None, *, target: str = "v",
                 loss: str = "mse", ema: float = 0.999, weight_decay: float = 1e-4, steps: int = 20,
                 eta: float = 0.0, uncond: float = 0.0, guidance: float = 0.0, **kwargs: Any):
        super().__init__(latent_dim=latent_dim, learning_rate=learning_rate, seed=seed, **kwargs)
        self.target, self.loss, self.ema, self.weight_decay = target, loss, ema, weight_decay
        self.steps, self.eta, self.uncond, self.guidance = steps, eta, uncond, guidance
        self.sampler = tf.function(self.ddim, reduce_retracing=True)

    def set_network(self, build: Callable[[str], keras.Model]) -> None:
        """``self.network`` (trained) and ``self.ema_network`` (its moving average, not trained by the optimizer,
        starting as a copy), both from ``build(name)``."""
        self.network = build("network")
        self.ema_network = build("ema_network")
        self.ema_network.trainable = False
        for average, weight in zip(self.ema_network.weights, self.network.weights):
            average.assign(weight)
        self.built = True

    @property
    def noise_shape(self) -> tuple[int, ...]:
        return self.image_shape

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        return keras.optimizers.AdamW(self.learning_rate, weight_decay=self.weight_decay)

    def prediction_of(self, network: keras.Model, x_t, t, labels=None, training: bool = False) -> tf.Tensor:
        """``network``'s prediction at (x_t, t), with its labels when the model is conditional."""
        return network([x_t, t] if labels is None else [x_t, t, labels], training=training)

    def compute_losses(self, batch, training: bool = False) -> dict[str, tf.Tensor]:
        """The denoising loss of one batch at fresh times and noise (and, conditional, fresh label drops)."""
        x0, labels = batch
        n = tf.shape(x0)[0]
        t = uniform((n,), self.seed_generator)
        eps = normal(tf.shape(x0), self.seed_generator, dtype=x0.dtype)
        if self.has("conditional"):
            dropped = uniform((n,), self.seed_generator) < self.uncond
            labels = tf.where(dropped, self.num_classes, tf.cast(labels, tf.int32))
        else:
            labels = None
        return {"loss": denoising_loss(*self.denoising(self.network, x0, t, eps, labels, training), self.loss)}

    def denoising(self, network: keras.Model, x0, t, eps, labels=None, training: bool = False):
        """``network``'s prediction at x_t = signal(t) x_0 + noise(t) eps (the images ``x0`` noised to the times
        ``t``), and what it should predict (``target``): the noise, or v."""
        signal, noise = (tf.cast(r[:, None, None, None], x0.dtype) for r in diffusion_schedule(t))
        prediction = self.prediction_of(network, signal * x0 + noise * eps, t, labels, training)
        return prediction, (eps if self.target == "eps" else signal * eps - noise * x0)

    def train_step(self, data):
        """The optimizer's step, then the moving average's: average <- decay average + (1 - decay) weights.

        The decay warms up as TensorFlow's ``ExponentialMovingAverage(num_updates=...)`` does: after n steps it
        is min(``ema``, (1 + n) / (10 + n)), so that the early averages follow the weights instead of holding
        on to the untrained network for the first thousands of steps (0.999 forgets it after about 5,000).
        """
        logs = super().train_step(data)
        n = tf.cast(self.optimizer.iterations, tf.float32)
        decay = tf.minimum(self.ema, (1.0 + n) / (10.0 + n))
        for average, weight in zip(self.ema_network.weights, self.network.weights):
            average.assign(decay * average + (1.0 - decay) * weight)
        return logs

    def guided(self, x_t, t, labels=None, guidance=0.0) -> tf.Tensor:
        """The moving average's prediction at (x_t, t); conditional: mixed with its prediction without the label
        by ``guidance``."""
        if not self.has("conditional"):
            return self.prediction_of(self.ema_network, x_t, t)
        w = tf.cast(guidance, tf.float32)
        n = tf.shape(x_t)[0]
        both = self.prediction_of(self.ema_network, tf.concat([x_t, x_t], 0), tf.concat([t, t], 0),
                                  tf.concat([tf.cast(labels, tf.int32), tf.fill([n], self.num_classes)], 0))
        cond, uncond = tf.cast(both[:n], tf.float32), tf.cast(both[n:], tf.float32)
        return (1.0 + w) * cond - w * uncond

    def ddim(self, z, labels, steps, guidance, trajectory: int = 0):
        """DDIM from the noise ``z`` (the images at t = 1) in ``steps`` steps (a tensor: one trace serves every
        number): the last prediction of x_0, in [-1, 1]; with ``trajectory`` (at most ``steps``), also the x_0
        predicted at the last step of each of ``trajectory`` equal shares of the steps
        (``tfgen.latent.trajectory_steps``), stacked on a new first axis."""
        x = tf.cast(z, tf.float32)
        n, total = tf.shape(x)[0], tf.cast(steps, tf.float32)
        x0 = tf.zeros_like(x)
        kept = tf.TensorArray(tf.float32, size=max(trajectory, 1))
        for i in tf.range(steps):
            t, t_next = 1.0 - tf.cast(i, tf.float32) / total, 1.0 - tf.cast(i + 1, tf.float32) / total
            (signal, noise), (signal_next, noise_next) = diffusion_schedule(t), diffusion_schedule(t_next)
            prediction = self.guided(x, tf.fill([n], t), labels, guidance)
            x0 = (x - noise * prediction) / signal if self.target == "eps" else signal * x - noise * prediction
            x0 = tf.clip_by_value(x0, -1.0, 1.0)
            eps = (x - signal * x0) / noise  # the noise that the clipped x_0 implies
            sigma = self.eta * noise_next / noise * tf.sqrt(tf.maximum(1.0 - (signal / signal_next) ** 2, 0.0))
            fresh = tf.random.stateless_normal(tf.shape(x), seed=tf.stack([tf.cast(self.seed or 0, tf.int32), i]))
            x = signal_next * x0 + tf.sqrt(tf.maximum(noise_next ** 2 - sigma ** 2, 0.0)) * eps + sigma * fresh
            if trajectory and (i + 1) * trajectory // steps > i * trajectory // steps:
                kept = kept.write((i + 1) * trajectory // steps - 1, x0)
        return (x0, kept.stack()) if trajectory else x0

    def sample(self, z, labels=None, steps=None, guidance=None) -> tf.Tensor:
        """Images in [0, 1] from the noise ``z`` (N, H, W, C) by DDIM in ``steps`` steps, a conditional model
        guided by ``guidance`` (both by default the model's own)."""
        return (self.sampler(z, labels, *self.sampling(steps, guidance)) + 1.0) / 2.0

    def trajectory(self, z, labels=None, points: int = 6, steps: int | None = None) -> tf.Tensor:
        """The x_0 predicted (in [0, 1]) at ``points`` evenly spaced steps of one DDIM run from ``z``, the last
        the sample itself: (points, N, H, W, C); at most one point per step."""
        steps = self.steps if steps is None else int(steps)
        _, kept = self.sampler(z, labels, *self.sampling(steps, None), min(points, steps))
        return (kept + 1.0) / 2.0

    def sampling(self, steps, guidance) -> tuple[tf.Tensor, tf.Tensor]:
        """``steps`` and ``guidance`` (the model's own where None) as the sampler's tensors."""
        return (tf.convert_to_tensor(self.steps if steps is None else steps, tf.int32),
                tf.convert_to_tensor(self.guidance if guidance is None else guidance, tf.float32))

    def export_functions(self):
        z_spec = tf.TensorSpec([None, *self.noise_shape], tf.float32, name="z")
        steps_spec = tf.TensorSpec([], tf.int32, name="steps")
        if self.has("conditional"):
            guidance_spec = tf.TensorSpec([], tf.float32, name="guidance")
            return {"generate": (lambda z, steps, label, guidance: {"images": self.sample(
                z, checked_labels(label, self.num_classes), checked_steps(steps), checked_guidance(guidance))},
                [z_spec, steps_spec, LABEL_SPEC, guidance_spec])}
        return {"generate": (lambda z, steps: {"images": self.sample(z, steps=checked_steps(steps))},
                             [z_spec, steps_spec])}


def checked_steps(steps: tf.Tensor) -> tf.Tensor:
    """``steps`` once it is checked to be from 1 to :data:`options.MAX_SAMPLING_STEPS` (an exported ``generate``'s)."""
    ok = tf.logical_and(steps >= 1, steps <= options.MAX_SAMPLING_STEPS)
    with tf.control_dependencies([tf.debugging.Assert(ok, [f"steps must be from 1 to {options.MAX_SAMPLING_STEPS}; got",
                                                           steps])]):
        return tf.identity(steps)


def checked_guidance(guidance: tf.Tensor) -> tf.Tensor:
    """``guidance`` once it is checked to be finite and at least 0 (an exported ``generate``'s)."""
    ok = tf.logical_and(tf.math.is_finite(guidance), guidance >= 0)
    with tf.control_dependencies([tf.debugging.Assert(ok, ["guidance must be a finite number, at least 0; got",
                                                           guidance])]):
        return tf.identity(guidance)
