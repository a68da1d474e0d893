"""Which rows of an export show a new capture and which repeat the one before: one rule.

Every export puts frames on a time grid: the dataset tree at 60 Hz, LeRobot at its fps, each
``.pt`` window at ``--action-hz`` (or at the session's own rate). A grid row shows one captured
frame; a row that shows the same capture as the row before it (in the same contiguous segment)
is a **repeat**: no new picture was captured for it (docs/export.md, "Repeated frames").

**Which capture a grid time shows.** Capture ``r`` is placed in the recorder's period its
timestamp falls in, ``p_r = floor(t_r / P)`` (``P`` the recorder's period ``round(1e9 / fps)``,
``t_r`` in ns since tick 0's deadline; a capture of this version is taken within the period of
its tick, so ``p_r`` is its frame index). A grid anchored at capture ``a`` shows at time ``g``
the latest capture ``r`` of the segment with ``p_r <= p_a + floor((g - t_a) / P)``: the grid is
counted in whole periods from its anchor, so the few milliseconds by which each capture's
timestamp trails its tick (the grab, a late wake-up) never make a row show the previous capture
and skip the next one. Periods that got no capture (missed periods a session of an earlier
version hid in its timestamps, a rate above the capture rate) show the capture before them and
are repeats. Without a known rate the capture times are compared as they are (``P = 1 ns``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .resample import step_ns

__all__ = ["REPEAT_COLUMN", "GridFrames", "GridPart", "WindowRepeats", "capture_period_ns",
           "grid_frames", "grid_parts", "longest_runs", "repeat_runs", "shown_rows",
           "window_repeats"]

REPEAT_COLUMN = "frame_is_repeat"  # the per-row flag's name in the tree and in LeRobot
_BLOCK = 4096  # .pt windows whose grids are looked up at once (a few MB at 60 Hz, 18 steps)
I64 = npt.NDArray[np.int64]


def capture_period_ns(fps_target: float | None, fps_achieved: float | None) -> int:
    """The recorder's period in ns (its ``FramePacer`` rule), or 1 when the session has no rate."""
    fps = fps_target or fps_achieved
    return max(1, round(1e9 / fps)) if fps else 1


def shown_rows(timestamps: npt.ArrayLike, segment: tuple[int, int], anchors: npt.ArrayLike,
               offsets: npt.ArrayLike, period: int) -> I64:
    """The merged row shown at each time ``t[anchor] + offset`` (the module's rule).

    Args:
        timestamps: merged capture times (ns).
        segment: the contiguous ``(start, stop)`` rows the anchors lie in.
        anchors: ``(M,)`` rows the grids start from.
        offsets: ``(K,)`` or ``(M, K)`` ns after each anchor's capture (>= 0).
        period: the capture period in ns (:func:`capture_period_ns`).

    Returns ``(M, K)`` rows, each at least its anchor and inside the segment.
    """
    lo, hi = segment
    ts = np.asarray(timestamps, dtype=np.int64)[lo:hi]
    p = np.floor_divide(ts, period)
    a = np.asarray(anchors, dtype=np.int64) - lo
    off = np.asarray(offsets, dtype=np.int64)
    q = p[a][:, None] + np.floor_divide(off if off.ndim == 2 else off[None, :], period)
    idx = np.searchsorted(p, q.ravel(), side="right").reshape(q.shape) - 1
    # p is non-decreasing and q >= p[anchor]: the row found is the anchor or one after it.
    return lo + np.maximum(idx, a[:, None])


@dataclass(frozen=True)
class GridFrames:
    """The capture each grid row shows, and whether it repeats the row before's."""

    rows: I64
    repeat: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.rows)


def grid_frames(timestamps: npt.ArrayLike, segment: tuple[int, int], grid: npt.ArrayLike,
                period: int, anchor: int | None = None) -> GridFrames:
    """Rows shown at the grid times ``grid`` of one segment (anchored at its first row)."""
    ts = np.asarray(timestamps, dtype=np.int64)
    g = np.asarray(grid, dtype=np.int64)
    a = segment[0] if anchor is None else anchor
    rows = shown_rows(ts, segment, [a], g - ts[a], period)[0]
    repeat = np.zeros(len(rows), dtype=bool)
    repeat[1:] = rows[1:] == rows[:-1]
    return GridFrames(rows, repeat)


def repeat_runs(repeat: npt.ArrayLike) -> I64:
    """``(n, 2)`` half-open ``[start, stop)`` runs of consecutive True in ``repeat``."""
    r = np.concatenate(([False], np.asarray(repeat, dtype=bool), [False]))
    edges = np.flatnonzero(r[1:] != r[:-1])
    return edges.reshape(-1, 2).astype(np.int64)


def longest_runs(flags: npt.ArrayLike) -> I64:
    """The longest run of True in each row of a ``(M, K)`` boolean array."""
    f = np.asarray(flags, dtype=bool)
    run = np.zeros(f.shape[0], dtype=np.int64)
    best = np.zeros(f.shape[0], dtype=np.int64)
    for k in range(f.shape[1]):
        run = (run + 1) * f[:, k]
        np.maximum(best, run, out=best)
    return best


@dataclass(frozen=True)
class GridPart:
    """Consecutive grid rows of one segment ``[first, stop)``: times, rows shown, repeat flags."""

    first: int
    stop: int
    grid: I64
    rows: I64
    repeat: npt.NDArray[np.bool_]


def grid_parts(timestamps: npt.ArrayLike, segments: Sequence[tuple[int, int]], step: int,
               period: int, max_run: int | None,
               ) -> tuple[list[GridPart], dict[str, Any] | None]:
    """Each segment's grid at ``step`` ns from its first capture, cut at long repeat runs.

    The grid runs from the segment's first capture to its last (``(t_last - t_first) // step + 1``
    rows). With ``max_run`` (``--max-repeat-frames``) every run of more than ``max_run``
    repeated rows is left out and the segment's grid is cut there, so its parts start on a new
    capture. Returns the parts and, with ``max_run``, what was cut (``max_repeat_frames``,
    ``stretches``, ``rows``).
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    parts: list[GridPart] = []
    stretches = dropped = 0
    for a, b in segments:
        t0 = int(ts[a])
        grid = t0 + np.arange((int(ts[b - 1]) - t0) // step + 1, dtype=np.int64) * step
        gf = grid_frames(ts, (a, b), grid, period)
        keep = [(0, len(grid))]
        if max_run is not None:
            runs = repeat_runs(gf.repeat)
            long = runs[runs[:, 1] - runs[:, 0] > max_run]
            stretches += len(long)
            dropped += int((long[:, 1] - long[:, 0]).sum())
            cuts = [0, *long.ravel().tolist(), len(grid)]
            keep = [(lo, hi) for lo, hi in zip(cuts[::2], cuts[1::2], strict=True) if hi > lo]
        parts += [GridPart(a, b, grid[lo:hi], gf.rows[lo:hi], gf.repeat[lo:hi])
                  for lo, hi in keep]
    cut = None if max_run is None else {"max_repeat_frames": max_run, "stretches": stretches,
                                        "rows": dropped}
    return parts, cut


@dataclass(frozen=True)
class WindowRepeats:
    """Per ``.pt`` window: its repeated frames and the longest run of them.

    ``counts``: grid points from the window's observation to its last action step whose frame
    repeats the point before's; ``runs``: the longest run of consecutive ones.
    """

    counts: I64
    runs: I64

    def select(self, keep: npt.NDArray[np.bool_]) -> WindowRepeats:
        """The entries of the windows ``keep`` marks."""
        return WindowRepeats(self.counts[keep], self.runs[keep])


def window_repeats(timestamps: npt.ArrayLike, starts: npt.ArrayLike,
                   segments: Sequence[tuple[int, int]], *, seq_len: int, shift: int,
                   action_hz: float | None, period: int) -> WindowRepeats:
    """Repeated frames of each window (``plan_windows``' ``starts``, each inside a segment).

    With ``action_hz`` a window's grid is its observation time plus ``k / action_hz`` for ``k <
    shift + seq_len``; per frame it is the session's own grid (one point per period) from its
    observation to its last action row, so its repeats are the periods with no capture
    between its frames.
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    st = np.asarray(starts, dtype=np.int64)
    counts = np.zeros(len(st), dtype=np.int64)
    runs = np.zeros(len(st), dtype=np.int64)
    span = shift + seq_len
    for a, b in segments:
        sel = np.flatnonzero((st >= a) & (st < b))
        if len(sel) == 0:
            continue
        if action_hz is not None:
            offsets = np.arange(span, dtype=np.int64) * step_ns(action_hz)
            for lo in range(0, len(sel), _BLOCK):  # (block, span) at a time: bounded memory
                part = sel[lo:lo + _BLOCK]
                rows = shown_rows(ts, (a, b), st[part], offsets, period)
                flags = rows[:, 1:] == rows[:, :-1]
                counts[part], runs[part] = flags.sum(axis=1), longest_runs(flags)
            continue
        if period <= 1 or span < 2:  # per frame with no known rate, or one row: nothing
            continue
        # Per frame, on the session's own grid (one point per period): the points between two
        # consecutive rows that no capture fell in. It is what grid_frames gives on that grid,
        # counted from the periods directly (no grid array: a long stall costs nothing).
        p = np.floor_divide(ts[a:b], period)
        gaps = np.maximum(np.diff(p) - 1, 0)  # gaps[r]: between rows a + r and a + r + 1
        cum = np.concatenate(([0], np.cumsum(gaps)))
        first = st[sel] - a
        counts[sel] = cum[first + span - 1] - cum[first]
        view = np.lib.stride_tricks.sliding_window_view(gaps, span - 1)
        for lo in range(0, len(sel), _BLOCK):  # a copy of (block, span) at a time
            runs[sel[lo:lo + _BLOCK]] = view[first[lo:lo + _BLOCK]].max(axis=1)
    return WindowRepeats(counts, runs)
