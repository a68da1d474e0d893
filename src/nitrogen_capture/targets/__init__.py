"""Find what to capture: a window by process name, title or PID, a fixed region, or a monitor.

:func:`resolve_target` turns a :class:`~nitrogen_capture.config.TargetSpec` into a
:class:`Target`; :func:`get_window_backend` picks the platform's window lookup (``x11`` on Linux,
``win32`` on Windows; on a Wayland session ``sway`` where sway's IPC answers, else ``x11`` on the
XWayland display, which sees XWayland windows only), imported only when asked for.
:class:`WindowTarget` follows one window: the recorder calls :meth:`WindowTarget.refresh` now and
then to follow moves and resizes, and the input router calls :meth:`WindowTarget.is_focused` at
event time from listener threads.
"""

from __future__ import annotations

import difflib
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..capture.base import CaptureTarget, Region
from ..clock import now_ns
from ..desktop import detect_desktop
from ..errors import ConfigError, PlatformError, TargetNotFound
from .base import FixedRegionTarget, Target, WindowBackend, WindowInfo

if TYPE_CHECKING:
    from ..config import TargetSpec

__all__ = [
    "BACKENDS",
    "FixedRegionTarget",
    "Target",
    "WindowBackend",
    "WindowInfo",
    "WindowTarget",
    "auto_window_backend",
    "format_window_table",
    "get_window_backend",
    "resolve_target",
]

log = logging.getLogger(__name__)

BACKENDS: tuple[str, ...] = ("auto", "x11", "win32", "sway")
_FOCUS_CACHE_NS = 3_000_000  # is_focused() may be asked per event; a few ms of staleness is fine
_POLL_S = 0.1


def get_window_backend(name: str = "auto") -> WindowBackend:
    """Return the window lookup backend ``name`` (``auto``: :func:`auto_window_backend`).

    Raises:
        ConfigError: unknown name.
        PlatformError: no display / a Wayland desktop without a window list / unsupported OS.
        DependencyError: python-xlib or pywin32 missing.
    """
    if name == "auto":
        name = auto_window_backend()
    if name == "sway":
        from ._sway import SwayWindowBackend

        return SwayWindowBackend()
    if name == "x11":
        from ._x11 import X11WindowBackend

        return X11WindowBackend()
    if name == "win32":
        from ._win32 import Win32WindowBackend

        backend: WindowBackend = Win32WindowBackend()
        return backend
    raise ConfigError(f"unknown window backend '{name}': choose one of {', '.join(BACKENDS)}")


def auto_window_backend(env: Mapping[str, str] | None = None) -> str:
    """The window lookup ``auto`` means here: win32, x11, or on Wayland sway or XWayland's x11.

    Raises:
        PlatformError: macOS, or a Wayland desktop that names no window to us (no sway IPC, no
            XWayland): one line saying the portal's picker decides what is recorded.
    """
    if sys.platform == "win32":
        return "win32"
    if sys.platform == "darwin":
        raise PlatformError("window lookup is not supported on macOS: capture a --region or a "
                            "--monitor instead")
    desktop = detect_desktop(os.environ if env is None else env)
    if not desktop.is_wayland:
        return "x11"
    if desktop.sway_socket:
        return "sway"
    if desktop.x_display:
        log.info("%s: windows through X11 on XWayland %s (XWayland windows only)",
                 desktop.describe(), desktop.x_display)
        return "x11"
    raise PlatformError(f"{desktop.describe()} gives no window list (no sway IPC, no XWayland): "
                        "the portal's picker decides what is recorded; record without "
                        "--process-name/--window-title/--pid and pick the screen there")


class WindowTarget(Target):
    """Follows one window: its client area, whether it still exists, whether it has focus.

    Args:
        backend: window lookup to use; the target owns it when ``owns_backend`` (closed with it).
        info: the window as found by :func:`resolve_target`.
    """

    def __init__(self, backend: WindowBackend, info: WindowInfo, *,
                 owns_backend: bool = True) -> None:
        if info.region is None:
            raise TargetNotFound(f"window '{info.title}' ({info.window_id:#x}) is not mapped")
        self.backend = backend
        self.info = info
        self.window_id = info.window_id
        self._region: Region = info.region
        self._owns = owns_backend
        self._lock = threading.Lock()
        self._focus_at = 0
        self._focus = False

    def region(self) -> Region:
        """The client area as of the last :meth:`refresh`."""
        return self._region

    def refresh(self) -> Region | None:
        """Re-read the client area; the last region while minimised, ``None`` once gone."""
        with self._lock:
            region = self.backend.geometry(self.window_id)
            if region is None:
                exists = getattr(self.backend, "exists", None)
                alive = (exists(self.window_id) if exists is not None else any(
                    w.window_id == self.window_id for w in self.backend.list_windows()))
                if not alive:
                    return None
                return self._region  # unmapped/minimised: keep the last geometry
            self._region = region
            return region

    def is_focused(self) -> bool:
        """Whether the window has the keyboard focus now (cached for a few ms; thread-safe)."""
        with self._lock:
            t = now_ns()
            if t - self._focus_at > _FOCUS_CACHE_NS:
                self._focus = self.backend.focused_window() == self.window_id
                self._focus_at = now_ns()
            return self._focus

    def capture_target(self) -> CaptureTarget:
        """The window by its handle, with its client area as of the last :meth:`refresh`."""
        return CaptureTarget.of_window(self.window_id, self._region)

    def describe(self) -> dict[str, Any]:
        """Facts for meta.json."""
        return {"kind": "window", "backend": self.backend.name, **self.info.to_dict(),
                "region": self._region.to_list()}

    def close(self) -> None:
        """Close the backend's connection when this target owns it."""
        if self._owns:
            with self._lock:
                self.backend.close()


def _matches(w: WindowInfo, spec: TargetSpec) -> bool:
    if spec.pid is not None and w.pid != spec.pid:
        return False
    if spec.process_name is not None:
        proc = w.process or ""
        if sys.platform == "win32":
            if proc.lower() != spec.process_name.lower():
                return False
        elif spec.process_name not in (proc, w.app_id):  # a Wayland app id names it too
            return False
    return not (spec.window_title is not None
                and spec.window_title.lower() not in w.title.lower())


def _near_matches(windows: list[WindowInfo], spec: TargetSpec) -> list[str]:
    """Windows whose process name or title resembles the request, for the error message."""
    def key(w: WindowInfo) -> str:
        return (w.process or "").lower() if spec.process_name is not None else w.title.lower()

    if spec.process_name is not None:
        query = spec.process_name.lower()
    elif spec.window_title is not None:
        query = spec.window_title.lower()
    else:
        return [_describe(w) for w in windows if w.pid is not None][:5]
    keys = {key(w) for w in windows if key(w)}
    close = set(difflib.get_close_matches(query, keys, n=5, cutoff=0.5))
    close |= {k for k in keys if query in k or (k and k in query)}
    return [_describe(w) for w in windows if key(w) in close][:5]


def _describe(w: WindowInfo) -> str:
    return f"'{w.title}' (process {w.process or '?'}, PID {w.pid or '?'})"


def _screen_regions() -> list[Region] | None:
    """The monitors as mss lists them: their union first, then each (on sway: its outputs).

    None on a Wayland desktop that tells neither (no sway IPC, no XWayland for mss).
    """
    desktop = detect_desktop()
    if desktop.is_wayland and not desktop.sway_socket and not desktop.x_display:
        return None
    if desktop.is_wayland and desktop.sway_socket:
        from ._sway import SwayWindowBackend

        sway = SwayWindowBackend(desktop.sway_socket)
        try:
            outputs = sway.outputs()
        finally:
            sway.close()
        if outputs:
            left, top = min(o.left for o in outputs), min(o.top for o in outputs)
            right, bottom = max(o.right for o in outputs), max(o.bottom for o in outputs)
            return [Region(left, top, right, bottom), *outputs]
    from ..capture._mss import monitor_regions

    return monitor_regions()


def resolve_target(spec: TargetSpec, *, wait_s: float = 10.0,
                   backend: WindowBackend | None = None) -> Target:
    """Turn ``spec`` into a target, waiting up to ``wait_s`` for the window to appear mapped.

    A process name matches exactly (case-insensitively on Windows), a title as a
    case-insensitive substring, a PID exactly; given together, all must match. Among several
    matches the largest mapped window wins. Without a window spec: ``--region`` (checked against
    the screen) or the whole monitor ``spec.monitor or 1``.

    Raises:
        TargetNotFound: no matching mapped window in time; the message lists near matches.
        ConfigError: the region lies outside the screen, or the monitor does not exist.
    """
    if not spec.is_window:
        return _region_target(spec)
    own = backend is None
    lookup = backend if backend is not None else get_window_backend()
    deadline = time.monotonic() + max(wait_s, 0.0)
    try:
        while True:
            windows = lookup.list_windows()
            found = [w for w in windows if _matches(w, spec)]
            mapped = [w for w in found if w.region is not None]
            if mapped:
                best = max(mapped, key=lambda w: w.region.width * w.region.height
                           if w.region else 0)
                if len(mapped) > 1:
                    log.info("%d windows match %s; using %s", len(mapped), spec.describe(),
                             _describe(best))
                return WindowTarget(lookup, best, owns_backend=own)
            if time.monotonic() >= deadline:
                break
            time.sleep(_POLL_S)
    except BaseException:
        if own:
            lookup.close()
        raise
    if own:
        lookup.close()
    if found:
        raise TargetNotFound(f"the window for {spec.describe()} ({_describe(found[0])}) is not "
                             f"mapped after {wait_s:g} s: restore or show it and try again")
    near = _near_matches(windows, spec)
    hint = ("near matches: " + "; ".join(near)) if near else f"{len(windows)} windows seen"
    if lookup.name == "x11" and detect_desktop().is_wayland:  # X11 sees XWayland windows only
        hint += ("; only XWayland windows are seen here: for a native Wayland game leave out "
                 "the window flags and pick its screen in the portal's dialog")
    raise TargetNotFound(f"no window for {spec.describe()} after {wait_s:g} s ({hint}); "
                         "list windows with --debug-list-windows", near_matches=near)


def _region_target(spec: TargetSpec) -> FixedRegionTarget:
    monitors = _screen_regions()
    if monitors is None:  # Wayland without sway or XWayland: the portal's monitor is cropped
        if spec.region is not None:
            return FixedRegionTarget(spec.region, monitor=spec.monitor)
        raise PlatformError(f"{detect_desktop().describe()} does not tell the screen's size "
                            "before the portal's picker answers (no sway IPC, no XWayland): "
                            "give --region L T R B of the screen, set DISPLAY to XWayland, "
                            "or record with --capture-backend pipewire and no --monitor: the "
                            "portal's dialog then picks what is recorded")
    if spec.region is not None:
        region = spec.region
        if not any(region.within(m) for m in monitors):
            screens = ", ".join(" ".join(map(str, m.to_list())) for m in monitors[1:])
            raise ConfigError(
                f"region {' '.join(map(str, region.to_list()))} lies outside the screen "
                f"(monitors as L T R B: {screens}): give a region inside a monitor"
            )
        return FixedRegionTarget(region, monitor=spec.monitor)
    index = spec.monitor or 1
    if index >= len(monitors):
        raise ConfigError(f"--monitor {index} does not exist: this display has monitors "
                          f"1..{len(monitors) - 1} (0 = all together)")
    return FixedRegionTarget(monitors[index], monitor=index)


def format_window_table(windows: list[WindowInfo]) -> str:
    """A plain-text table of windows for ``--debug-list-windows``."""
    # A SHELL column (xdg_shell = native Wayland, xwayland) only where the backend knows it.
    shells = any(w.shell is not None for w in windows)
    header: tuple[str, ...] = ("ID", "PID", "PROCESS", "GEOMETRY (x,y wxh)", "FOCUS",
                               *(("SHELL",) if shells else ()), "TITLE")
    rows = [header]
    for w in windows:
        geo = (f"{w.region.left},{w.region.top} {w.region.width}x{w.region.height}"
               if w.region else "unmapped")
        rows.append((f"{w.window_id:#x}", str(w.pid or "-"), w.process or "-", geo,
                     "*" if w.focused else "", *((w.shell or "-",) if shells else ()), w.title))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r[:-1])) + "  " + r[-1]
             for r in rows]
    if not windows:
        lines.append("(no windows with a title found)")
    return "\n".join(line.rstrip() for line in lines)
