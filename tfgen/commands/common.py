"""What every command shares: argparse types, and the one place exceptions become messages and exit statuses."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from tfgen.backend import load_tensorflow, missing
from tfgen.errors import (BadInputError, ClusterLostError, DataChangedError, DiskFullError, NonFiniteLossError,
                          TrainingStopped)

BAD_INPUT = 2


def positive(text: str) -> int:
    """argparse type for counts: a positive integer, else a usage error naming the value."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {value}")
    return value


def error(message: str) -> None:
    print(f"tfgen: error: {message}", file=sys.stderr, flush=True)


def report(action: Callable[[], object], resume_hint: Callable[[bool], str | None] | None = None) -> int:
    """Runs ``action`` and returns the command's exit status, turning the library's exceptions into one message each.

    Bad input: 2. A non-finite loss, a full disk or a lost cluster member: 1. A signal: 128
    + its number. ``resume_hint(multi_worker)`` (training only) gives the
    command that continues a stopped run, None when there is no run yet; it
    is printed once, however the run stopped.
    """
    try:
        load_tensorflow()  # quietly, before the action's imports would load it noisily
        action()
        return 0
    except BadInputError as e:
        error(str(e))
        return BAD_INPUT
    except NonFiniteLossError as e:
        kept = f"the last good checkpoint is {e.checkpoint}" if e.checkpoint else \
            "no epoch finished, so there is no checkpoint"
        error(f"training stopped: {e}; {kept}. Try a lower --lr in a new run (--overwrite or another --out).")
        return 1
    except DiskFullError as e:
        hint = resume_hint(False) if resume_hint else None
        error(f"{e}; free some space, then " + (f"continue with: {hint}" if hint else "run the command again"))
        return 1
    except DataChangedError as e:
        hint = resume_hint(False) if resume_hint else None
        then = f", then continue with: {hint} (add --allow-changed-data to train on the data as it is now)" \
            if hint else ""
        error(f"{e}; {what_is_kept(e.checkpoint)}. Put the file back as it was{then}")
        return 1
    except ClusterLostError as e:
        error(f"{e}; its output says why. Once training has started, continue with the same command and --resume "
              "on every worker")
        return 1
    except TrainingStopped as e:
        print(f"\ntfgen: {e}: the epoch is redone on resume; {what_is_kept(e.checkpoint)}. Continue with: "
              f"{resume_hint(e.multi_worker)}", file=sys.stderr, flush=True)
        return 128 + e.signum
    except ModuleNotFoundError as e:  # run with a Python that lacks tfgen's dependencies
        error(str(missing(e)))
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the training loop
        if resume_hint is None:
            raise
        hint = resume_hint(False)
        print("\ntfgen: interrupted; " + (f"continue from the last finished epoch with: {hint}" if hint else
                                          "the run had not started, and nothing of it was written"),
              file=sys.stderr, flush=True)
        return 130


def what_is_kept(checkpoint: str | None) -> str:
    """What a run that stopped mid-training keeps, for its message."""
    return f"the last finished epoch's checkpoint {checkpoint} is kept" if checkpoint else "no epoch had finished"
