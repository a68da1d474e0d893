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

The part writer is the format's (:meth:`~..formats.ExportFormat.part`, the object in the job or
else the registry's).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from ...atomic import atomic_write
from ...errors import ExportError, NitrogenCaptureError
from ...session.lock import check_not_locked
from ...session.paths import SessionPaths
from .. import formats
from ..discarded import DISCARDED_REASON, is_discarded
from .job import PART_META, PartReport, Skip, TaskJob, idle_check
from .plan import one_line
from .space import is_disk_full

__all__ = ["PART_META", "PartReport", "Skip", "TaskJob", "check_format", "idle_check", "run_task"]

log = logging.getLogger(__name__)

# Keys of a part's report kept in its part.json only (the manifest stays small).
_PART_ONLY = frozenset({"rows", "source", "keymap", "segments", "fingerprint"})


def _publish(tmp: Path, final: Path, report: dict[str, Any]) -> None:
    """Write ``part.json`` into ``tmp`` and rename it to ``final`` (a complete part).

    The part is a folder, built under ``.tmp-<task id>-<pid>`` and renamed whole: not
    atomic.py's one-file temporaries, because the reconciler (:mod:`.reconcile`) knows that
    name as an unfinished task's, also from earlier versions. Its files go through atomic.py.
    """
    atomic_write(tmp / PART_META, json.dumps(report).encode("utf-8"))
    if final.exists():  # an earlier attempt finished but its report was lost: same bytes
        shutil.rmtree(final)
    os.replace(tmp, final)


def run_task(job: TaskJob) -> PartReport:
    """Convert one task into ``<staging>/<task id>``; its report.

    ``part.json`` holds ``task_id``, ``session``, ``segment``, ``state`` (done, skipped),
    ``reason``, ``windows``, ``frames``, ``seconds``, what the format's part writer returned and
    the settings' fingerprint; the report returned is the same less the part's own data.
    """
    task, t0 = job.task, time.perf_counter()
    final = job.staging / task.task_id
    tmp = job.staging / f".tmp-{task.task_id}-{os.getpid()}"
    base = {"task_id": task.task_id, "session": str(task.session), "segment": task.segment}
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        # The per-task settings: this session, written into the task's folder (a .pt format's
        # settings must name a .pt; the part writer writes its own files there).
        fmt = job.export_format or formats.get(job.settings.format)
        if formats.find(fmt.name) is None and isinstance(fmt, formats.ExportFormat):
            formats.register(fmt)  # a worker process: the settings check the name
        out = fmt.part_out(tmp)
        settings = dataclasses.replace(job.settings, root=task.session, out=out,
                                       overwrite=False)
        # A session being recorded or merged is refused (docs/format.md, "Lock").
        check_not_locked(SessionPaths(task.session), "convert")
        tmp.mkdir(parents=True)
        try:
            if not settings.include_discarded and is_discarded(task.session):
                raise Skip(DISCARDED_REASON)
            info = fmt.part(job, settings, tmp)
        except Skip as exc:
            skipped = {**base, "state": "skipped", "reason": str(exc), "windows": 0,
                       "frames": 0}
            shutil.rmtree(tmp)  # a skipped part is its part.json alone
            tmp.mkdir()
            _publish(tmp, final, {**skipped, "fingerprint": job.fingerprint})
            return PartReport.of(job, "skipped", str(exc))
        seconds = round(time.perf_counter() - t0, 3)
        _publish(tmp, final, {**base, "state": "done", "reason": None, **info,
                              "seconds": seconds, "fingerprint": job.fingerprint})
        kept = {k: v for k, v in info.items() if k not in _PART_ONLY}
        return PartReport.of(job, "done", None, windows=kept.pop("windows"),
                             frames=kept.pop("frames"), seconds=seconds, info=kept)
    except Exception as exc:
        if is_disk_full(exc):  # not this session's fault: the batch stops (run.py)
            return PartReport.of(job, "failed", one_line(exc), disk_full=True)
        # A damaged session (SessionFormatError, a truncated array or frame, whatever a decoder
        # raises on bad bytes) fails alone: the batch goes on (Ctrl+C is no Exception).
        log.debug("task %s failed", task.task_id, exc_info=True)
        reason = one_line(exc) if isinstance(exc, NitrogenCaptureError) else (
            f"{type(exc).__name__}: {one_line(exc)}")
        return PartReport.of(job, "failed", reason)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_format(fmt: str) -> None:
    """Refuse a format that has no batch writer yet (one line)."""
    if not formats.get(fmt).batch:
        batch = [f.name for f in formats.all_formats() if f.batch]
        raise ExportError(f"--format {fmt} cannot convert many sessions yet (batch formats: "
                          f"{', '.join(batch)})")
