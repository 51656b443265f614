"""The command line, above the library: ``train.py`` / ``tfgen [train]``, ``tfgen evaluate``, ``tfgen explore``.

The commands parse flags, call the library (``tfgen.train``, ``tfgen.load``,
``tfgen.evaluation``) and turn its exceptions into one-line messages and exit
statuses (:mod:`tfgen.commands.common`). The library never imports them.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``tfgen [train] MODEL ...``, ``tfgen evaluate ...``, ``tfgen explore ...``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["explore"]:
        from tfgen.commands import explore

        return explore.main(argv[1:])
    if argv[:1] == ["evaluate"]:
        from tfgen.commands import evaluate

        return evaluate.main(argv[1:])
    from tfgen.commands import train

    prog, invocation = invoked_as(sys.argv[0])
    return train.main(argv[1:] if argv[:1] == ["train"] else argv, prog, invocation)


def invoked_as(program: str) -> tuple[str, str]:
    """The usage's ``prog`` and the command a user types to train again, for how the process was started."""
    name = os.path.basename(program)
    if name == "train.py":
        return "train.py", "python train.py"
    if name == "__main__.py" and os.path.basename(os.path.dirname(program)) == "tfgen":  # python -m tfgen
        return "python -m tfgen [train]", "python -m tfgen train"
    return "tfgen [train]", "tfgen train"
