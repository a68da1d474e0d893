"""The per-task function both engines run: one session (or one stretch of it) -> one part.

:func:`run_task` is pure in the sense that matters here: its output depends only on the task
and the settings (never on the engine, the worker or the attempt), and it writes only inside its
own staging folder, ``<staging>/<task id>``, built under a temporary name and renamed when
complete. A task killed halfway leaves a temporary folder that the next run removes; a task that
ran twice (Ray retried it after its worker died) leaves the same part. A damaged session is not
an exception for the caller: the report says ``failed`` with the reason, an idle or too-short
session ``skipped`` (its part is then ``part.json`` alone, so a rerun can check the manifest's
word). Every ``part.json`` names the settings' fingerprint it was written with. A full disk is
no damage of the session: the report says ``disk_full`` and the batch stops (:mod:`.space`).

Formats plug in through :data:`FORMATS`: a part writer here and a merger in :mod:`.aggregate`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ExportError, NitrogenCaptureError
from ...session.lock import check_not_locked
from ...session.paths import SessionPaths
from ..discarded import DISCARDED_REASON, is_discarded
from ..settings import ConvertSettings
from ..source import ExportSource
from .plan import Task, one_line
from .space import is_disk_full

__all__ = ["FORMATS", "PART_META", "Skip", "TaskJob", "idle_check", "run_task"]

log = logging.getLogger(__name__)
PART_META = "part.json"


class Skip(Exception):
    """The session is not to convert (idle, too short, discarded): skipped with this reason."""


@dataclass(frozen=True)
class TaskJob:
    """Everything a worker needs for one task (picklable: it crosses process/Ray boundaries)."""

    task: Task
    settings: ConvertSettings  # root/out are replaced per task; workers = decode threads
    staging: Path
    video_id: str
    keep_idle: bool = False
    fingerprint: str = ""  # of the batch's settings, written into part.json


def idle_check(src: ExportSource, keep_idle: bool) -> None:
    """Skip a session whose input is all zero (unless ``--keep-idle``)."""
    if keep_idle:
        return
    rows = src.frame_rows()
    if len(rows) and not np.any(rows):
        raise Skip(f"idle: no input in {len(rows)} frames")


def _write_npy(path: Path, dtype: str, shape: tuple[int, ...],
               blocks: Callable[[], Any]) -> None:
    """Stream an ``.npy`` file: the header, then the bytes of each block ``blocks()`` yields."""
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
        for block in blocks():
            f.write(np.ascontiguousarray(block, dtype=dtype).data)


def pt_part(job: TaskJob, settings: ConvertSettings, folder: Path) -> dict[str, Any]:
    """Windows of the task's rows as ``obs.npy`` + ``actions.npy`` + their per-window meta."""
    from ..nitrogen import iter_window_actions, obs_transform, plan_pt, repeat_columns

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


def lerobot_part(job: TaskJob, settings: ConvertSettings, folder: Path) -> dict[str, Any]:
    """The session as a standalone LeRobot dataset in ``folder`` (see :mod:`.lerobot`)."""
    from .lerobot import lerobot_part as write

    return write(job, settings, folder)


# format -> part writer. A format plugs into batch conversion with a part writer here and a
# merger in aggregate.MERGERS.
FORMATS: dict[str, Callable[[TaskJob, ConvertSettings, Path], dict[str, Any]]] = {
    "pt": pt_part,
    "nitrogen-dataset": dataset_part,
    "lerobot": lerobot_part,
}
# Formats whose sessions may be cut into several tasks (the dataset tree's chunk numbering runs
# over a whole session, so one task per session; its chunks stream, memory stays bounded).
SPLITTABLE = frozenset({"pt"})
# Keys of a part's report kept in its part.json only (the manifest stays small).
_PART_ONLY = frozenset({"rows", "source", "keymap", "segments", "fingerprint"})


def _publish(tmp: Path, final: Path, report: dict[str, Any]) -> None:
    """Write ``part.json`` into ``tmp`` and rename it to ``final`` (a complete part)."""
    (tmp / PART_META).write_text(json.dumps(report), encoding="utf-8")
    if final.exists():  # an earlier attempt finished but its report was lost: same bytes
        shutil.rmtree(final)
    os.replace(tmp, final)


def run_task(job: TaskJob) -> dict[str, Any]:
    """Convert one task into ``<staging>/<task id>``; the report as plain data.

    The report: ``task_id``, ``session``, ``state`` (done, skipped, failed), ``reason``,
    ``windows``, ``frames``, ``seconds``, plus what the format's part writer returned;
    ``disk_full`` when the disk filled up.
    """
    task, t0 = job.task, time.perf_counter()
    final = job.staging / task.task_id
    tmp = job.staging / f".tmp-{task.task_id}-{os.getpid()}"
    base = {"task_id": task.task_id, "session": str(task.session), "segment": task.segment}
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        # The per-task settings: this session, written into the task's folder (a .pt format's
        # settings must name a .pt; the part writer writes its own files there).
        out = tmp / "part.pt" if job.settings.format == "pt" else tmp
        settings = dataclasses.replace(job.settings, root=task.session, out=out,
                                       overwrite=False)
        # A session being recorded or merged is refused (docs/format.md, "Lock").
        check_not_locked(SessionPaths(task.session), "convert")
        tmp.mkdir(parents=True)
        try:
            if not settings.include_discarded and is_discarded(task.session):
                raise Skip(DISCARDED_REASON)
            info = FORMATS[settings.format](job, settings, tmp)
        except Skip as exc:
            report = {**base, "state": "skipped", "reason": str(exc), "windows": 0,
                      "frames": 0}
            shutil.rmtree(tmp)  # a skipped part is its part.json alone
            tmp.mkdir()
            _publish(tmp, final, {**report, "fingerprint": job.fingerprint})
            return report
        report = {**base, "state": "done", "reason": None, **info,
                  "seconds": round(time.perf_counter() - t0, 3),
                  "fingerprint": job.fingerprint}
        _publish(tmp, final, report)
        return {k: v for k, v in report.items() if k not in _PART_ONLY}
    except Exception as exc:
        if is_disk_full(exc):  # not this session's fault: the batch stops (run.py)
            return {**base, "state": "failed", "reason": one_line(exc), "windows": 0,
                    "frames": 0, "disk_full": True}
        # A damaged session (SessionFormatError, a truncated array or frame, whatever a decoder
        # raises on bad bytes) fails alone: the batch goes on (Ctrl+C is no Exception).
        log.debug("task %s failed", task.task_id, exc_info=True)
        reason = one_line(exc) if isinstance(exc, NitrogenCaptureError) else (
            f"{type(exc).__name__}: {one_line(exc)}")
        return {**base, "state": "failed", "reason": reason, "windows": 0, "frames": 0}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_format(fmt: str) -> None:
    """Refuse a format that has no batch writer yet (one line)."""
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt} cannot convert many sessions yet (batch formats: "
                          f"{', '.join(FORMATS)})")
