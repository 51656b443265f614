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

    prog = "train.py" if os.path.basename(sys.argv[0]) == "train.py" else "tfgen [train]"
    return train.main(argv[1:] if argv[:1] == ["train"] else argv, prog)
