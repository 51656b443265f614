"""Model registry: CLI name -> model class.

Models register themselves with :func:`register`, so adding a model is one new
file in ``tfgen/models/``; nothing keeps a hand-written list that could drift.
"""

from __future__ import annotations

from typing import Callable, TypeVar

_MODELS: dict[str, type] = {}

T = TypeVar("T", bound=type)


def register(name: str) -> Callable[[T], T]:
    """Class decorator that registers a model class under ``name``."""

    def decorator(cls: T) -> T:
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered by {_MODELS[name].__name__}")
        cls.registry_name = name
        _MODELS[name] = cls
        return cls

    return decorator


def _load_builtin_models() -> None:
    # Importing the package runs every model module's @register.
    import tfgen.models  # noqa: F401


def names() -> list[str]:
    """Sorted names of every registered model."""
    _load_builtin_models()
    return sorted(_MODELS)


def get(name: str) -> type:
    """The model class registered under ``name``.

    Raises:
        ValueError: if no model has that name; the message lists the valid names.
    """
    _load_builtin_models()
    try:
        return _MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(_MODELS))}") from None
