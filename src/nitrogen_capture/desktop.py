"""Which desktop session this is, and the capture and input path ``auto`` takes on it.

:func:`detect_desktop` reads the environment only (no connection is opened):

* ``XDG_SESSION_TYPE=wayland``, or ``WAYLAND_DISPLAY`` set while the session type does not say
  ``x11``, is a Wayland session; ``DISPLAY`` then names its XWayland server, if any.
* otherwise ``DISPLAY`` set is an X11 session; nothing set is ``none`` (e.g. ssh, a container).
* the compositor comes from ``SWAYSOCK`` (sway's IPC socket), ``GAMESCOPE_WAYLAND_DISPLAY`` or
  ``XDG_CURRENT_DESKTOP`` (``GNOME``, ``KDE``, ``sway``, ...).

:func:`choose_paths` turns a Wayland session into backend names for ``auto``: frames through
the ScreenCast portal (capture backend ``pipewire``), input through the X11 listeners on the
XWayland display when the game is an XWayland window (X11 clients get X11 input, and XWayland
forwards every key), else through ``evdev`` (native Wayland clients get no global input; only
the kernel's devices show it). It gives one line saying what it chose and why. An X11 session,
Windows and macOS keep today's path: the names come back unchanged and there is no line.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from .errors import PlatformError

__all__ = ["Desktop", "DesktopKind", "PathChoice", "choose_paths", "detect_desktop",
           "evdev_readable", "session_bus_reachable"]

DesktopKind = Literal["x11", "wayland", "windows", "macos", "none"]
# The capture backend that takes frames from the ScreenCast portal, and the input backend that
# reads the kernel's devices (their modules are capture/_pipewire.py and inputs/_evdev.py).
PORTAL_CAPTURE = "pipewire"
EVDEV_INPUT = "evdev"
X11_INPUT = "pynput"
# XDG_CURRENT_DESKTOP entries (upper case) -> our compositor names.
_COMPOSITORS = {"GNOME": "gnome", "KDE": "kde", "SWAY": "sway", "HYPRLAND": "hyprland",
                "WAYFIRE": "wayfire", "RIVER": "river", "LABWC": "labwc"}


@dataclass(frozen=True)
class Desktop:
    """The desktop session the recorder runs in.

    Attributes:
        kind: ``x11``, ``wayland``, ``windows``, ``macos`` or ``none``.
        compositor: ``sway``, ``gnome``, ``kde``, ``gamescope``, ... (Wayland; None: unknown).
        x_display: ``DISPLAY`` (on Wayland: the XWayland server), None when unset.
        wayland_display: ``WAYLAND_DISPLAY``, None when unset.
        sway_socket: ``SWAYSOCK``, sway's IPC socket (the window lookup on sway).
    """

    kind: DesktopKind
    compositor: str | None = None
    x_display: str | None = None
    wayland_display: str | None = None
    sway_socket: str | None = None

    @property
    def is_wayland(self) -> bool:
        """Whether this is a Wayland session."""
        return self.kind == "wayland"

    def describe(self) -> str:
        """``Wayland session (sway)``, ``X11 session`` and the like, for messages."""
        names = {"x11": "X11 session", "wayland": "Wayland session", "windows": "Windows",
                 "macos": "macOS", "none": "no desktop session"}
        name = names[self.kind]
        return f"{name} ({self.compositor})" if self.compositor and self.is_wayland else name


def _compositor(env: Mapping[str, str]) -> str | None:
    if env.get("SWAYSOCK"):
        return "sway"
    if env.get("GAMESCOPE_WAYLAND_DISPLAY"):
        return "gamescope"
    # A known name anywhere in the list wins ("ubuntu:GNOME", "pop:GNOME" are GNOME).
    entries = [e.strip().upper() for e in env.get("XDG_CURRENT_DESKTOP", "").split(":")]
    entries = [e for e in entries if e]
    known = [_COMPOSITORS[e] for e in entries if e in _COMPOSITORS]
    if known:
        return known[0]
    return entries[0].lower() if entries else None


def detect_desktop(env: Mapping[str, str] = os.environ, platform: str | None = None) -> Desktop:
    """The session described by ``env`` (default: this process's environment).

    ``platform`` defaults to ``sys.platform`` (tests pass another).
    """
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        return Desktop("windows")
    if platform == "darwin":
        return Desktop("macos")
    session = env.get("XDG_SESSION_TYPE", "").strip().lower()
    x_display = env.get("DISPLAY") or None
    wayland_display = env.get("WAYLAND_DISPLAY") or None
    if session == "wayland" or (wayland_display and session != "x11"):
        return Desktop("wayland", _compositor(env), x_display, wayland_display,
                       env.get("SWAYSOCK") or None)
    return Desktop("x11" if x_display else "none", None, x_display, wayland_display)


@dataclass(frozen=True)
class PathChoice:
    """What ``auto`` resolved to: backend names to record with, and the line to print.

    Attributes:
        capture_backend: the capture backend name (``auto`` left as is off Wayland).
        input_backend: the input backend name (``auto`` left as is off Wayland).
        line: the one line saying what was chosen and why; None when nothing was decided here.
    """

    capture_backend: str
    input_backend: str
    line: str | None = None


def evdev_readable(pattern: str = "/dev/input/event*") -> bool:
    """Whether this process may read at least one kernel input device (the evdev path)."""
    return any(os.access(p, os.R_OK) for p in glob.glob(pattern))


def session_bus_reachable(env: Mapping[str, str] = os.environ) -> bool:
    """Whether a D-Bus session bus (where the ScreenCast portal lives) is named or present."""
    if env.get("DBUS_SESSION_BUS_ADDRESS"):
        return True
    runtime = env.get("XDG_RUNTIME_DIR")
    return runtime is not None and os.path.exists(os.path.join(runtime, "bus"))


def choose_paths(desktop: Desktop, *, capture_backend: str = "auto", input_backend: str = "auto",
                 target_shell: str | None = None, env: Mapping[str, str] = os.environ,
                 evdev_ok: Callable[[], bool] = evdev_readable) -> PathChoice:
    """The backends ``auto`` means on ``desktop`` for a target of ``target_shell``.

    Args:
        desktop: from :func:`detect_desktop`.
        capture_backend: the name asked for; only ``auto`` is decided here (and only when
            ``$NITROGEN_CAPTURE_BACKEND`` does not name one: it keeps overriding ``auto``).
        input_backend: likewise (``$NITROGEN_INPUT_BACKEND``).
        target_shell: ``xwayland`` or ``xdg_shell`` when the target is a window whose shell the
            compositor told (sway), ``x11`` for a window found through X11 (so an XWayland one
            on Wayland), None for a region, a monitor or the portal's picker.
        env: for the override variables and the session bus.
        evdev_ok: whether the kernel's input devices are readable (a seam for tests).

    Raises:
        PlatformError: no path works: no session bus for the portal, or no XWayland for an
            XWayland game and no readable input device (one line each).
    """
    capture_auto = capture_backend == "auto" and not env.get("NITROGEN_CAPTURE_BACKEND")
    input_auto = input_backend == "auto" and not env.get("NITROGEN_INPUT_BACKEND")
    if not desktop.is_wayland or not (capture_auto or input_auto):
        return PathChoice(capture_backend, input_backend)
    where = desktop.describe()
    parts = []
    if capture_auto:
        if not session_bus_reachable(env):
            raise PlatformError(
                f"{where}: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset, no "
                "$XDG_RUNTIME_DIR/bus), so no ScreenCast portal to take frames from: run the "
                "recorder inside the desktop session")
        capture_backend = PORTAL_CAPTURE
        parts.append("frames through the ScreenCast portal (PipeWire)")
    if input_auto:
        input_backend, why = _choose_input(desktop, target_shell, evdev_ok)
        parts.append(why)
    return PathChoice(capture_backend, input_backend, f"{where}: " + "; ".join(parts))


def _choose_input(desktop: Desktop, shell: str | None,
                  evdev_ok: Callable[[], bool]) -> tuple[str, str]:
    """(input backend, why) for :func:`choose_paths`."""
    xwayland = desktop.x_display
    if shell in ("xwayland", "x11"):
        if xwayland is None:
            raise PlatformError(f"{desktop.describe()}: the game is an XWayland window but "
                                "DISPLAY is unset: set DISPLAY to the XWayland display")
        return X11_INPUT, (f"input through X11 on XWayland {xwayland} (the game is an XWayland "
                           "window)")
    if evdev_ok():
        why = ("the game is a native Wayland window" if shell is not None
               else "no window named; evdev sees every game")
        return EVDEV_INPUT, f"input through evdev ({why})"
    permission = ("no /dev/input/event* device is readable: add yourself to the 'input' group "
                  "(or a udev rule) and log in again")
    if shell is not None:
        raise PlatformError(f"{desktop.describe()}: the game is a native Wayland window and "
                            f"{permission}, or record frames only with --input-backend none")
    if xwayland is None:
        raise PlatformError(f"{desktop.describe()}: no XWayland (DISPLAY unset) and "
                            f"{permission}, or record frames only with --input-backend none")
    return X11_INPUT, (f"input through X11 on XWayland {xwayland} (no window named and no "
                       "readable evdev device: only XWayland games' input is seen)")
