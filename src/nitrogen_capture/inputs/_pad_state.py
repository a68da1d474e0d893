"""Gamepad state in our terms, the state -> events diffing, and the one pad poll loop.

XInput has no events at all and SDL's need its video subsystem, so every pad reader is a poller.
:class:`PadSource` owns the poll: one thread that wakes at absolute deadlines on the monotonic
clock, asks the backend for the pad's current :class:`PadState`, and emits :func:`diff_states` of
the previous and the new state, stamped at the poll. A backend (XInput on Windows, SDL2
everywhere) only turns what its API reports into a :class:`PadState`, so all readers agree on names
(:data:`~nitrogen_capture.keylayout.PAD_BUTTONS`), event order, the stick convention ([-1, 1],
+x right, **+y down**), pacing and error handling.

The thread's first read is the state the pad was already in: it is kept, not emitted (nobody
pressed those buttons then), and ``start()`` returns only after it. The recorder asks
:meth:`PadSource.held_now` for it at the start of a recording and at every resume and enters it
as held (docs/architecture.md 5.5).
"""

from __future__ import annotations

import math
import threading
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..clock import now_ns
from ..errors import ConfigError
from ..events import HELD, PAD_AXIS, PAD_BUTTON, InputEvent
from ..rows import PAD_AXES, PAD_BUTTONS
from .base import ThreadedInputSource

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
    """Base of the pad readers: one thread polls :meth:`_read_state` and emits the changes.

    The thread calls :meth:`_open` once, reads the state the pad is already in (kept, not
    emitted: :meth:`held_now` reports it), then polls at ``rate_hz`` to absolute deadlines of the
    monotonic clock (a poll that overruns a whole period moves the schedule to the next grid point
    after it: no catch-up burst), then :meth:`_close`, also after an error. Whatever it raises is
    handed to :meth:`_fail` and re-raised in the owner's thread by ``check()``/``stop()``; an error
    of :meth:`_open` already by ``start()``. Subclasses implement :meth:`_read_state`, and
    :meth:`_open`/:meth:`_close` when their API must be set up on the polling thread.

    Args:
        rate_hz: polls per second, in (0, 2000].
        clock: the nanosecond clock that stamps events (the recording's by default).

    Raises:
        ConfigError: bad rate.
    """

    #: Longest wait for :meth:`_open` on the new thread before ``start()`` returns.
    open_timeout_s: float = 10.0

    def __init__(self, rate_hz: float = 250.0, *, clock: Callable[[], int] = now_ns) -> None:
        super().__init__()
        if not 0 < rate_hz <= 2000:
            raise ConfigError(f"gamepad polling rate must be in (0, 2000] Hz, got {rate_hz}")
        self.period_ns = round(1e9 / rate_hz)
        self._clock = clock
        self._state = NEUTRAL
        self._ready = threading.Event()

    @property
    def state(self) -> PadState:
        """The state as of the last poll (neutral before the first)."""
        return self._state

    def poll(self) -> list[InputEvent]:
        """Read the pad once; emit (and return) the events of what changed, stamped now.

        The poll thread calls this; tests call it directly (without starting the thread) to
        drive a reader step by step. The stamp is taken once the state is known.
        """
        state = self._read_state()
        return self._apply(state, self._clock())

    def held_now(self, keys: Sequence[str]) -> list[InputEvent]:
        """The pad's state as of the last poll; ``keys`` is not used.

        Its buttons down as :data:`~nitrogen_capture.events.HELD` presses (dataset order), then
        its four stick positions.
        """
        state, t = self._state, self._clock()
        held = [InputEvent(t, PAD_BUTTON, name, HELD) for name in PAD_BUTTONS
                if name in state.buttons]
        return held + [InputEvent(t, PAD_AXIS, axis, value)
                       for axis, value in zip(PAD_AXES, state.axes, strict=True)]

    # -- for subclasses -----------------------------------------------------------------------
    @abstractmethod
    def _read_state(self) -> PadState:
        """The pad's state now (:data:`NEUTRAL` when no pad is connected).

        Return :attr:`state` when nothing was read or nothing changed: equal states emit
        nothing.
        """

    def _open(self) -> None:
        """Set up the API on the polling thread, before the first poll."""

    def _close(self) -> None:
        """Release the API on the polling thread after the last poll (also after an error)."""

    def _apply(self, state: PadState, t: int) -> list[InputEvent]:
        """Emit (and return) the events that take the last state to ``state``, stamped ``t``."""
        events = diff_states(self._state, state, t)
        self._state = state
        for event in events:
            self._emit(event)
        return events

    # -- the thread ---------------------------------------------------------------------------
    def _start(self) -> None:
        self._ready.clear()
        super()._start()
        self._ready.wait(timeout=self.open_timeout_s)
        self.check()  # an _open failure surfaces here, in the owner's thread

    def _run(self) -> None:
        try:
            try:
                self._open()
                self._state = self._read_state()  # held before we listened: not a press
            finally:
                self._ready.set()
            self._loop()
        except Exception as exc:  # handed to the owner through check()/stop()
            self._fail(exc)
        finally:
            try:
                self._close()
            except Exception as exc:
                self._fail(exc)  # kept only if nothing failed before

    def _loop(self) -> None:
        period = self.period_ns
        deadline = now_ns()
        while True:
            self.poll()
            deadline += period
            now = now_ns()
            if now - deadline >= period:  # stalled: the next grid point after now, no burst
                deadline += (now - deadline) // period * period + period
            if self._stop_event.wait(max(0, deadline - now) / 1e9):
                return
