"""Input events: the value every listener produces and every reader of a session consumes.

This module is the neutral core of the event stream (numpy only): the recorder (``record/``), the
session format (``session/``) and the exporters (``export/``) all import it, and it imports
none of them.

Devices and codes (``events_chunk_NNN.npy`` stores the same four fields, docs/format.md):

============  =====================================  ===========================================
device        code                                   value
============  =====================================  ===========================================
``key``       canonical key name (``w``, ``space``)  1 press, 0 release, 2 held (see below)
``button``    ``lmb`` ``rmb`` ``mmb`` ``mb4`` ``mb5``  1 press, 0 release, 2 held
``motion``    ``dx`` or ``dy``                       raw relative device counts (+x right, +y down)
``wheel``     ``dx`` or ``dy``                       wheel steps (+dy = wheel up, away from user)
``pad_btn``   NitroGen dataset button name           1 press, 0 release, 2 held
``pad_axis``  ``lx`` ``ly`` ``rx`` ``ry``            stick position in [-1, 1], +x right, +y down
``control``   ``pause`` ``resume`` ``focus_lost``…   1 (what the recorder did; not an input)
============  =====================================  ===========================================

A press with value :data:`HELD` (2) is synthetic: nobody pressed the key at that instant, it was
already down when the recording started or resumed (read from the OS, or held through a pause;
docs/architecture.md 5.5). Every reader that takes ``value > 0`` as "down" bins it like a press;
one that counts the player's presses counts only :data:`PRESS` (``value == 1``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "BUTTON",
    "CONTROL",
    "DEVICES",
    "EVENT_DTYPE",
    "HELD",
    "KEY",
    "MOTION",
    "PAD_AXIS",
    "PAD_BUTTON",
    "PRESS",
    "RELEASE",
    "WHEEL",
    "EventSink",
    "HeldKeys",
    "InputEvent",
    "events_to_array",
    "events_to_inputs",
]

KEY: Final = "key"
BUTTON: Final = "button"
MOTION: Final = "motion"
WHEEL: Final = "wheel"
PAD_BUTTON: Final = "pad_btn"
PAD_AXIS: Final = "pad_axis"
CONTROL: Final = "control"
DEVICES: tuple[str, ...] = (KEY, BUTTON, MOTION, WHEEL, PAD_BUTTON, PAD_AXIS, CONTROL)
#: Values of ``key``, ``button`` and ``pad_btn`` events: a press and a release the listener saw,
#: and the synthetic press of a key already held when the recording started or resumed.
PRESS: Final = 1.0
RELEASE: Final = 0.0
HELD: Final = 2.0

# The stored event stream. Fixed-width fields so np.load(allow_pickle=False) reads it.
EVENT_DTYPE = np.dtype([("t_ns", "<i8"), ("device", "<U8"), ("code", "<U16"),
                        ("value", "<f8")])


@dataclass(frozen=True, slots=True)
class InputEvent:
    """One timestamped input event.

    Attributes:
        t_ns: when it happened, on the :func:`~nitrogen_capture.clock.now_ns` clock (stored
            events: ns since the session's ``clock.t0_ns``).
        device: one of :data:`DEVICES`.
        code: key/button/axis name (see the module docstring).
        value: 1/0 for press/release, counts for motion, position for axes.
    """

    t_ns: int
    device: str
    code: str
    value: float

    @property
    def is_press(self) -> bool:
        """True for a key/button press, observed or :data:`HELD`."""
        return self.device in (KEY, BUTTON, PAD_BUTTON) and self.value > 0

    @property
    def is_held(self) -> bool:
        """True for a synthetic press: the key was already down (:data:`HELD`)."""
        return self.device in (KEY, BUTTON, PAD_BUTTON) and self.value == HELD


EventSink = Callable[[InputEvent], None]


class HeldKeys:
    """Which keys and mouse buttons are held, from a stream of key/button events.

    One rule for "held" wherever it is needed: the writer thread's physical state, the journaled
    stream's state at a chunk start, and crash recovery. Other devices are ignored.
    """

    def __init__(self, held: dict[str, str] | None = None) -> None:
        self._held: dict[str, str] = dict(held or {})  # code -> device, in press order

    def apply(self, event: InputEvent) -> None:
        """Update the state with one event."""
        if event.device in (KEY, BUTTON):
            if event.value > 0:
                self._held[event.code] = event.device
            else:
                self._held.pop(event.code, None)

    def undo(self, events: Iterable[InputEvent]) -> HeldKeys:
        """The state before ``events`` (applied last, in order) happened, as a new object."""
        before = HeldKeys(self._held)
        for ev in reversed(list(events)):
            if ev.device in (KEY, BUTTON):
                if ev.value > 0:
                    before._held.pop(ev.code, None)
                else:
                    before._held[ev.code] = ev.device
        return before

    def items(self) -> list[tuple[str, str]]:
        """``(code, device)`` of every held key, in press order."""
        return list(self._held.items())

    def codes(self) -> list[str]:
        """Sorted codes of the held keys."""
        return sorted(self._held)

    def __contains__(self, code: object) -> bool:
        return code in self._held

    def __len__(self) -> int:
        return len(self._held)


def events_to_array(events: Iterable[InputEvent]) -> npt.NDArray[Any]:
    """Pack events into the structured array stored as ``events_chunk_NNN.npy``."""
    items = list(events)
    arr = np.zeros(len(items), dtype=EVENT_DTYPE)
    if items:
        arr["t_ns"] = [e.t_ns for e in items]
        arr["device"] = [e.device for e in items]
        arr["code"] = [e.code for e in items]
        arr["value"] = [e.value for e in items]
    return arr


def events_to_inputs(events: npt.NDArray[Any]) -> list[InputEvent]:
    """Turn an :data:`EVENT_DTYPE` array back into :class:`InputEvent` values (times as stored)."""
    return [InputEvent(int(t), str(d), str(c), float(v))
            for t, d, c, v in zip(events["t_ns"], events["device"], events["code"],
                                  events["value"], strict=True)]
