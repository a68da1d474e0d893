"""The SendInput output on Linux: the real ctypes ``INPUT`` arrays, sent to a fake ``user32``.

``Win32InputApi`` is the real one with its DLL swapped for :class:`FakeUser32`, which reads
the structures back as Windows would (type, scan code, flags, dx/dy, mouseData) and inserts
them all, or fewer to play UIPI's refusal.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

import pytest

from nitrogen_capture.calibrate._sendinput_win32 import INPUT, Win32InputApi
from nitrogen_capture.capture.base import Region
from nitrogen_capture.errors import InputError, PlatformError
from nitrogen_capture.keylayout import KeyLayout
from nitrogen_capture.play.action import Action
from nitrogen_capture.play.output import OutputSettings
from nitrogen_capture.play.output._sendinput import SendInputOutput
from nitrogen_capture.targets.base import Target

KEYUP, EXTENDED, SCANCODE = 0x2, 0x1, 0x8


class FakeUser32:
    """``SendInput``, ``SetCursorPos``, ``BringWindowToTop``, ``SetForegroundWindow`` of user32,
    recorded."""

    def __init__(self, insert_at_most: int | None = None, foreground: bool = True) -> None:
        self.calls: list[list[tuple[Any, ...]]] = []
        self.cursor: tuple[int, int] | None = None
        self.foreground: list[int] = []
        self.raised: list[int] = []
        self._limit = insert_at_most
        self._fg = foreground

    def SendInput(self, n: int, arr: Any, size: int) -> int:
        assert size == ctypes.sizeof(INPUT) and len(arr) == n
        batch: list[tuple[Any, ...]] = []
        for item in arr:
            if item.type == 1:
                ki = item.u.ki
                batch.append(("key", ki.wVk, ki.wScan, ki.dwFlags))
            else:
                mi = item.u.mi
                data = ctypes.c_int32(mi.mouseData).value  # a signed wheel delta in a DWORD
                batch.append(("mouse", mi.dx, mi.dy, data, mi.dwFlags))
        self.calls.append(batch)
        return n if self._limit is None else min(n, self._limit)

    def SetCursorPos(self, x: int, y: int) -> int:
        self.cursor = (x, y)
        return 1

    def BringWindowToTop(self, hwnd: Any) -> int:
        self.raised.append(hwnd.value)
        return 1

    def SetForegroundWindow(self, hwnd: Any) -> int:
        self.foreground.append(hwnd.value)
        return int(self._fg)


def output(user32: FakeUser32, keys: tuple[str, ...] = ("w", "up", "space", "lmb", "rmb",
                                                        "mb4", "wheel_up", "wheel_left",
                                                        "print_screen", "ö")) -> SendInputOutput:
    api = Win32InputApi.__new__(Win32InputApi)  # the real calls over the fake DLL
    api._user32 = user32
    return SendInputOutput(OutputSettings("sendinput", layout=KeyLayout(keys)), api=api)


def test_keys_go_as_scan_codes_one_call_per_apply() -> None:
    user32 = FakeUser32()
    out = output(user32)
    out.apply(Action.of({"w", "up", "lmb"}))
    out.apply(Action.of({"w", "space", "mb4"}))
    out.apply(Action.of({"w", "space", "mb4"}))  # nothing changed: no call
    assert user32.calls == [
        [("mouse", 0, 0, 0, 0x0002), ("key", 0x26, 0x48, SCANCODE | EXTENDED),
         ("key", ord("W"), 0x11, SCANCODE)],
        [("mouse", 0, 0, 0, 0x0004), ("key", 0x26, 0x48, SCANCODE | EXTENDED | KEYUP),
         ("mouse", 0, 0, 1, 0x0080), ("key", 0x20, 0x39, SCANCODE)],
    ]


def test_motion_and_wheel() -> None:
    user32 = FakeUser32()
    out = output(user32)
    out.apply(Action.of({"wheel_up"}, mouse=(3.5, -2.0)))
    out.apply(Action.of({"wheel_left"}, mouse=(0.5, 0.0)))
    assert user32.calls == [
        [("mouse", 0, 0, 120, 0x0800), ("mouse", 3, -2, 0, 0x0001)],
        [("mouse", 0, 0, -120, 0x1000), ("mouse", 1, 0, 0, 0x0001)],
    ]


def test_release_all_and_keys_without_a_scan_code() -> None:
    user32 = FakeUser32()
    out = output(user32)
    # ö and print_screen have no scan code here; z is not in the layout.
    out.apply(Action.of({"w", "rmb", "ö", "print_screen", "z"}))
    assert out.held == {"w", "rmb"}
    out.release_all()
    assert user32.calls[-1] == [("mouse", 0, 0, 0, 0x0010),
                                ("key", ord("W"), 0x11, SCANCODE | KEYUP)]
    assert out.held == frozenset()


def test_a_short_count_is_one_line_naming_the_integrity_level() -> None:
    out = output(FakeUser32(insert_at_most=0))
    with pytest.raises(InputError, match="higher integrity level"):
        out.apply(Action.of({"w"}))


class _Window(Target):
    window_id = 0x1234

    def region(self) -> Region:
        return Region(100, 50, 740, 530)


def test_prepare_centres_the_cursor_and_raises_the_window() -> None:
    user32 = FakeUser32()
    output(user32).prepare(_Window())
    assert user32.cursor == (420, 290) and user32.foreground == [0x1234]
    assert user32.raised == [0x1234]  # raised too: under Wine activation alone does not
    with pytest.raises(InputError, match="foreground: click it"):
        output(FakeUser32(foreground=False)).prepare(_Window())


@pytest.mark.skipif(sys.platform == "win32", reason="the line for a system without SendInput")
def test_not_windows_is_one_line() -> None:
    with pytest.raises(PlatformError, match="SendInput needs Windows"):
        SendInputOutput(OutputSettings("sendinput"))
