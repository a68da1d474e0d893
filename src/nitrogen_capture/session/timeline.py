"""Pauses and dropped ticks on the row timeline: one rule for the reader, validate and preview.

Rows carry scheduler tick indices (``frame_indices``). Between rows ``i - 1`` and ``i`` the ticks
``fi[i-1] + 1 .. fi[i] - 1`` were not captured. A ``pauses`` entry covers ticks
``[start_tick, end_tick)`` on purpose (hotkey, focus, waiting to start); every missing tick no
pause covers is a *dropped* tick (late capture with ``--skip-late``, a full frame queue). A pause
that starts inside a jump (``fi[i-1] < start_tick <= fi[i]``) *cuts* the timeline there: no
training window, fps interval or plot line spans it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .meta_parts import Pause

__all__ = ["Jump", "achieved_fps", "leading_missed", "live_intervals", "pause_cuts",
           "tick_jumps"]


@dataclass(frozen=True)
class Jump:
    """Ticks missing before ``row`` (the first row after them)."""

    row: int
    missing: int  # ticks not captured between the two rows
    paused: int  # of which a pause covers
    cut: bool  # a pause starts inside the jump
    seconds: float  # capture time between the two rows

    @property
    def dropped(self) -> int:
        """Missing ticks that no pause explains."""
        return self.missing - self.paused

    def label(self) -> str:
        """``PAUSE 0.52 s``, ``GAP 3 ticks`` or both, for a preview's flash."""
        parts = [f"PAUSE {self.seconds:.2f} s"] if self.cut else []
        if self.dropped > 0:
            parts.append(f"GAP {self.dropped} ticks")
        return " + ".join(parts)


def _pause_ticks(pauses: Sequence[Pause]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Start and end ticks of every pause, as arrays (one pass over the list)."""
    starts = np.fromiter((p.start_tick for p in pauses), dtype=np.int64, count=len(pauses))
    ends = np.fromiter((p.end_tick for p in pauses), dtype=np.int64, count=len(pauses))
    return starts, ends


def pause_cuts(frame_indices: npt.ArrayLike, pauses: Sequence[Pause]) -> npt.NDArray[np.bool_]:
    """Per interval ``i -> i + 1``: does a pause start inside it (``fi[i] < start <= fi[i+1]``).

    Sorted starts and two binary searches per interval: linear in rows and pauses together,
    whatever their numbers (a long session may hold many thousands of focus pauses).
    """
    fi = np.asarray(frame_indices, dtype=np.int64)
    if len(fi) < 2 or not pauses:
        return np.zeros(max(len(fi) - 1, 0), dtype=bool)
    starts = np.sort(_pause_ticks(pauses)[0])
    before = np.searchsorted(starts, fi[:-1], side="right")  # starts <= fi[i]
    upto = np.searchsorted(starts, fi[1:], side="right")  # starts <= fi[i + 1]
    return np.asarray(upto > before, dtype=bool)


def live_intervals(frame_indices: npt.ArrayLike, timestamps: npt.ArrayLike,
                   pauses: Sequence[Pause]) -> npt.NDArray[np.float64]:
    """The capture intervals (ns) between consecutive frames that no pause cuts.

    Dropped ticks stay in (their time was recording time that got no frame); an interval in
    which a pause starts does not (that time was not recording). Pauses outside the frames'
    span cut nothing.
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    if len(ts) < 2:
        return np.zeros(0, dtype=np.float64)
    dt = np.diff(ts).astype(np.float64)
    return dt[~pause_cuts(frame_indices, pauses)]


def achieved_fps(frame_indices: npt.ArrayLike, timestamps: npt.ArrayLike,
                 pauses: Sequence[Pause]) -> float:
    """The one achieved-fps rule: live intervals over their time (0.0 with none).

    Every place that prints or stores an achieved rate (record's last line, ``meta.json``
    ``fps.achieved``, ``sessions``, ``validate``, ``report``, the exports' metadata) uses this,
    on the session's own timestamps.
    """
    live = live_intervals(frame_indices, timestamps, pauses)
    total = float(live.sum())
    return len(live) / total * 1e9 if total > 0 else 0.0


class _PausedTicks:
    """How many ticks of ``[lo, hi)`` the pauses cover, in O(log P) per question.

    The pauses are merged into disjoint intervals first (they never overlap in a session this
    tool wrote; a damaged list is counted once per tick), then a prefix sum of their lengths.
    """

    def __init__(self, pauses: Sequence[Pause]) -> None:
        starts, ends = _pause_ticks(pauses)
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
        if len(starts):
            reach = np.maximum.accumulate(ends)
            new = np.ones(len(starts), dtype=bool)
            new[1:] = starts[1:] > reach[:-1]
            starts = starts[new]
            ends = np.maximum.reduceat(ends, np.flatnonzero(new))
        self.starts, self.ends = starts, ends
        self.before = np.concatenate(([0], np.cumsum(ends - starts)))  # paused ticks before k

    def upto(self, x: int) -> int:
        """Paused ticks before tick ``x``."""
        k = int(np.searchsorted(self.starts, x, side="right"))  # intervals starting <= x
        if k == 0:
            return 0
        return int(self.before[k - 1]) + min(x, int(self.ends[k - 1])) - int(self.starts[k - 1])

    def covered(self, lo: int, hi: int) -> int:
        """Paused ticks in ``[lo, hi)``."""
        return max(0, self.upto(hi) - self.upto(lo)) if hi > lo else 0


def tick_jumps(frame_indices: npt.ArrayLike, timestamps: npt.ArrayLike,
               pauses: Sequence[Pause]) -> list[Jump]:
    """Every place where ticks are missing or a pause starts, in row order."""
    fi = np.asarray(frame_indices, dtype=np.int64)
    ts = np.asarray(timestamps, dtype=np.int64)
    cuts = pause_cuts(fi, pauses)
    paused = _PausedTicks(pauses)
    out: list[Jump] = []
    for i in np.flatnonzero((np.diff(fi) > 1) | cuts):
        lo, hi = int(fi[i]) + 1, int(fi[i + 1])  # missing ticks [lo, hi)
        covered = paused.covered(lo, hi)
        out.append(Jump(int(i) + 1, hi - lo, min(covered, hi - lo), bool(cuts[i]),
                        float(ts[i + 1] - ts[i]) / 1e9))
    return out


def leading_missed(frame_indices: npt.ArrayLike, pauses: Sequence[Pause]) -> int:
    """Periods before the first frame that got none and that no pause explains.

    The grid starts at tick 0 when the recording starts (or at the end of its start pause), so a
    first frame at index 27 after no pause means 27 periods were missed before it (a recorder
    starved at its start). :func:`tick_jumps` sees only the gaps between frames.
    """
    fi = np.asarray(frame_indices, dtype=np.int64)
    if not len(fi) or fi[0] <= 0:
        return 0
    first = int(fi[0])
    return max(0, first - _PausedTicks(pauses).covered(0, first))
