"""The per-row series a preview needs, loaded once from a session.

The chunk arrays of the merged chunks are concatenated in memory (the rows of the merged files,
see :class:`~nitrogen_capture.session.reader.SessionReader`), each read through the checked path
merge uses (:meth:`~nitrogen_capture.session.reader.SessionReader.checked_arrays`), so a damaged
chunk is refused in one line naming it. Only the small per-frame arrays and events are read
here, never frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SessionFormatError
from ..session.meta import Pause
from ..session.reader import SessionReader
from ..session.timeline import tick_jumps

__all__ = ["SessionSeries", "gap_marks", "load_series"]


@dataclass(frozen=True)
class SessionSeries:
    """Per-row arrays of a session plus what the plots need from meta.json."""

    arrays: dict[str, npt.NDArray[Any]]
    fps: float
    pauses: tuple[Pause, ...]

    @property
    def rows(self) -> int:
        """Number of rows (frames)."""
        return len(self.arrays["timestamps"])

    @property
    def t_s(self) -> npt.NDArray[np.float64]:
        """Capture time of every row, seconds since the session's first tick."""
        return np.asarray(self.arrays["timestamps"], dtype=np.float64) / 1e9


def load_series(reader: SessionReader) -> SessionSeries:
    """Load the session's per-row arrays (checked, chunk by chunk) and its target fps."""
    arrays = reader.concat_arrays()
    n = len(arrays["timestamps"])
    for stem, arr in arrays.items():
        if stem != "events" and len(arr) != n:
            raise SessionFormatError(
                f"session {reader.root}: {stem} has {len(arr)} rows, timestamps {n}: "
                f"run nitrogen-capture validate --root {reader.root}")
    fps = reader.meta.fps_target or 60.0
    return SessionSeries(arrays, fps if fps > 0 else 60.0, tuple(reader.pauses))


def gap_marks(frame_indices: npt.ArrayLike, timestamps: npt.ArrayLike,
              pauses: Sequence[Pause]) -> dict[int, str]:
    """Rows that come first after a pause or dropped ticks, with a short label.

    The rule is :func:`~nitrogen_capture.session.timeline.tick_jumps` (the one validate uses):
    ``PAUSE <s> s`` when a pause starts inside the jump, ``GAP <n> ticks`` for dropped ticks no
    pause covers, both joined by ``+`` when a jump has both.
    """
    return {j.row: j.label() for j in tick_jumps(frame_indices, timestamps, pauses)}
