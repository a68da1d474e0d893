"""The session's one audio file: every chunk's pieces placed on the session clock.

Sample ``n`` of the result is at ``n / rate`` s after ``clock.t0_ns`` (the same clock as the frame
timestamps), silence where nothing was recorded (before the start, pauses, focus loss, a lost
device). Each piece is placed by its run's fit (:mod:`.clockmap`) and resampled from the run's
measured rate to the nominal one (linear interpolation: drift is a few hundred ppm at most, so
the ratio is within 0.1 % of 1 and the interpolation is inaudible), which corrects the device
clock's drift instead of letting it accumulate.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from ..session.audio_store import AudioChunk
from .clockmap import RunFit, fit_runs

__all__ = ["all_pieces", "render", "segments"]


def all_pieces(chunks: Iterable[AudioChunk]) -> npt.NDArray[np.int64]:
    """Every chunk's piece rows, in order."""
    rows = [c.pieces for c in chunks if len(c.pieces)]
    return np.concatenate(rows) if rows else np.zeros((0, 5), np.int64)


def segments(chunks: list[AudioChunk]) -> list[tuple[int, int, npt.NDArray[np.int16]]]:
    """``(run, dev_start, samples)`` of every stretch of consecutive device samples.

    Pieces (one per stored block part) are joined across blocks and chunks while the device
    index runs on: placing each block alone would leave a one-sample gap at every seam.
    """
    out: list[tuple[int, int, list[npt.NDArray[np.int16]], int]] = []
    for chunk in chunks:
        offset = 0
        for run, dev_start, n, _, _ in chunk.pieces.tolist():
            part = chunk.samples[offset:offset + n]
            offset += n
            if out and out[-1][0] == run and out[-1][1] + out[-1][3] == dev_start:
                out[-1][2].append(part)
                out[-1] = (run, out[-1][1], out[-1][2], out[-1][3] + n)
            else:
                out.append((run, dev_start, [part], n))
    return [(run, start, np.concatenate(parts)) for run, start, parts, _ in out]


def render(chunks: list[AudioChunk], rate: int, channels: int, *,
           end_ns: int | None = None) -> tuple[npt.NDArray[np.int16], dict[int, RunFit]]:
    """The session's samples (see the module docstring) and the run fits used.

    ``end_ns``: the output's length in session time (default: up to the last sample placed).
    """
    fits = fit_runs(all_pieces(chunks), rate)
    placed: list[tuple[int, npt.NDArray[np.float32]]] = []
    last = 0
    for run, dev_start, samples in segments(chunks):
        n = len(samples)
        fit = fits[run]
        t_first = float(fit.time_ns(dev_start))
        # Output samples whose time falls within the segment, read off it by the run's clock.
        q0 = max(int(np.ceil(t_first * rate / 1e9)), 0)
        q1 = int(np.floor(float(fit.time_ns(dev_start + n - 1)) * rate / 1e9))
        if q1 < q0:
            continue
        q = np.arange(q0, q1 + 1, dtype=np.float64)
        pos = (q * 1e9 / rate - t_first) * fit.rate / 1e9  # fractional index into the segment
        idx = np.arange(n, dtype=np.float64)
        src = samples.astype(np.float32)
        placed.append((q0, np.stack([np.interp(pos, idx, src[:, c]) for c in range(channels)],
                                    axis=1).astype(np.float32)))
        last = max(last, q1 + 1)
    length = last if end_ns is None else max(0, round(end_ns * rate / 1e9))
    result = np.zeros((length, channels), np.int16)
    for start, seg in placed:  # a later segment overwrites an earlier one where runs overlap
        stop = min(start + len(seg), length)
        if stop > start:
            result[start:stop] = np.clip(np.round(seg[:stop - start]), -32768, 32767)
    return result, fits
