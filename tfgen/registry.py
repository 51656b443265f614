"""Model registry: CLI name -> model class.

Every module in ``tfgen/models/`` is imported on first use, and each model
class registers itself with :func:`register` under its module's name, so
adding a model is one new file in ``tfgen/models/``: no list to keep, and the
file name is the model's name.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TypeVar

from tfgen import options
from tfgen.settings import NAMES

_MODELS: dict[str, type] = {}
_loaded = False

T = TypeVar("T", bound=type)


def register(cls: T) -> T:
    """Class decorator: registers a model class under the name of the module that defines it.

    Raises:
        TypeError: an option that is not typed as ``tfgen.options`` requires, or one named as a run setting.
    """
    name = cls.__module__.rsplit(".", 1)[-1]
    if name in _MODELS and _MODELS[name].__qualname__ != cls.__qualname__:
        raise ValueError(f"module {cls.__module__} registers two models, {_MODELS[name].__name__} and "
                         f"{cls.__name__}; a model file defines one")
    clash = sorted(set(options.of(cls)) & set(NAMES))
    if clash:
        raise TypeError(f"model {name!r} has an option named {clash[0]!r}, which is a run setting; a model's options "
                        f"(its constructor's keywords) must not be named as a setting: {', '.join(NAMES)}")
    cls.registry_name = name
    _MODELS[name] = cls
    return cls


def _load_models() -> None:
    """Imports every module of the ``tfgen.models`` package once (each registers its model)."""
    global _loaded
    if _loaded:
        return
    import tfgen.models

    for module in pkgutil.iter_modules(tfgen.models.__path__):
        importlib.import_module(f"tfgen.models.{module.name}")
    _loaded = True


def names() -> list[str]:
    """Sorted names of every registered model."""
    _load_models()
    return sorted(_MODELS)


def get(name: str) -> type:
    """The model class registered under ``name``.

    Raises:
        ValueError: if no model has that name; the message lists the valid names.
    """
    _load_models()
    try:
        return _MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(sorted(_MODELS))}") from None
