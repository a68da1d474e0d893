"""The session audio cut to an exported chunk or episode, with its time mapping (docs/export.md).

A chunk (``--format nitrogen-dataset``) or episode (``--format lerobot``) of rows on a grid of
step ``step_ns`` from ``grid[0]`` gets the session audio of the span ``[grid[0], grid[-1] +
step)`` as its own FLAC file: its sample 0 is session sample ``first`` = ``round(grid[0] * rate /
1e9)`` (session time ``first / rate`` s after ``clock.t0_ns``), and row ``k``'s time is its sample
``audio_sample[k]`` = ``round(grid[k] * rate / 1e9) - first``. A pause inside an episode's span
(LeRobot episodes join segments) is in the file as the silence the session audio has there, so
the mapping stays one line per part: the per-row ``audio_sample`` column is what to index by.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..session.audio_store import SessionAudio, write_flac

__all__ = ["AUDIO_COLUMN", "AUDIO_FILE", "SpanAudio", "span_audio"]

AUDIO_FILE = "audio.flac"
AUDIO_COLUMN = "audio_sample"


@dataclass(frozen=True)
class SpanAudio:
    """One chunk's audio: its samples, where they start in the session, and each row's sample."""

    samples: npt.NDArray[np.int16]
    rate: int
    first: int  # the session sample of the file's sample 0
    rows: npt.NDArray[np.int64]  # each row's sample in the file

    def write(self, path: Path) -> int:
        """Write the FLAC (atomically); returns its bytes."""
        return write_flac(path, self.samples, self.rate)

    def meta(self, name: str = AUDIO_FILE) -> dict[str, Any]:
        """The chunk's (or episode's) ``audio`` metadata: the file and its time mapping."""
        return {"file": name, "rate": self.rate, "channels": int(self.samples.shape[1]),
                "samples": len(self.samples), "session_first_sample": self.first,
                "start_ns": round(self.first * 1e9 / self.rate), "row_column": AUDIO_COLUMN,
                "codec": "flac", "sample_format": "s16"}


def span_audio(audio: SessionAudio, grid_ns: npt.ArrayLike, step_ns: int) -> SpanAudio:
    """The audio of the rows at ``grid_ns`` (ns since ``clock.t0_ns``, ascending, step apart).

    Samples outside the session's audio are silence (the file always covers the whole span).
    """
    grid = np.asarray(grid_ns, dtype=np.int64)
    at = audio.sample_at(grid)
    first = int(at[0])
    stop = int(audio.sample_at(int(grid[-1]) + step_ns))
    out = np.zeros((max(stop - first, 1), audio.channels), np.int16)
    lo, hi = max(first, 0), min(stop, len(audio.samples))
    if hi > lo:
        out[lo - first:hi - first] = audio.samples[lo:hi]
    return SpanAudio(out, audio.rate, first, (at - first).astype(np.int64))
