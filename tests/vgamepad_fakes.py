"""A fake of vgamepad (Windows, ViGEmBus) for the vigem output's tests.

Follows vgamepad 0.1's ``vgamepad/__init__.py``, ``win/vigem_commons.py`` and
``win/virtual_gamepad.py``: ``XUSB_BUTTON`` is an ``IntFlag`` with the XUSB report's bits;
``VX360Gamepad()`` attaches a pad (vgamepad asserts "The virtual device could not connect to
ViGEmBus." when it cannot) and keeps a report: ``press_button(button)`` ORs the flag,
``release_button(button)`` clears it, ``left/right_trigger_float(value_float)`` store
``round(v * 255)``, ``left/right_joystick_float(x_value_float, y_value_float)`` store
``round(v * 32767)`` with +y up, ``update()`` sends the report, ``close()`` unplugs. Every call
is recorded in :attr:`FakeVX360Gamepad.calls` and every report sent in ``sent``.
"""

from __future__ import annotations

import enum
import sys
import types
from typing import Any

import pytest


class XUSB_BUTTON(enum.IntFlag):
    """vgamepad's ``XUSB_BUTTON``."""

    XUSB_GAMEPAD_DPAD_UP = 0x0001
    XUSB_GAMEPAD_DPAD_DOWN = 0x0002
    XUSB_GAMEPAD_DPAD_LEFT = 0x0004
    XUSB_GAMEPAD_DPAD_RIGHT = 0x0008
    XUSB_GAMEPAD_START = 0x0010
    XUSB_GAMEPAD_BACK = 0x0020
    XUSB_GAMEPAD_LEFT_THUMB = 0x0040
    XUSB_GAMEPAD_RIGHT_THUMB = 0x0080
    XUSB_GAMEPAD_LEFT_SHOULDER = 0x0100
    XUSB_GAMEPAD_RIGHT_SHOULDER = 0x0200
    XUSB_GAMEPAD_GUIDE = 0x0400
    XUSB_GAMEPAD_A = 0x1000
    XUSB_GAMEPAD_B = 0x2000
    XUSB_GAMEPAD_X = 0x4000
    XUSB_GAMEPAD_Y = 0x8000


class FakeVX360Gamepad:
    """One virtual pad (see the module docstring)."""

    created: list[FakeVX360Gamepad] = []
    attach = True

    def __init__(self) -> None:
        assert FakeVX360Gamepad.attach, "The virtual device could not connect to ViGEmBus."
        self.report = {"wButtons": 0, "bLeftTrigger": 0, "bRightTrigger": 0, "sThumbLX": 0,
                       "sThumbLY": 0, "sThumbRX": 0, "sThumbRY": 0}
        self.calls: list[tuple[str, Any]] = []
        self.sent: list[dict[str, int]] = []
        self.closed = False
        FakeVX360Gamepad.created.append(self)
        self.update()
        self.calls.clear()

    def press_button(self, button: int) -> None:
        self.calls.append(("press_button", XUSB_BUTTON(button)))
        self.report["wButtons"] |= int(button)

    def release_button(self, button: int) -> None:
        self.calls.append(("release_button", XUSB_BUTTON(button)))
        self.report["wButtons"] &= ~int(button)

    def left_trigger_float(self, value_float: float) -> None:
        self.calls.append(("left_trigger_float", value_float))
        self.report["bLeftTrigger"] = round(value_float * 255)

    def right_trigger_float(self, value_float: float) -> None:
        self.calls.append(("right_trigger_float", value_float))
        self.report["bRightTrigger"] = round(value_float * 255)

    def left_joystick_float(self, x_value_float: float, y_value_float: float) -> None:
        self.calls.append(("left_joystick_float", (x_value_float, y_value_float)))
        self.report["sThumbLX"] = round(x_value_float * 32767)
        self.report["sThumbLY"] = round(y_value_float * 32767)

    def right_joystick_float(self, x_value_float: float, y_value_float: float) -> None:
        self.calls.append(("right_joystick_float", (x_value_float, y_value_float)))
        self.report["sThumbRX"] = round(x_value_float * 32767)
        self.report["sThumbRY"] = round(y_value_float * 32767)

    def update(self) -> None:
        assert not self.closed, "update after close"
        self.calls.append(("update", None))
        self.sent.append(dict(self.report))

    def close(self) -> None:
        self.closed = True


def install(monkeypatch: pytest.MonkeyPatch, *, attach: bool = True) -> types.ModuleType:
    """Put the fake ``vgamepad`` in ``sys.modules``; returns it."""
    FakeVX360Gamepad.created = []
    monkeypatch.setattr(FakeVX360Gamepad, "attach", attach)
    module = types.ModuleType("vgamepad")
    module.XUSB_BUTTON = XUSB_BUTTON  # type: ignore[attr-defined]
    module.VX360Gamepad = FakeVX360Gamepad  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vgamepad", module)
    return module
