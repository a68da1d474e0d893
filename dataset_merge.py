#!/usr/bin/env python3
"""The original ``dataset_merge.py``: same flags, now ``nitrogen-capture merge``."""

import sys

from nitrogen_capture.cli import main

if __name__ == "__main__":
    sys.exit(main(["merge", *sys.argv[1:]]))
