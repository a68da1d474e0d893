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

__all__ = ["Jump", "pause_cuts", "tick_jumps"]


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


def pause_cuts(frame_indices: npt.ArrayLike, pauses: Sequence[Pause]) -> npt.NDArray[np.bool_]:
    """Per interval ``i -> i + 1``: does a pause start inside it."""
    fi = np.asarray(frame_indices, dtype=np.int64)
    cut = np.zeros(max(len(fi) - 1, 0), dtype=bool)
    for p in pauses:
        cut |= (fi[:-1] < p.start_tick) & (fi[1:] >= p.start_tick)
    return cut


def tick_jumps(frame_indices: npt.ArrayLike, timestamps: npt.ArrayLike,
               pauses: Sequence[Pause]) -> list[Jump]:
    """Every place where ticks are missing or a pause starts, in row order."""
    fi = np.asarray(frame_indices, dtype=np.int64)
    ts = np.asarray(timestamps, dtype=np.int64)
    cuts = pause_cuts(fi, pauses)
    out: list[Jump] = []
    for i in np.flatnonzero((np.diff(fi) > 1) | cuts):
        lo, hi = int(fi[i]) + 1, int(fi[i + 1])  # missing ticks [lo, hi)
        covered = sum(max(0, min(hi, p.end_tick) - max(lo, p.start_tick)) for p in pauses)
        out.append(Jump(int(i) + 1, hi - lo, min(covered, hi - lo), bool(cuts[i]),
                        float(ts[i + 1] - ts[i]) / 1e9))
    return out
