"""The one policy for X servers in the tests: every Xvfb is started by :func:`private_xvfb`.

- It is a private ``Xvfb`` (``nitrogen_capture.demo.xvfb``, the one ``nitrogen-capture demo``
  uses: 1280x720x24 unless a test needs another size), on a display number it picks itself, never
  the user's display.
- A missing or failing Xvfb fails the test: tier 1 always runs (``make test`` installs Xvfb), so
  it is never skipped.
- It is stopped when its scope ends, whatever happened; the kernel stops it too if pytest dies
  (``lifeline.tied_command``). :func:`kill_xvfb` kills it before that (``kill -9``), for the
  tests of a display that goes away under a recording.

The fixtures (tests/conftest.py): ``xvfb_display``, one per test session, with ``DISPLAY`` set to
it, for the backend tests; ``demo_display``, a second one per session, for the demo game, so that
windows the backend tests leave behind never take the focus from it. A module that needs a screen
no other module drew on starts its own with ``private_xvfb`` in a module-scoped fixture.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from nitrogen_capture.demo.xvfb import XvfbServer
from nitrogen_capture.errors import PlatformError

SCREEN = (1280, 720)
_RUNNING: dict[str, XvfbServer] = {}  # the private servers running now, by display


def kill_xvfb(display: str) -> None:
    """``kill -9`` the private Xvfb of ``display``: its clients' connections break at once.

    Its block's end reaps it (``XvfbServer.stop``).
    """
    pid = _RUNNING[display].pid  # the Xvfb itself: its launcher exec()s it
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


@contextmanager
def private_xvfb(size: tuple[int, int] = SCREEN) -> Iterator[str]:
    """A private Xvfb while the block runs; its ``DISPLAY`` string (``":99"``)."""
    server = XvfbServer(size)
    try:
        display = server.start()
    except PlatformError as exc:
        pytest.fail(f"tier-1 tests need Xvfb: {exc}", pytrace=False)
    _RUNNING[display] = server
    try:
        yield display
    finally:
        _RUNNING.pop(display, None)
        server.stop()
