"""Injectors: make real key presses and clicks the X server or Windows treats as device input.

* X11: XTEST through :class:`~nitrogen_capture.demo.player.Player` (python-xlib): XRecord (the
  recorder's pynput listener) sees the events exactly like a real keyboard's.
* Windows: ``SendInput`` (:mod:`._sendinput_win32`): the low-level hooks pynput uses see them.

The base class, :class:`~.inject_base.Injector`, has its own module (the backends import it).

:func:`get_injector` is the one place that picks by platform; ``calibrate --manual`` uses none
and asks the person to press instead.
"""

from __future__ import annotations

import os
import sys

from ..targets.base import Target
from .inject_base import Injector

__all__ = ["Injector", "XTestInjector", "get_injector"]


class XTestInjector(Injector):
    """XTEST on an X display (``$DISPLAY`` by default)."""

    name = "xtest"

    def __init__(self, display: str | None = None) -> None:
        from ..demo.player import Player

        self._player = Player(display)

    def prepare(self, target: Target) -> None:
        """Focus the target's X window (no window manager needed), pointer at its centre.

        A native Wayland window (found through sway) has no X id: XTEST cannot reach it.
        """
        from ..targets.base import x11_window_id

        self._player.focus(x11_window_id(target, "the calibration target",
                                         "run calibrate --manual"))

    def press(self, key: str, down: bool) -> None:
        """One XTEST key or button event, synced with the server."""
        self._player.key(key, down)

    def close(self) -> None:
        """Close the X connection."""
        self._player.close()


def get_injector() -> Injector:
    """The injector of this platform: SendInput on Windows, XTEST elsewhere."""
    if sys.platform == "win32":
        from ._sendinput_win32 import SendInputInjector

        return SendInputInjector()
    from ..xdisplay import check_x11_display

    check_x11_display()
    return XTestInjector(os.environ.get("DISPLAY"))
