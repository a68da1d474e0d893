"""One monotonic nanosecond clock for frames and inputs, and the frame pacer.

Frames and input events are stamped with :func:`now_ns` (``time.monotonic_ns``; QPC through
``time.perf_counter_ns`` on Windows), never with
``time.time()``: wall-clock time jumps (NTP, DST) and would misalign the two streams. A session
stores ``t0_ns`` from this clock and every timestamp relative to it.

:class:`FramePacer` sleeps to absolute deadlines ``t0 + k * period``. Sleeping ``1/fps`` after the
work would add the work's duration to every period and drift; busy-waiting would steal a core
from the game. Tick ``k`` always stands for grid point ``t0 + k * period``, so ``frame_indices``
are grid positions and a gap in them is periods that got no frame (docs/format.md, "The tick
grid"). When a tick is late:

* by less than one period, the frame is captured at once and the grid is kept (the next deadline
  is still in the future, so there is no burst);
* by a whole period or more, the frame is still captured at once, as the tick of the last grid
  point at or before now: the periods in between are *missed* (``skipped_ticks``; the gap shows in
  the index) and the next deadline is the next grid point, so there is no catch-up burst and the
  grid never drifts. The late frame is counted in ``late_ticks``.

``skip_late`` (``--skip-late``, the original tool's "drop a frame if scheduling slips to avoid
drift") is what every recording now does; the flag is still accepted and stored.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["CLOCK_NAME", "FramePacer", "Tick", "clock_pair", "now_ns"]

# Windows: CPython before 3.13 reads GetTickCount64 for time.monotonic (15.6 ms steps: a 60 fps
# frame time would be off by up to a whole period); perf_counter is QueryPerformanceCounter there
# in every version (and 3.13's monotonic is the same counter), monotonic and system-wide, so it is
# the clock of a recording on Windows, and Windows' own frame times (QPC) map onto it by one rule
# (capture/_qpc.py). Elsewhere monotonic_ns is CLOCK_MONOTONIC, which perf_counter also reads.
now_ns: Callable[[], int] = time.perf_counter_ns if sys.platform == "win32" else time.monotonic_ns
"""The one clock of a recording: monotonic, in nanoseconds (QPC on Windows)."""
CLOCK_NAME = "qpc" if sys.platform == "win32" else "monotonic"
"""What :data:`now_ns` reads, as meta.json ``clock.source`` names it."""


def clock_pair() -> tuple[int, int]:
    """``(monotonic ns, wall ns since the Unix epoch)`` read at the same instant.

    The wall clock is read between two monotonic reads and paired with their midpoint, so the
    pair is off by at most half the (sub-microsecond) gap. A session stores such pairs at its
    start and end (docs/format.md, "clock") to map its times to wall time and show the drift
    between the two clocks.
    """
    before = now_ns()
    wall = time.time_ns()
    after = now_ns()
    return (before + after) // 2, wall

# Sleep in short slices near the deadline: time.sleep overshoots by ~50-100 us on Linux and
# up to a scheduler quantum elsewhere, so the last stretch is slept in small steps.
_FINE_SLEEP_NS = 2_000_000


@dataclass(frozen=True)
class Tick:
    """One scheduled capture opportunity.

    Attributes:
        index: scheduler tick index (0-based; gaps mean skipped periods).
        deadline_ns: when the tick was due, on the :func:`now_ns` clock.
        woke_ns: when the pacer returned.
        skipped: periods missed just before this tick (it was that many periods late).
        late: whether the tick was a whole period or more behind its deadline.
    """

    index: int
    deadline_ns: int
    woke_ns: int
    skipped: int = 0
    late: bool = False


class FramePacer:
    """Sleep to absolute deadlines of a fixed-rate grid.

    Args:
        fps: target rate in frames per second (0 < fps <= 1000).
        skip_late: accepted and kept for the record; every pacer skips missed periods.
        clock: nanosecond clock (injectable for tests).
        sleep: sleep function taking seconds (injectable for tests).
    """

    def __init__(
        self,
        fps: float,
        *,
        skip_late: bool = False,
        clock: Callable[[], int] = now_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < fps <= 1000:
            raise ConfigError(f"fps must be in (0, 1000], got {fps}")
        self.fps = fps
        self.period_ns = round(1e9 / fps)
        self.skip_late = skip_late
        self._clock = clock
        self._sleep = sleep
        self._t0: int | None = None
        self._next = 0
        self._next_deadline = 0
        self.ticks = 0
        self.skipped_ticks = 0
        self.late_ticks = 0

    def start(self, t0_ns: int | None = None) -> int:
        """Anchor the grid (tick 0 is due at ``t0_ns``, default now) and return the anchor."""
        self._t0 = self._clock() if t0_ns is None else t0_ns
        self._next = 0
        self._next_deadline = self._t0
        return self._t0

    def wait(self) -> Tick:
        """Sleep until the next deadline and return that tick."""
        if self._t0 is None:
            self.start()
        assert self._t0 is not None
        index = self._next
        deadline = self._next_deadline
        now = self._clock()
        while now < deadline:
            remaining = deadline - now
            self._sleep((remaining - _FINE_SLEEP_NS if remaining > 2 * _FINE_SLEEP_NS
                         else remaining) / 1e9)
            now = self._clock()
        behind = (now - deadline) // self.period_ns
        skipped = 0
        late = behind >= 1
        if late:
            self.late_ticks += 1
            # The grid point this late tick stands for: the last one at or before now. The
            # periods before it got no frame: the index jumps over them, so the gap is there
            # for every reader to see (never a silent re-anchor of the grid).
            deadline += behind * self.period_ns
            skipped = int(behind)
            index += skipped
            self.skipped_ticks += skipped
        self._next = index + 1
        self._next_deadline = deadline + self.period_ns
        self.ticks += 1
        return Tick(index=index, deadline_ns=deadline, woke_ns=now, skipped=skipped, late=late)
