"""Shared pytest fixtures.

``xvfb_display``: a private Xvfb (1280x720x24) for the whole session, for tests marked ``x11``;
``DISPLAY`` points at it while it runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from xvfb import xvfb


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """Start Xvfb once per session; skip the X11 tests only when Xvfb is not installed."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (make setup installs it)")
    with xvfb() as display:
        yield display
