"""The ViGEm output against a fake vgamepad (tests/vgamepad_fakes.py): the calls per action,
+y up on the sticks, one update per apply, release-all, and the one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

import vgamepad_fakes
from nitrogen_capture.errors import DependencyError, PlatformError
from nitrogen_capture.play.action import Action
from nitrogen_capture.play.output import OutputSettings, get_output
from nitrogen_capture.play.output._vigem import ViGEmGamepad
from nitrogen_capture.rows import PAD_BUTTONS
from vgamepad_fakes import XUSB_BUTTON as B


def pad(buttons: set[str] = frozenset(), axes: tuple[float, ...] = (0, 0, 0, 0)) -> Action:
    return Action.of(pad=[1.0 if b in buttons else 0.0 for b in PAD_BUTTONS] + list(axes))


@pytest.fixture
def vigem(monkeypatch: pytest.MonkeyPatch) -> Iterator[ViGEmGamepad]:
    vgamepad_fakes.install(monkeypatch)
    out = get_output(OutputSettings("vigem"))
    assert isinstance(out, ViGEmGamepad)
    yield out
    out.close()


def dev() -> vgamepad_fakes.FakeVX360Gamepad:
    return vgamepad_fakes.FakeVX360Gamepad.created[-1]


def test_calls_per_action(vigem: ViGEmGamepad) -> None:
    vigem.apply(pad({"south", "dpad_left", "right_trigger"}, (0.5, 0.25, 0.0, 0.0)))
    assert dev().calls == [
        ("press_button", B.XUSB_GAMEPAD_DPAD_LEFT), ("right_trigger_float", 1.0),
        ("press_button", B.XUSB_GAMEPAD_A),
        ("left_joystick_float", (0.5, -0.25)),  # our +y down is XInput's -y
        ("update", None)]
    dev().calls.clear()
    vigem.apply(pad({"south", "dpad_left", "right_trigger"}, (0.5, 0.25, 0.0, 0.0)))
    assert dev().calls == []  # nothing changed: no call, no update
    vigem.apply(pad({"north", "dpad_left", "right_trigger"}, (0.5, 0.25, -1.0, 1.0)))
    assert dev().calls == [("release_button", B.XUSB_GAMEPAD_A),
                           ("press_button", B.XUSB_GAMEPAD_Y),
                           ("right_joystick_float", (-1.0, -1.0)), ("update", None)]
    assert dev().sent[-1] == {"wButtons": int(B.XUSB_GAMEPAD_DPAD_LEFT | B.XUSB_GAMEPAD_Y),
                              "bLeftTrigger": 0, "bRightTrigger": 255, "sThumbLX": 16384,
                              "sThumbLY": -8192, "sThumbRX": -32767, "sThumbRY": -32767}


def test_every_button_has_its_flag(vigem: ViGEmGamepad) -> None:
    everything = set(PAD_BUTTONS)
    vigem.apply(pad(everything))
    report = dev().sent[-1]
    assert report["wButtons"] == 0xF7FF  # every XUSB button bit (0x0800 is unused)
    assert (report["bLeftTrigger"], report["bRightTrigger"]) == (255, 255)
    assert vigem.held == everything


def test_release_all_then_close(vigem: ViGEmGamepad) -> None:
    vigem.apply(pad({"left_shoulder", "start", "left_trigger"}, (-0.5, 1.0, 0.3, 0.0)))
    vigem.release_all()
    assert dev().sent[-1] == {key: 0 for key in dev().sent[-1]}
    assert vigem.held == frozenset()
    vigem.close()
    vigem.close()
    assert dev().closed


def test_bus_refusing_the_pad_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    vgamepad_fakes.install(monkeypatch, attach=False)
    with pytest.raises(PlatformError, match=r"ViGEmBus refused.*retired by its author") as e:
        ViGEmGamepad(OutputSettings("vigem"))
    assert "\n" not in str(e.value)


def test_vgamepad_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vgamepad", None)
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(DependencyError, match=r"pip install vgamepad.*installed separately"):
        ViGEmGamepad(OutputSettings("vigem"))
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(PlatformError, match="on Linux use --output uinput"):
        ViGEmGamepad(OutputSettings("vigem"))
