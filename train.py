#!/usr/bin/env python3
"""Train a tfgen model: ``python train.py MODEL [flags]`` (see ``--help``)."""

import sys

from tfgen.commands import main

if __name__ == "__main__":
    sys.exit(main())
