"""``convert --action-source``: which rows of a ``play`` rollout an export keeps, and their source.

A rollout's rows each carry who was in control (``action_source``: 0 human, 1 policy;
docs/format.md, "Rollouts"). ``--action-source all`` keeps both; ``human`` or ``policy`` keeps one,
and the other source's rows are left out the way idle stretches are: the contiguous segments are
cut where they are (:func:`~nitrogen_capture.session.idle.cut_segments`), so no training window
and no grid part bridges a left-out stretch. A session that is not a rollout is all human:
``human`` keeps everything, ``policy`` is refused in one line.

Every format carries the source per row where it can (:data:`SOURCE_COLUMN`, the values named by
:data:`SOURCE_NAMES`): the ``.pt`` an ``action_source`` tensor (M, T) int8, the dataset tree an
``action_source`` string column in ``actions_raw.parquet``, LeRobot a per-frame feature. Each
export's meta says what was kept (:func:`source_summary`). The source of an export row is the
source of the session row whose frame is shown at the row's time (export/repeats.py's rule),
never one outside the row's segment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ExportError
from ..rows import ACTION_SOURCES, SOURCE_HUMAN

__all__ = ["SOURCE_COLUMN", "SOURCE_NAMES", "check_kept", "left_out", "row_sources",
           "source_names", "source_summary", "sources_at"]

SOURCE_COLUMN = "action_source"
SOURCE_NAMES: tuple[str, ...] = ACTION_SOURCES  # value i is SOURCE_NAMES[i]


def row_sources(arrays: Mapping[str, npt.NDArray[Any]], rows: int) -> npt.NDArray[np.int8]:
    """Each merged row's source: the rollout's ``action_source``, or all human (not a rollout)."""
    src = arrays.get(SOURCE_COLUMN)
    if src is None:
        return np.full(rows, SOURCE_HUMAN, dtype=np.int8)
    return np.asarray(src, dtype=np.int8)


def check_kept(keep: str, rollout: bool, root: object) -> None:
    """Refuse ``--action-source policy`` of a session that is not a rollout (one line)."""
    if keep == "policy" and not rollout:
        raise ExportError(f"--action-source policy: session {root} is not a play rollout (no "
                          "meta.json play): every row is the player's; use human or all")


def left_out(keep: str, source: npt.NDArray[np.int8], root: object = "") -> npt.NDArray[np.bool_]:
    """The rows ``--action-source keep`` leaves out (none for ``all``).

    Raises:
        ExportError: the session has rows but none of source ``keep`` (one line).
    """
    if keep == "all":
        return np.zeros(len(source), dtype=bool)
    drop = np.asarray(source != SOURCE_NAMES.index(keep), dtype=bool)
    if len(drop) and drop.all():
        other = "the player never took over" if keep == "human" else "the player had control"
        raise ExportError(f"--action-source {keep}: session {root} has no {keep} row ("
                          f"{other} for all {len(drop)} rows): nothing to convert; use all")
    return drop


def source_summary(keep: str, rollout: bool, source: npt.NDArray[np.int8],
                   dropped: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """The ``action_source`` object of an export's meta: what was kept, out of what."""
    counts = {name: int(np.count_nonzero(source == i)) for i, name in enumerate(SOURCE_NAMES)}
    return {"kept": keep, "rollout": rollout, "names": list(SOURCE_NAMES), "rows": counts,
            "rows_left_out": int(np.count_nonzero(dropped))}


def sources_at(source: npt.NDArray[np.int8], timestamps: npt.ArrayLike,
               segment: tuple[int, int], times: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """The source of the row shown at each of ``times`` (ns), within ``segment`` ``(a, b)``.

    The row shown at ``t`` is the latest of the segment captured at or before ``t`` (the
    segment's first row before it starts).
    """
    a, b = segment
    ts = np.asarray(timestamps, dtype=np.int64)[a:b]
    idx = np.searchsorted(ts, np.asarray(times, dtype=np.int64), side="right") - 1
    return np.asarray(source[a + np.clip(idx, 0, b - a - 1)], dtype=np.int8)


def source_names(values: npt.NDArray[np.int8]) -> list[str]:
    """``values`` as names (``human`` / ``policy``), for a string column."""
    return [SOURCE_NAMES[int(v)] for v in values]
