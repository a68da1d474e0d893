"""Re-bin the raw event stream onto an exact R Hz grid (NitroGen acts at 60 Hz).

The recorder bins events at each frame's capture time; an exporter can rebuild the same rows on
any other grid from ``events_chunk_NNN.npy`` (docs/format.md, "Per-frame semantics"). A grid
``g_0 < g_1 < ...`` with step ``P`` gets row ``k`` = keys held at ``g_k`` or pressed in
``(g_{k-1}, g_k]`` (with ``g_{-1} = g_0 - P``), mouse motion summed over the same interval, pad
axes as last reported at or before ``g_k``: exactly :class:`~nitrogen_capture.binning.
ActionBinner`'s semantics, because that binner does the work.

Sliding windows overlap, so :class:`GridResampler` advances one *state* binner through time to the
start of each grid, forks a copy (:meth:`ActionBinner.copy`) and bins the grid's events into the
copy. Events are read lazily, chunk by chunk, and only the span between the current grid's start
and end is buffered, so memory does not grow with the session.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from ..binning import ActionBinner, BinnedRows, bin_events
from ..events import InputEvent
from ..keylayout import KeyLayout

__all__ = ["GridResampler", "iter_event_arrays", "step_ns"]


def step_ns(hz: float) -> int:
    """Grid step in ns for a rate in Hz (rounded to the ns)."""
    return round(1e9 / hz)


def iter_event_arrays(arrays: Iterable[npt.NDArray[Any]]) -> Iterator[InputEvent]:
    """Yield InputEvents from a sequence of EVENT_DTYPE arrays (e.g. one per chunk), in order."""
    for ev in arrays:
        # tolist() once per chunk is much faster than indexing numpy scalars per event.
        for t, d, c, v in zip(ev["t_ns"].tolist(), ev["device"].tolist(), ev["code"].tolist(),
                              ev["value"].tolist(), strict=True):
            yield InputEvent(int(t), str(d), str(c), float(v))


class GridResampler:
    """Bin a time-ordered event stream onto successive grids.

    Args:
        events: InputEvents in time order (consumed lazily).
        layout: the session's key layout.

    Call :meth:`bin_grid` with grids whose starts never go backwards in time.
    """

    def __init__(self, events: Iterable[InputEvent], layout: KeyLayout) -> None:
        self.layout = layout
        self._it = iter(events)
        self._next: InputEvent | None = next(self._it, None)
        self._buf: deque[InputEvent] = deque()
        self._state = ActionBinner(layout)
        self._state_t: int | None = None

    def _pull(self) -> InputEvent | None:
        ev = self._next
        if ev is not None:
            self._next = next(self._it, None)
        return ev

    def _advance_state(self, t_ns: int) -> None:
        # Feed every event at or before t_ns to the state binner; it then holds the key/pad
        # state *at* t_ns. Latches and mouse sums before t_ns belong to no grid row: drop them.
        if self._state_t is not None and t_ns < self._state_t:
            raise ValueError(f"grid start went backwards: {t_ns} < {self._state_t}")
        while self._buf and self._buf[0].t_ns <= t_ns:
            self._state.feed(self._buf.popleft())
        while not self._buf and self._next is not None and self._next.t_ns <= t_ns:
            ev = self._pull()
            assert ev is not None
            self._state.feed(ev)
        self._state.close_frame()
        self._state_t = t_ns

    def bin_grid(self, grid_ns: npt.ArrayLike, step: int) -> BinnedRows:
        """Rows for the grid times ``grid_ns`` (sorted ns); the first interval is one ``step``."""
        grid = np.asarray(grid_ns, dtype=np.int64)
        if len(grid) == 0:
            return bin_events([], grid, self.layout)
        self._advance_state(int(grid[0]) - step)
        end = int(grid[-1])
        while self._next is not None and self._next.t_ns <= end:
            ev = self._pull()
            assert ev is not None
            self._buf.append(ev)
        events = [ev for ev in self._buf if ev.t_ns <= end]
        return bin_events(events, grid, self.layout, binner=self._state.copy())
