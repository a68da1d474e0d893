"""Fixtures of the Windows tier: one Xvfb and one Wine prefix per test session.

The tier is built by ``make test-windows`` (scripts/wine_setup.sh). ``NITROGEN_WINE_PREFIX``
points the session at another prefix (a copy of .wine-tier/prefix), so that two runs on one
machine do not share a wineserver and a desktop.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from nitrogen_capture.demo.xvfb import xvfb
from nitrogen_capture.errors import PlatformError
from winetier import PYTHON_EXE, SETUP_HINT, TIER, WineTier


@pytest.fixture(scope="session")
def wine() -> Iterator[WineTier]:
    """The Windows interpreter under Wine on a private Xvfb (1280x800)."""
    if not PYTHON_EXE.is_file():
        pytest.fail(f"the Windows tier is not built ({PYTHON_EXE} missing): {SETUP_HINT}",
                    pytrace=False)
    prefix = Path(os.environ.get("NITROGEN_WINE_PREFIX", TIER / "prefix"))
    try:
        server = xvfb(size=(1280, 800))
        display = server.__enter__()
    except PlatformError as exc:
        pytest.fail(f"the Windows tier needs Xvfb: {exc}", pytrace=False)
    tier = WineTier(display, prefix)
    try:
        tier.start_server()
        yield tier
    finally:
        tier.stop_server()
        server.__exit__(None, None, None)
