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
from typing import Any

from .errors import PlatformError, missing_dependency

__all__ = ["check_x11_display", "no_display_message", "open_x11_display"]


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


def open_x11_display(display: str | None, purpose: str) -> Any:
    """A python-xlib connection to ``display`` (None: ``$DISPLAY``, checked first) for ``purpose``.

    The one way a backend that talks X itself (window lookup, the indicator) opens its
    connection: a missing python-xlib, no display and a display that does not answer each give
    one line naming ``purpose``.
    """
    if display is None:
        check_x11_display()
    try:
        import Xlib.display
        import Xlib.error
    except ImportError as exc:
        raise missing_dependency("python-xlib", "x11", purpose) from exc
    try:
        return Xlib.display.Display(display)
    except (Xlib.error.DisplayError, OSError) as exc:
        raise PlatformError(
            f"cannot open X display {display or os.environ.get('DISPLAY')!r} for {purpose}: "
            f"{exc}; check DISPLAY and that the X server runs (or run under Xvfb)") from exc
