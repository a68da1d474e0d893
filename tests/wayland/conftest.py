"""The Wayland tier's fixtures (marker ``wayland``; ``make test-wayland`` runs it).

``wayland_stack``: one headless Wayland desktop for the whole session (scripts/wayland/wlstack.py:
sway at 1280x720@120Hz, XWayland, PipeWire, the ScreenCast portal, wayvnc), stopped at the end.
Like Xvfb for tier 1 (tests/xserver.py), a stack that cannot start fails the tests, never skips
them: ``make test-wayland`` installs its packages.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "wayland"))

from wlstack import Stack, StackError, running_stack


@pytest.fixture(scope="session")
def wayland_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The session's headless Wayland desktop (see the module docstring)."""
    try:
        with running_stack(tmp_path_factory.mktemp("wlstack")) as stack:
            yield stack
    except StackError as exc:
        pytest.fail(f"the Wayland tier needs its stack: {exc}", pytrace=False)
