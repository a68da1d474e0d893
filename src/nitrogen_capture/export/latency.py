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

__all__ = ["DEFAULT_ACTION_SHIFT", "OFFSET_SOURCES", "action_shift_note", "applied_offset",
           "shift_events"]

# Where the applied offset came from (the export's meta says which).
OFFSET_SOURCES: tuple[str, ...] = ("none", "meta.json", "--latency-offset-ms")
# --action-shift's default (docs/calibration.md, "The offset's direction, and why"): with the
# offset applied, row i's action is visible in frame i, and without a measured offset it may be
# too (the recording machine's lag is often under a frame), so a policy that must not read its
# answer off the screen predicts the actions from row i + 1 on. With a known lag left unapplied
# (--latency-offset-ms 0) row i's action shows later still: 1 holds there too.
DEFAULT_ACTION_SHIFT = 1


def applied_offset(override_ms: float | None, meta: SessionMeta) -> tuple[int, str]:
    """``(offset ns, source)``: the override when given, else the session's, else none."""
    if override_ms is not None:
        return round(override_ms * 1e6), "--latency-offset-ms"
    if meta.latency_offset_ns:
        return int(meta.latency_offset_ns), "meta.json"
    return 0, "none"


def action_shift_note(shift: int, given: bool, offset_ns: int | None,
                      offset_source: str = "") -> str:
    """One line: the action shift an export uses and why (``convert`` prints it, the report too).

    ``given``: the shift came from ``--action-shift``; ``offset_ns`` / ``offset_source``: the
    latency offset the export applies (:func:`applied_offset`); ``offset_ns`` None: many
    sessions, each with its own.
    """
    if given:
        why = "given with --action-shift"
        if shift < DEFAULT_ACTION_SHIFT:
            why += "; row i's action can show in frame i itself"
    elif offset_ns is None:
        why = (f"the default: row i's action shows in frame i (with each session's latency "
               f"offset applied, and can without one), so a policy predicts from row i + {shift} "
               "on")
    elif offset_ns:
        why = (f"the default: with the latency offset of {offset_ns / 1e6:g} ms applied "
               f"({offset_source}), row i's action shows in frame i, so a policy predicts "
               f"from row i + {shift} on")
    else:
        why = (f"the default: no latency offset applied, and row i's action can show in frame "
               f"i, so a policy predicts from row i + {shift} on")
    return f"action shift {shift} ({why}; docs/calibration.md)"


def shift_events(events: npt.NDArray[Any], offset_ns: int) -> npt.NDArray[Any]:
    """``events`` (EVENT_DTYPE) with every time moved ``offset_ns`` later (a copy when moved).

    One shift for every event keeps their order, so the binners' time-order rule still holds.
    """
    if offset_ns == 0 or len(events) == 0:
        return events
    out = events.copy()
    out["t_ns"] = out["t_ns"] + np.int64(offset_ns)
    return out
