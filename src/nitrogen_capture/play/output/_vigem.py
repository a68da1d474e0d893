"""A virtual Xbox 360 pad on Windows through vgamepad and the ViGEmBus driver (asked for only).

vgamepad's ``VX360Gamepad`` keeps an XUSB report (the ``XINPUT_GAMEPAD`` layout): buttons are
``XUSB_BUTTON`` flags set with ``press_button``/``release_button``, triggers 0..1 with
``left/right_trigger_float``, sticks -1..1 with ``left/right_joystick_float``, and ``update()``
sends the report to the bus. XInput's stick +y is **up**: our +y-down values are negated.

**ViGEmBus is retired by its author**: the driver is no longer maintained and is not part of
vgamepad; it must be installed separately (its last release's installer). That is why this
output is never picked by ``auto`` (docs/play.md). On Linux use ``uinput``.

vgamepad connects to the bus when it is imported (and raises a plain ``Exception`` naming the
ViGEm error when the driver is missing); both that and a pad that cannot attach are one
:class:`~nitrogen_capture.errors.PlatformError` here.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from ...errors import DependencyError, PlatformError
from ...rows import PAD_AXES, PAD_BUTTONS
from .base import ActionOutput, OutputSettings

__all__ = ["XUSB_FLAGS", "ViGEmGamepad"]

#: Dataset button -> vgamepad ``XUSB_BUTTON`` member name (triggers are analog, apart).
XUSB_FLAGS: dict[str, str] = {
    "dpad_up": "XUSB_GAMEPAD_DPAD_UP", "dpad_down": "XUSB_GAMEPAD_DPAD_DOWN",
    "dpad_left": "XUSB_GAMEPAD_DPAD_LEFT", "dpad_right": "XUSB_GAMEPAD_DPAD_RIGHT",
    "start": "XUSB_GAMEPAD_START", "back": "XUSB_GAMEPAD_BACK",
    "left_thumb": "XUSB_GAMEPAD_LEFT_THUMB", "right_thumb": "XUSB_GAMEPAD_RIGHT_THUMB",
    "left_shoulder": "XUSB_GAMEPAD_LEFT_SHOULDER", "right_shoulder": "XUSB_GAMEPAD_RIGHT_SHOULDER",
    "guide": "XUSB_GAMEPAD_GUIDE", "south": "XUSB_GAMEPAD_A", "east": "XUSB_GAMEPAD_B",
    "west": "XUSB_GAMEPAD_X", "north": "XUSB_GAMEPAD_Y",
}
_RETIRED = ("ViGEmBus (retired by its author, unmaintained) is installed separately from "
            "https://github.com/nefarius/ViGEmBus/releases")


def _import_vgamepad() -> Any:
    try:
        vgamepad = importlib.import_module("vgamepad")  # Windows only, no type stubs
    except ImportError as exc:
        if sys.platform != "win32":
            raise PlatformError("the vigem output drives ViGEmBus on Windows; on Linux use "
                                "--output uinput") from exc
        raise DependencyError("the vigem output needs vgamepad: pip install vgamepad; "
                              f"{_RETIRED}") from exc
    except Exception as exc:  # vgamepad connects to the bus at import time
        raise PlatformError(f"vgamepad could not reach ViGEmBus ({exc}): {_RETIRED}") from exc
    return vgamepad


class ViGEmGamepad(ActionOutput):
    """A virtual Xbox 360 pad through vgamepad/ViGEmBus (module docstring: unmaintained driver).

    Args:
        settings: the output settings (``layout`` is unused by a pad).

    Raises:
        DependencyError: vgamepad is not installed (Windows).
        PlatformError: ViGEmBus is missing or refused the pad; not Windows.
    """

    name = "vigem"
    kind = "gamepad"

    def __init__(self, settings: OutputSettings) -> None:
        super().__init__(settings.layout)
        vg = _import_vgamepad()
        try:
            self._pad_dev: Any = vg.VX360Gamepad()
        except Exception as exc:  # AssertionError or the ViGEm error name, from vgamepad
            raise PlatformError(f"ViGEmBus refused a virtual Xbox 360 pad ({exc}): "
                                f"{_RETIRED}") from exc
        self._flags = {name: getattr(vg.XUSB_BUTTON, flag) for name, flag in XUSB_FLAGS.items()}
        self._closed = False

    def close(self) -> None:
        """Unplug the virtual pad from the bus (idempotent)."""
        if self._closed:
            return
        self._closed = True
        close = getattr(self._pad_dev, "close", None)  # vgamepad < 0.1.1 has none: GC frees it
        if close is not None:
            close()

    def _key(self, key: str, down: bool) -> None:
        raise NotImplementedError("a gamepad output presses no keyboard keys")

    def _pad(self, state: list[float], changed: list[int]) -> None:
        nb = len(PAD_BUTTONS)
        dev = self._pad_dev
        for i in changed:
            if i >= nb:
                continue
            name = PAD_BUTTONS[i]
            if name == "left_trigger":
                dev.left_trigger_float(value_float=state[i])
            elif name == "right_trigger":
                dev.right_trigger_float(value_float=state[i])
            elif state[i]:
                dev.press_button(button=self._flags[name])
            else:
                dev.release_button(button=self._flags[name])
        axes = dict(zip(PAD_AXES, state[nb:], strict=True))
        if {PAD_AXES.index("lx"), PAD_AXES.index("ly")} & {i - nb for i in changed}:
            dev.left_joystick_float(x_value_float=axes["lx"], y_value_float=-axes["ly"])
        if {PAD_AXES.index("rx"), PAD_AXES.index("ry")} & {i - nb for i in changed}:
            dev.right_joystick_float(x_value_float=axes["rx"], y_value_float=-axes["ry"])
        dev.update()
