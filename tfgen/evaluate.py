"""``python -m tfgen.evaluate``: the ``tfgen evaluate`` command (:mod:`tfgen.commands.evaluate`)."""

import sys

from tfgen.commands.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
