"""The exceptions the library raises; only the commands turn them into messages and exit codes.

- :class:`BadInputError` (a ``ValueError``): a setting, file or folder that
  cannot be used; the message names it and what is allowed. Exit status 2.
- :class:`TrainingStopped`: SIGINT or SIGTERM stopped training between steps.
  Exit status 128 + the signal's number.
- :class:`NonFiniteLossError`: training produced a NaN or infinite loss. Exit status 1.
- :class:`ClusterLostError`: another worker of a multi-worker cluster stopped. Exit status 1.
- :class:`DiskFullError`: the disk filled up while the run was written. Exit status 1.
- :class:`DataChangedError`: a streamed image file changed while it was read. Exit status 1.

The last four carry what a caller needs to say how to go on (the newest
checkpoint kept).
"""

from __future__ import annotations

import signal
import sys


class TfgenError(Exception):
    """Base of every error tfgen raises on purpose."""


class BadInputError(TfgenError, ValueError):
    """Input that cannot be used; the message names it and what is allowed."""


class ConfigError(BadInputError):
    """A configuration value that is not allowed; the message names the key (``tfgen.config`` raises it)."""


class TrainingStopped(TfgenError):
    """A signal stopped training at a step boundary; the unfinished epoch is redone on resume.

    Attributes:
        signum: the signal's number.
        epoch: the epoch that was stopped (1-based).
        checkpoint: the newest checkpoint kept, or None when no epoch had finished.
        multi_worker: whether the run spans several workers (each must resume).
    """

    def __init__(self, signum: int, epoch: int, checkpoint: str | None = None, multi_worker: bool = False):
        super().__init__(f"stopped by {signal.Signals(signum).name} in epoch {epoch}")
        self.signum, self.epoch, self.checkpoint, self.multi_worker = signum, epoch, checkpoint, multi_worker


class NonFiniteLossError(TfgenError, RuntimeError):
    """Training produced a NaN or infinite loss; nothing of that epoch was written.

    Attributes:
        epoch, name, value: where it happened and what it was.
        checkpoint: the last good checkpoint, or None when no epoch had finished.
    """

    def __init__(self, epoch: int, name: str, value: float, checkpoint: str | None = None):
        super().__init__(f"non-finite {name} ({value}) in epoch {epoch}")
        self.epoch, self.name, self.value, self.checkpoint = epoch, name, value, checkpoint


class ClusterLostError(TfgenError, RuntimeError):
    """Another worker of a multi-worker cluster stopped or cannot be reached."""


class DiskFullError(TfgenError, OSError):
    """The disk holding the run is full; what was being written is named, and the finished epochs are kept."""

    def __init__(self, path):
        super().__init__(f"the disk is full: cannot write {path}")
        self.path = path


def warn(message: str) -> None:
    """Prints one warning line on stderr: the one way tfgen warns."""
    print(f"tfgen: warning: {message}", file=sys.stderr, flush=True)


class DataChangedError(TfgenError, RuntimeError):
    """An image file read from disk as training goes (a streamed folder) was deleted, damaged or resized meanwhile.

    Attributes:
        path: the file.
        checkpoint: the newest checkpoint kept, or None when no epoch had finished.
    """

    def __init__(self, path, reason, checkpoint: str | None = None):
        super().__init__(f"the image file {path} changed while the run read it: {reason}")
        self.path, self.checkpoint = path, checkpoint
