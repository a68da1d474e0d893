"""A gamepad reader with no pad says so once (XInput and SDL, with fakes of their APIs).

A user who records with ``--gamepad`` and no pad plugged in gets one warning line, not silence
(empty gamepad arrays) and not a line per rescan. tests_wine/test_win32_inputs.py checks the
real readers under Wine.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from nitrogen_capture.inputs import _sdl
from nitrogen_capture.inputs import _xinput as xi


class FakeXInput:
    def __init__(self) -> None:
        self.slots: dict[int, xi.XInputReading] = {}

    def get_state(self, index: int) -> xi.XInputReading | None:
        return self.slots.get(index)


def messages(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records]


def test_xinput_says_once_that_no_controller_is_connected(
        caplog: pytest.LogCaptureFixture) -> None:
    api, now = FakeXInput(), [0]
    pad = xi.XInputGamepad(api=api, clock=lambda: now[0], rescan_s=1.0)
    with caplog.at_level(logging.INFO, logger=xi.__name__):
        for now[0] in (0, 10**9, 2 * 10**9):  # three empty scans: one warning
            pad.poll()
        api.slots[1], now[0] = xi.XInputReading(1, 0, 0, 0, 0, 0, 0, 0), 3 * 10**9
        pad.poll()
        xi.XInputGamepad(2, api=FakeXInput(), clock=lambda: 0).poll()
    assert messages(caplog) == [("WARNING", "no XInput controller connected in any slot (0-3)"),
                                ("INFO", "XInput pad 1 connected"),
                                ("WARNING", "no XInput controller connected in slot 2")]
    assert caplog.records[0].getMessage().endswith("stay neutral until one is plugged in")


def test_sdl_says_once_that_no_gamepad_is_found(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("pygame")
    reader = _sdl.SdlGamepad()  # SDL itself replaced below: only the reader's logic runs
    count = [0]

    def unplugged(index: int) -> None:
        raise RuntimeError(f"joystick {index} went away")

    reader._pygame = SimpleNamespace(
        joystick=SimpleNamespace(get_count=lambda: count[0], Joystick=unplugged),
        error=RuntimeError)
    reader._controller = SimpleNamespace(update=lambda: None, is_controller=lambda i: False,
                                         error=RuntimeError)
    with caplog.at_level(logging.INFO, logger=_sdl.__name__):
        reader.poll()
        count[0] = 1  # a device appears but cannot be opened, then goes away again
        reader.poll()
        count[0] = 0
        reader.poll()
    assert messages(caplog) == [("WARNING", "no gamepad found through SDL"),
                                ("WARNING", "cannot open SDL joystick 0")]
