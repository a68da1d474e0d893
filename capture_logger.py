#!/usr/bin/env python3
"""The original ``capture_logger.py``: same flags, now ``nitrogen-capture record``.

Like the original, a finished capture leaves the merged ``actions.npy`` ... ``dataset.pt``
beside the chunks (``--no-merge`` to skip); see README.md, "Record".
"""

import sys

from nitrogen_capture.cli import main

if __name__ == "__main__":
    sys.exit(main(["record", *sys.argv[1:]]))
