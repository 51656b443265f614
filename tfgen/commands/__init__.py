"""The command line, above the library: ``train.py`` / ``tfgen [train]``, ``tfgen evaluate``, ``tfgen explore``.

The commands parse flags, call the library (``tfgen.train``, ``tfgen.load``,
``tfgen.evaluation``) and turn its exceptions into one-line messages and exit
statuses (:mod:`tfgen.commands.common`). The library never imports them.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Sequence

from tfgen.backend import missing


def main(argv: Sequence[str] | None = None) -> int:
    """``tfgen [train] MODEL ...``, ``tfgen evaluate ...``, ``tfgen explore ...``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    name = argv[0] if argv[:1] in (["explore"], ["evaluate"]) else "train"
    try:
        command = importlib.import_module(f"tfgen.commands.{name}")
    except ModuleNotFoundError as e:  # a Python without tfgen's dependencies: one line, not a traceback
        from tfgen.commands.common import error  # imports only what every Python has

        error(str(missing(e)))
        return 1
    if name != "train":
        return command.main(argv[1:])
    prog, invocation = invoked_as(sys.argv[0])
    return command.main(argv[1:] if argv[:1] == ["train"] else argv, prog, invocation)


def invoked_as(program: str) -> tuple[str, str]:
    """The usage's ``prog`` and the command a user types to train again, for how the process was started."""
    name = os.path.basename(program)
    if name == "train.py":
        return "train.py", "python train.py"
    if name == "__main__.py" and os.path.basename(os.path.dirname(program)) == "tfgen":  # python -m tfgen
        return "python -m tfgen [train]", "python -m tfgen train"
    return "tfgen [train]", "tfgen train"
