"""``python -m tfgen``: the same as ``train.py``."""

import sys

from tfgen.cli import main

sys.exit(main())
