"""Keyboard and mouse output through the X server's XTEST extension (python-xlib).

``XTestFakeInput`` makes the server treat an event as device input: the focused window gets
it exactly as a real keyboard's or mouse's (``XSendEvent`` would be flagged synthetic, and many
games and SDL ignore those). The connection is :class:`~nitrogen_capture.demo.player.Player`'s,
the one the demo's scripted player and ``calibrate`` use:

* keys by the layout's canonical names, keysym -> keycode on this server (a layout key the
  server has no keycode for is dropped at start, with one warning, and never sent);
* buttons ``lmb``/``mmb``/``rmb`` 1-3, ``mb4``/``mb5`` 8-9; the wheel as buttons 4-7 (one press
  and release per step, which is all a core X wheel is);
* relative pointer motion (``MotionNotify`` with ``detail=1``).

Each :meth:`XTestOutput.apply` sends its events without waiting and then syncs once with the
server, so the events reach it in the order sent and the call returns only when they did.

Limits: XTEST reaches X11 windows only (on Wayland, XWayland ones); input into a window that
does not have the focus goes to whichever window has it, hence :meth:`XTestOutput.prepare`.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from ...events import InputEvent
from ...rows import MOUSE_BUTTONS
from ...xdisplay import check_x11_display
from ..action import Action
from .base import ActionOutput, OutputSettings

if TYPE_CHECKING:
    from ...targets.base import Target

__all__ = ["XTestOutput"]

log = logging.getLogger(__name__)
_WHEEL_BUTTONS = {("dy", 1.0): "wheel_up", ("dy", -1.0): "wheel_down",
                  ("dx", 1.0): "wheel_right", ("dx", -1.0): "wheel_left"}


class XTestOutput(ActionOutput):
    """Keys, buttons, wheel and relative motion through XTEST on one X display.

    Args:
        settings: ``display`` (None: ``$DISPLAY``) and the ``layout`` of the keys it may press.

    Raises:
        PlatformError: no X display (one line, :func:`~nitrogen_capture.xdisplay.
            check_x11_display`), it cannot be opened, or it has no XTEST.
        DependencyError: python-xlib is not installed.
    """

    name = "xtest"
    kind = "keyboard"

    def __init__(self, settings: OutputSettings) -> None:
        super().__init__(settings.layout)
        from ...demo.player import Player

        if settings.display is None:
            check_x11_display()
        self.display = settings.display or os.environ.get("DISPLAY")
        self._player = Player(settings.display, settings.layout)
        missing = [k for k in settings.layout.keys
                   if k not in MOUSE_BUTTONS and not self._player.has_key(k)]
        if missing:
            log.warning("XTEST: the X server %s has no keycode for %s: never pressed",
                        self.display, ", ".join(missing))
            self._allowed = self._allowed - frozenset(missing)
        self._closed = False

    def prepare(self, target: Target) -> None:
        """Focus the target's X window and put the pointer at its centre (no WM needed).

        Raises:
            TargetError: the target is a native Wayland window or not a window.
        """
        from ...targets.base import x11_window_id

        self._player.focus(x11_window_id(target, "the game window",
                                         "play it with a gamepad output (--output uinput)"))

    def apply(self, action: Action) -> list[InputEvent]:
        """Send the differences (base class), then sync once: order kept, all delivered."""
        sent = super().apply(action)
        if sent:
            self._player.sync()
        return sent

    def close(self) -> None:
        """Close the X connection (idempotent; the base's ``release_all`` comes first)."""
        if self._closed:
            return
        self._closed = True
        self._player.close()

    # -- primitives ---------------------------------------------------------------------------
    def _key(self, key: str, down: bool) -> None:
        self._player.key(key, down, sync=False)

    def _move(self, dx: int, dy: int) -> None:
        self._player.move(dx, dy, sync=False)

    def _wheel(self, axis: str, steps: float) -> None:
        button = _WHEEL_BUTTONS[(axis, 1.0 if steps > 0 else -1.0)]
        for _ in range(max(1, round(abs(steps)))):
            self._player.key(button, True, sync=False)
            self._player.key(button, False, sync=False)
