"""Original entry point, kept working: ``python convert_to_nitrogen.py --root S --out F.pt``."""

import sys

from nitrogen_capture.cli import main

if __name__ == "__main__":
    sys.exit(main(["convert", *sys.argv[1:]]))
