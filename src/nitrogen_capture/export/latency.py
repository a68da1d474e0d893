"""The input-to-frame latency offset, applied where frames are paired with actions.

Meaning (docs/calibration.md): a session's frame captured at ``t`` shows the effect of the inputs
made up to about ``t - O``, ``O`` the offset (``meta.json`` ``latency_offset_ns``, measured by
``nitrogen-capture calibrate``). An exporter applying ``O > 0`` moves every input event ``O``
later before binning, so the row paired with the frame at ``t_i`` holds the inputs of
``(t_{i-1} - O, t_i - O]``: each action lands in the row of the first frame that shows it, which
is what the format's rows mean on a machine without latency (docs/format.md, "Per-frame
semantics"). Actions therefore move to later rows (towards later frames); ``O = 0`` changes
nothing. ``convert --latency-offset-ms`` overrides the session's value (0 turns it off).

:class:`~nitrogen_capture.export.source.ExportSource` calls these for every exporter (its
per-frame rows and its resampler), so an exporter that takes its actions from the source gets the
offset without code of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..session.meta import SessionMeta

__all__ = ["OFFSET_SOURCES", "applied_offset", "shift_events"]

# Where the applied offset came from (the export's meta says which).
OFFSET_SOURCES: tuple[str, ...] = ("none", "meta.json", "--latency-offset-ms")


def applied_offset(override_ms: float | None, meta: SessionMeta) -> tuple[int, str]:
    """``(offset ns, source)``: the override when given, else the session's, else none."""
    if override_ms is not None:
        return round(override_ms * 1e6), "--latency-offset-ms"
    if meta.latency_offset_ns:
        return int(meta.latency_offset_ns), "meta.json"
    return 0, "none"


def shift_events(events: npt.NDArray[Any], offset_ns: int) -> npt.NDArray[Any]:
    """``events`` (EVENT_DTYPE) with every time moved ``offset_ns`` later (a copy when moved).

    One shift for every event keeps their order, so the binners' time-order rule still holds.
    """
    if offset_ns == 0 or len(events) == 0:
        return events
    out = events.copy()
    out["t_ns"] = out["t_ns"] + np.int64(offset_ns)
    return out
