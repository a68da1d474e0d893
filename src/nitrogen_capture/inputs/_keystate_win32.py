"""Which layout keys and mouse buttons Windows says are down now: ``GetAsyncKeyState``.

A key held when pynput's hooks start gives them no key-down, so the recorder asks at the start of
a recording and at every resume (docs/architecture.md 5.5). Only the layout's keys are asked
about, each through its virtual-key codes (:data:`VK_CODES`; the names are the ones
:class:`~._pynput.PynputInput` gives the hooks' keys). ``GetAsyncKeyState`` sets the top bit of
its result while the key is down; it reads the physical mouse buttons (not swapped for
left-handed settings).

The call sits behind the :class:`KeyStateApi` protocol: :class:`User32KeyState` is the real one
(Windows only), tests pass a fake; tests_wine runs the real one under Wine.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Sequence
from typing import Any, Protocol

from ..errors import PlatformError

__all__ = ["VK_CODES", "VK_OEM", "KeyStateApi", "User32KeyState", "held_keys"]

# Virtual-key codes of the punctuation keys (US layout positions).
VK_OEM: dict[int, str] = {
    0xBA: ";", 0xBB: "=", 0xBC: ",", 0xBD: "-", 0xBE: ".", 0xBF: "/", 0xC0: "`",
    0xDB: "[", 0xDC: "\\", 0xDD: "]", 0xDE: "'",
}
_NAMED: dict[str, tuple[int, ...]] = {
    "lmb": (0x01,), "rmb": (0x02,), "mmb": (0x04,), "mb4": (0x05,), "mb5": (0x06,),
    "backspace": (0x08,), "tab": (0x09,), "enter": (0x0D,), "shift": (0x10,), "ctrl": (0x11,),
    "alt": (0x12,), "pause": (0x13,), "caps_lock": (0x14,), "esc": (0x1B,), "space": (0x20,),
    "page_up": (0x21,), "page_down": (0x22,), "end": (0x23,), "home": (0x24,), "left": (0x25,),
    "up": (0x26,), "right": (0x27,), "down": (0x28,), "print_screen": (0x2C,),
    "insert": (0x2D,), "delete": (0x2E,), "cmd": (0x5B, 0x5C), "menu": (0x5D,),
    "num_lock": (0x90,), "scroll_lock": (0x91,),
}
#: Layout name -> the virtual-key codes that are that key (either one down: held).
VK_CODES: dict[str, tuple[int, ...]] = {
    **{chr(c).lower(): (c,) for c in range(0x41, 0x5B)},  # a..z
    **{chr(c): (c,) for c in range(0x30, 0x3A)},  # 0..9
    **{name: (vk,) for vk, name in VK_OEM.items()},
    **{f"f{i}": (0x6F + i,) for i in range(1, 25)},
    **_NAMED,
}
_DOWN = 0x8000  # GetAsyncKeyState's top bit: the key is down now


class KeyStateApi(Protocol):
    """``GetAsyncKeyState``; tests replace it with a fake."""

    def key_down(self, vk: int) -> bool:
        """Whether virtual key ``vk`` is down now."""


class User32KeyState:
    """The real ``GetAsyncKeyState`` through ctypes (Windows only)."""

    _get: Any  # declared here: mypy on Linux sees the code after the platform check as dead

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise PlatformError("GetAsyncKeyState needs Windows")
        get = ctypes.WinDLL("user32", use_last_error=True).GetAsyncKeyState
        get.argtypes = [ctypes.c_int]
        get.restype = ctypes.c_short
        self._get = get

    def key_down(self, vk: int) -> bool:
        """Whether virtual key ``vk`` is down now (the top bit of the result)."""
        return bool(int(self._get(vk)) & _DOWN)


def held_keys(keys: Sequence[str], api: KeyStateApi) -> list[str]:
    """The names of ``keys`` (in their order) that ``api`` says are down.

    Names without a code here are skipped (a layout may name keys this table does not know).
    """
    return [name for name in dict.fromkeys(keys)
            if any(api.key_down(vk) for vk in VK_CODES.get(name, ()))]
