"""Loading TensorFlow quietly, and one line naming the fix when a package tfgen needs is not installed.

TensorFlow 2.21 writes its C++ start-up logs (oneDNN notices, a CUDA error on
machines without a GPU, the CPU feature guard, ...) straight to the process's
stderr before its log level applies. The commands and the Python API
(``tfgen.train``, ``tfgen.load``) load it through :func:`load_tensorflow`, so a
user sees only tfgen's own lines, unless they set ``TF_CPP_MIN_LOG_LEVEL``
themselves or imported TensorFlow first.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

from tfgen.errors import TfgenError


class MissingDependencyError(TfgenError, ModuleNotFoundError):
    """A package tfgen needs is not installed in this Python; the message says how to go on."""


def missing(error: ModuleNotFoundError) -> MissingDependencyError:
    """``error`` as one line: the package, this Python, and the two ways out."""
    if isinstance(error, MissingDependencyError):
        return error
    package = (error.name or "?").split(".")[0]  # the one to install: imageio, not imageio.v2
    return MissingDependencyError(
        f"this Python ({sys.executable}) has no module {package!r}, which tfgen needs: run tfgen with the Python "
        "of the environment it was installed into (.venv/bin/python, or `. .venv/bin/activate` first), or install "
        "tfgen into this one (pip install -e . in the clone)", name=package)


def load_tensorflow() -> None:
    """Imports TensorFlow, its start-up logs silenced unless the user set ``TF_CPP_MIN_LOG_LEVEL`` (which is 3,
    errors included, from then on); nothing when TensorFlow is loaded already.

    Raises:
        MissingDependencyError: TensorFlow is not installed in this Python.
    """
    if sys.modules.get("tensorflow") is not None:
        return
    quiet = "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    if quiet:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    try:
        with _stderr_silenced() if quiet else contextlib.nullcontext():
            import tensorflow  # noqa: F401 (devices are not initialised here: a strategy may configure them first)
    except ModuleNotFoundError as e:
        raise missing(e) from None


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """The process's stderr file descriptor points at /dev/null inside the block (C++ writes too; Python
    exceptions raised there are printed after it)."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
