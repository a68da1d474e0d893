"""The X11 window lookup and input listeners when their X server goes away (docs/reliability.md 2).

A real private Xvfb is killed under them: every call then raises the project's one
:class:`DisplayLostError` (not python-xlib's ``ConnectionClosedError``), the listeners hand it to
``check()`` on the owner's thread instead of printing a thread traceback, and closing or
stopping them afterwards is quiet.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from nitrogen_capture.errors import DisplayLostError, NitrogenCaptureError
from nitrogen_capture.inputs._pynput import PynputInput
from nitrogen_capture.inputs._xi2_raw import XI2RawMotion
from nitrogen_capture.inputs.base import InputSource
from nitrogen_capture.targets._x11 import X11WindowBackend
from waiting import wait_until
from xserver import kill_xvfb, private_xvfb


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[BaseException]]:
    """What ended any thread with an exception (threading printed those as tracebacks)."""
    seen: list[BaseException] = []

    def hook(args: Any) -> None:
        seen.append(args.exc_value)

    monkeypatch.setattr(threading, "excepthook", hook)
    yield seen


def _raised(source: InputSource) -> BaseException | None:
    try:
        source.check()
    except NitrogenCaptureError as exc:
        return exc
    return None


def test_window_lookup_and_listeners_say_display_lost_when_xvfb_dies(
        monkeypatch: pytest.MonkeyPatch, thread_errors: list[BaseException]) -> None:
    with private_xvfb((320, 240)) as display:
        monkeypatch.setenv("DISPLAY", display)  # pynput opens $DISPLAY
        backend = X11WindowBackend(display)
        assert backend.focused_window() is None  # answers while the server runs
        sources: list[InputSource] = [PynputInput(), XI2RawMotion(display)]
        for src in sources:
            src.start(lambda ev: None)
        try:
            kill_xvfb(display)
            for call in (backend.focused_window, backend.list_windows,
                         lambda: backend.geometry(0x400001), lambda: backend.exists(0x400001)):
                with pytest.raises(DisplayLostError, match=f"X display {display} went away"):
                    call()
            # The listener threads see the socket close on their own; the error reaches the
            # owner through check(), one project error per source.
            for src in sources:
                err = wait_until(lambda src=src: _raised(src),
                                 f"{src.name} to report the display lost", 30)
                assert isinstance(err, DisplayLostError), repr(err)
        finally:
            for src in sources:
                src.stop()  # quiet: the error was handed over already
            backend.close()  # quiet on a dead connection
            backend.close()
    assert thread_errors == []
