"""A virtual Xbox-360-like gamepad through python-evdev's ``UInput`` (Linux ``/dev/uinput``).

The device says it is Microsoft's 045e:028e (the wired Xbox 360 pad) on the USB bus, so SDL
(and with it most Linux and Proton games) applies its Xbox 360 mapping to it. Its codes are the
ones the kernel's ``xpad`` driver gives that pad, in the order SDL numbers them (a pad SDL reads
through the joystick API gets buttons by code order, ``inputs/_sdl.py`` ``JOYSTICK_BUTTONS``):

===============  ===========================  ===========================================
ours             evdev code                   range
===============  ===========================  ===========================================
south/east       BTN_SOUTH 0x130 / BTN_EAST   0/1
west / north     0x133 / 0x134                ``xpad`` sends X as BTN_X and Y as BTN_Y,
                                              whose numbers the kernel also names BTN_NORTH
                                              and BTN_WEST: SDL's 045e:028e mapping expects
                                              exactly these (x:b2, y:b3)
shoulders        BTN_TL / BTN_TR
back/start/guide BTN_SELECT / START / MODE
thumbs           BTN_THUMBL / BTN_THUMBR
lx ly rx ry      ABS_X ABS_Y ABS_RX ABS_RY    -32768..32767, +y down as evdev's ABS_Y
triggers         ABS_Z / ABS_RZ               0..255 (our rows hold them as buttons: 0/255)
d-pad            ABS_HAT0X / ABS_HAT0Y        -1..1, -1 = left / up
===============  ===========================  ===========================================

Every :meth:`UInputGamepad.apply` writes its events and one ``SYN_REPORT``, so a reader sees
the step's changes as one report. :meth:`close` destroys the device (after ``release_all``).

Needs write access to ``/dev/uinput``: the ``uinput`` module loaded and a udev rule or group
that lets the user write it (each a one-line :class:`~nitrogen_capture.errors.PlatformError`).
"""

from __future__ import annotations

import os
from typing import Any

from ...errors import DependencyError, PlatformError
from ...rows import PAD_AXES, PAD_BUTTONS
from .base import ActionOutput, OutputSettings

__all__ = [
    "AXIS_CODES",
    "BUTTON_CODES",
    "DEVICE_NAME",
    "HAT_BUTTONS",
    "PRODUCT",
    "TRIGGER_CODES",
    "VENDOR",
    "UInputGamepad",
    "capabilities",
    "pad_events",
]

DEVICE_NAME = "NitroGen Capture virtual pad"
VENDOR, PRODUCT, VERSION, BUS_USB = 0x045E, 0x028E, 0x0110, 0x03
EV_SYN, EV_KEY, EV_ABS, SYN_REPORT = 0x00, 0x01, 0x03, 0
#: Dataset button -> evdev key code (the kernel's ABI numbers; module docstring for west/north).
BUTTON_CODES: dict[str, int] = {
    "south": 0x130, "east": 0x131, "west": 0x133, "north": 0x134,
    "left_shoulder": 0x136, "right_shoulder": 0x137, "back": 0x13A, "start": 0x13B,
    "guide": 0x13C, "left_thumb": 0x13D, "right_thumb": 0x13E,
}
#: Triggers (buttons in our rows) -> their absolute axis, pressed = full travel.
TRIGGER_CODES: dict[str, int] = {"left_trigger": 0x02, "right_trigger": 0x05}  # ABS_Z, ABS_RZ
TRIGGER_MAX = 255
#: Stick axes -> ABS_X, ABS_Y, ABS_RX, ABS_RY.
AXIS_CODES: dict[str, int] = {"lx": 0x00, "ly": 0x01, "rx": 0x03, "ry": 0x04}
STICK_MIN, STICK_MAX = -32768, 32767
ABS_HAT0X, ABS_HAT0Y = 0x10, 0x11
#: D-pad buttons -> (hat axis, value).
HAT_BUTTONS: dict[str, tuple[int, int]] = {
    "dpad_left": (ABS_HAT0X, -1), "dpad_right": (ABS_HAT0X, 1),
    "dpad_up": (ABS_HAT0Y, -1), "dpad_down": (ABS_HAT0Y, 1),
}
_FIX = "sudo modprobe uinput"
_PERMISSION = ("add a udev rule such as KERNEL==\"uinput\", GROUP=\"input\", MODE=\"0660\" and "
               "put yourself in the input group (then log in again)")


def capabilities(absinfo: Any) -> dict[int, list[Any]]:
    """The ``events`` argument of ``UInput``: keys, then axes as ``(code, AbsInfo)``.

    ``absinfo`` is python-evdev's ``AbsInfo(value, min, max, fuzz, flat, resolution)``.
    """
    sticks = [(code, absinfo(0, STICK_MIN, STICK_MAX, 16, 128, 0))
              for code in AXIS_CODES.values()]
    triggers = [(code, absinfo(0, 0, TRIGGER_MAX, 0, 0, 0)) for code in TRIGGER_CODES.values()]
    hats = [(code, absinfo(0, -1, 1, 0, 0, 0)) for code in (ABS_HAT0X, ABS_HAT0Y)]
    return {EV_KEY: sorted(BUTTON_CODES.values()),
            EV_ABS: sorted([*sticks, *triggers, *hats], key=lambda item: item[0])}


def _stick(value: float) -> int:
    return max(STICK_MIN, min(STICK_MAX, round(value * STICK_MAX)))


def pad_events(state: list[float], changed: list[int]) -> list[tuple[int, int, int]]:
    """The ``(type, code, value)`` writes that set the ``changed`` indices of a 21-value state.

    A d-pad change writes its hat axis from both of its buttons (up and down held together
    cancel, as on a hat).
    """
    nb = len(PAD_BUTTONS)
    held = {PAD_BUTTONS[i] for i in range(nb) if state[i]}
    out: list[tuple[int, int, int]] = []
    hats: set[int] = set()
    for i in changed:
        if i >= nb:
            out.append((EV_ABS, AXIS_CODES[PAD_AXES[i - nb]], _stick(state[i])))
            continue
        name = PAD_BUTTONS[i]
        if name in BUTTON_CODES:
            out.append((EV_KEY, BUTTON_CODES[name], 1 if state[i] else 0))
        elif name in TRIGGER_CODES:
            out.append((EV_ABS, TRIGGER_CODES[name], TRIGGER_MAX if state[i] else 0))
        elif (axis := HAT_BUTTONS[name][0]) not in hats:
            hats.add(axis)
            out.append((EV_ABS, axis, sum(v for b, (a, v) in HAT_BUTTONS.items()
                                          if a == axis and b in held)))
    return out


class UInputGamepad(ActionOutput):
    """A virtual pad the game reads like a wired Xbox 360 pad (module docstring).

    Args:
        settings: the output settings (``layout`` is unused by a pad).
        devnode: the uinput node (tests give one in a temporary folder).

    Raises:
        DependencyError: python-evdev is not installed.
        PlatformError: no ``/dev/uinput`` or no write access to it (the fix in the message).
    """

    name = "uinput"
    kind = "gamepad"

    def __init__(self, settings: OutputSettings, *, devnode: str = "/dev/uinput") -> None:
        super().__init__(settings.layout)
        try:
            import evdev
        except ImportError as exc:
            raise DependencyError("the uinput gamepad output needs python-evdev: "
                                  "pip install evdev") from exc
        if not os.path.exists(devnode):
            raise PlatformError(f"{devnode} does not exist: the uinput module is not loaded; "
                                f"run {_FIX}")
        if not os.access(devnode, os.W_OK):
            raise PlatformError(f"no permission to write {devnode} for a virtual gamepad: "
                                f"{_PERMISSION}")
        try:
            # Axes go as (code, AbsInfo) pairs, which python-evdev's annotation leaves out.
            uinput: Any = evdev.UInput
            self._ui: Any = uinput(capabilities(evdev.AbsInfo), name=DEVICE_NAME,
                                   vendor=VENDOR, product=PRODUCT, version=VERSION,
                                   bustype=BUS_USB, devnode=devnode)
        except (OSError, evdev.UInputError) as exc:
            raise PlatformError(f"cannot create a virtual gamepad through {devnode}: {exc} "
                                f"(load it with {_FIX}; to write it: {_PERMISSION})") from exc
        self.devnode = devnode
        self._closed = False

    def close(self) -> None:
        """Destroy the virtual device (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._ui.close()

    def _key(self, key: str, down: bool) -> None:
        raise NotImplementedError("a gamepad output presses no keyboard keys")

    def _pad(self, state: list[float], changed: list[int]) -> None:
        for etype, code, value in pad_events(state, changed):
            self._ui.write(etype, code, value)
        self._ui.syn()
