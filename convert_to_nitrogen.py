"""Original entry point, kept working: ``python convert_to_nitrogen.py --root S --out F.pt``.

It writes float32 obs in [0, 1] and pairs frame ``i`` with the actions from row ``i`` on (M = N - T
+ 1 windows), as the original tool did (``nitrogen-capture convert`` defaults to uint8 and to
``--action-shift 1``, docs/calibration.md): ``--obs-dtype float32 --action-shift 0`` go first, so
the flags the user gives win.
"""

import sys

from nitrogen_capture.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", "--obs-dtype", "float32", "--action-shift", "0", *sys.argv[1:]]))
