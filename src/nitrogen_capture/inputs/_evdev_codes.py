"""Linux input event codes (``linux/input-event-codes.h``) and their names in our layouts.

The numbers are the kernel's ABI, fixed for good, so the evdev backend names keys from this
table rather than from python-evdev's ``ecodes`` (the fake device of the tests needs no
python-evdev, and tests/capture_inputs/test_evdev.py checks the table against ``ecodes`` where
python-evdev is installed).

An evdev key code is a *position* on the keyboard, named after the US QWERTY key there: on an
AZERTY keyboard the key labelled A reports ``KEY_Q`` and is recorded as ``q``. That is what a
game reading scan codes sees (WASD by position); the X11 path names keys by their symbol
instead. Keypad keys are ``kp_0`` .. ``kp_9``, ``kp_enter`` and so on, never the digits of the
main row. Left and right modifiers fold to one name (``shift``, ``ctrl``, ``alt``, ``cmd``),
as the other listeners fold them.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BTN_GAMEPAD", "BTN_JOYSTICK", "BTN_LEFT", "BTN_TOUCH", "BUTTON_NAMES",
           "CLOCK_MONOTONIC_ID", "EVIOCSCLOCKID", "EV_ABS", "EV_KEY", "EV_REL", "EV_SYN",
           "KEY_A", "KEY_NAMES", "KEY_SPACE", "KEY_Z", "REL_HWHEEL", "REL_WHEEL", "REL_X",
           "REL_Y", "SYN_DROPPED", "SYN_REPORT"]

EV_SYN: Final = 0x00
EV_KEY: Final = 0x01
EV_REL: Final = 0x02
EV_ABS: Final = 0x03
SYN_REPORT: Final = 0
SYN_DROPPED: Final = 3
REL_X: Final = 0x00
REL_Y: Final = 0x01
REL_HWHEEL: Final = 0x06
REL_WHEEL: Final = 0x08
KEY_A: Final = 30
KEY_Z: Final = 44
KEY_SPACE: Final = 57
BTN_LEFT: Final = 0x110
BTN_JOYSTICK: Final = 0x120
BTN_GAMEPAD: Final = 0x130
BTN_TOUCH: Final = 0x14A
# _IOW('E', 0xa0, int): which clock stamps this file descriptor's events (linux/input.h).
EVIOCSCLOCKID: Final = 0x400445A0
CLOCK_MONOTONIC_ID: Final = 1  # time.CLOCK_MONOTONIC on Linux

_ROWS: tuple[tuple[int, str], ...] = (
    (1, "esc"), (12, "-"), (13, "="), (14, "backspace"), (15, "tab"),
    (26, "["), (27, "]"), (28, "enter"), (29, "ctrl"), (39, ";"), (40, "'"), (41, "`"),
    (42, "shift"), (43, "\\"), (51, ","), (52, "."), (53, "/"), (54, "shift"),
    (55, "kp_multiply"), (56, "alt"), (57, "space"), (58, "caps_lock"), (69, "num_lock"),
    (70, "scroll_lock"), (74, "kp_subtract"), (78, "kp_add"), (83, "kp_decimal"),
    (86, "<"), (96, "kp_enter"), (97, "ctrl"), (98, "kp_divide"), (99, "print_screen"),
    (100, "alt"), (102, "home"), (103, "up"), (104, "page_up"), (105, "left"),
    (106, "right"), (107, "end"), (108, "down"), (109, "page_down"), (110, "insert"),
    (111, "delete"), (119, "pause"), (125, "cmd"), (126, "cmd"), (127, "menu"),
)
_LETTER_ROWS: tuple[tuple[int, str], ...] = ((16, "qwertyuiop"), (30, "asdfghjkl"),
                                             (44, "zxcvbnm"))
_KEYPAD: tuple[tuple[int, str], ...] = ((71, "789"), (75, "456"), (79, "123"), (82, "0"))


def _key_names() -> dict[int, str]:
    names = dict(_ROWS)
    for first, letters in _LETTER_ROWS:
        names.update((first + i, ch) for i, ch in enumerate(letters))
    names.update((2 + i, str((i + 1) % 10)) for i in range(10))  # KEY_1 .. KEY_9, KEY_0
    names.update((59 + i, f"f{i + 1}") for i in range(10))  # KEY_F1 .. KEY_F10
    names.update({87: "f11", 88: "f12"})
    names.update((183 + i, f"f{i + 13}") for i in range(12))  # KEY_F13 .. KEY_F24
    for first, digits in _KEYPAD:
        names.update((first + i, f"kp_{d}") for i, d in enumerate(digits))
    return names


#: Keyboard key code -> canonical key name (codes missing here are never recorded).
KEY_NAMES: dict[int, str] = _key_names()
#: Mouse button code -> button name: BTN_LEFT/RIGHT/MIDDLE, SIDE/BACK (X button 8), EXTRA/FORWARD.
BUTTON_NAMES: dict[int, str] = {0x110: "lmb", 0x111: "rmb", 0x112: "mmb", 0x113: "mb4",
                                0x116: "mb4", 0x114: "mb5", 0x115: "mb5"}
