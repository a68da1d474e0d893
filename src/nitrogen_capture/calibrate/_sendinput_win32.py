"""Windows injection for ``calibrate``: ``SendInput`` through ctypes (no pywin32).

``SendInput`` inserts keyboard and mouse events into the system input stream, where the
low-level hooks that pynput installs (``WH_KEYBOARD_LL`` / ``WH_MOUSE_LL``) see them like a real
device's. Its limit: User Interface Privilege Isolation blocks input into a window of a higher
integrity level (an elevated game); ``SendInput`` then inserts nothing and no error says why, so
a short count is turned into an :class:`~nitrogen_capture.errors.InputError` naming the fix.

The OS calls sit behind the small :class:`InputApi` protocol; :class:`Win32InputApi` is the real
one (each method one call), so :class:`SendInputInjector`'s logic (key codes, flags, the checks)
is unit-tested with a fake on Linux (tests/calibrate/test_calibrate.py).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import InputError, PlatformError
from ..targets.base import Target
from .inject_base import Injector

__all__ = ["INPUT", "InputApi", "InputSpec", "SendInputInjector", "Win32InputApi",
           "input_specs"]

INPUT_MOUSE, INPUT_KEYBOARD = 0, 1
KEYEVENTF_KEYUP = 0x0002
# (virtual-key code, set-1 scan code) of the keys calibrate can press. Both are sent: a program
# that reads scan codes (SDL, so pygame and many games) sees a key sent with only its virtual
# key as "unknown" (measured under Wine: the calibration window never saw such a space).
_LETTER_SCANS = dict(zip("qwertyuiop", range(0x10, 0x1A), strict=True)) | dict(
    zip("asdfghjkl", range(0x1E, 0x27), strict=True)) | dict(
    zip("zxcvbnm", range(0x2C, 0x33), strict=True))
KEYS: dict[str, tuple[int, int]] = {
    "space": (0x20, 0x39), "enter": (0x0D, 0x1C), "shift": (0x10, 0x2A), "ctrl": (0x11, 0x1D),
    "alt": (0x12, 0x38),
    **{c: (ord(c.upper()), sc) for c, sc in _LETTER_SCANS.items()},
    **{str(d): (ord(str(d)), 0x02 + (d - 1) % 10) for d in range(10)},
}
# (down flag, up flag) of MOUSEINPUT.dwFlags per button.
MOUSE_BUTTON_FLAGS = {"lmb": (0x0002, 0x0004), "rmb": (0x0008, 0x0010), "mmb": (0x0020, 0x0040)}


@dataclass(frozen=True)
class InputSpec:
    """One event for ``SendInput``.

    ``kind`` is INPUT_KEYBOARD (``code`` a virtual key, ``scan`` its scan code) or INPUT_MOUSE
    (``code`` and ``scan`` 0; ``dx``/``dy`` a relative move, ``data`` the ``mouseData`` of a
    wheel step or an X button).
    """

    kind: int
    code: int
    flags: int
    scan: int = 0
    dx: int = 0
    dy: int = 0
    data: int = 0


def input_specs(key: str, down: bool) -> list[InputSpec]:
    """The ``SendInput`` events of pressing or releasing ``key``."""
    if key in MOUSE_BUTTON_FLAGS:
        return [InputSpec(INPUT_MOUSE, 0, MOUSE_BUTTON_FLAGS[key][0 if down else 1])]
    codes = KEYS.get(key)
    if codes is None:
        raise InputError(f"calibrate cannot press '{key}' with SendInput: choose one of "
                         f"{', '.join(sorted([*KEYS, *MOUSE_BUTTON_FLAGS]))}")
    return [InputSpec(INPUT_KEYBOARD, codes[0], 0 if down else KEYEVENTF_KEYUP, codes[1])]


class InputApi(Protocol):
    """The OS calls the injector makes."""

    def send_input(self, inputs: Sequence[InputSpec]) -> int:
        """``SendInput``: how many events were inserted."""

    def set_cursor_pos(self, x: int, y: int) -> bool:
        """``SetCursorPos`` in desktop pixels."""

    def set_foreground_window(self, hwnd: int) -> bool:
        """``SetForegroundWindow``."""


# The INPUT structure with fixed-size fields (WORD 16, DWORD/LONG 32 bits, ULONG_PTR pointer
# sized), so its layout is the Windows one on any platform (40 bytes on 64-bit).
class KEYBDINPUT(ctypes.Structure):
    """``KEYBDINPUT``."""

    _fields_ = [("wVk", ctypes.c_uint16), ("wScan", ctypes.c_uint16),
                ("dwFlags", ctypes.c_uint32), ("time", ctypes.c_uint32),
                ("dwExtraInfo", ctypes.c_size_t)]


class MOUSEINPUT(ctypes.Structure):
    """``MOUSEINPUT``."""

    _fields_ = [("dx", ctypes.c_int32), ("dy", ctypes.c_int32),
                ("mouseData", ctypes.c_uint32), ("dwFlags", ctypes.c_uint32),
                ("time", ctypes.c_uint32), ("dwExtraInfo", ctypes.c_size_t)]


class HARDWAREINPUT(ctypes.Structure):
    """``HARDWAREINPUT`` (only for the union's size)."""

    _fields_ = [("uMsg", ctypes.c_uint32), ("wParamL", ctypes.c_uint16),
                ("wParamH", ctypes.c_uint16)]


class _INPUTUNION(ctypes.Union):
    _fields_ = [("ki", KEYBDINPUT), ("mi", MOUSEINPUT), ("hi", HARDWAREINPUT)]


class INPUT(ctypes.Structure):
    """``INPUT``."""

    _fields_ = [("type", ctypes.c_uint32), ("u", _INPUTUNION)]


def pack_inputs(inputs: Sequence[InputSpec]) -> Any:
    """A ctypes ``INPUT`` array of ``inputs``."""
    arr = (INPUT * len(inputs))()
    for item, spec in zip(arr, inputs, strict=True):
        item.type = spec.kind
        if spec.kind == INPUT_KEYBOARD:
            item.u.ki.wVk = spec.code
            item.u.ki.wScan = spec.scan
            item.u.ki.dwFlags = spec.flags
        else:
            item.u.mi.dx = spec.dx
            item.u.mi.dy = spec.dy
            item.u.mi.mouseData = spec.data & 0xFFFFFFFF  # a DWORD: a wheel step down is -120
            item.u.mi.dwFlags = spec.flags
    return arr


class Win32InputApi:
    """The real user32 calls (Windows only)."""

    _user32: Any

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise PlatformError("SendInput needs Windows; on X11 calibrate injects with XTEST")
        self._user32 = ctypes.WinDLL("user32", use_last_error=True)

    def send_input(self, inputs: Sequence[InputSpec]) -> int:
        """``SendInput(n, INPUT[n], sizeof(INPUT))``."""
        arr = pack_inputs(inputs)
        return int(self._user32.SendInput(len(inputs), arr, ctypes.sizeof(INPUT)))

    def set_cursor_pos(self, x: int, y: int) -> bool:
        """``SetCursorPos``."""
        return bool(self._user32.SetCursorPos(int(x), int(y)))

    def set_foreground_window(self, hwnd: int) -> bool:
        """``SetForegroundWindow``."""
        return bool(self._user32.SetForegroundWindow(ctypes.c_void_p(hwnd)))


class SendInputInjector(Injector):
    """Key presses and clicks through ``SendInput`` into the focused window."""

    name = "sendinput"

    def __init__(self, api: InputApi | None = None) -> None:
        self.api: InputApi = api if api is not None else Win32InputApi()

    def prepare(self, target: Target) -> None:
        """Put the cursor at the window's centre and bring it to the foreground."""
        r = target.region()
        self.api.set_cursor_pos((r.left + r.right) // 2, (r.top + r.bottom) // 2)
        hwnd = getattr(target, "window_id", None)
        if hwnd is None or not self.api.set_foreground_window(int(hwnd)):
            raise InputError("could not bring the calibration window to the foreground: click "
                             "it, or run nitrogen-capture calibrate --manual")

    def press(self, key: str, down: bool) -> None:
        """Insert the press or release; a short count is an InputError (UIPI, module doc)."""
        specs = input_specs(key, down)
        inserted = self.api.send_input(specs)
        if inserted != len(specs):
            raise InputError(f"SendInput inserted {inserted} of {len(specs)} events for "
                             f"'{key}': input into a window of a higher integrity level is "
                             "blocked (run calibrate at the same level, or use --manual)")
