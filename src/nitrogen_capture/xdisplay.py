"""Whether an X display can be reached, and the one message given when it cannot.

Every X11 backend (mss capture, window lookup, XInput2 raw motion) and ``demo --visible`` call
:func:`check_x11_display` before they open the display, so "no ``DISPLAY``" reads the same
everywhere. A Wayland session without ``DISPLAY`` gets its own message: there ``auto`` records
through the ScreenCast portal and evdev (desktop.py), so an X11 part is only reached when asked
for by name (or by ``calibrate``/``demo --visible``, whose windows are X11 ones), and it needs
``DISPLAY`` to name the XWayland server.
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
        return ("this is a Wayland session without DISPLAY: the X11 parts need XWayland "
                "(set DISPLAY to its display, usually DISPLAY=:0); record with "
                "--capture-backend auto and --input-backend auto to go through the ScreenCast "
                "portal and evdev instead")
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
