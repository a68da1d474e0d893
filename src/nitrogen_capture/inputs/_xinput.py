"""Xbox-style gamepads on Windows through XInput (``XInputGetState`` via ctypes).

XInput has no events: the poll thread of :class:`~._pad_state.PadSource` (default 250 Hz, to
absolute deadlines) calls ``XInputGetState`` and, when ``dwPacketNumber`` changed, translates the
reading into a :class:`~._pad_state.PadState`; ``PadSource`` turns the difference to the
previous state into ``pad_btn``/``pad_axis`` events stamped with
:func:`~nitrogen_capture.clock.now_ns` at the poll. Names are the NitroGen dataset's
(:data:`~nitrogen_capture.keylayout.PAD_BUTTONS`): A=south, B=east, X=west, Y=north,
LB/RB=left/right_shoulder, stick clicks=left/right_thumb, View/Back=back, Menu/Start=start,
dpad_*. ``guide`` is not reported by ``XInputGetState`` (only by an undocumented export), so it
is never emitted. The state -> events diffing is shared with the SDL reader (``_pad_state``).

* Triggers are buttons: pressed above ``XINPUT_GAMEPAD_TRIGGER_THRESHOLD`` (30 of 255).
* Sticks use Microsoft's radial dead zones (7849 left, 8689 right): inside the zone the stick is
  0, outside it the magnitude is rescaled so it starts at 0 at the zone's edge and reaches 1 at
  full deflection. Values are in [-1, 1], +x right, **+y down**: XInput's +y is up, so y is
  negated. Values are rounded to 1e-4 so sensor noise below that sends no events.
* The DLL is the first of ``xinput1_4`` (Windows 8+), ``xinput1_3`` (DirectX runtime),
  ``xinput9_1_0`` (Vista+) that loads.
* A disconnected pad releases everything (events back to neutral). Polling an empty slot can take
  a long time on some systems, so empty slots are re-scanned only every ``rescan_s``.
* When the first scan finds no pad, one warning says so (the pad columns stay neutral until one
  is plugged in); a user who asked for ``--gamepad`` must not learn it only from empty arrays.
"""

from __future__ import annotations

import ctypes
import logging
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..clock import now_ns
from ..errors import ConfigError, InputError, PlatformError
from ._pad_state import NEUTRAL, PadSource, PadState, diff_states

__all__ = [
    "BUTTON_BITS",
    "LEFT_DEADZONE",
    "NEUTRAL",
    "RIGHT_DEADZONE",
    "TRIGGER_THRESHOLD",
    "XINPUT_DLLS",
    "XINPUT_STATE",
    "PadState",
    "XInputGamepad",
    "XInputReading",
    "diff_states",
    "load_first_dll",
    "normalise_stick",
    "pad_state",
]

log = logging.getLogger(__name__)

BUTTON_BITS: tuple[tuple[int, str], ...] = (
    (0x0001, "dpad_up"), (0x0002, "dpad_down"), (0x0004, "dpad_left"), (0x0008, "dpad_right"),
    (0x0010, "start"), (0x0020, "back"), (0x0040, "left_thumb"), (0x0080, "right_thumb"),
    (0x0100, "left_shoulder"), (0x0200, "right_shoulder"),
    (0x1000, "south"), (0x2000, "east"), (0x4000, "west"), (0x8000, "north"),
)
TRIGGER_THRESHOLD = 30
LEFT_DEADZONE = 7849
RIGHT_DEADZONE = 8689
XINPUT_DLLS: tuple[str, ...] = ("xinput1_4", "xinput1_3", "xinput9_1_0")
_STICK_MAX = 32767.0
_ERROR_DEVICE_NOT_CONNECTED = 1167
_MAX_PADS = 4


class XINPUT_GAMEPAD(ctypes.Structure):
    """``XINPUT_GAMEPAD``."""

    _fields_ = [
        ("wButtons", ctypes.c_uint16),
        ("bLeftTrigger", ctypes.c_uint8),
        ("bRightTrigger", ctypes.c_uint8),
        ("sThumbLX", ctypes.c_int16),
        ("sThumbLY", ctypes.c_int16),
        ("sThumbRX", ctypes.c_int16),
        ("sThumbRY", ctypes.c_int16),
    ]


class XINPUT_STATE(ctypes.Structure):
    """``XINPUT_STATE``: a packet number that changes with the state, and the gamepad."""

    _fields_ = [("dwPacketNumber", ctypes.c_uint32), ("Gamepad", XINPUT_GAMEPAD)]


@dataclass(frozen=True)
class XInputReading:
    """One ``XINPUT_STATE`` as plain numbers."""

    packet: int
    buttons: int
    left_trigger: int
    right_trigger: int
    lx: int
    ly: int
    rx: int
    ry: int

    @classmethod
    def from_struct(cls, state: XINPUT_STATE) -> XInputReading:
        """Copy the fields out of the ctypes structure."""
        g = state.Gamepad
        return cls(int(state.dwPacketNumber), int(g.wButtons), int(g.bLeftTrigger),
                   int(g.bRightTrigger), int(g.sThumbLX), int(g.sThumbLY), int(g.sThumbRX),
                   int(g.sThumbRY))


def normalise_stick(x: int, y: int, deadzone: int) -> tuple[float, float]:
    """XInput stick counts -> (x, y) in [-1, 1] with a radial dead zone, +y down."""
    magnitude = math.hypot(x, y)
    if magnitude <= deadzone:
        return 0.0, 0.0
    scaled = (min(magnitude, _STICK_MAX) - deadzone) / (_STICK_MAX - deadzone)
    fx = max(-1.0, min(1.0, x / magnitude * scaled))
    fy = max(-1.0, min(1.0, -y / magnitude * scaled))  # XInput +y is up; ours is down
    return round(fx, 4) + 0.0, round(fy, 4) + 0.0  # + 0.0 turns -0.0 into 0.0


def pad_state(reading: XInputReading) -> PadState:
    """Translate a raw reading into a :class:`PadState`."""
    pressed = {name for bit, name in BUTTON_BITS if reading.buttons & bit}
    if reading.left_trigger > TRIGGER_THRESHOLD:
        pressed.add("left_trigger")
    if reading.right_trigger > TRIGGER_THRESHOLD:
        pressed.add("right_trigger")
    lx, ly = normalise_stick(reading.lx, reading.ly, LEFT_DEADZONE)
    rx, ry = normalise_stick(reading.rx, reading.ry, RIGHT_DEADZONE)
    return PadState(frozenset(pressed), (lx, ly, rx, ry))


def load_first_dll(names: Sequence[str], loader: Callable[[str], Any]) -> tuple[Any, str]:
    """Load the first DLL of ``names`` that ``loader`` can open; return it and its name.

    Raises:
        PlatformError: none loads.
    """
    failures: list[str] = []
    for name in names:
        try:
            return loader(name), name
        except OSError as exc:
            failures.append(f"{name}: {exc}")
    raise PlatformError(
        "no XInput DLL could be loaded (" + "; ".join(failures) + "): install the DirectX "
        "runtime, or record the pad through SDL2 with pip install 'nitrogen-capture[gamepad]'"
    )


class XInputApi(Protocol):
    """``XInputGetState``; tests replace it with a fake."""

    def get_state(self, index: int) -> XInputReading | None:
        """The state of pad ``index`` (0-3), None when it is not connected."""


class _XInputDll:
    """The real ``XInputGetState`` through ctypes (Windows only)."""

    _dll: Any  # declared here: mypy on Linux sees the code after the platform check as dead

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise PlatformError("XInput gamepads need Windows; on Linux use the SDL2 gamepad")
        self._dll = load_first_dll(XINPUT_DLLS, ctypes.WinDLL)[0]

    def get_state(self, index: int) -> XInputReading | None:
        state = XINPUT_STATE()
        rc = int(self._dll.XInputGetState(index, ctypes.byref(state)))
        if rc == _ERROR_DEVICE_NOT_CONNECTED:
            return None
        if rc != 0:
            raise InputError(f"XInputGetState({index}) failed with Windows error {rc}")
        return XInputReading.from_struct(state)


class XInputGamepad(PadSource):
    """Reads one XInput pad; :class:`~._pad_state.PadSource` polls it.

    Args:
        user_index: pad slot 0-3; ``None`` takes the first connected pad.
        rate_hz: polling rate.
        rescan_s: how often empty slots are polled while no pad is connected.
        api: the XInput layer (tests pass a fake); default loads the DLL (Windows only).
        clock: the nanosecond clock used to stamp events (and to time the rescans).

    Raises:
        ConfigError: bad slot or rate.
        PlatformError: not on Windows, or no XInput DLL.
    """

    name = "xinput"
    thread_name = "xinput-pad"

    def __init__(self, user_index: int | None = None, rate_hz: float = 250.0, *,
                 rescan_s: float = 1.0, api: XInputApi | None = None,
                 clock: Callable[[], int] = now_ns) -> None:
        super().__init__(rate_hz, clock=clock)
        if user_index is not None and not 0 <= user_index < _MAX_PADS:
            raise ConfigError(f"XInput pad index must be 0..3, got {user_index}")
        self.user_index = user_index
        self.rescan_ns = int(rescan_s * 1e9)
        self._api: XInputApi = api if api is not None else _XInputDll()
        self._index: int | None = None
        self._packet: int | None = None
        self._next_scan_ns = 0
        self._absence_told = False  # the "no controller" warning is given once per recording

    @property
    def connected_index(self) -> int | None:
        """The slot being read, None while no pad is connected."""
        return self._index

    def _read_state(self) -> PadState:
        if self._index is None:
            t = self._clock()
            if t < self._next_scan_ns:
                return NEUTRAL
            self._next_scan_ns = t + self.rescan_ns
            slots = range(_MAX_PADS) if self.user_index is None else (self.user_index,)
            for slot in slots:
                reading = self._api.get_state(slot)
                if reading is not None:
                    log.info("XInput pad %d connected", slot)
                    self._index = slot
                    self._absence_told = True  # a later absence is a disconnect: warned there
                    return self._translate(reading)
            if not self._absence_told:
                self._absence_told = True
                where = ("in any slot (0-3)" if self.user_index is None
                         else f"in slot {self.user_index}")
                log.warning("no XInput controller connected %s: the gamepad columns stay "
                            "neutral until one is plugged in", where)
            return NEUTRAL
        reading = self._api.get_state(self._index)
        if reading is None:
            log.warning("XInput pad %d disconnected: releasing its buttons", self._index)
            self._index, self._packet = None, None
            self._next_scan_ns = 0  # look for it again at the next poll
            return NEUTRAL
        if reading.packet == self._packet:
            return self.state  # XInput bumps the packet number whenever anything changed
        return self._translate(reading)

    def _translate(self, reading: XInputReading) -> PadState:
        self._packet = reading.packet
        return pad_state(reading)
