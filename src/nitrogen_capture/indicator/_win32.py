"""Windows: a small topmost window that the system leaves out of every screen capture.

``SetWindowDisplayAffinity(WDA_EXCLUDEFROMCAPTURE)`` (Windows 10 version 2004 and later) shows
the window on the monitor only: Desktop Duplication (DXCam) and GDI grabs (mss) see what is
below it. So the window may sit anywhere; it goes to the top-right corner of the work area and
:meth:`~Win32Indicator.avoid` is not needed. The affinity is read back after it is set: a
system that cannot honour it (older Windows, Wine) gets no indicator and one warning, never a
window in the data. The window is a layered tool window that never activates and lets clicks
through (``WS_EX_TRANSPARENT``, ``HTTRANSPARENT``); it lives on its own thread with its own
message loop, and :meth:`~Win32Indicator.show` only stores the state and posts ``WM_APP``.
The calls are plain ctypes, kept thin; only the factory imports this module, on Windows.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from ..errors import PlatformError
from .base import BACKGROUND, TEXT_COLOUR, Indicator, IndicatorState, dot_colour, label

__all__ = ["WDA_EXCLUDEFROMCAPTURE", "Win32Indicator"]

log = logging.getLogger(__name__)

WDA_EXCLUDEFROMCAPTURE = 0x11
_WM_DESTROY, _WM_PAINT, _WM_CLOSE, _WM_NCHITTEST = 0x0002, 0x000F, 0x0010, 0x0084
_WM_MOUSEACTIVATE, _WM_APP = 0x0021, 0x8000
_EX_STYLE = 0x08 | 0x20 | 0x80 | 0x80000 | 0x08000000  # topmost transparent tool layered noactivate
_WS_POPUP = 0x80000000
_SWP = 0x0010 | 0x0040  # SWP_NOACTIVATE | SWP_SHOWWINDOW
_PAD, _FONT_PX = 6, 18


def _colorref(rgb: tuple[int, int, int]) -> int:
    r, g, b = rgb
    return r | (g << 8) | (b << 16)


class Win32Indicator(Indicator):
    """The indicator window, excluded from capture by the system."""

    name = "win32"
    # Declared here: mypy on Linux sees the body after the platform check as unreachable.
    _u: Any
    _g: Any
    _wt: Any
    _hwnd: Any
    _proc: Any
    _proc_t: Any
    _font: Any
    _kernel32: Any
    _cls: str
    _instance: Any
    _last_error: Callable[[], int]

    def __init__(self, *, require_exclusion: bool = True) -> None:
        # require_exclusion=False is for the Wine tests only: Wine cannot exclude a window
        # from capture, and they still want to see the window drawn.
        self.require_exclusion = require_exclusion
        self.excluded = False
        self.paints = 0
        self._state: IndicatorState | None = None
        self._brushes: dict[tuple[int, int, int], Any] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="indicator-win32")
        if sys.platform != "win32":
            raise PlatformError("the Win32 indicator needs Windows")
        import ctypes.wintypes as wt

        self._wt = wt
        self._u = ctypes.WinDLL("user32", use_last_error=True)
        self._g = ctypes.WinDLL("gdi32")
        lresult = ctypes.c_ssize_t
        self._proc_t = ctypes.WINFUNCTYPE(lresult, wt.HWND, wt.UINT, wt.WPARAM, wt.LPARAM)
        self._kernel32 = ctypes.WinDLL("kernel32")
        self._last_error = ctypes.get_last_error
        self._declare(lresult)
        self._hwnd = None
        self._thread.start()
        if not self._ready.wait(10.0) or self._error is not None:
            raise PlatformError(self._error or "the indicator window did not open")

    def _declare(self, lresult: Any) -> None:
        """Every call's argument and result types: handles are 64-bit, never C ints."""
        wt, u, g = self._wt, self._u, self._g
        h, hdc, obj, ptr = wt.HWND, wt.HDC, wt.HGDIOBJ, ctypes.c_void_p
        i, uint = ctypes.c_int, wt.UINT
        table: list[tuple[Any, str, list[Any], Any]] = [
            (self._kernel32, "GetModuleHandleW", [wt.LPCWSTR], wt.HMODULE),
            (u, "RegisterClassW", [ptr], wt.ATOM),
            (u, "UnregisterClassW", [wt.LPCWSTR, wt.HINSTANCE], wt.BOOL),
            (u, "CreateWindowExW", [wt.DWORD, wt.LPCWSTR, wt.LPCWSTR, wt.DWORD, i, i, i, i, h,
                                    wt.HMENU, wt.HINSTANCE, ptr], h),
            (u, "DefWindowProcW", [h, uint, wt.WPARAM, wt.LPARAM], lresult),
            (u, "PostMessageW", [h, uint, wt.WPARAM, wt.LPARAM], wt.BOOL),
            (u, "GetMessageW", [ptr, h, uint, uint], wt.BOOL),
            (u, "TranslateMessage", [ptr], wt.BOOL),
            (u, "DispatchMessageW", [ptr], lresult),
            (u, "DestroyWindow", [h], wt.BOOL),
            (u, "PostQuitMessage", [i], None),
            (u, "SetWindowDisplayAffinity", [h, wt.DWORD], wt.BOOL),
            (u, "GetWindowDisplayAffinity", [h, ptr], wt.BOOL),
            (u, "SetLayeredWindowAttributes", [h, wt.COLORREF, wt.BYTE, wt.DWORD], wt.BOOL),
            (u, "SetWindowPos", [h, h, i, i, i, i, uint], wt.BOOL),
            (u, "InvalidateRect", [h, ptr, wt.BOOL], wt.BOOL),
            (u, "GetDC", [h], hdc),
            (u, "ReleaseDC", [h, hdc], i),
            (u, "BeginPaint", [h, ptr], hdc),
            (u, "EndPaint", [h, ptr], wt.BOOL),
            (u, "GetClientRect", [h, ptr], wt.BOOL),
            (u, "FillRect", [hdc, ptr, wt.HBRUSH], i),
            (u, "SystemParametersInfoW", [uint, uint, ptr, uint], wt.BOOL),
            (g, "CreateFontW", [i] * 5 + [wt.DWORD] * 8 + [wt.LPCWSTR], wt.HFONT),
            (g, "CreateSolidBrush", [wt.COLORREF], wt.HBRUSH),
            (g, "GetStockObject", [i], obj),
            (g, "SelectObject", [hdc, obj], obj),
            (g, "DeleteObject", [obj], wt.BOOL),
            (g, "GetTextExtentPoint32W", [hdc, wt.LPCWSTR, i, ptr], wt.BOOL),
            (g, "Ellipse", [hdc, i, i, i, i], wt.BOOL),
            (g, "SetBkMode", [hdc, i], i),
            (g, "SetTextColor", [hdc, wt.COLORREF], wt.COLORREF),
            (g, "TextOutW", [hdc, i, i, wt.LPCWSTR, i], wt.BOOL),
        ]
        for dll, name, argtypes, restype in table:
            try:
                fn = getattr(dll, name)
            except AttributeError as exc:  # an older Windows: no such call
                raise PlatformError(f"the indicator needs {name}, which this Windows lacks"
                                    ) from exc
            fn.argtypes, fn.restype = argtypes, restype

    def show(self, state: IndicatorState) -> None:
        """Store ``state`` and ask the window's thread to redraw."""
        with self._lock:
            self._state = state
            if self._hwnd:
                self._u.PostMessageW(self._hwnd, _WM_APP, 0, 0)

    def close(self) -> None:
        """Close the window (its thread ends its message loop)."""
        with self._lock:
            hwnd, self._hwnd = self._hwnd, None
        if hwnd:
            self._u.PostMessageW(hwnd, _WM_CLOSE, 0, 0)
            self._thread.join(timeout=2.0)

    # -- the window's thread ------------------------------------------------------------------
    def _run(self) -> None:
        wt = self._wt
        try:
            hwnd = self._create()
        except Exception as exc:
            self._error = str(exc)
            self._ready.set()
            return
        with self._lock:
            self._hwnd = hwnd
        self._ready.set()
        msg = wt.MSG()
        while self._u.GetMessageW(ctypes.byref(msg), None, 0, 0) > 0:
            self._u.TranslateMessage(ctypes.byref(msg))
            self._u.DispatchMessageW(ctypes.byref(msg))
        for brush in self._brushes.values():
            self._g.DeleteObject(brush)
        self._g.DeleteObject(self._font)
        self._u.UnregisterClassW(self._cls, self._instance)

    def _create(self) -> Any:
        wt, u = self._wt, self._u

        class WNDCLASSW(ctypes.Structure):
            _fields_ = [("style", wt.UINT), ("lpfnWndProc", self._proc_t),
                        ("cbClsExtra", ctypes.c_int), ("cbWndExtra", ctypes.c_int),
                        ("hInstance", wt.HINSTANCE), ("hIcon", wt.HICON),
                        ("hCursor", wt.HANDLE), ("hbrBackground", wt.HBRUSH),
                        ("lpszMenuName", wt.LPCWSTR), ("lpszClassName", wt.LPCWSTR)]

        self._proc = self._proc_t(self._wndproc)  # kept: Windows calls it until the end
        cls_name = self._cls = f"NitrogenCaptureIndicator{id(self)}"
        instance = self._instance = self._kernel32.GetModuleHandleW(None)
        wc = WNDCLASSW(0, self._proc, 0, 0, instance, None, None, None, None, cls_name)
        if not u.RegisterClassW(ctypes.byref(wc)):
            raise PlatformError(f"RegisterClassW failed: Windows error {self._last_error()}")
        hwnd = u.CreateWindowExW(_EX_STYLE, cls_name, "nitrogen-capture indicator", _WS_POPUP,
                                 0, 0, 10, 10, None, None, instance, None)
        if not hwnd:
            raise PlatformError(f"the indicator window failed: Windows error "
                                f"{self._last_error()}")
        affinity = wt.DWORD(0)
        self.excluded = bool(u.SetWindowDisplayAffinity(hwnd, WDA_EXCLUDEFROMCAPTURE)
                             and u.GetWindowDisplayAffinity(hwnd, ctypes.byref(affinity))
                             and affinity.value == WDA_EXCLUDEFROMCAPTURE)
        if not self.excluded and self.require_exclusion:
            u.DestroyWindow(hwnd)
            raise PlatformError("this Windows cannot keep a window out of screen captures "
                                "(WDA_EXCLUDEFROMCAPTURE needs Windows 10 version 2004 or "
                                "later), so no indicator is shown")
        u.SetLayeredWindowAttributes(hwnd, 0, 255, 2)  # LWA_ALPHA, opaque: layered for clicks
        self._font = self._g.CreateFontW(-_FONT_PX, 0, 0, 0, 700, 0, 0, 0, 1, 0, 0, 0, 0,
                                         "Segoe UI")
        return hwnd

    def _wndproc(self, hwnd: Any, msg: int, wparam: Any, lparam: Any) -> int:
        try:
            if msg == _WM_APP:
                self._layout(hwnd)
                return 0
            if msg == _WM_PAINT:
                self._paint(hwnd)
                return 0
            if msg == _WM_NCHITTEST:
                return -1  # HTTRANSPARENT: clicks go to the window below
            if msg == _WM_MOUSEACTIVATE:
                return 3  # MA_NOACTIVATE
            if msg == _WM_CLOSE:
                self._u.DestroyWindow(hwnd)
                return 0
            if msg == _WM_DESTROY:
                self._u.PostQuitMessage(0)
                return 0
        except Exception as exc:  # never raise through Windows' stack
            log.debug("indicator window message %#x failed: %s", msg, exc)
            return 0
        return int(self._u.DefWindowProcW(hwnd, msg, wparam, lparam))

    def _text(self) -> tuple[IndicatorState | None, str]:
        with self._lock:
            state = self._state
        return state, label(state) if state is not None else ""

    def _brush(self, rgb: tuple[int, int, int]) -> Any:
        if rgb not in self._brushes:
            self._brushes[rgb] = self._g.CreateSolidBrush(_colorref(rgb))
        return self._brushes[rgb]

    def _layout(self, hwnd: Any) -> None:
        wt, u, g = self._wt, self._u, self._g
        _, text = self._text()
        hdc = u.GetDC(hwnd)
        old = g.SelectObject(hdc, self._font)
        size = wt.SIZE()
        g.GetTextExtentPoint32W(hdc, text, len(text), ctypes.byref(size))
        g.SelectObject(hdc, old)
        u.ReleaseDC(hwnd, hdc)
        h = size.cy + 2 * _PAD
        w = h + size.cx + 2 * _PAD
        area = wt.RECT()
        u.SystemParametersInfoW(0x0030, 0, ctypes.byref(area), 0)  # SPI_GETWORKAREA
        u.SetWindowPos(hwnd, wt.HWND(-1), area.right - w - 8, area.top + 8, w, h, _SWP)
        u.InvalidateRect(hwnd, None, True)

    def _paint(self, hwnd: Any) -> None:
        wt, u, g = self._wt, self._u, self._g
        state, text = self._text()

        class PAINTSTRUCT(ctypes.Structure):
            _fields_ = [("hdc", wt.HDC), ("fErase", wt.BOOL), ("rcPaint", wt.RECT),
                        ("fRestore", wt.BOOL), ("fIncUpdate", wt.BOOL),
                        ("rgbReserved", ctypes.c_byte * 32)]

        ps = PAINTSTRUCT()
        hdc = u.BeginPaint(hwnd, ctypes.byref(ps))
        rect = wt.RECT()
        u.GetClientRect(hwnd, ctypes.byref(rect))
        u.FillRect(hdc, ctypes.byref(rect), self._brush(BACKGROUND))
        if state is not None:
            dot = rect.bottom - 2 * _PAD
            g.SelectObject(hdc, self._brush(dot_colour(state)))
            g.SelectObject(hdc, g.GetStockObject(8))  # NULL_PEN
            g.Ellipse(hdc, _PAD, _PAD, _PAD + dot, _PAD + dot)
            g.SetBkMode(hdc, 1)  # TRANSPARENT
            g.SetTextColor(hdc, _colorref(TEXT_COLOUR))
            g.SelectObject(hdc, self._font)
            g.TextOutW(hdc, 2 * _PAD + dot, _PAD, text, len(text))
        u.EndPaint(hwnd, ctypes.byref(ps))
        self.paints += 1
