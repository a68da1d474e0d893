"""The recording's recent rates for the status line: fps and missed periods over the last seconds.

The capture thread calls :meth:`RecentRates.tick` once per tick; the status thread reads
:meth:`RecentRates.recent`. Only ticks while recording count (a pause is not a stall), so the
figures say at once when a recording starts losing frames, not only at its end.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

__all__ = ["LOSING_SHARE", "LossAlarm", "Recent", "RecentRates"]

WINDOW_NS = 5_000_000_000  # "the last seconds": long enough to be steady, short enough to react
LOSING_SHARE = 0.02  # more than 1 period in 50 missed over the last seconds: "losing frames"


@dataclass(frozen=True)
class Recent:
    """Rates over the window: frames per second, and the share of periods that got no frame."""

    fps: float
    missed_share: float  # 0..1
    seconds: float  # how much recording time the window covers


class RecentRates:
    """A sliding window of (time, frames, missed periods) samples taken while recording."""

    def __init__(self, window_ns: int = WINDOW_NS) -> None:
        self.window_ns = window_ns
        self._samples: deque[tuple[int, int, int]] = deque()
        self._lock = threading.Lock()

    def tick(self, t_ns: int, frames: int, missed: int, *, recording: bool) -> None:
        """Note the totals at this tick; a paused tick empties the window (a new stretch)."""
        with self._lock:
            if not recording:
                self._samples.clear()
                return
            self._samples.append((t_ns, frames, missed))
            while self._samples and t_ns - self._samples[0][0] > self.window_ns:
                self._samples.popleft()

    def recent(self) -> Recent:
        """The rates over the samples in the window (zeros before two samples)."""
        with self._lock:
            if len(self._samples) < 2:
                return Recent(0.0, 0.0, 0.0)
            (t0, f0, m0), (t1, f1, m1) = self._samples[0], self._samples[-1]
        span = (t1 - t0) / 1e9
        frames, missed = f1 - f0, m1 - m0
        periods = frames + missed
        return Recent(frames / span if span > 0 else 0.0,
                      missed / periods if periods else 0.0, span)


class LossAlarm:
    """When to tell the player (the ``losing`` cue) that the recording is losing frames.

    The status line says it on every line; a player in a full-screen game does not see the
    terminal, so a cue sounds once when the recent missed share (:class:`RecentRates`) first
    exceeds :data:`LOSING_SHARE` over at least ``min_span_s`` of recording (a start-up hiccup
    over a few ticks is not a trend). It sounds again only after the share has fallen back
    below half the threshold (hysteresis) and ``repeat_s`` have passed, so a machine that stays
    busy gives one beep, not one per tick.
    """

    def __init__(self, min_span_s: float = 2.0, repeat_s: float = 30.0) -> None:
        self.min_span_s = min_span_s
        self.repeat_ns = int(repeat_s * 1e9)
        self.alarms = 0
        self._armed = True
        self._last_ns: int | None = None

    def update(self, recent: Recent, t_ns: int) -> bool:
        """True when the cue should sound now (at most once per stretch of losses)."""
        if recent.missed_share < LOSING_SHARE / 2:
            self._armed = True
            return False
        if not self._armed or recent.seconds < self.min_span_s:
            return False
        if recent.missed_share <= LOSING_SHARE:
            return False
        if self._last_ns is not None and t_ns - self._last_ns < self.repeat_ns:
            return False
        self._armed = False
        self._last_ns = t_ns
        self.alarms += 1
        return True
