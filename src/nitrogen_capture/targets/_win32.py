"""Window lookup on Windows through user32 (ctypes, no pywin32 needed).

* Windows: ``EnumWindows``, keeping visible top-level windows that have a title (the ones a user
  can pick from ``--debug-list-windows``) and are not *cloaked* by DWM (a suspended UWP app or a
  window on another virtual desktop is "visible" to user32 but not on the screen).
* Process: ``GetWindowThreadProcessId`` gives the PID, ``QueryFullProcessImageNameW`` the
  executable name (``Game.exe``; the resolver compares names case-insensitively); psutil, when
  installed, is only a fallback (its Windows backend fails under Wine).
* Geometry: the **client area** (no title bar, no borders), from ``GetClientRect`` (its size) and
  ``ClientToScreen`` of its origin (its desktop position). A minimised (``IsIconic``) or gone
  window has no region.
* Focus: ``GetForegroundWindow`` (a top-level window, the one that gets keyboard input).

DPI: a process that is not DPI aware gets *scaled* (virtualised) coordinates on a monitor at
125 % or 150 %, which would not match what Desktop Duplication or GDI capture (physical pixels).
The backend therefore makes the process per-monitor DPI aware once, before the first call:
``SetProcessDpiAwarenessContext(PER_MONITOR_AWARE_V2)`` (Windows 10 1703+), else
``SetProcessDpiAwareness(PROCESS_PER_MONITOR_DPI_AWARE)`` (8.1+), else ``SetProcessDPIAware``
(Vista+). A call that fails because awareness was already set (by DXCam, or a manifest) is fine.

Every OS call lives in :class:`~nitrogen_capture.targets._win32api.User32Api`; the logic here is
tested with a fake.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from ..capture.base import Region
from .base import WindowBackend, WindowInfo

__all__ = ["Win32WindowBackend", "client_region", "enable_dpi_awareness", "process_name"]

log = logging.getLogger(__name__)

_PER_MONITOR = 2  # DPI_AWARENESS_PER_MONITOR_AWARE
_dpi_lock = threading.Lock()
_dpi_done = False


class User32(Protocol):
    """The OS calls the backend needs; :class:`~._win32api.User32Api` is the real one."""

    def enum_windows(self) -> list[int]:
        """Top-level window handles, in z-order."""

    def is_window(self, hwnd: int) -> bool:
        """Whether the handle still names a window."""

    def is_visible(self, hwnd: int) -> bool:
        """``IsWindowVisible``."""

    def is_iconic(self, hwnd: int) -> bool:
        """``IsIconic`` (minimised)."""

    def is_cloaked(self, hwnd: int) -> bool:
        """``DwmGetWindowAttribute(DWMWA_CLOAKED)`` nonzero; False when the call fails."""

    def title(self, hwnd: int) -> str:
        """``GetWindowTextW``."""

    def pid(self, hwnd: int) -> int | None:
        """``GetWindowThreadProcessId``'s process id (None when the window is gone)."""

    def process_image(self, pid: int) -> str | None:
        """Executable file name of ``pid`` (``QueryFullProcessImageNameW``); None if refused."""

    def client_rect(self, hwnd: int) -> tuple[int, int, int, int] | None:
        """Client origin on the desktop and client size: (x, y, width, height)."""

    def foreground(self) -> int | None:
        """``GetForegroundWindow`` (None when no window has the focus)."""

    def set_dpi_awareness_context(self) -> bool:
        """Per-monitor v2 DPI awareness; False when unavailable or refused."""

    def set_process_dpi_awareness(self) -> bool:
        """Per-monitor DPI awareness through shcore; False when unavailable or refused."""

    def set_process_dpi_aware(self) -> bool:
        """System DPI awareness (Vista); False when refused."""

    def dpi_awareness(self) -> int | None:
        """The thread's ``DPI_AWARENESS`` (2 = per monitor); None when Windows cannot say."""


def client_region(rect: tuple[int, int, int, int] | None) -> Region | None:
    """Client area (x, y, width, height) -> :class:`Region`; None when empty or unknown."""
    if rect is None:
        return None
    x, y, w, h = rect
    if w <= 0 or h <= 0:
        return None
    return Region(x, y, x + w, y + h)


def enable_dpi_awareness(api: User32) -> str:
    """Make the process DPI aware with the best API available; return which one worked.

    A process that is per-monitor aware already (a manifest, DXCam, or Wine 8, where every
    process starts so) is left alone: awareness can be set only once, and the legacy call would
    report success without changing anything.
    """
    if api.dpi_awareness() == _PER_MONITOR:
        return "per-monitor (already set)"
    for name, call in (("per-monitor-v2", api.set_dpi_awareness_context),
                       ("per-monitor", api.set_process_dpi_awareness),
                       ("system", api.set_process_dpi_aware)):
        if call():
            return name
    # Already set (manifest, DXCam) or refused: coordinates follow whatever awareness is set.
    return "unchanged"


def process_name(pid: int) -> str | None:
    """Executable name of ``pid`` through psutil: None when psutil is missing or refuses."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        return psutil.Process(pid).name()
    except (psutil.Error, OSError):
        return None


class Win32WindowBackend(WindowBackend):
    """Top-level windows, their client areas and the foreground window, through user32.

    Args:
        api: the OS layer (tests pass a fake); default is the real one (Windows only).
        proc_name: PID -> executable name when ``api.process_image`` cannot tell (default:
            psutil, if installed).

    Raises:
        PlatformError: not on Windows.
    """

    name = "win32"

    def __init__(self, api: User32 | None = None,
                 proc_name: Callable[[int], str | None] = process_name) -> None:
        if api is None:
            from ._win32api import User32Api

            api = User32Api()
        self._api: User32 = api
        self._proc_name = proc_name
        global _dpi_done
        with _dpi_lock:  # once per process: awareness cannot be changed after it is set
            if not _dpi_done:
                self.dpi_awareness = enable_dpi_awareness(self._api)
                log.debug("DPI awareness: %s (now %s)", self.dpi_awareness,
                          self._api.dpi_awareness())
                _dpi_done = True
            else:
                self.dpi_awareness = "already set"

    def list_windows(self) -> list[WindowInfo]:
        """Visible, titled top-level windows with PID, process name and client area."""
        focus = self._api.foreground()
        out: list[WindowInfo] = []
        for hwnd in self._api.enum_windows():
            info = self.info(hwnd, focus)
            if info is not None:
                out.append(info)
        return out

    def info(self, hwnd: int, focus: int | None = None) -> WindowInfo | None:
        """Facts about one window; None when it is invisible, cloaked, untitled or gone."""
        if not self._api.is_visible(hwnd):
            return None
        title = self._api.title(hwnd)
        if not title or self._api.is_cloaked(hwnd):
            return None
        pid = self._api.pid(hwnd)
        minimised = self._api.is_iconic(hwnd)
        return WindowInfo(
            window_id=hwnd,
            title=title,
            pid=pid,
            process=self.process(pid) if pid else None,
            region=None if minimised else client_region(self._api.client_rect(hwnd)),
            focused=hwnd == focus,
        )

    def process(self, pid: int) -> str | None:
        """Executable name of ``pid``: the OS layer's answer, else the fallback's."""
        return self._api.process_image(pid) or self._proc_name(pid)

    def geometry(self, window_id: int) -> Region | None:
        """Client area in desktop pixels; None when the window is gone or minimised."""
        if not self._api.is_window(window_id) or self._api.is_iconic(window_id):
            return None
        return client_region(self._api.client_rect(window_id))

    def focused_window(self) -> int | None:
        """The foreground (top-level) window."""
        return self._api.foreground()

    def exists(self, window_id: int) -> bool:
        """Whether the window still exists."""
        return self._api.is_window(window_id)
