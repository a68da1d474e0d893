"""The uinput virtual gamepad against a fake python-evdev ``UInput`` (tests/uinput_fakes.py).

The codes, values and SYN reports per action; release-all and the device destroyed on close;
one line per setup problem; and a round trip: the reports the backend writes, read the way SDL's
Linux joystick driver reads an evdev pad, through the repo's own pad reader (inputs/_sdl.py, the
joystick-API path a pad without an SDL mapping takes), give back the 21 values sent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import uinput_fakes
from nitrogen_capture.errors import DependencyError, PlatformError
from nitrogen_capture.inputs._sdl import _JoystickPad
from nitrogen_capture.play.action import Action
from nitrogen_capture.play.output import OutputSettings
from nitrogen_capture.play.output._uinput import UInputGamepad
from nitrogen_capture.rows import GAMEPAD_WIDTH, PAD_AXES, PAD_BUTTONS

EV_KEY, EV_ABS = 1, 3
NB = len(PAD_BUTTONS)


def pad(buttons: set[str] = frozenset(), axes: tuple[float, float, float, float] = (0, 0, 0, 0),
        ) -> Action:
    return Action.of(pad=[1.0 if b in buttons else 0.0 for b in PAD_BUTTONS] + list(axes))


@pytest.fixture
def node(tmp_path: Path) -> str:
    path = tmp_path / "uinput"
    path.write_bytes(b"")
    return str(path)


@pytest.fixture
def gamepad(monkeypatch: pytest.MonkeyPatch, node: str) -> Any:
    uinput_fakes.install(monkeypatch)
    out = UInputGamepad(OutputSettings("uinput"), devnode=node)
    yield out
    out.close()


def device() -> uinput_fakes.FakeUInput:
    return uinput_fakes.FakeUInput.created[-1]


def test_the_device_says_it_is_an_xbox_360_pad(gamepad: UInputGamepad) -> None:
    dev = device()
    assert (dev.name, dev.vendor, dev.product, dev.bustype) == (
        "NitroGen Capture virtual pad", 0x045E, 0x028E, 0x03)
    assert dev.events[EV_KEY] == [0x130, 0x131, 0x133, 0x134, 0x136, 0x137, 0x13A, 0x13B,
                                  0x13C, 0x13D, 0x13E]
    ranges = {code: (info.min, info.max) for code, info in dev.events[EV_ABS]}
    assert ranges == {0: (-32768, 32767), 1: (-32768, 32767), 3: (-32768, 32767),
                      4: (-32768, 32767), 2: (0, 255), 5: (0, 255), 0x10: (-1, 1),
                      0x11: (-1, 1)}
    assert gamepad.kind == "gamepad" and dev.writes == []


def test_codes_and_values_per_action_with_one_syn_each(gamepad: UInputGamepad) -> None:
    dev = device()
    gamepad.apply(pad({"south", "left_trigger", "dpad_up"}, (0.5, -1.0, 0.0, 0.25)))
    gamepad.apply(pad({"south", "left_trigger", "dpad_up"}, (0.5, -1.0, 0.0, 0.25)))  # same
    gamepad.apply(pad({"west", "dpad_up", "dpad_left"}, (0.5, -1.0, 0.0, 0.25)))
    gamepad.apply(pad({"west", "dpad_up", "dpad_left"}, (0.5 + 1 / 512, -1.0, 0.0, 0.25)))
    assert dev.reports() == [
        [(EV_ABS, 0x11, -1), (EV_ABS, 0x02, 255), (EV_KEY, 0x130, 1),
         (EV_ABS, 0, 16384), (EV_ABS, 1, -32767), (EV_ABS, 4, 8192)],
        [(EV_ABS, 0x10, -1), (EV_ABS, 0x02, 0), (EV_KEY, 0x130, 0), (EV_KEY, 0x133, 1)],
    ]  # the repeat sends nothing, nor a stick change under the epsilon (1/256)
    assert dev.writes[-1] == (0, 0, 0)


def test_release_all_then_close_destroys_the_device(gamepad: UInputGamepad) -> None:
    dev = device()
    gamepad.apply(pad({"start", "right_shoulder", "dpad_down", "right_trigger"},
                      (0.0, 0.0, -0.75, 0.5)))
    assert gamepad.held == {"start", "right_shoulder", "dpad_down", "right_trigger"}
    gamepad.release_all()
    assert dev.reports()[-1] == [(EV_ABS, 0x11, 0), (EV_KEY, 0x137, 0), (EV_ABS, 0x05, 0),
                                 (EV_KEY, 0x13B, 0), (EV_ABS, 3, 0), (EV_ABS, 4, 0)]
    assert gamepad.held == frozenset()
    gamepad.close()
    gamepad.close()  # idempotent
    assert dev.closed


def test_missing_node_and_permission_are_one_line(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path, node: str) -> None:
    uinput_fakes.install(monkeypatch)
    with pytest.raises(PlatformError, match=r"does not exist.*sudo modprobe uinput") as e1:
        UInputGamepad(OutputSettings("uinput"), devnode=str(tmp_path / "none"))
    assert "\n" not in str(e1.value)
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root may write anything
    with pytest.raises(PlatformError, match=r"no permission.*udev rule.*input group") as e2:
        UInputGamepad(OutputSettings("uinput"), devnode=node)
    assert "\n" not in str(e2.value)


def test_uinput_error_from_the_library_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                   node: str) -> None:
    module = uinput_fakes.install(monkeypatch)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise module.UInputError("uinput device name must not be longer than 80 characters")

    monkeypatch.setattr(module, "UInput", refuse)
    with pytest.raises(PlatformError, match="cannot create a virtual gamepad"):
        UInputGamepad(OutputSettings("uinput"), devnode=node)


def test_evdev_missing_names_the_pip_package(monkeypatch: pytest.MonkeyPatch, node: str) -> None:
    monkeypatch.setitem(__import__("sys").modules, "evdev", None)
    with pytest.raises(DependencyError, match="pip install evdev"):
        UInputGamepad(OutputSettings("uinput"), devnode=node)


# -- the round trip ----------------------------------------------------------------------------
class SdlLinuxJoystick:
    """An evdev pad as SDL2's Linux joystick driver presents it to pygame.

    SDL numbers buttons by ascending key code from BTN_JOYSTICK (0x120), axes by ascending ABS
    code leaving out the hats (ABS_HAT0X..ABS_HAT3Y are hats), scales an axis from its
    [min, max] to [-32768, 32767], and turns hat 0 into (x, y) with +y up (pygame's get_hat);
    pygame's ``get_axis`` is the SDL value / 32768.
    """

    def __init__(self, dev: uinput_fakes.FakeUInput) -> None:
        self._buttons = sorted(c for c in dev.events[EV_KEY] if c >= 0x120)
        self._info = dict(dev.events[EV_ABS])
        self._axes = sorted(c for c in self._info if not 0x10 <= c <= 0x17)
        self._dev = dev
        self._keys: dict[int, int] = {}
        self._abs = {code: info.value for code, info in self._info.items()}
        self.update()

    def update(self) -> None:
        """Take in every report written so far (SDL_JoystickUpdate)."""
        self._keys.clear()
        self._abs = {code: info.value for code, info in self._info.items()}
        for report in self._dev.reports():
            for etype, code, value in report:
                (self._keys if etype == EV_KEY else self._abs)[code] = value

    def get_name(self) -> str:
        return "NitroGen Capture virtual pad"

    def get_guid(self) -> str:
        return "030000005e0400008e02000010010000"

    def get_numaxes(self) -> int:
        return len(self._axes)

    def get_numbuttons(self) -> int:
        return len(self._buttons)

    def get_numhats(self) -> int:
        return 1

    def get_axis(self, i: int) -> float:
        code = self._axes[i]
        info = self._info[code]
        sdl = (self._abs[code] - info.min) * 65535 / (info.max - info.min) - 32768
        return round(sdl) / 32768.0

    def get_button(self, i: int) -> bool:
        return bool(self._keys.get(self._buttons[i], 0))

    def get_hat(self, i: int) -> tuple[int, int]:
        return self._abs[0x10], -self._abs[0x11]

    def quit(self) -> None:
        pass


def open_reader(dev: uinput_fakes.FakeUInput) -> tuple[SdlLinuxJoystick, _JoystickPad]:
    """The repo's joystick-API pad reader over ``dev``, opened at rest (as SDL opens a pad)."""
    joystick = SdlLinuxJoystick(dev)
    pygame = type("pygame", (), {"joystick": type("j", (), {
        "Joystick": staticmethod(lambda index: joystick)})})
    return joystick, _JoystickPad(pygame, 0, {"deadzone": 0.0, "trigger_threshold": 0.12})


def values(joystick: SdlLinuxJoystick, reader: _JoystickPad) -> list[float]:
    joystick.update()
    state = reader.read()
    return [1.0 if b in state.buttons else 0.0 for b in PAD_BUTTONS] + list(state.axes)


@pytest.mark.parametrize("buttons, axes", [
    (set(), (0.0, 0.0, 0.0, 0.0)),
    ({"south", "east", "west", "north"}, (0.6, 0.8, -0.6, -0.8)),  # +ly is down both ways
    ({"left_shoulder", "right_shoulder", "left_trigger", "right_trigger"}, (-1.0, 0.0, 0.0, 1.0)),
    ({"back", "start", "guide", "left_thumb", "right_thumb"}, (0.0, -0.5, 0.25, 0.0)),
    ({"dpad_up", "dpad_left"}, (0.3, 0.0, 0.0, -0.3)),
    ({"dpad_down", "dpad_right", "south"}, (0.0, 0.0, 0.0, 0.0)),
])
def test_round_trip_through_the_sdl_pad_reader(gamepad: UInputGamepad, buttons: set[str],
                                               axes: tuple[float, float, float, float]) -> None:
    joystick, reader = open_reader(device())
    assert values(joystick, reader) == [0.0] * GAMEPAD_WIDTH
    gamepad.apply(pad({"north", "dpad_up"}, (0.1, 0.1, 0.1, 0.1)))  # a state to move from
    sent = pad(buttons, axes)
    gamepad.apply(sent)
    got = values(joystick, reader)
    assert len(got) == GAMEPAD_WIDTH
    assert got[:NB] == list(sent.pad or ())[:NB], [
        PAD_BUTTONS[i] for i in range(NB) if got[i] != (sent.pad or ())[i]]
    assert got[NB:] == pytest.approx(axes, abs=1e-4), dict(zip(PAD_AXES, got[NB:], strict=True))


def test_codes_are_the_kernels_names() -> None:
    """The numbers of the table against python-evdev's ``ecodes`` (from the kernel headers)."""
    ecodes = pytest.importorskip("evdev.ecodes")
    from nitrogen_capture.play.output import _uinput as u

    named = {"south": "BTN_SOUTH", "east": "BTN_EAST", "west": "BTN_X", "north": "BTN_Y",
             "left_shoulder": "BTN_TL", "right_shoulder": "BTN_TR", "back": "BTN_SELECT",
             "start": "BTN_START", "guide": "BTN_MODE", "left_thumb": "BTN_THUMBL",
             "right_thumb": "BTN_THUMBR"}
    assert {k: getattr(ecodes, v) for k, v in named.items()} == u.BUTTON_CODES
    assert u.BUTTON_CODES["west"] == ecodes.BTN_NORTH  # xpad's X: the kernel's other name
    assert u.AXIS_CODES == {"lx": ecodes.ABS_X, "ly": ecodes.ABS_Y, "rx": ecodes.ABS_RX,
                            "ry": ecodes.ABS_RY}
    assert u.TRIGGER_CODES == {"left_trigger": ecodes.ABS_Z, "right_trigger": ecodes.ABS_RZ}
    assert (u.ABS_HAT0X, u.ABS_HAT0Y) == (ecodes.ABS_HAT0X, ecodes.ABS_HAT0Y)
