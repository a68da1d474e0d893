"""Training windows: which frames get an observation + action chunk.

A window starts at merged row ``i`` (its observation is frame ``i``) and carries ``T`` action
steps:

* per frame (no ``--action-hz``): rows ``i + S ... i + S + T - 1`` of the session's own per-frame
  arrays, ``S`` = ``--action-shift``. On a clean session of N frames, M = N - S - T + 1.
* resampled (``--action-hz R``): grid times ``t_i + (S + j) / R`` for ``j < T``, binned from the
  raw events (:mod:`.resample`).

Either way a window must lie inside one contiguous segment (:func:`nitrogen_capture.session.
reader.segments`: no pause, no dropped ticks, every frame on disk): per frame, all of its rows are
in the segment; resampled, its last grid time is no later than the segment's last frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from .resample import step_ns

__all__ = ["WindowPlan", "plan_windows"]


@dataclass(frozen=True)
class WindowPlan:
    """The windows of one export.

    Attributes:
        starts: merged row of each window's observation frame, increasing.
        segments: the contiguous ``(start, stop)`` row runs the windows were cut from.
        seq_len, shift: T and S.
        action_hz: grid rate, or None for per-frame actions.
    """

    starts: npt.NDArray[np.int64]
    segments: tuple[tuple[int, int], ...]
    seq_len: int
    shift: int
    action_hz: float | None

    def __len__(self) -> int:
        return len(self.starts)

    def grid(self, start_t_ns: int) -> npt.NDArray[np.int64]:
        """Grid times of the window whose observation was captured at ``start_t_ns``."""
        assert self.action_hz is not None
        p = step_ns(self.action_hz)
        return start_t_ns + (self.shift + np.arange(self.seq_len, dtype=np.int64)) * p


def plan_windows(
    timestamps: npt.ArrayLike,
    segments: Sequence[tuple[int, int]],
    *,
    seq_len: int,
    shift: int = 0,
    action_hz: float | None = None,
) -> WindowPlan:
    """Choose every window that fits inside one segment.

    Args:
        timestamps: merged per-frame capture times (ns).
        segments: contiguous ``(start, stop)`` row runs (e.g. ``SessionReader.segments()``).
        seq_len: T, action steps per window (>= 1).
        shift: S, steps between the observation and the first action (>= 0).
        action_hz: resample actions to this rate, or None for the per-frame rows.
    """
    if seq_len < 1:
        raise ConfigError(f"--seq-len must be >= 1, got {seq_len}")
    if shift < 0:
        raise ConfigError(f"--action-shift must be >= 0, got {shift}")
    if action_hz is not None and not 0 < action_hz <= 1000:
        raise ConfigError(f"--action-hz must be in (0, 1000], got {action_hz:g}")
    ts = np.asarray(timestamps, dtype=np.int64)
    starts: list[npt.NDArray[np.int64]] = []
    for a, b in segments:
        rows = np.arange(a, b, dtype=np.int64)
        if action_hz is None:
            ok = rows + shift + seq_len <= b
        else:
            span = (shift + seq_len - 1) * step_ns(action_hz)
            ok = ts[a:b] + span <= ts[b - 1]
        starts.append(rows[ok])
    empty = np.zeros(0, dtype=np.int64)
    return WindowPlan(
        starts=np.concatenate(starts) if starts else empty,
        segments=tuple((int(a), int(b)) for a, b in segments),
        seq_len=seq_len, shift=shift, action_hz=action_hz,
    )
