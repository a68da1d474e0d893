"""OS frame times: the counts meta.json keeps, the checks validate makes, the latency figures.

A frame source that stamps its frames (``FrameSource.stamp_source``: PipeWire's buffer time,
DXGI's present time, the synthetic source's render time) gives each recorded row the OS's own
time of its frame and whether it repeats the frame recorded before it. The chunks store them as
``os_timestamps`` (ns since ``t0_ns``, :data:`~nitrogen_capture.rows.OS_TIME_NONE` where the
source gave none) and ``repeated``; ``meta.json`` ``capture`` names the source and counts the
repeated rows and the rows without an OS time (docs/format.md, "OS frame times").

The session's own arrays are the truth: the writer, repair and merge compute the counts from
them, and validate checks that meta.json agrees, that the OS times never go back, that a repeat
keeps the time of the frame it repeats, and that no OS time is later than our grab time (the
``timestamps`` row) by more than :data:`OS_TIME_TOLERANCE_NS`. The capture latency is our grab
time minus the OS time, over the rows that are not repeats (a repeat's age is how long nothing
new came, not a latency).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt

from ..rows import OS_TIME_NONE
from .meta_parts import CaptureInfo

__all__ = ["OS_TIME_TOLERANCE_NS", "add_frame_time_counts", "describe", "frame_time_counts",
           "frame_time_problems", "frame_time_stats", "set_frame_time_counts"]

# How far an OS time may lie after our own grab time: both are CLOCK_MONOTONIC readings, but a
# converted clock (QPC on Windows) may round; more than this is a wrong clock or damage.
OS_TIME_TOLERANCE_NS = 2_000_000

Array = npt.NDArray[Any]


def frame_time_counts(os_ts: Array, repeated: Array) -> tuple[int, int]:
    """``(repeated rows, rows without an OS time)`` of one stretch of rows."""
    return (int(np.count_nonzero(repeated)),
            int(np.count_nonzero(np.asarray(os_ts) == OS_TIME_NONE)))


def add_frame_time_counts(capture: CaptureInfo | None, os_ts: Array,
                          repeated: Array) -> CaptureInfo | None:
    """``capture`` with one more chunk's rows counted (the writer, as a chunk is listed)."""
    if capture is None:
        return None
    rep, missing = frame_time_counts(os_ts, repeated)
    return dataclasses.replace(capture, repeated_frames=capture.repeated_frames + rep,
                               frames_without_os_time=capture.frames_without_os_time + missing)


def set_frame_time_counts(capture: CaptureInfo | None, os_ts: Array,
                          repeated: Array) -> CaptureInfo | None:
    """``capture`` with the counts of exactly these rows (repair, merge: all listed rows)."""
    if capture is None:
        return None
    rep, missing = frame_time_counts(os_ts, repeated)
    return dataclasses.replace(capture, repeated_frames=rep, frames_without_os_time=missing)


def frame_time_problems(ts: Array, os_ts: Array, repeated: Array, *,
                        first_row: int = 0) -> list[str]:
    """What is wrong with one chunk's OS times (messages name chunk rows + ``first_row``).

    The OS times that are present never go back; none is later than the grab time of its row
    by more than :data:`OS_TIME_TOLERANCE_NS`; a repeated row keeps the OS time of the row
    before it (both present).
    """
    out: list[str] = []
    ts, os_ts, repeated = np.asarray(ts), np.asarray(os_ts), np.asarray(repeated, dtype=bool)
    has = os_ts != OS_TIME_NONE
    rows = np.flatnonzero(has)
    back = np.flatnonzero(np.diff(os_ts[rows]) < 0)
    if len(back):
        a, b = int(rows[back[0]]), int(rows[back[0] + 1])
        out.append(f"os_timestamps goes back at {len(back)} row(s), first at row "
                   f"{b + first_row} ({int(os_ts[a])} -> {int(os_ts[b])})")
    late = np.flatnonzero(has & (os_ts - ts > OS_TIME_TOLERANCE_NS))
    if len(late):
        r = int(late[0])
        out.append(f"os_timestamps is after the grab time at {len(late)} row(s), first at row "
                   f"{r + first_row} ({(int(os_ts[r]) - int(ts[r])) / 1e6:.3f} ms after; "
                   f"at most {OS_TIME_TOLERANCE_NS / 1e6:g} ms is allowed)")
    if len(os_ts) > 1:
        moved = np.flatnonzero(repeated[1:] & has[1:] & has[:-1] & (os_ts[1:] != os_ts[:-1])) + 1
        if len(moved):
            r = int(moved[0])
            out.append(f"repeated marks {len(moved)} row(s) whose OS time differs from the row "
                       f"before, first at row {r + first_row}")
    return out


def frame_time_stats(source: str | None, ts: Array, os_ts: Array,
                     repeated: Array) -> dict[str, Any]:
    """``validate --json`` ``stats.frame_times``: the source, the counts, the capture latency.

    ``latency_ms`` (p50, p90, max of our grab time minus the OS time, over rows with an OS time
    that are not repeats) is None when no such row exists.
    """
    ts, os_ts = np.asarray(ts, dtype=np.int64), np.asarray(os_ts, dtype=np.int64)
    repeated = np.asarray(repeated, dtype=bool)
    rep, missing = frame_time_counts(os_ts, repeated)
    new = (os_ts != OS_TIME_NONE) & ~repeated
    lat = (ts[new] - os_ts[new]).astype(np.float64) / 1e6
    latency = None if not len(lat) else {
        "p50": round(float(np.percentile(lat, 50)), 4),
        "p90": round(float(np.percentile(lat, 90)), 4),
        "max": round(float(lat.max()), 4)}
    return {"source": source, "frames": len(ts), "repeated_frames": rep,
            "frames_without_os_time": missing, "latency_frames": len(lat),
            "latency_ms": latency}


def describe(stats: dict[str, Any]) -> str:
    """One line of ``stats.frame_times`` for ``validate`` and the report."""
    lat = stats.get("latency_ms")
    text = (f"capture latency p50 {lat['p50']:.2f} ms, p90 {lat['p90']:.2f} ms, max "
            f"{lat['max']:.2f} ms over {stats['latency_frames']} new frames"
            if lat else "no capture latency (no frame with an OS time)")
    source = f" (source {stats['source']})" if stats.get("source") else ""
    return (f"{text}; {stats['repeated_frames']} repeated frame(s), "
            f"{stats['frames_without_os_time']} without an OS time{source}")
