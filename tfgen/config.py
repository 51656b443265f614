"""The resolved, validated run configuration (model defaults + settings) -> config.json.

:class:`RunConfig` has one field per run setting (``tfgen.settings.SETTINGS``,
where each is declared with its type, default, flag, help and checks), plus
the model's name and the shape and class count of the data it trains on.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
from pathlib import Path
from typing import Any

from tfgen import options as options_lib
from tfgen import registry
from tfgen.data.points import POINT_DATASETS
from tfgen.data.sources import IMAGE_DATASETS
from tfgen.errors import ConfigError
from tfgen.precision import policy
from tfgen.settings import RESUMABLE, SETTINGS, ImageSize, from_environment

DEFAULT_IMAGE_SHAPE, DEFAULT_NUM_CLASSES = [28, 28, 1], 10  # what every run before --dataset PATH trained on


class _RunConfig:
    """Everything that defines a training run: the model, every run setting, and the data's shape and classes.

    Attributes:
        model: registered model name.
        (one per setting): see ``tfgen.settings.SETTINGS``; ``image_size`` is an
            ``ImageSize`` (None: the data's own size).
        image_shape: [H, W, C] of the images the run trains on, and
        num_classes: the number of classes their labels name (0: unlabelled), both
            found in the data when training starts (None before; a run from
            before they were recorded trained on 28x28x1 digits).
    """

    def __post_init__(self) -> None:
        if not isinstance(self.model, str):
            raise ConfigError(f"--model must be of type str; got {self.model!r}")
        for setting in SETTINGS:
            object.__setattr__(self, setting.name, setting.validate(getattr(self, setting.name)))
        for key, kind in (("image_shape", list), ("num_classes", int)):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise ConfigError(f"--{key.replace('_', '-')} must be of type {kind.__name__}; got {value!r}")
        cls = registry.get(self.model)  # raises with the list of valid names
        kind = "points" if cls.has("points") else "images"
        fitting = POINT_DATASETS if kind == "points" else IMAGE_DATASETS
        if self.dataset not in fitting and (kind == "points" or not os.path.isabs(self.dataset)):
            raise ConfigError(f"model {self.model!r} trains on {kind}, not on {self.dataset!r}; "
                              f"choose --dataset from: {', '.join(fitting)}"
                              + ("" if kind == "points" else ", or the path of a folder of images or an .npz file"))
        if kind == "points" and (self.image_size or self.channels):
            raise ConfigError(f"model {self.model!r} trains on 2-D points: --image-size and --channels do not apply")
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
        """The configuration as config.json holds it (``image_size`` as ``HxW``)."""
        values = dataclasses.asdict(self)
        if self.image_size is not None:
            values["image_size"] = str(self.image_size)
        return values

    def make_model(self, precision: str | None = None):
        """A fresh, uncompiled instance of the configured model, computing in ``precision`` (default: the run's)."""
        data = {} if self.image_shape is None else {"image_shape": tuple(self.image_shape),
                                                    "num_classes": self.num_classes}
        with policy(precision or self.precision):
            return registry.get(self.model)(latent_dim=self.latent_dim, learning_rate=self.lr, seed=self.seed,
                                            **data, **self.options)

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
        cls.check_data(shape, num_classes, self.options)
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


RunConfig = dataclasses.make_dataclass(
    "RunConfig",
    [("model", str), *(setting.field() for setting in SETTINGS),
     ("image_shape", list | None, dataclasses.field(default=None)),
     ("num_classes", int | None, dataclasses.field(default=None))],
    bases=(_RunConfig,), frozen=True, namespace={"__module__": __name__, "__doc__": _RunConfig.__doc__})


def model_defaults(model: str) -> dict[str, Any]:
    """The defaults a model brings: its training defaults (epochs, batch size,
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
    """Model defaults overridden by the settings the user gave (None = not given)."""
    values: dict[str, Any] = {"model": model, "out": os.path.join("runs", model), **model_defaults(model),
                              "jit_compile": registry.get(model).default_jit_compile, **from_environment()}
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


def resumed(config: RunConfig, flags: dict[str, Any], saved: RunConfig) -> RunConfig:
    """The configuration a resumed run uses (the one place resuming merges settings): the ``saved`` configuration
    of the run with the changes a resumed run may make (``tfgen.settings.RESUMABLE``) among the ``flags`` given
    (None = not given), which resolved to ``config``.

    Raises:
        ConfigError: a setting that tries to change what defines the resumed
            run (model, latent size, data, ...), naming the flag and both values.
    """
    if saved.model != config.model:
        raise ConfigError(f"--out {config.run_dir} holds a {saved.model!r} run, not {config.model!r}")
    values = saved.to_dict()
    for key in (s.name for s in SETTINGS if flags.get(s.name) is not None):
        value = getattr(config, key)
        if key == "options":
            value = {**values["options"], **check_options(config.model, flags["options"])}
        elif isinstance(value, ImageSize):
            value = str(value)  # as config.json holds it
        if value == values[key]:
            continue
        if key not in RESUMABLE:
            raise ConfigError(f"--{key.replace('_', '-')} {value} differs from the resumed run's {key}="
                              f"{values[key]!r}; a resumed run may change only {', '.join(RESUMABLE)}")
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
