"""Original entry point, kept working: ``python convert_to_nitrogen.py --root S --out F.pt``.

It writes float32 obs in [0, 1] as the original tool did (``nitrogen-capture convert`` defaults to
uint8): ``--obs-dtype float32`` goes first, so an ``--obs-dtype`` the user gives wins.
"""

import sys

from nitrogen_capture.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "--obs-dtype", "float32", *sys.argv[1:]]))
