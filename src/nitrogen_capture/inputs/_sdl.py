"""Gamepads through SDL2 (pygame): Linux, macOS, and PlayStation pads on Windows.

The poll thread of :class:`~._pad_state.PadSource` (default 250 Hz, to absolute deadlines) owns the
whole SDL joystick lifecycle: it initialises the joystick and game-controller subsystems
(``_open``), polls, and quits them (``_close``, unless something else in the process had started
them). Init, update and quit stay on one thread: on Windows SDL's device notifications, on macOS
its HID run loop, belong to the initialising thread. Each poll calls
``pygame._sdl2.controller.update`` (``SDL_GameControllerUpdate``, which runs
``SDL_JoystickUpdate``: device detection and state) and reads the pad; ``PadSource`` emits the
difference to the previous state (:func:`~._pad_state.diff_states`) stamped with
:func:`~nitrogen_capture.clock.now_ns` at the poll. pygame's event queue is not read: it needs
pygame's video subsystem, which a recorder has no business opening (SDL's own queue fills up to
its cap of 65535 events and then drops new ones, which costs a few MB and nothing else).

* Mapping: a pad SDL knows (its mapping database covers Xbox, PlayStation, Switch and most
  others) is read through the GameController API, so every pad reports the same positional names:
  A/cross=south, B/circle=east, X/square=west, Y/triangle=north, back/view/share=back,
  start/menu/options=start, guide/PS=guide, shoulders, stick clicks, dpad.
  ``SDL_GAMECONTROLLER_USE_BUTTON_LABELS`` defaults to 0 here so Nintendo pads are positional
  too. A pad SDL has no mapping for is read through the joystick API assuming the Xbox 360
  layout pygame documents for SDL2 (:data:`JOYSTICK_BUTTONS`; axes lx ly lt rx ry rt; hat 0 is
  the dpad); give such a pad a mapping with ``SDL_GAMECONTROLLERCONFIG`` instead.
* Sticks: SDL's +y is already down (SDL flips XInput's up-positive y, and evdev's ABS_Y grows
  downwards), so y is used as is. Values are scaled to [-1, 1] and pass a radial dead zone
  (:data:`DEADZONE`, a fraction of full deflection; :func:`~._pad_state.radial_deadzone`).
* Triggers are buttons, pressed above :data:`TRIGGER_THRESHOLD` of full travel (0.12, like
  XInput's 30 of 255). In the joystick fallback an axis counts as a trigger only if it rests at
  -1 when the pad is opened (SDL's own test for trigger-like axes).
* Hot-plug: when the number of SDL devices changes the pad is chosen again (game controllers
  first). A pad that goes away releases everything; one connected later is picked up. The pad
  used is logged with its name and GUID; no pad at the first look is one warning.
* ``SDL_JOYSTICK_ALLOW_BACKGROUND_EVENTS`` defaults to 1: the game has the focus, not us.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..clock import now_ns
from ..errors import ConfigError, DependencyError, InputError, missing_dependency
from ._pad_state import NEUTRAL, PadSource, PadState, radial_deadzone

__all__ = ["CONTROLLER_BUTTONS", "DEADZONE", "JOYSTICK_BUTTONS", "TRIGGER_THRESHOLD",
           "SdlGamepad", "hat_buttons", "sdl_pad_state"]

log = logging.getLogger(__name__)

# SDL_GameControllerButton values -> dataset names.
CONTROLLER_BUTTONS: tuple[tuple[int, str], ...] = (
    (0, "south"), (1, "east"), (2, "west"), (3, "north"), (4, "back"), (5, "guide"),
    (6, "start"), (7, "left_thumb"), (8, "right_thumb"), (9, "left_shoulder"),
    (10, "right_shoulder"), (11, "dpad_up"), (12, "dpad_down"), (13, "dpad_left"),
    (14, "dpad_right"),
)
# Joystick-API fallback: the Xbox 360 layout of pygame's joystick docs (SDL2 on Linux/xpad).
JOYSTICK_BUTTONS: tuple[tuple[int, str], ...] = (
    (0, "south"), (1, "east"), (2, "west"), (3, "north"), (4, "left_shoulder"),
    (5, "right_shoulder"), (6, "back"), (7, "start"), (8, "guide"), (9, "left_thumb"),
    (10, "right_thumb"),
)
_JOY_STICKS = (0, 1, 3, 4)  # lx ly rx ry
_JOY_TRIGGERS = (2, 5)  # lt rt, resting at -1
_CTL_STICKS = (0, 1, 2, 3)  # SDL_CONTROLLER_AXIS_LEFTX .. RIGHTY
_CTL_TRIGGERS = (4, 5)  # TRIGGERLEFT, TRIGGERRIGHT: 0 .. 32767
TRIGGER_THRESHOLD = 0.12
DEADZONE = 0.1
_AXIS_MAX = 32767.0
_HINTS = {"SDL_JOYSTICK_ALLOW_BACKGROUND_EVENTS": "1",
          "SDL_GAMECONTROLLER_USE_BUTTON_LABELS": "0"}


def hat_buttons(x: int, y: int) -> set[str]:
    """A pygame hat value (+y up) -> the dpad buttons it holds."""
    held = set()
    if y > 0:
        held.add("dpad_up")
    elif y < 0:
        held.add("dpad_down")
    if x < 0:
        held.add("dpad_left")
    elif x > 0:
        held.add("dpad_right")
    return held


def sdl_pad_state(buttons: Iterable[str], sticks: tuple[float, float, float, float],
                  triggers: tuple[float, float], *, deadzone: float = DEADZONE,
                  trigger_threshold: float = TRIGGER_THRESHOLD) -> PadState:
    """Build a :class:`PadState` from SDL-side values.

    Args:
        buttons: dataset names of the held buttons.
        sticks: lx, ly, rx, ry in [-1, 1], +y down (SDL's convention).
        triggers: left, right in [0, 1] of travel.
        deadzone: radial dead zone of each stick, a fraction of full deflection.
        trigger_threshold: a trigger beyond this fraction of its travel is pressed.
    """
    held = set(buttons)
    for value, name in zip(triggers, ("left_trigger", "right_trigger"), strict=True):
        if value > trigger_threshold:
            held.add(name)
    lx, ly = radial_deadzone(*_clamp2(sticks[0], sticks[1]), deadzone)
    rx, ry = radial_deadzone(*_clamp2(sticks[2], sticks[3]), deadzone)
    return PadState(frozenset(held), (lx, ly, rx, ry))


def _clamp2(x: float, y: float) -> tuple[float, float]:
    return max(-1.0, min(1.0, x)), max(-1.0, min(1.0, y))


class _Pad(Protocol):
    name: str
    guid: str
    api: str

    def read(self) -> PadState: ...

    def close(self) -> None: ...


class _ControllerPad:
    """A pad SDL has a mapping for, read through ``pygame._sdl2.controller.Controller``."""

    api = "GameController"

    def __init__(self, pygame: Any, controller: Any, index: int, opts: dict[str, float]) -> None:
        self._ctl = controller.Controller(index)
        self._joy = pygame.joystick.Joystick(index)  # for the GUID; SDL ref-counts the device
        self.name, self.guid = str(self._ctl.name), str(self._joy.get_guid())
        self._opts = opts

    def read(self) -> PadState:
        get_axis, get_button = self._ctl.get_axis, self._ctl.get_button
        lx, ly, rx, ry = (get_axis(a) / _AXIS_MAX for a in _CTL_STICKS)
        lt, rt = (get_axis(a) / _AXIS_MAX for a in _CTL_TRIGGERS)
        held = (name for b, name in CONTROLLER_BUTTONS if get_button(b))
        return sdl_pad_state(held, (lx, ly, rx, ry), (lt, rt), **self._opts)

    def close(self) -> None:
        self._ctl.quit()
        self._joy.quit()


class _JoystickPad:
    """A pad without an SDL mapping, read through ``pygame.joystick`` (Xbox 360 layout)."""

    api = "joystick (no SDL mapping, Xbox 360 layout assumed)"

    def __init__(self, pygame: Any, index: int, opts: dict[str, float]) -> None:
        self._joy = joy = pygame.joystick.Joystick(index)
        self.name, self.guid = str(joy.get_name()), str(joy.get_guid())
        self._naxes, self._nbuttons, self._nhats = (
            joy.get_numaxes(), joy.get_numbuttons(), joy.get_numhats())
        # Only an axis that rests fully negative is a trigger (the pad is opened at rest).
        self._triggers = tuple(a for a in _JOY_TRIGGERS
                               if a < self._naxes and joy.get_axis(a) < -0.5)
        self._opts = opts

    def _axis(self, a: int) -> float:
        return float(self._joy.get_axis(a)) if a < self._naxes else 0.0

    def read(self) -> PadState:
        joy = self._joy
        held = {name for b, name in JOYSTICK_BUTTONS if b < self._nbuttons and joy.get_button(b)}
        if self._nhats:
            held |= hat_buttons(*joy.get_hat(0))
        lx, ly, rx, ry = (self._axis(a) for a in _JOY_STICKS)
        lt, rt = ((self._axis(a) + 1.0) / 2.0 if a in self._triggers else 0.0
                  for a in _JOY_TRIGGERS)
        return sdl_pad_state(held, (lx, ly, rx, ry), (lt, rt), **self._opts)

    def close(self) -> None:
        self._joy.quit()


def _import_pygame() -> tuple[Any, Any]:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as exc:
        raise missing_dependency("pygame", "gamepad", "Gamepad input") from exc
    try:
        from pygame._sdl2 import controller
    except ImportError as exc:
        raise DependencyError(
            f"Gamepad input needs pygame._sdl2.controller, missing in pygame {pygame.version.ver}"
            ": pip install -U 'nitrogen-capture[gamepad]'") from exc
    return pygame, controller


class SdlGamepad(PadSource):
    """Reads the first SDL2 game controller; :class:`~._pad_state.PadSource` polls it.

    Args:
        rate_hz: polling rate.
        deadzone: radial stick dead zone, a fraction of full deflection in [0, 0.9].
        trigger_threshold: trigger travel above which it counts as pressed, in (0, 1).
        clock: the nanosecond clock used to stamp events.

    Raises:
        ConfigError: bad rate, dead zone or threshold.
        DependencyError: pygame is not installed.
    """

    name = "sdl_gamepad"
    thread_name = "sdl-pad"

    def __init__(self, rate_hz: float = 250.0, *, deadzone: float = DEADZONE,
                 trigger_threshold: float = TRIGGER_THRESHOLD,
                 clock: Callable[[], int] = now_ns) -> None:
        super().__init__(rate_hz, clock=clock)
        if not 0 <= deadzone <= 0.9:
            raise ConfigError(f"gamepad stick dead zone must be in [0, 0.9], got {deadzone}")
        if not 0 < trigger_threshold < 1:
            raise ConfigError(f"gamepad trigger threshold must be in (0, 1), got "
                              f"{trigger_threshold}")
        self._pygame, self._controller = _import_pygame()
        self._opts = {"deadzone": deadzone, "trigger_threshold": trigger_threshold}
        self._pad: _Pad | None = None
        self._count = -1
        self._owned = (False, False)
        self._absence_told = False  # "no gamepad" is said once; later absences are unplugs

    @property
    def pad(self) -> tuple[str, str] | None:
        """(name, GUID) of the pad being read, None while no pad is connected."""
        return None if self._pad is None else (self._pad.name, self._pad.guid)

    def _read_state(self) -> PadState:
        """Update SDL and read the pad (only on the thread that initialised SDL's joysticks)."""
        self._controller.update()  # SDL_JoystickUpdate: detects devices, refreshes state
        count = int(self._pygame.joystick.get_count())
        if count != self._count:
            self._count = count
            self._select()
        return NEUTRAL if self._pad is None else self._pad.read()

    def _select(self) -> None:
        """Close the current pad and open the best one (controllers first) of those present."""
        old = self.pad
        if self._pad is not None:
            self._pad.close()
            self._pad = None
        is_controller = self._controller.is_controller
        for index in sorted(range(self._count), key=lambda i: not is_controller(i)):
            try:
                pad: _Pad = (_ControllerPad(self._pygame, self._controller, index, self._opts)
                             if is_controller(index)
                             else _JoystickPad(self._pygame, index, self._opts))
            except (self._pygame.error, self._controller.error) as exc:  # e.g. just unplugged
                log.warning("cannot open SDL joystick %d: %s", index, exc)
                continue
            if old != (pad.name, pad.guid):
                log.info("gamepad: %s (GUID %s) through SDL %s", pad.name, pad.guid, pad.api)
            self._pad = pad
            self._absence_told = True
            return
        if old is not None:
            log.warning("gamepad %s disconnected: releasing its buttons", old[0])
        elif not self._absence_told:
            self._absence_told = True
            log.warning("no gamepad found through SDL: the gamepad columns stay neutral until "
                        "one is plugged in")

    # -- on the polling thread ----------------------------------------------------------------
    def _start(self) -> None:
        for key, value in _HINTS.items():  # SDL reads hints from the environment at init
            os.environ.setdefault(key, value)
        super()._start()

    def _open(self) -> None:
        pygame, controller = self._pygame, self._controller
        # pygame's init functions are no-ops when SDL already runs the subsystem (another user
        # in this process): then it is theirs, and we must not quit it.
        self._owned = not pygame.joystick.get_init(), not controller.get_init()
        try:
            pygame.joystick.init()
            controller.init()
        except pygame.error as exc:
            raise InputError(f"SDL could not start its joystick subsystem: {exc}") from exc

    def _close(self) -> None:
        if self._pad is not None:
            self._pad.close()
            self._pad = None
        self._count = -1
        owned, self._owned = self._owned, (False, False)
        if owned[1]:
            self._controller.quit()
        if owned[0]:
            self._pygame.joystick.quit()
