"""Shared pytest fixtures.

``xvfb_display``: a private Xvfb (1280x720x24, the one ``nitrogen-capture demo`` uses) for the
whole session, for tests marked ``x11``; ``DISPLAY`` points at it while it runs. Tier-1 tests
always run: ``make test`` installs Xvfb, so a missing one is a failure, not a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from nitrogen_capture.demo.xvfb import xvfb
from nitrogen_capture.errors import PlatformError


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """Start Xvfb once per session and point DISPLAY at it."""
    try:
        server = xvfb()
        display = server.__enter__()
    except PlatformError as exc:
        pytest.fail(f"tier-1 tests need Xvfb: {exc}")
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    try:
        yield display
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        server.__exit__(None, None, None)
