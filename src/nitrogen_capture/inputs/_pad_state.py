"""Gamepad state in our terms, and the pure state -> events diffing every pad reader shares.

A reader (XInput on Windows, SDL2 everywhere) turns what its API reports into a
:class:`PadState` at each poll and emits :func:`diff_states` of the previous and the new state, so
all readers agree on names (:data:`~nitrogen_capture.keylayout.PAD_BUTTONS`), event order and the
stick convention ([-1, 1], +x right, **+y down**).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..keylayout import PAD_AXES, PAD_BUTTONS
from .base import PAD_AXIS, PAD_BUTTON, InputEvent, ThreadedInputSource

__all__ = ["NEUTRAL", "PadSource", "PadState", "diff_states", "radial_deadzone"]


@dataclass(frozen=True)
class PadState:
    """A pad in our terms: pressed dataset button names and (lx, ly, rx, ry), +y down."""

    buttons: frozenset[str] = frozenset()
    axes: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


NEUTRAL = PadState()


def radial_deadzone(x: float, y: float, deadzone: float) -> tuple[float, float]:
    """Apply a radial dead zone to a stick already scaled to [-1, 1].

    Inside ``deadzone`` (a fraction of full deflection) the stick is (0, 0); outside it the
    magnitude is rescaled to start at 0 at the zone's edge and reach 1 at full deflection, so
    there is no jump at the edge. The result is clamped to [-1, 1] and rounded to 1e-4, so noise
    below that sends no events. Directions are kept as given (callers flip y when their API's +y
    is up).
    """
    magnitude = math.hypot(x, y)
    if magnitude <= deadzone:
        return 0.0, 0.0
    scaled = (min(magnitude, 1.0) - deadzone) / (1.0 - deadzone)
    fx = max(-1.0, min(1.0, x / magnitude * scaled))
    fy = max(-1.0, min(1.0, y / magnitude * scaled))
    return round(fx, 4) + 0.0, round(fy, 4) + 0.0  # + 0.0 turns -0.0 into 0.0


def diff_states(prev: PadState, cur: PadState, t_ns: int) -> list[InputEvent]:
    """Events that take ``prev`` to ``cur``: buttons in dataset order, then the axes.

    Equal states give no events; every event carries the same stamp ``t_ns`` (the poll).
    """
    events = [InputEvent(t_ns, PAD_BUTTON, name, 1.0 if name in cur.buttons else 0.0)
              for name in PAD_BUTTONS if (name in cur.buttons) != (name in prev.buttons)]
    events.extend(InputEvent(t_ns, PAD_AXIS, axis, new)
                  for axis, old, new in zip(PAD_AXES, prev.axes, cur.axes, strict=True)
                  if old != new)
    return events


class PadSource(ThreadedInputSource):
    """Base of the pad readers (one polling thread each): emits the difference of each state."""

    def __init__(self) -> None:
        super().__init__()
        self._state = NEUTRAL

    def _apply(self, state: PadState, t: int) -> list[InputEvent]:
        """Emit (and return) the events that take the last state to ``state``, stamped ``t``."""
        events = diff_states(self._state, state, t)
        self._state = state
        for event in events:
            self._emit(event)
        return events
