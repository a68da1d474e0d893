"""What is held: the one state the writer thread keeps for pauses, the start and resumes.

The writer thread keeps two of these (docs/architecture.md 5.5):

* the *physical* state: every key, mouse button and pad button the listeners saw go down and
  not yet up, and the pad sticks' last positions, also while paused; at the start of a recording
  and at every resume the sources' read of what the OS holds right now joins it;
* the *stored* state: the same, but of the event stream written to the session.

A pause releases everything the stored state holds (synthetic releases at the pause time); the
start and every resume bring the stored state to the physical one (synthetic :data:`HELD` presses
and the sticks' positions at that instant). So the stored stream is self-consistent, and a key
that was already down when the recording started or resumed shows from the first row on.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..events import BUTTON, HELD, KEY, PAD_AXIS, PAD_BUTTON, RELEASE, InputEvent
from ..keylayout import PAD_AXES, PAD_BUTTONS

__all__ = ["HeldState"]

_PRESSABLE = (KEY, BUTTON, PAD_BUTTON)
_PAD_ORDER = {name: i for i, name in enumerate(PAD_BUTTONS)}


class HeldState:
    """Keys, mouse buttons and pad buttons held, and the pad sticks' positions."""

    def __init__(self) -> None:
        self._down: dict[tuple[str, str], None] = {}  # (device, code), in press order
        self._axes: dict[str, float] = dict.fromkeys(PAD_AXES, 0.0)

    def apply(self, event: InputEvent) -> None:
        """Update the state with one event (other devices are ignored)."""
        if event.device in _PRESSABLE:
            ident = (event.device, event.code)
            if event.value > 0:
                self._down[ident] = None
            else:
                self._down.pop(ident, None)
        elif event.device == PAD_AXIS and event.code in self._axes:
            self._axes[event.code] = event.value

    def apply_all(self, events: Iterable[InputEvent]) -> None:
        """:meth:`apply` each event in order."""
        for event in events:
            self.apply(event)

    def held(self) -> list[tuple[str, str]]:
        """``(device, code)`` of everything held, in the order synthetic events are written.

        Keys and buttons by name, then pad buttons in dataset order.
        """
        return sorted(self._down, key=lambda i: (i[0] == PAD_BUTTON,
                                                 _PAD_ORDER.get(i[1], 0), i[1]))

    def releases(self, t_ns: int) -> list[InputEvent]:
        """The releases, at ``t_ns``, of everything held (a pause starts)."""
        return [InputEvent(t_ns, dev, code, RELEASE) for dev, code in self.held()]

    def entering(self, target: HeldState, t_ns: int) -> list[InputEvent]:
        """The events, at ``t_ns``, that take this state to ``target``'s held keys and sticks.

        Every key or button ``target`` holds and this state does not is a :data:`HELD` press;
        every stick whose position differs is a ``pad_axis`` event with ``target``'s position.
        Nothing is released: the start and a resume only add what is down.
        """
        out = [InputEvent(t_ns, dev, code, HELD) for dev, code in target.held()
               if (dev, code) not in self._down]
        out.extend(InputEvent(t_ns, PAD_AXIS, axis, target._axes[axis]) for axis in PAD_AXES
                   if target._axes[axis] != self._axes[axis])
        return out
