"""Idle stretches: spans of a session with no input for more than N seconds (menus, AFK).

One rule, shared by ``report`` (which shows what would be cut) and ``convert
--drop-idle-seconds N`` (which leaves those frames out of every training window):

* every ``key``, ``button``, ``motion``, ``wheel`` and ``pad_btn`` event is input; ``control``
  events (pause, resume, focus) are what the recorder did, not the player, and are not;
* a held key, mouse button or gamepad button keeps the player active until its release (holding
  W to run across a field is play, not AFK);
* a ``pad_axis`` event counts when the stick is, or was until then, deflected past
  :data:`AXIS_DEADZONE`; the noise of a resting stick does not, and a deflected stick keeps the
  player active like a held key;
* the session's first and last frame bound the search, so a quiet start (waiting in a menu) and
  a quiet end count too.

A stretch runs from the last input before the silence to the first input after it; the frames
captured strictly inside it are the idle rows (:func:`idle_rows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..events import BUTTON, KEY, MOTION, PAD_AXIS, PAD_BUTTON, WHEEL

__all__ = ["AXIS_DEADZONE", "IdleStretch", "cut_segments", "idle_rows", "idle_stretches",
           "idle_summary"]

AXIS_DEADZONE = 0.25  # |stick| at or below this is "centred" (drift and noise)
_PRESSABLE = (KEY, BUTTON, PAD_BUTTON)
_INSTANT = (MOTION, WHEEL)


@dataclass(frozen=True)
class IdleStretch:
    """No input from ``start_ns`` to ``end_ns`` (session clock: ns since the first tick)."""

    start_ns: int
    end_ns: int

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return (self.end_ns - self.start_ns) / 1e9

    def to_json(self) -> list[float]:
        """``[start_s, end_s]`` rounded to the ms, for an export's meta."""
        return [round(self.start_ns / 1e9, 3), round(self.end_ns / 1e9, 3)]


def idle_stretches(events: Iterable[npt.NDArray[Any]], t_start_ns: int, t_end_ns: int,
                   min_seconds: float) -> list[IdleStretch]:
    """Every stretch in ``[t_start_ns, t_end_ns]`` with no input for more than ``min_seconds``.

    ``events``: EVENT_DTYPE arrays in time order (e.g. one per chunk). See the module docstring
    for what counts as input.
    """
    limit = round(min_seconds * 1e9)
    held: set[tuple[str, str]] = set()  # pressed keys/buttons and deflected sticks
    last = t_start_ns
    out: list[IdleStretch] = []

    def gap(until: int) -> None:
        if not held and until - last > limit:
            out.append(IdleStretch(last, until))

    for ev in events:
        for t, dev, code, val in zip(ev["t_ns"].tolist(), ev["device"].tolist(),
                                     ev["code"].tolist(), ev["value"].tolist(), strict=True):
            key = (dev, code)
            if dev in _PRESSABLE:
                on = val > 0
            elif dev == PAD_AXIS:
                on = abs(val) > AXIS_DEADZONE
                if not on and key not in held:
                    continue  # a resting stick's noise is not input
            elif dev in _INSTANT:
                on = None
            else:  # control events and anything unknown: not the player
                continue
            t = min(max(int(t), t_start_ns), t_end_ns)
            gap(t)
            if on is True:
                held.add(key)
            elif on is False:
                held.discard(key)
            last = max(last, t)
    gap(t_end_ns)
    return out


def idle_rows(timestamps: npt.ArrayLike,
              stretches: Sequence[IdleStretch]) -> npt.NDArray[np.bool_]:
    """Per row: was its frame captured strictly inside an idle stretch."""
    ts = np.asarray(timestamps, dtype=np.int64)
    mask = np.zeros(len(ts), dtype=bool)
    for s in stretches:
        lo = int(np.searchsorted(ts, s.start_ns, side="right"))
        hi = int(np.searchsorted(ts, s.end_ns, side="left"))
        mask[lo:hi] = True
    return mask


def cut_segments(segments: Sequence[tuple[int, int]],
                 drop: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """``segments`` with the rows of ``drop`` taken out: each run splits where rows are dropped.

    A training window lies inside one of the returned runs, so none spans a cut.
    """
    out: list[tuple[int, int]] = []
    for a, b in segments:
        keep = ~drop[a:b]
        if keep.all():
            out.append((a, b))
            continue
        # Edges of the kept runs: +1 where one starts, -1 after one ends.
        edges = np.diff(np.concatenate(([0], keep.astype(np.int8), [0])))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        out.extend((a + int(s), a + int(e)) for s, e in zip(starts, stops, strict=True))
    return out


def idle_summary(stretches: Sequence[IdleStretch], drop: npt.NDArray[np.bool_],
                 min_seconds: float) -> dict[str, Any]:
    """What idle trimming cuts, for an export's meta and the report."""
    return {"drop_idle_seconds": min_seconds, "stretches": [s.to_json() for s in stretches],
            "count": len(stretches),
            "seconds": round(sum(s.seconds for s in stretches), 3),
            "rows_dropped": int(np.count_nonzero(drop))}
