"""Keyboard and mouse output on Windows through ``SendInput`` (ctypes, no pywin32).

Built on ``calibrate``'s injector (:mod:`nitrogen_capture.calibrate._sendinput_win32`: the
``INPUT`` structures, the :class:`InputApi` seam and its real user32 calls). Here:

* keys go as **scan codes** (``KEYEVENTF_SCANCODE``, plus ``KEYEVENTF_EXTENDEDKEY`` for the
  E0-prefixed keys: arrows, Insert/Delete/Home/End/PageUp/PageDown), with the virtual key
  beside it: games reading DirectInput or raw input see the key's position, as from a keyboard;
* buttons ``lmb``/``rmb``/``mmb`` and the side buttons ``mb4``/``mb5`` (``XBUTTON1``/``2``);
* the wheel as ``MOUSEEVENTF_WHEEL`` / ``HWHEEL`` steps of ``WHEEL_DELTA`` (120, + up/right);
* relative motion as ``MOUSEEVENTF_MOVE``. Windows applies the pointer speed and "enhance
  pointer precision" to it for the cursor; a game reading raw input gets the counts as sent.

Each :meth:`SendInputOutput.apply` is one ``SendInput`` call with all its events, so they are
inserted together and in order. ``SendInput`` cannot reach a window of a higher integrity level
(an elevated game, UIPI) and says so only by a short count: that is an
:class:`~nitrogen_capture.errors.InputError` naming the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...calibrate._sendinput_win32 import (
    INPUT_KEYBOARD,
    INPUT_MOUSE,
    KEYEVENTF_KEYUP,
    KEYS,
    MOUSE_BUTTON_FLAGS,
    InputApi,
    InputSpec,
    Win32InputApi,
)
from ...errors import InputError
from ...events import InputEvent
from ..action import Action
from .base import ActionOutput, OutputSettings

if TYPE_CHECKING:
    from ...targets.base import Target

__all__ = ["SCAN_KEYS", "SendInputOutput", "key_specs", "motion_spec", "wheel_spec"]

KEYEVENTF_EXTENDEDKEY, KEYEVENTF_SCANCODE = 0x0001, 0x0008
MOUSEEVENTF_MOVE, MOUSEEVENTF_XDOWN, MOUSEEVENTF_XUP = 0x0001, 0x0080, 0x0100
MOUSEEVENTF_WHEEL, MOUSEEVENTF_HWHEEL = 0x0800, 0x1000
WHEEL_DELTA = 120
_XBUTTONS = {"mb4": 1, "mb5": 2}  # XBUTTON1 (back), XBUTTON2 (forward)
_EXTENDED = 0x100  # marks an E0-prefixed scan code in the table below
#: Canonical key -> (virtual key, set-1 scan code, | 0x100 when E0-extended).
SCAN_KEYS: dict[str, tuple[int, int]] = {
    **KEYS,
    "esc": (0x1B, 0x01), "backspace": (0x08, 0x0E), "tab": (0x09, 0x0F),
    "caps_lock": (0x14, 0x3A),
    **{f"f{i}": (0x6F + i, 0x3A + i) for i in range(1, 11)}, "f11": (0x7A, 0x57),
    "f12": (0x7B, 0x58),
    "-": (0xBD, 0x0C), "=": (0xBB, 0x0D), "[": (0xDB, 0x1A), "]": (0xDD, 0x1B),
    ";": (0xBA, 0x27), "'": (0xDE, 0x28), "`": (0xC0, 0x29), "\\": (0xDC, 0x2B),
    ",": (0xBC, 0x33), ".": (0xBE, 0x34), "/": (0xBF, 0x35),
    "up": (0x26, _EXTENDED | 0x48), "left": (0x25, _EXTENDED | 0x4B),
    "right": (0x27, _EXTENDED | 0x4D), "down": (0x28, _EXTENDED | 0x50),
    "insert": (0x2D, _EXTENDED | 0x52), "delete": (0x2E, _EXTENDED | 0x53),
    "home": (0x24, _EXTENDED | 0x47), "end": (0x23, _EXTENDED | 0x4F),
    "page_up": (0x21, _EXTENDED | 0x49), "page_down": (0x22, _EXTENDED | 0x51),
}


def key_specs(key: str, down: bool) -> list[InputSpec]:
    """The ``SendInput`` event of pressing or releasing ``key`` (a key or mouse button).

    Raises:
        InputError: ``key`` has no scan code here.
    """
    if key in MOUSE_BUTTON_FLAGS:
        return [InputSpec(INPUT_MOUSE, 0, MOUSE_BUTTON_FLAGS[key][0 if down else 1])]
    if key in _XBUTTONS:
        flag = MOUSEEVENTF_XDOWN if down else MOUSEEVENTF_XUP
        return [InputSpec(INPUT_MOUSE, 0, flag, data=_XBUTTONS[key])]
    codes = SCAN_KEYS.get(key)
    if codes is None:
        raise InputError(f"SendInput has no scan code for '{key}'")
    vk, scan = codes
    flags = KEYEVENTF_SCANCODE | (0 if down else KEYEVENTF_KEYUP)
    if scan & _EXTENDED:
        flags |= KEYEVENTF_EXTENDEDKEY
    return [InputSpec(INPUT_KEYBOARD, vk, flags, scan & 0xFF)]


def motion_spec(dx: int, dy: int) -> InputSpec:
    """A relative move of ``dx``, ``dy`` counts (+y down)."""
    return InputSpec(INPUT_MOUSE, 0, MOUSEEVENTF_MOVE, dx=dx, dy=dy)


def wheel_spec(axis: str, steps: float) -> InputSpec:
    """``steps`` wheel steps along ``dy`` (+ up) or ``dx`` (+ right)."""
    flag = MOUSEEVENTF_WHEEL if axis == "dy" else MOUSEEVENTF_HWHEEL
    return InputSpec(INPUT_MOUSE, 0, flag, data=round(steps * WHEEL_DELTA))


class SendInputOutput(ActionOutput):
    """Keys, buttons, wheel and relative motion through ``SendInput`` into the focused window.

    Args:
        settings: the ``layout`` of the keys it may press (keys without a scan code here are
            dropped at start and never sent).
        api: the OS calls (default: the real user32; tests give a fake).

    Raises:
        PlatformError: not Windows (no user32).
    """

    name = "sendinput"
    kind = "keyboard"

    def __init__(self, settings: OutputSettings, api: InputApi | None = None) -> None:
        super().__init__(settings.layout)
        self.api: InputApi = api if api is not None else Win32InputApi()
        self._allowed = frozenset(k for k in self._allowed
                                  if k in SCAN_KEYS or k in MOUSE_BUTTON_FLAGS or k in _XBUTTONS)
        self._pending: list[InputSpec] = []

    def prepare(self, target: Target) -> None:
        """Put the cursor at the window's centre and bring the window to the foreground.

        Raises:
            InputError: Windows refused the foreground change (it may, for a background
                process): the person clicks the game once.
        """
        r = target.region()
        self.api.set_cursor_pos((r.left + r.right) // 2, (r.top + r.bottom) // 2)
        hwnd = getattr(target, "window_id", None)
        if hwnd is None or not self.api.set_foreground_window(int(hwnd)):
            raise InputError("could not bring the game window to the foreground: click it "
                             "once, then start play again")

    def apply(self, action: Action) -> list[InputEvent]:
        """Send the differences (base class) as one ``SendInput`` call."""
        self._pending = []
        sent = super().apply(action)
        specs, self._pending = self._pending, []
        if specs:
            inserted = self.api.send_input(specs)
            if inserted != len(specs):
                raise InputError(f"SendInput inserted {inserted} of {len(specs)} events: input "
                                 "into a window of a higher integrity level is blocked (run "
                                 "play at the game's level, e.g. both elevated or neither)")
        return sent

    # -- primitives ---------------------------------------------------------------------------
    def _key(self, key: str, down: bool) -> None:
        self._pending += key_specs(key, down)

    def _move(self, dx: int, dy: int) -> None:
        self._pending.append(motion_spec(dx, dy))

    def _wheel(self, axis: str, steps: float) -> None:
        self._pending.append(wheel_spec(axis, steps))
