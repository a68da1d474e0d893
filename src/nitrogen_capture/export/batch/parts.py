"""The part writers of the ``.pt`` and ``nitrogen-dataset`` formats: one task -> one part folder.

Each takes the task's job, its per-task settings and the (empty) part folder, writes the part's
files there and returns its report (what ``part.json`` adds to the task's state). The format
objects (:mod:`..formats`) call them; the LeRobot one is in :mod:`.lerobot`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...atomic import atomic_file
from ..settings import ConvertSettings
from ..source import ExportSource
from .job import PART_META, Skip, TaskJob, idle_check

__all__ = ["DATASET_SHARD", "dataset_part", "dataset_part_problem", "pt_part", "pt_part_problem"]

_ROW_KEYS = ("row", "frame_index", "t_ns", "chunk", "chunk_row", "repeated_frames", "repeat_run")
DATASET_SHARD = "actions/SHARD_0000"


def _write_npy(path: Path, dtype: str, shape: tuple[int, ...],
               blocks: Callable[[], Any]) -> None:
    """Stream an ``.npy`` file: the header, then the bytes of each block ``blocks()`` yields."""
    with atomic_file(path) as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
        for block in blocks():
            f.write(np.ascontiguousarray(block, dtype=dtype).data)


def pt_part(job: TaskJob, settings: ConvertSettings, folder: Path) -> dict[str, Any]:
    """The task's windows: ``obs.npy``, ``actions.npy``, ``action_source.npy`` and their meta."""
    from ..nitrogen import (
        iter_window_actions,
        iter_window_sources,
        obs_transform,
        plan_pt,
        repeat_columns,
    )

    task = job.task
    src = ExportSource(settings)
    idle_check(src, job.keep_idle)
    # The whole session's plan (what --max-repeat-frames leaves out is counted over all of
    # it, as one convert counts it), then the task's windows.
    pt = plan_pt(src, settings)
    plan = pt.windows
    if len(plan) == 0:
        cut = pt.cut["windows"] if pt.cut else 0
        raise Skip(f"too short: {len(src.timestamps)} frames hold no window of "
                   f"{settings.seq_len} steps (shift {settings.action_shift}) in one segment"
                   + (f" ({cut} left out by --max-repeat-frames)" if cut else ""))
    keep = plan.starts >= task.first_row
    if task.last_row is not None:
        keep &= plan.starts < task.last_row
    sub = dataclasses.replace(plan, starts=plan.starts[keep])
    reps = pt.repeats.select(keep)
    n, size, d = len(sub), settings.img_size, len(src.action_names)
    frames = src.iter_frames(sub.starts.tolist(), obs_transform(size, settings.obs_dtype))
    _write_npy(folder / "obs.npy", settings.obs_dtype, (n, 3, size, size),
               lambda: (next(frames) for _ in range(n)))
    actions = iter_window_actions(src, sub)
    _write_npy(folder / "actions.npy", "float32", (n, settings.seq_len, d),
               lambda: (next(actions) for _ in range(n)))
    sources = iter_window_sources(src, sub)  # who had control of each step (action_source.py)
    _write_npy(folder / "action_source.npy", "int8", (n, settings.seq_len),
               lambda: (next(sources) for _ in range(n)))
    rows = sub.starts
    fi = np.asarray(src.arrays["frame_indices"], dtype=np.int64)
    return {"windows": n, "frames": n, "repeated_frames": int(reps.counts.sum()),
            "action_names": list(src.action_names),
            "keymap": None if src.use_pad else src.keymap.to_dict(),
            "source": pt.source(src), "segments": [list(x) for x in plan.segments],
            "rows": {"row": rows.tolist(), "frame_index": fi[rows].tolist(),
                     "t_ns": src.timestamps[rows].tolist(),
                     "chunk": src.row_chunk[rows].tolist(),
                     "chunk_row": src.chunk_row[rows].tolist(),
                     **repeat_columns(reps, slice(None))}}


def dataset_part(job: TaskJob, settings: ConvertSettings, folder: Path) -> dict[str, Any]:
    """The session's chunk folders of the NitroGen dataset tree, under ``folder``."""
    from ..dataset_tree import DATASET_HZ, MIN_CHUNK_ROWS, convert_dataset
    from ..resample import step_ns

    src = ExportSource(settings)
    idle_check(src, job.keep_idle)
    parts, _ = src.grid_parts(step_ns(DATASET_HZ))  # what the tree writes: the same parts
    longest = max((len(p.grid) for p in parts), default=0)
    if longest < MIN_CHUNK_ROWS:
        raise Skip(f"too short: its longest segment gives {longest} rows at 60 Hz, a chunk "
                   f"needs {MIN_CHUNK_ROWS}")
    result = convert_dataset(settings, video_id=job.video_id)
    repeated = result.repeats["repeated_frames"] if result.repeats else 0
    return {"windows": result.windows, "frames": result.frames, "video_id": job.video_id,
            "repeated_frames": repeated}


def _npy_shape(path: Path) -> tuple[tuple[int, ...], str] | None:
    """An .npy file's shape and dtype when the file holds all its bytes, else None."""
    try:
        with path.open("rb") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(f)
            body = os.fstat(f.fileno()).st_size - f.tell()
    except (OSError, ValueError, TypeError):
        return None
    if fortran or body != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
        return None
    return tuple(int(n) for n in shape), dtype.name


def pt_part_problem(cs: ConvertSettings, folder: Path, doc: dict[str, Any],
                    n: int) -> str | None:
    """Why a ``.pt`` part of ``n`` windows is not whole (None: it is)."""
    names, rows = doc.get("action_names"), doc.get("rows")
    if not (isinstance(names, list) and all(isinstance(x, str) for x in names)):
        return "its part.json has no list of action names"
    if not isinstance(doc.get("source"), dict) or not isinstance(rows, dict) or not all(
            isinstance(rows.get(k), list) and len(rows[k]) == n for k in _ROW_KEYS):
        return "its part.json lacks the source or the rows of its windows"
    size = cs.img_size
    want = {"obs.npy": ((n, 3, size, size), cs.obs_dtype),
            "actions.npy": ((n, cs.seq_len, len(names)), "float32"),
            "action_source.npy": ((n, cs.seq_len), "int8")}
    for name, expected in want.items():
        if _npy_shape(folder / name) != expected:
            return f"its {name} is missing, cut short or of another shape"
    return None


def dataset_part_problem(cs: ConvertSettings, folder: Path, doc: dict[str, Any]) -> str | None:
    """Why a dataset part is not whole: a bad ``video_id``, chunks in neither part nor tree."""
    vid = doc.get("video_id")
    if not isinstance(vid, str) or re.fullmatch(r"[A-Za-z0-9_-]{1,255}", vid) is None:
        return f"its {PART_META} has no valid video_id"
    if not ((folder / DATASET_SHARD / vid).is_dir() or (cs.out / DATASET_SHARD / vid).is_dir()):
        return "its dataset chunks are missing"
    return None
