"""``python -m tfgen``: the same as ``train.py`` and the ``tfgen`` command."""

import sys

from tfgen.commands import main

sys.exit(main())
