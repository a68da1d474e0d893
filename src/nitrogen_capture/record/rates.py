"""The recording's recent rates for the status line: fps and missed periods over the last seconds.

The capture thread calls :meth:`RecentRates.tick` once per tick; the status thread reads
:meth:`RecentRates.recent`. Only ticks while recording count (a pause is not a stall), so the
figures say at once when a recording starts losing frames, not only at its end.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

__all__ = ["Recent", "RecentRates"]

WINDOW_NS = 5_000_000_000  # "the last seconds": long enough to be steady, short enough to react


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
