"""The rollout's per-row record: who was in control and what the policy proposed.

The driver (:mod:`.driver`) logs every event its output sends as the policy's *proposal* and the
takeover gate (:mod:`.takeover`) logs every stretch the player held control. The recorder's
writer thread asks :meth:`RolloutLog.row` for each frame's row when it bins that frame, which it
does :data:`~nitrogen_capture.record.pipeline.BIN_DELAY_NS` after the frame: by then every
proposal up to the frame time has been logged and every takeover that began in the row's interval
has been decided (the gate decides within :data:`~.takeover.GRACE_NS`). So the rows are exact,
not a sample of a state that was still changing (docs/format.md "Rollouts"):

* ``action_source[i]`` is ``human`` when a takeover overlaps the row's interval
  ``(t_{i-1}, t_i]``, else ``policy``;
* ``policy_actions`` / ``policy_mouse`` / ``policy_gamepad`` are the proposals binned by the
  same :class:`~nitrogen_capture.binning.ActionBinner` rules as the executed rows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..binning import ActionBinner
from ..events import InputEvent
from ..keylayout import KeyLayout
from ..rows import SOURCE_HUMAN, SOURCE_POLICY
from ..session.meta_play import Takeover
from ..session.rollout_rows import RolloutRow

__all__ = ["RolloutLog", "RolloutRow"]


@dataclass
class _Span:
    """A takeover while it is logged (absolute times; ``end`` None while open)."""

    start: int
    end: int | None
    by: str


class RolloutLog:
    """Thread-safe log of proposals and takeovers; rows read off it in time order.

    Times are on the :func:`~nitrogen_capture.clock.now_ns` clock; :meth:`row` takes
    session-relative times and ``t0_ns`` (set when the recording's clock starts).
    """

    def __init__(self, layout: KeyLayout, *, pad: bool = False) -> None:
        self.pad = pad
        self.t0_ns = 0
        self._binner = ActionBinner(layout)
        self._lock = threading.Lock()
        self._proposed: list[InputEvent] = []  # not binned yet, in time order
        self._takeovers: list[_Span] = []
        self.rows = [0, 0]  # rows per source (index: SOURCE_HUMAN, SOURCE_POLICY)

    # -- writers (the driver, the gate) ---------------------------------------------------------
    def proposed(self, events: list[InputEvent]) -> None:
        """Events the output sent for the policy (stamped when sent)."""
        if events:
            with self._lock:
                self._proposed.extend(events)

    def takeover_started(self, t_ns: int, by: str) -> None:
        """The player took control at ``t_ns`` (the time of the input that showed it)."""
        with self._lock:
            if not self._takeovers or self._takeovers[-1].end is not None:
                self._takeovers.append(_Span(t_ns, None, by))

    def takeover_ended(self, t_ns: int) -> None:
        """Control went back to the policy at ``t_ns``."""
        with self._lock:
            if self._takeovers and self._takeovers[-1].end is None:
                self._takeovers[-1].end = max(t_ns, self._takeovers[-1].start)

    def player_in_control(self) -> bool:
        """Whether a takeover is open now."""
        with self._lock:
            return bool(self._takeovers) and self._takeovers[-1].end is None

    def takeovers(self) -> tuple[Takeover, ...]:
        """Every takeover so far, session-relative."""
        with self._lock:
            return tuple(Takeover(s.start - self.t0_ns,
                                  None if s.end is None else s.end - self.t0_ns, s.by)
                         for s in self._takeovers)

    # -- the writer thread ----------------------------------------------------------------------
    def row(self, t_prev_rel: int, t_rel: int) -> RolloutRow:
        """The rollout arrays of the row whose interval is ``(t_prev_rel, t_rel]``."""
        lo, hi = t_prev_rel + self.t0_ns, t_rel + self.t0_ns
        with self._lock:
            n = 0
            while n < len(self._proposed) and self._proposed[n].t_ns <= hi:
                self._binner.feed(self._proposed[n])
                n += 1
            del self._proposed[:n]
            human = any(s.start <= hi and (s.end is None or s.end > lo)
                        for s in self._takeovers)
        keys, mouse, pad = self._binner.close_frame()
        source = SOURCE_HUMAN if human else SOURCE_POLICY
        self.rows[source] += 1
        return RolloutRow(source, keys, mouse, pad if self.pad else None)
