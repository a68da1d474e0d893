"""Window lookup on Windows through user32 (ctypes, no pywin32 needed).

* Windows: ``EnumWindows``, keeping visible top-level windows that have a title (the ones a user
  can pick from ``--debug-list-windows``).
* Process: ``GetWindowThreadProcessId`` gives the PID, psutil the executable name (``Game.exe``;
  the resolver compares names case-insensitively).
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

Every user32 call lives in :class:`_User32Api`; the logic around it is tested with a fake.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

from ..capture.base import Region
from ..errors import PlatformError
from .base import WindowBackend, WindowInfo

__all__ = ["Win32WindowBackend", "client_region", "enable_dpi_awareness", "process_name"]

log = logging.getLogger(__name__)

_DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 = -4
_PROCESS_PER_MONITOR_DPI_AWARE = 2
_dpi_lock = threading.Lock()
_dpi_done = False


class User32(Protocol):
    """The user32 calls the backend needs; :class:`_User32Api` is the real one."""

    def enum_windows(self) -> list[int]:
        """Top-level window handles, in z-order."""

    def is_window(self, hwnd: int) -> bool:
        """Whether the handle still names a window."""

    def is_visible(self, hwnd: int) -> bool:
        """``IsWindowVisible``."""

    def is_iconic(self, hwnd: int) -> bool:
        """``IsIconic`` (minimised)."""

    def title(self, hwnd: int) -> str:
        """``GetWindowTextW``."""

    def pid(self, hwnd: int) -> int | None:
        """``GetWindowThreadProcessId``'s process id (None when the window is gone)."""

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


def client_region(rect: tuple[int, int, int, int] | None) -> Region | None:
    """Client area (x, y, width, height) -> :class:`Region`; None when empty or unknown."""
    if rect is None:
        return None
    x, y, w, h = rect
    if w <= 0 or h <= 0:
        return None
    return Region(x, y, x + w, y + h)


def enable_dpi_awareness(api: User32) -> str:
    """Make the process DPI aware with the best API available; return which one worked."""
    for name, call in (("per-monitor-v2", api.set_dpi_awareness_context),
                       ("per-monitor", api.set_process_dpi_awareness),
                       ("system", api.set_process_dpi_aware)):
        if call():
            return name
    # Already set (manifest, DXCam) or refused: coordinates follow whatever awareness is set.
    return "unchanged"


def process_name(pid: int) -> str | None:
    """Executable name of ``pid`` through psutil (None when the process is gone or protected)."""
    import psutil

    try:
        return psutil.Process(pid).name()
    except (psutil.Error, OSError):
        return None


class _User32Api:
    """The real user32 calls through ctypes (Windows only)."""

    # Declared here: mypy on Linux sees the body after the platform check as unreachable.
    _wt: Any
    _user32: Any
    _enum_proc: Any
    _windll: Callable[[str], Any]
    _last_error: Callable[[], int]

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise PlatformError(
                "the Win32 window backend needs Windows; on Linux the X11 backend is used"
            )
        import ctypes.wintypes as wt

        self._wt = wt
        self._windll = ctypes.WinDLL
        self._last_error = ctypes.get_last_error
        self._user32 = ctypes.WinDLL("user32", use_last_error=True)
        self._user32.GetForegroundWindow.restype = wt.HWND
        self._enum_proc = ctypes.WINFUNCTYPE(wt.BOOL, wt.HWND, wt.LPARAM)

    def enum_windows(self) -> list[int]:
        found: list[int] = []

        def collect(hwnd: int | None, _lparam: int) -> bool:
            if hwnd:
                found.append(int(hwnd))
            return True

        if not self._user32.EnumWindows(self._enum_proc(collect), 0):
            raise PlatformError(f"EnumWindows failed: Windows error {self._last_error()}")
        return found

    def is_window(self, hwnd: int) -> bool:
        return bool(self._user32.IsWindow(self._wt.HWND(hwnd)))

    def is_visible(self, hwnd: int) -> bool:
        return bool(self._user32.IsWindowVisible(self._wt.HWND(hwnd)))

    def is_iconic(self, hwnd: int) -> bool:
        return bool(self._user32.IsIconic(self._wt.HWND(hwnd)))

    def title(self, hwnd: int) -> str:
        length = int(self._user32.GetWindowTextLengthW(self._wt.HWND(hwnd)))
        if length <= 0:
            return ""
        buf = ctypes.create_unicode_buffer(length + 1)
        self._user32.GetWindowTextW(self._wt.HWND(hwnd), buf, length + 1)
        return buf.value

    def pid(self, hwnd: int) -> int | None:
        pid = self._wt.DWORD(0)
        if not self._user32.GetWindowThreadProcessId(self._wt.HWND(hwnd), ctypes.byref(pid)):
            return None
        return int(pid.value) or None

    def client_rect(self, hwnd: int) -> tuple[int, int, int, int] | None:
        rect = self._wt.RECT()
        if not self._user32.GetClientRect(self._wt.HWND(hwnd), ctypes.byref(rect)):
            return None
        origin = self._wt.POINT(0, 0)
        if not self._user32.ClientToScreen(self._wt.HWND(hwnd), ctypes.byref(origin)):
            return None
        width, height = int(rect.right - rect.left), int(rect.bottom - rect.top)
        return int(origin.x), int(origin.y), width, height

    def foreground(self) -> int | None:
        hwnd = self._user32.GetForegroundWindow()
        return int(hwnd) if hwnd else None

    def set_dpi_awareness_context(self) -> bool:
        func = getattr(self._user32, "SetProcessDpiAwarenessContext", None)
        return bool(func and func(ctypes.c_void_p(_DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2)))

    def set_process_dpi_awareness(self) -> bool:
        try:
            shcore = self._windll("shcore")
        except OSError:  # Windows 7: no shcore.dll
            return False
        return int(shcore.SetProcessDpiAwareness(_PROCESS_PER_MONITOR_DPI_AWARE)) == 0  # S_OK

    def set_process_dpi_aware(self) -> bool:
        return bool(self._user32.SetProcessDPIAware())


class Win32WindowBackend(WindowBackend):
    """Top-level windows, their client areas and the foreground window, through user32.

    Args:
        api: the user32 layer (tests pass a fake); default is the real one (Windows only).
        proc_name: PID -> executable name (default: psutil).

    Raises:
        PlatformError: not on Windows.
    """

    name = "win32"

    def __init__(self, api: User32 | None = None,
                 proc_name: Callable[[int], str | None] = process_name) -> None:
        self._api: User32 = api if api is not None else _User32Api()
        self._proc_name = proc_name
        global _dpi_done
        with _dpi_lock:  # once per process: awareness cannot be changed after it is set
            if not _dpi_done:
                self.dpi_awareness = enable_dpi_awareness(self._api)
                log.debug("DPI awareness: %s", self.dpi_awareness)
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
        """Facts about one window; None when it is invisible, untitled or gone."""
        if not self._api.is_visible(hwnd):
            return None
        title = self._api.title(hwnd)
        if not title:
            return None
        pid = self._api.pid(hwnd)
        minimised = self._api.is_iconic(hwnd)
        return WindowInfo(
            window_id=hwnd,
            title=title,
            pid=pid,
            process=self._proc_name(pid) if pid else None,
            region=None if minimised else client_region(self._api.client_rect(hwnd)),
            focused=hwnd == focus,
        )

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
