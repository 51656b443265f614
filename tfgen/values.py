"""One way to check a typed value: the base of the run's settings (``tfgen.settings``) and models' options
(``tfgen.options``).

A :class:`Value` has a name, a type, a default, optional choices and an
optional check. :meth:`Value.validate` turns what it is given into the type
(parsing a string for a number or truth value: ``--option NAME=VALUE`` and
config.json files from before options were typed give strings) and refuses,
through the subclass's :meth:`Value.refused`, a value of another type, outside
the choices, or one the check rejects. Settings and options differ only in how
they word the refusal and where their values come from.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


@dataclasses.dataclass(frozen=True)
class Value:
    """A typed value's declaration.

    Attributes:
        name: its keyword.
        type: ``int``, ``float``, ``bool``, ``str``, ``dict`` or a class (``ImageSize``).
        default: its value when it is not given.
        choices: the values it may take (None: any of its type).
        check: ``check(value)`` -> why the typed value is not allowed, or None.
    """

    name: str
    type: type
    default: Any = None
    choices: tuple | None = None
    check: Callable[[Any], str | None] | None = None

    def validate(self, value: Any) -> Any:
        """``value`` as the type (a string parsed first), or the error :meth:`refused` makes."""
        typed = as_type(_parsed(value, self.type) if isinstance(value, str) else value, self.type)
        if typed is None:
            raise self.refused(value, "type")
        if self.choices is not None and typed not in self.choices:
            raise self.refused(value, "choice")
        message = self.check(typed) if self.check else None
        if message:
            raise self.refused(value, message)
        return typed

    def refused(self, value: Any, why: str) -> Exception:
        """The error for ``value``: ``why`` is ``type`` (not of the type), ``choice`` (not a choice) or the check's
        message."""
        raise NotImplementedError


def _parsed(text: str, kind: type) -> Any:
    """A string as ``kind`` where that is a number, a truth value or comma-separated integers (``none``: none),
    else the string as it is."""
    if kind is tuple:
        items = text.strip()
        if items.lower() == "none":
            return ()
        try:
            return tuple(int(item.strip()) for item in items.split(","))
        except ValueError:
            return text
    if kind is bool:
        lowered = text.strip().lower()
        return True if lowered in TRUE else False if lowered in FALSE else text
    if kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            return text
    return text


def as_type(value: Any, kind: type) -> Any:
    """``value`` as ``kind`` (a whole float as an int, an int as a float; never a bool as a number; a list or
    tuple of integers as a tuple of ints), or None."""
    if kind is tuple:
        if not isinstance(value, (list, tuple)):
            return None
        items = tuple(as_type(item, int) for item in value)
        return None if None in items else items
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if kind is int and isinstance(value, float):
            return int(value) if value.is_integer() else None
        return kind(value)
    return value if isinstance(value, kind) else None

