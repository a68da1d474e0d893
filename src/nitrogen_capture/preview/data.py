"""The per-row series a preview needs, loaded once from a session.

The merged arrays are used when the session is merged, else the chunk arrays are concatenated in
memory (same rows, see :class:`~nitrogen_capture.session.reader.SessionReader`); either way only
the small per-frame arrays and events are read here, never frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SessionFormatError
from ..session.reader import SessionReader

__all__ = ["SessionSeries", "gap_marks", "load_series"]


@dataclass(frozen=True)
class SessionSeries:
    """Per-row arrays of a session plus what the plots need from meta.json."""

    arrays: dict[str, npt.NDArray[Any]]
    fps: float
    pauses: tuple[dict[str, Any], ...]

    @property
    def rows(self) -> int:
        """Number of rows (frames)."""
        return len(self.arrays["timestamps"])

    @property
    def t_s(self) -> npt.NDArray[np.float64]:
        """Capture time of every row, seconds since the session's first tick."""
        return np.asarray(self.arrays["timestamps"], dtype=np.float64) / 1e9


def load_series(reader: SessionReader) -> SessionSeries:
    """Load the session's per-row arrays (merged when available) and its target fps."""
    arrays = (reader.merged_arrays() if reader.paths.merged("actions").is_file()
              else reader.concat_arrays())
    n = len(arrays["timestamps"])
    for stem, arr in arrays.items():
        if stem != "events" and len(arr) != n:
            raise SessionFormatError(
                f"session {reader.root}: {stem} has {len(arr)} rows, timestamps {n}: "
                f"run nitrogen-capture validate --root {reader.root}")
    fps = float((reader.meta.get("fps") or {}).get("target") or 60.0)
    return SessionSeries(arrays, fps if fps > 0 else 60.0, tuple(reader.pauses))


def gap_marks(frame_indices: npt.ArrayLike, timestamps: npt.ArrayLike,
              pauses: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> dict[int, str]:
    """Rows that come first after a pause or dropped ticks, with a short label.

    Row ``i`` is marked when ``frame_indices[i] > frame_indices[i - 1] + 1``. The label is
    ``PAUSE <s> s`` when a pause starts inside the jump (``fi[i-1] < start_tick <= fi[i]``), else
    ``GAP <n> ticks`` with ``n`` the ticks dropped.
    """
    fi = np.asarray(frame_indices, dtype=np.int64)
    ts = np.asarray(timestamps, dtype=np.int64)
    starts = [int(p.get("start_tick", -1)) for p in pauses]
    out: dict[int, str] = {}
    for i in np.flatnonzero(np.diff(fi) > 1) + 1:
        a, b = int(fi[i - 1]), int(fi[i])
        if any(a < s <= b for s in starts):
            out[int(i)] = f"PAUSE {(ts[i] - ts[i - 1]) / 1e9:.2f} s"
        else:
            out[int(i)] = f"GAP {b - a - 1} ticks"
    return out
