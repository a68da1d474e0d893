"""Whether an X display can be reached, and the one message given when it cannot.

Every X11 backend (mss capture, window lookup, XInput2 raw motion) and ``demo --visible`` call
:func:`check_x11_display` before they open the display, so "no ``DISPLAY``" reads the same
everywhere. A Wayland session without ``DISPLAY`` gets its own message: native Wayland capture is
not supported (Wayland gives no client global screen or input capture), but games that run
through XWayland (most games, Proton/Wine ones included) are X11 windows and can be recorded
once ``DISPLAY`` names the XWayland server.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from .errors import PlatformError

__all__ = ["check_x11_display", "no_display_message"]


def no_display_message(environ: Mapping[str, str] | None = None) -> str | None:
    """Why no X display can be used (None when ``DISPLAY`` is set or not on Linux)."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux") or env.get("DISPLAY"):
        return None
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
        return ("this is a Wayland session without DISPLAY: native Wayland capture is not "
                "supported yet; XWayland games (most games, including Proton/Wine ones) can be "
                "recorded by running the recorder with DISPLAY set to the XWayland display "
                "(usually DISPLAY=:0)")
    return "no X display: set DISPLAY or run under Xvfb"


def check_x11_display(environ: Mapping[str, str] | None = None) -> None:
    """Raise :class:`PlatformError` with :func:`no_display_message` when there is no X display."""
    message = no_display_message(environ)
    if message is not None:
        raise PlatformError(message)
