"""The real Win32 calls of the window backend, through ctypes (Windows only; no pywin32).

This is the thin OS layer of ``targets/_win32.py``: every call into user32, kernel32, shcore and
dwmapi lives here and does no more than one call (or one documented pair), so the logic around
it is unit-tested with a fake on Linux and this layer is exercised for real under Wine
(tests_wine/test_win32_targets.py).

* Process name: ``OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION)`` then
  ``QueryFullProcessImageNameW`` (Vista+). The limited right is granted for processes of other
  users and most elevated ones, where ``PROCESS_QUERY_INFORMATION`` is not; psutil is not used
  because its Windows backend fails under Wine (the Notepad window listed with process ``-``).
* Cloaked windows: ``DwmGetWindowAttribute(hwnd, DWMWA_CLOAKED)`` is nonzero for windows that are
  "visible" to user32 but not drawn (suspended UWP apps, windows on another virtual desktop).
  Any failure (Wine 8 answers ``E_NOTIMPL``; Windows 7 without DWM composition) means "not
  cloaked": the window is then judged by ``IsWindowVisible`` alone, as before Windows 8.
"""

from __future__ import annotations

import ctypes
import ntpath
import sys
from collections.abc import Callable
from typing import Any

from ..errors import PlatformError

__all__ = ["DPI_AWARENESS_PER_MONITOR", "User32Api"]

_DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 = -4
_PROCESS_PER_MONITOR_DPI_AWARE = 2
_PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
_DWMWA_CLOAKED = 14
DPI_AWARENESS_PER_MONITOR = 2
"""``DPI_AWARENESS_PER_MONITOR_AWARE``, what :meth:`User32Api.dpi_awareness` returns when set."""


class User32Api:
    """The real user32 / kernel32 / shcore / dwmapi calls through ctypes (Windows only)."""

    # Declared here: mypy on Linux sees the body after the platform check as unreachable.
    _wt: Any
    _user32: Any
    _kernel32: Any
    _dwm: Any
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
        self._kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        # HANDLE is pointer-sized: the default int restype would truncate it on 64-bit.
        self._kernel32.OpenProcess.restype = wt.HANDLE
        self._kernel32.OpenProcess.argtypes = (wt.DWORD, wt.BOOL, wt.DWORD)
        self._kernel32.CloseHandle.argtypes = (wt.HANDLE,)
        self._kernel32.QueryFullProcessImageNameW.argtypes = (
            wt.HANDLE, wt.DWORD, wt.LPWSTR, ctypes.POINTER(wt.DWORD))
        self._enum_proc = ctypes.WINFUNCTYPE(wt.BOOL, wt.HWND, wt.LPARAM)
        self._dwm = None

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

    def is_cloaked(self, hwnd: int) -> bool:
        if self._dwm is None:
            try:
                self._dwm = self._windll("dwmapi")
            except OSError:  # no dwmapi.dll (Windows XP): nothing is ever cloaked
                self._dwm = False
        if not self._dwm:
            return False
        cloaked = self._wt.DWORD(0)
        hresult = int(self._dwm.DwmGetWindowAttribute(
            self._wt.HWND(hwnd), _DWMWA_CLOAKED, ctypes.byref(cloaked), ctypes.sizeof(cloaked)))
        return hresult == 0 and cloaked.value != 0  # a failed call (E_NOTIMPL...): not cloaked

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

    def process_image(self, pid: int) -> str | None:
        handle = self._kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:
            return None  # gone, or a protected process (System, anti-cheat)
        try:
            size = self._wt.DWORD(32768)  # the longest \\?\ path
            buf = ctypes.create_unicode_buffer(size.value)
            if not self._kernel32.QueryFullProcessImageNameW(handle, 0, buf, ctypes.byref(size)):
                return None
            return ntpath.basename(buf.value) or None
        finally:
            self._kernel32.CloseHandle(handle)

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

    def dpi_awareness(self) -> int | None:
        # Windows 10 1607+: the calling thread's awareness (a thread without its own context
        # follows the process). None where the functions do not exist.
        get_context = getattr(self._user32, "GetThreadDpiAwarenessContext", None)
        get_awareness = getattr(self._user32, "GetAwarenessFromDpiAwarenessContext", None)
        if get_context is None or get_awareness is None:
            return None
        get_context.restype = ctypes.c_void_p
        get_awareness.argtypes = (ctypes.c_void_p,)
        return int(get_awareness(get_context()))
