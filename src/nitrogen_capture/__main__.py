"""``python -m nitrogen_capture`` runs the CLI."""

import sys

from .cli import main

sys.exit(main())
