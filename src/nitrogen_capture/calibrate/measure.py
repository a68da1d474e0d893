"""Read a calibration recording back: which frame first shows each logged press.

The calibration window (:mod:`.window`) draws a barcode of its press counter at its top-left
corner (:mod:`nitrogen_capture.barcode`, 16 px cells) and changes colour on every counted press.
The recorder logged the presses (``events``; a key already held when it started is a synthetic
``HELD`` press, not counted) and captured the frames (``timestamps``), both on the session clock.
The ``k``-th logged press after the first frame is the one that took the
counter from ``c0 + k - 1`` to ``c0 + k`` (``c0`` = the counter in the first readable frame), so
its first showing frame is the first one whose counter reads at least ``c0 + k``. Frames whose
barcode misreads (a grab that caught the window mid-redraw) are skipped, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import barcode
from ..events import BUTTON, KEY, PRESS

__all__ = ["COUNTER_CELL", "Measurement", "match_presses", "measure_session", "read_counters"]

COUNTER_CELL = 16  # barcode cell of the window's counter, at (0, 0)


@dataclass
class Measurement:
    """Per-event samples of one calibration recording (see :mod:`.profile` for the terms)."""

    logged: int = 0
    delays_ns: list[int] = field(default_factory=list)
    lower_ns: list[int] = field(default_factory=list)
    row_lags: list[int] = field(default_factory=list)
    window_presses: int | None = None  # counted by the window over the recording (pixels)
    frames: int = 0
    unreadable: int = 0
    stamped_late: int = 0  # presses a frame showed before their logged time (negative delays)
    problems: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        """Logged presses a frame showed."""
        return len(self.delays_ns)


def read_counters(frames: Iterable[npt.NDArray[np.uint8]]) -> npt.NDArray[np.int64]:
    """The window's counter in each frame (-1 where the barcode misreads)."""
    out = [barcode.decode(img, 0, 0, COUNTER_CELL) for img in frames]
    return np.array([-1 if v is None else v for v in out], dtype=np.int64)


def match_presses(press_ns: Sequence[int], frame_ns: npt.ArrayLike,
                  counters: npt.ArrayLike) -> Measurement:
    """Match logged presses (session ns, time order) to the first frames showing them.

    ``frame_ns`` are the frames' capture times and ``counters`` what each frame shows (-1:
    unreadable). A press whose counter value no frame reaches is not seen (a problem), and so is
    a window count that differs from the logged one. A frame may show a press before the
    recorder's timestamp of it: the input listener's thread ran late (a busy machine; 80 ms seen
    here). That is a negative delay, a real property of the recording and kept as a sample like
    any other (``stamped_late`` counts them). Presses paired with the wrong counter values would
    make most delays after the slip negative: more than half negative is a problem.
    """
    ts = np.asarray(frame_ns, dtype=np.int64)
    cnt = np.asarray(counters, dtype=np.int64)
    m = Measurement(frames=len(ts), unreadable=int(np.count_nonzero(cnt < 0)))
    valid = np.flatnonzero(cnt >= 0)
    if len(valid) == 0:
        m.problems.append(f"no frame of {len(ts)} shows the window's counter: was the window "
                          "captured (covered, moved, another window on top)?")
        return m
    first = int(valid[0])
    c0 = int(cnt[first])
    reach = np.maximum.accumulate(np.where(cnt >= 0, cnt, -1))
    presses = [int(t) for t in press_ns if t > ts[first]]
    m.logged = len(presses)
    m.window_presses = int(reach[-1]) - c0
    period = int(np.median(np.diff(ts))) if len(ts) > 1 else 1
    for k, e in enumerate(presses, start=1):
        j = int(np.searchsorted(reach, c0 + k, side="left"))
        if j >= len(ts):
            m.problems.append(f"press {k} (logged at {e / 1e9:.3f} s) never showed in a frame")
            continue
        delay = int(ts[j]) - e
        if delay < 0:
            m.stamped_late += 1
        m.delays_ns.append(delay)
        m.lower_ns.append(int(ts[j - 1]) - e if j > 0 else delay - period)
        m.row_lags.append(j - int(np.searchsorted(ts, e, side="left")))
    if m.stamped_late * 2 > max(m.seen, 1):
        m.problems.append(f"{m.stamped_late} of {m.seen} presses show in a frame before they were "
                          "logged: the window and the recorder paired different presses")
    if m.window_presses != m.logged:
        m.problems.append(f"the window counted {m.window_presses} presses while recording, the "
                          f"recorder logged {m.logged}")
    return m


def _press_times(events: npt.NDArray[Any], keys: Sequence[str]) -> list[int]:
    """When ``keys`` were pressed: observed presses only.

    A key already held when the recording started or resumed is a synthetic press (``HELD``),
    not one the window counted.
    """
    sel = (np.isin(events["device"], (KEY, BUTTON)) & np.isin(events["code"], list(keys))
           & (events["value"] == PRESS))
    return sorted(int(t) for t in events["t_ns"][sel])


def measure_session(root: Path, keys: Sequence[str]) -> Measurement:
    """Measure a calibration recording at ``root`` (its complete chunks; no merge needed)."""
    from ..session.reader import SessionReader

    reader = SessionReader(root)
    arrays = reader.concat_arrays()
    counters = read_counters(img for _, img in reader.iter_frames())
    return match_presses(_press_times(arrays["events"], keys), arrays["timestamps"], counters)
