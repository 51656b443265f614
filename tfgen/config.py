"""The resolved, validated run configuration (model defaults + flags) -> config.json."""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
from pathlib import Path
from typing import Any

from tfgen import options as options_lib
from tfgen import registry, rundir
from tfgen.data import IMAGE_DATASETS, POINT_DATASETS, TEST_FRACTION, is_path
from tfgen.distribute import STRATEGIES
from tfgen.errors import ConfigError
from tfgen.precision import PRECISIONS

DATASETS = IMAGE_DATASETS + POINT_DATASETS

# Larger codes than this are a typo: the networks alone would not fit in memory.
MAX_LATENT_DIM = 10_000
MAX_IMAGE_SIDE = 4096
DEFAULT_IMAGE_SHAPE, DEFAULT_NUM_CLASSES = [28, 28, 1], 10  # what every run before --dataset PATH trained on

# Keys a resumed run may change: everything else defines the run and must match.
RESUMABLE_CHANGES = ("epochs", "data_dir", "out", "jit_compile", "eval_every", "tensorboard", "strategy")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run.

    Attributes:
        model: registered model name.
        epochs: total number of training epochs.
        batch_size: global batch size.
        latent_dim: size of the latent code.
        lr: learning rate of the model's optimizer(s).
        dataset: one of ``DATASETS``, or the absolute path of a folder of images or an .npz (``tfgen.data.load``).
        data_dir: folder holding ``mnist.npz`` etc.; None means the Keras cache/download.
        image_size: ``HxW`` every image is resized to; None keeps the data's own size.
        channels: 1 (grey) or 3 (colour) to convert the images to; None keeps the data's own.
        test_fraction: the share held out for testing from data without a test split.
        train_size: use only the first N training images; None means all.
        out: run directory.
        seed: seeds weights, shuffling, sampling and the fixed latent batch.
        jit_compile: compile the train/test steps with XLA.
        precision: ``float32`` or a Keras mixed-precision policy (see ``tfgen.precision``).
        strategy: the ``tf.distribute`` strategy (see ``tfgen.distribute``).
        eval_every: add the classifier scores of 1,000 samples to metrics.csv
            every N epochs (and after the last); None means never.
        tensorboard: also write TensorBoard logs under ``RUN_DIR/tensorboard/``.
        options: the model's own choices (``--option NAME=VALUE``): keyword
            arguments of its constructor, each of its annotated type (``tfgen.options``).
        image_shape: [H, W, C] of the images the run trains on, and
        num_classes: the number of classes their labels name (0: unlabelled), both
            found in the data when training starts (None before; a run from
            before they were recorded trained on 28x28x1 digits).
    """

    model: str
    epochs: int
    batch_size: int
    latent_dim: int
    lr: float
    dataset: str = "mnist"
    data_dir: str | None = None
    train_size: int | None = None
    out: str = ""
    seed: int = 0
    jit_compile: bool = False
    precision: str = "float32"
    strategy: str = "auto"
    eval_every: int | None = None
    tensorboard: bool = False
    options: dict = dataclasses.field(default_factory=dict)
    image_size: str | None = None
    channels: int | None = None
    test_fraction: float = TEST_FRACTION
    image_shape: list | None = None
    num_classes: int | None = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_type(f.name, getattr(self, f.name), f.type)
        cls = registry.get(self.model)  # raises with the list of valid names
        for key in ("epochs", "batch_size", "latent_dim"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{_flag(key)} must be a positive integer; got {getattr(self, key)}")
        for key in ("train_size", "eval_every"):
            if getattr(self, key) is not None and getattr(self, key) <= 0:
                raise ConfigError(f"{_flag(key)} must be a positive integer; got {getattr(self, key)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"--lr must be a positive, finite number; got {self.lr}")
        if self.dataset not in DATASETS and not is_path(self.dataset):
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose one of: {', '.join(DATASETS)}, or the path "
                              "of a folder of images or an .npz file")
        kind = "points" if cls.has("points") else "images"
        fitting = POINT_DATASETS if kind == "points" else IMAGE_DATASETS
        if self.dataset not in fitting and (kind == "points" or not is_path(self.dataset)):
            raise ConfigError(f"model {self.model!r} trains on {kind}, not on {self.dataset!r}; "
                              f"choose --dataset from: {', '.join(fitting)}"
                              + ("" if kind == "points" else ", or the path of a folder of images or an .npz file"))
        if kind == "points" and (self.image_size or self.channels):
            raise ConfigError(f"model {self.model!r} trains on 2-D points: --image-size and --channels do not apply")
        if self.image_size is not None:
            object.__setattr__(self, "image_size", "x".join(map(str, parse_image_size(self.image_size))))
        if self.channels is not None and self.channels not in (1, 3):
            raise ConfigError(f"--channels must be 1 (grey) or 3 (colour); got {self.channels}")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"--test-fraction must be between 0 and 1 (exclusive); got {self.test_fraction}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown --precision {self.precision!r}; choose one of: {', '.join(PRECISIONS)}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown --strategy {self.strategy!r}; choose one of: {', '.join(STRATEGIES)}")
        if not 0 <= self.seed < 2**32:  # what NumPy and TensorFlow take as a seed
            raise ConfigError(f"--seed must be an integer from 0 to {2**32 - 1}; got {self.seed}")
        if self.latent_dim > MAX_LATENT_DIM:
            raise ConfigError(f"--latent-dim must be at most {MAX_LATENT_DIM:,}; got {self.latent_dim:,}")
        if not self.out:
            raise ConfigError("--out must name a directory")
        for key in ("out", "data_dir"):
            try:
                (getattr(self, key) or "").encode("utf-8")
            except UnicodeEncodeError:  # undecodable bytes from the command line: config.json could not hold it
                raise ConfigError(f"{_flag(key)} must be a path of UTF-8 characters; got {getattr(self, key)!r}") \
                    from None
        object.__setattr__(self, "options", options_lib.parse(self.model, cls, self.options))  # typed
        if self.eval_every is not None and kind == "points":
            raise ConfigError(f"--eval-every adds the classifier scores of image models; {self.model} on "
                              f"{self.dataset} has no such scores (the toy GAN logs its mode metrics every epoch)")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        """Builds a config, rejecting unknown keys with the list of allowed ones."""
        allowed = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ConfigError(f"unknown configuration key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
        try:
            return cls(**values)
        except TypeError as e:  # a required key is missing
            raise ConfigError(str(e)) from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def make_model(self, precision: str | None = None):
        """A fresh, uncompiled instance of the configured model, computing in ``precision`` (default: the run's)."""
        from tfgen.precision import policy

        data = {} if self.image_shape is None else {"image_shape": tuple(self.image_shape),
                                                    "num_classes": self.num_classes}
        with policy(precision or self.precision):
            return registry.get(self.model)(latent_dim=self.latent_dim, learning_rate=self.lr, seed=self.seed,
                                            **data, **self.options)

    def data_settings(self) -> dict[str, Any]:
        """How ``tfgen.data.load`` resizes, converts and splits the run's images."""
        size = parse_image_size(self.image_size) if self.image_size else None
        return {"image_size": size, "channels": self.channels, "test_fraction": self.test_fraction}

    def with_data(self, image_shape: tuple[int, ...], num_classes: int) -> "RunConfig":
        """This configuration with the shape and classes of the data it trains on, once its model takes them.

        Raises:
            ConfigError: a size the model cannot take, no labels for a conditional
                model or ``--eval-every``, or (resuming) data that is not what the run trained on.
        """
        cls = registry.get(self.model)
        if cls.has("points"):
            return self
        shape = [int(d) for d in image_shape]
        cls.check_data(shape, num_classes)
        if self.eval_every and not num_classes:
            raise ConfigError("--eval-every scores samples with a classifier trained on the data's labels; this data "
                              "has none (put the images in class folders, or give y_train)")
        if self.image_shape is not None and [self.image_shape, self.num_classes] != [shape, num_classes]:
            raise ConfigError(f"the data now gives {'x'.join(map(str, shape))} images in {num_classes} classes, but "
                              f"the run in {self.out} trained on {'x'.join(map(str, self.image_shape))} images in "
                              f"{self.num_classes} classes; resume it with its own data")
        return dataclasses.replace(self, image_shape=shape, num_classes=num_classes)

    @property
    def run_dir(self) -> Path:
        return Path(self.out)


def parse_image_size(spec: str | int) -> tuple[int, int]:
    """``N`` or ``HxW`` -> (H, W), or ConfigError naming the flag and what it takes."""
    text = str(spec).strip().lower()
    parts = text.split("x")
    if len(parts) in (1, 2) and all(p.isdigit() for p in parts):
        sides = tuple(int(p) for p in parts)
        if all(1 <= side <= MAX_IMAGE_SIDE for side in sides):
            return (sides[0], sides[-1])
    raise ConfigError(f"--image-size takes N or HxW, each side from 1 to {MAX_IMAGE_SIDE} pixels (for example 64 or "
                      f"32x48); got {spec!r}")


def model_defaults(model: str) -> dict[str, Any]:
    """The CLI defaults a model brings: its training defaults (epochs, batch size,
    and its dataset where it is not mnist) plus its constructor's.

    ``latent_dim`` and ``lr`` come from the model constructor's keyword defaults
    (``latent_dim``, ``learning_rate``), so they are written down once.
    """
    cls = registry.get(model)
    params = inspect.signature(cls.__init__).parameters
    return {
        **cls.train_defaults,
        "latent_dim": params["latent_dim"].default,
        "lr": params["learning_rate"].default,
    }


def resolve(model: str, flags: dict[str, Any]) -> RunConfig:
    """Model defaults overridden by the flags the user gave (None = not given)."""
    values: dict[str, Any] = {"model": model, "out": os.path.join("runs", model), **model_defaults(model),
                              "jit_compile": registry.get(model).default_jit_compile}
    if os.environ.get("TFGEN_DATA_DIR"):
        values["data_dir"] = os.environ["TFGEN_DATA_DIR"]
    values.update({k: v for k, v in flags.items() if v is not None and k != "options"})
    values["options"] = {**model_options(model), **(flags.get("options") or {})}
    return RunConfig.from_dict(values)


def model_options(model: str) -> dict[str, Any]:
    """The model's options with their defaults."""
    return options_lib.defaults(registry.get(model))


def parse_options(pairs: list[str]) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` -> dict; a pair without ``=`` is refused."""
    options = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"--option takes NAME=VALUE; got {pair!r}")
        options[name.strip().replace("-", "_")] = value.strip()
    return options


def check_options(model: str, options: dict) -> dict[str, Any]:
    """``options`` converted to their types; refuses an option the model does not have, or a value its type does
    not allow, naming what is allowed."""
    return options_lib.parse(model, registry.get(model), options)


def for_training(model: str, flags: dict[str, Any], resume: bool = False) -> RunConfig:
    """The configuration a training run uses (the one place resuming merges settings).

    The model's defaults overridden by ``flags`` (None = not given); with
    ``resume`` and a run in ``flags["out"]``, that run's saved configuration
    with the changes a resumed run may make (``RESUMABLE_CHANGES``).

    Raises:
        ConfigError: a bad flag, or one that tries to change what defines the
            resumed run (model, latent size, data, ...), naming the flag and both values.
    """
    if flags.get("dataset") and is_path(flags["dataset"]):  # the run names its data wherever it is read from
        flags = {**flags, "dataset": str(Path(flags["dataset"]).expanduser().resolve())}
    if flags.get("image_size") is not None:  # compared with a resumed run's as HxW
        flags = {**flags, "image_size": "x".join(map(str, parse_image_size(flags["image_size"])))}
    config = resolve(model, flags)
    if flags.get("options"):  # typed, to compare with the resumed run's
        flags = {**flags, "options": check_options(model, flags["options"])}
    path = rundir.config_path(config.run_dir)
    if not (resume and path.is_file()):
        return config
    values = load(path).to_dict()
    if values["model"] != model:
        raise ConfigError(f"--out {config.run_dir} holds a {values['model']!r} run, not {model!r}")
    for key, value in flags.items():
        if key == "options" and value is not None:
            value = {**values["options"], **value}
        if value is None or value == values.get(key):
            continue
        if key not in RESUMABLE_CHANGES:
            raise ConfigError(
                f"--{key.replace('_', '-')} {value} differs from the resumed run's {key}={values[key]!r}; "
                f"a resumed run may change only {', '.join(RESUMABLE_CHANGES)}"
            )
        values[key] = value
    return RunConfig.from_dict(values)


def load(path: Path) -> RunConfig:
    """Reads the ``config`` section of a run's config.json."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read the run configuration {path}: {e}") from None
    return from_doc(doc, path)


def from_doc(doc: Any, path: Path) -> RunConfig:
    """The configuration in a parsed config.json (read from ``path``, named in errors)."""
    try:
        values = doc["config"]
    except (KeyError, TypeError) as e:
        raise ConfigError(f"cannot read the run configuration {path}: {e}") from None
    if isinstance(values, dict) and "image_shape" not in values and values.get("dataset") not in POINT_DATASETS:
        values = {**values, "image_shape": DEFAULT_IMAGE_SHAPE, "num_classes": DEFAULT_NUM_CLASSES}
    try:
        return RunConfig.from_dict(values)
    except ConfigError as e:  # its message names a flag; here the value came from the file
        raise ConfigError(f"the run configuration {path} holds a value that is not allowed (its message for the "
                          f"flag: {e}); it was edited or damaged") from None


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _check_type(key: str, value: Any, annotation: str) -> None:
    optional = annotation.endswith("| None")
    if value is None:
        if optional:
            return
        raise ConfigError(f"{_flag(key)} is required")
    base = annotation.split("|")[0].strip()
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "dict": isinstance(value, dict),
        "list": isinstance(value, list),
    }[base]
    if not ok:
        raise ConfigError(f"{_flag(key)} must be of type {base}; got {value!r}")
