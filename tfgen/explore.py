"""``python -m tfgen.explore``: the ``tfgen explore`` command (:mod:`tfgen.commands.explore`)."""

import sys

from tfgen.commands.explore import main

if __name__ == "__main__":
    sys.exit(main())
