"""A model's options: the typed keyword arguments of its constructor, parsed and checked one way.

A model's options are the keyword parameters of its class's own ``__init__``
other than the run's settings (``latent_dim``, ``learning_rate``, ``seed``).
Each is annotated ``int``, ``float``, ``bool``, ``Literal[...]`` of choices or
``tuple[int, ...]`` (integers, ``--option widths=32,64,128``; ``none`` for
none), optionally as ``Annotated[int, Range(low, high)]`` to bound it (a tuple:
each integer, and ``Count(low, high)`` its length), and has a default.
``--option NAME=VALUE`` gives a string, the Python API and a saved config.json
typed values; :func:`parse` turns either into the annotated type or
refuses it with a message naming the option, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import typing
from typing import Any, Literal

from tfgen.errors import ConfigError
from tfgen.values import Value

# Constructor keywords that are the run's own settings (--latent-dim, --lr, --seed) or the data's shape, not options.
SETTING_ARGUMENTS = ("latent_dim", "learning_rate", "seed", "image_shape", "num_classes")
# Every integer option has an upper bound: a typo's width (hidden=1000000000) fails here with one line, not in
# TensorFlow's allocator after the run directory was made. A dense layer's units, a convolution's base filters:
MAX_UNITS, MAX_FILTERS = 65_536, 1_024
# The most steps a diffusion model samples in: DDPM's own chain is 1000 long.
MAX_SAMPLING_STEPS = 1000


class OptionError(ConfigError):
    """An option the model does not have, or a value its type does not allow."""


@dataclasses.dataclass(frozen=True)
class Range:
    """Bounds of a number option, both inclusive (None: unbounded): ``Annotated[float, Range(0)]``."""

    low: float | None = None
    high: float | None = None

    def __call__(self, value: float) -> str | None:
        """The option's check: why ``value`` is not allowed (not finite, or out of bounds), or None."""
        if not math.isfinite(value):
            return "not finite"
        inside = (self.low is None or value >= self.low) and (self.high is None or value <= self.high)
        return None if inside else f"not {self}"

    def __str__(self) -> str:
        if self.low is None and self.high is None:
            return ""
        if self.high is None:
            return f"at least {self.low:g}"
        return f"at most {self.high:g}" if self.low is None else f"from {self.low:g} to {self.high:g}"


@dataclasses.dataclass(frozen=True)
class Count:
    """How many integers a ``tuple[int, ...]`` option holds, both bounds inclusive: ``Annotated[..., Count(1, 6)]``."""

    low: int
    high: int

    def __str__(self) -> str:
        return f"{self.low} to {self.high} of them" if self.low != self.high else f"{self.low} of them"


@dataclasses.dataclass(frozen=True)
class Integers:
    """The check of a ``tuple[int, ...]`` option: each integer within ``each``, their number within ``count``."""

    each: Range
    count: Count

    def __call__(self, value: tuple[int, ...]) -> str | None:
        if not self.count.low <= len(value) <= self.count.high:
            return f"not {self.count}"
        return next((why for why in map(self.each, value) if why), None)

    def __str__(self) -> str:
        none = ", or none" if self.count.low == 0 else ""
        return f"comma-separated integers {self.each}, {self.count}{none}"


@dataclasses.dataclass(frozen=True)
class Option(Value):
    """One option: its name, type (``int``, ``float``, ``bool``, or that of a Literal's choices), default, choices
    and bounds."""

    check: Range | Integers | None = None  # a number option's: finite, and within its bounds

    def allowed(self) -> str:
        """What the option takes, in words (for error messages)."""
        if self.choices is not None:
            return "choose one of: " + ", ".join(map(str, self.choices))
        if self.type is bool:
            return "it takes true or false"
        if self.type is tuple:
            return f"it takes {self.check}"
        kind = "an integer" if self.type is int else "a finite number"
        return f"it takes {kind}" + (f" {self.check}" if str(self.check) else "")

    def usage(self) -> str:
        """``NAME=VALUES (default D)`` for ``--list``."""
        if self.choices is not None:
            values = "|".join(map(str, self.choices))
        elif self.type is bool:
            values = "true|false"
        elif self.type is tuple:
            values = f"INT,... ({self.check})"
        else:
            values = ("INT" if self.type is int else "FLOAT") + (f" ({self.check})" if str(self.check) else "")
        return f"{self.name}={values} (default {text(self.default)})"

    def refused(self, value: Any, why: str) -> OptionError:
        return OptionError(f"--option {self.name}={value!r} is not allowed; {self.allowed()}")


def text(value: Any) -> str:
    """A value as a user types it (``true``, ``4.0``, ``onehot``, ``32,64``, ``none``)."""
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value)) or "none"
    return str(value).lower() if isinstance(value, bool) else str(value)


def of(cls: type) -> dict[str, Option]:
    """The options of model class ``cls``, in constructor order."""
    init = cls.__init__
    hints = typing.get_type_hints(init, include_extras=True)
    found = {}
    for name, param in inspect.signature(init).parameters.items():
        if name == "self" or name in SETTING_ARGUMENTS or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        found[name] = _option(cls, name, hints.get(name), param.default)
    return found


def _option(cls: type, name: str, hint: Any, default: Any) -> Option:
    where = f"{cls.__name__}.__init__ argument {name!r}"
    bounds = count = None
    if typing.get_origin(hint) is typing.Annotated:
        hint, *extras = typing.get_args(hint)
        bounds = next((e for e in extras if isinstance(e, Range)), None)
        count = next((e for e in extras if isinstance(e, Count)), None)
    choices = typing.get_args(hint) if typing.get_origin(hint) is Literal else None
    kind = type(choices[0]) if choices and len({type(c) for c in choices}) == 1 else hint
    if hint == tuple[int, ...]:
        kind = tuple
    if kind not in (int, float, bool, str, tuple) or (kind is str and not choices):
        raise TypeError(f"{where} must be annotated int, float, bool, tuple[int, ...] or Literal[...] of one type; "
                        f"got {hint!r}")
    if default is inspect.Parameter.empty:
        raise TypeError(f"{where} needs a default")
    if kind in (int, tuple) and not choices and (bounds is None or bounds.high is None):
        raise TypeError(f"{where} holds integers: bound them, Annotated[..., Range(low, high)]")
    if kind is tuple and count is None:
        raise TypeError(f"{where} is a tuple: bound its length, Annotated[tuple[int, ...], Range(...), Count(low, "
                        "high)]")
    check = Integers(bounds, count) if kind is tuple else (bounds or Range()) if kind in (int, float) else None
    option = Option(name, kind, default, choices, check)
    if option.validate(default) != default:
        raise TypeError(f"{where}: its default {default!r} is not one of its own values")
    return option


def parse(model: str, cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (option name -> string or typed value) checked and converted to the options' types.

    Raises:
        OptionError: an option ``cls`` does not have (naming its options), or a
            value its type does not allow (naming what it allows).
    """
    known = of(cls)
    parsed = {}
    for name, value in values.items():
        if name not in known:
            names = ", ".join(known) if known else "none"
            raise OptionError(f"model {model!r} has no option {name!r}; its options: {names}")
        parsed[name] = known[name].validate(value)
    return parsed


def defaults(cls: type) -> dict[str, Any]:
    """Every option of ``cls`` with its default."""
    return {name: option.default for name, option in of(cls).items()}
