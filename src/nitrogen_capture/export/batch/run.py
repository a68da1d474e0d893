"""Run a batch conversion: plan, run the tasks on an engine, keep the manifest, merge the parts.

docs/export.md, "Many sessions". :func:`run_batch` is what ``convert --recursive`` (or several
``--root``, or ``--sessions FILE``) calls; it returns a :class:`BatchResult` whose per-session
records are the manifest's, for the summary.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...bounds import number_check
from ...errors import ConfigError, ExportError
from ..dataset_tree import _video_id
from ..settings import DEFAULT_WORKERS, ConvertSettings
from ..source import check_apart
from .aggregate import MERGERS
from .engines import ENGINES, TaskFn, run_local, run_ray
from .manifest import Manifest
from .plan import (
    DEFAULT_TASK_FRAMES,
    Planned,
    Task,
    collect_sessions,
    path_hash,
    plan_tasks,
    read_session_list,
)
from .tasks import SPLITTABLE, TaskJob, check_format, run_task

__all__ = ["BatchProgress", "BatchResult", "BatchSettings", "batch_paths", "run_batch"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSettings:
    """A conversion of many sessions: the per-session settings plus where and how to run.

    ``convert.root`` is unused (the sessions come from ``roots``/``session_list``);
    ``convert.workers`` is the decode-thread budget, shared out over ``jobs`` tasks at once.
    """

    convert: ConvertSettings
    roots: tuple[Path, ...] = ()
    recursive: bool = False
    session_list: Path | None = None
    engine: str = "local"
    jobs: int = DEFAULT_WORKERS
    ray_address: str | None = None
    task_frames: int = DEFAULT_TASK_FRAMES
    keep_idle: bool = False

    def __post_init__(self) -> None:
        checks = [
            number_check(self.jobs, "jobs", "--jobs", 1, 256, interval=True),
            number_check(self.task_frames, "task_frames", "--task-frames", 10, 10**9),
            (self.engine in ENGINES, "engine",
             f"--engine must be one of {', '.join(ENGINES)}, got {self.engine!r}"),
            (self.ray_address is None or self.engine == "ray", "ray_address",
             "--ray-address needs --engine ray"),
        ]
        for ok, setting, message in checks:
            if not ok:
                raise ConfigError(message, setting=setting)

    @property
    def threads(self) -> int:
        """Decode threads of each task: the budget over the tasks running at once."""
        return max(1, self.convert.workers // self.jobs)


@dataclass(frozen=True)
class BatchProgress:
    """Where a batch stands: sessions and frames done of the total, and this run's pace."""

    sessions_done: int
    sessions_total: int
    frames_done: int
    frames_total: int
    frames_this_run: int
    elapsed: float


@dataclass
class BatchResult:
    """The outcome: each session's record (state, reason, tasks) and the merged output."""

    sessions: dict[str, dict[str, Any]]
    outputs: list[str] = field(default_factory=list)
    windows: int = 0
    frames_this_run: int = 0
    seconds: float = 0.0
    manifest: Path | None = None
    note: str | None = None  # e.g. nothing to do, or why nothing could be merged

    def count(self, state: str) -> int:
        """Sessions in ``state``."""
        return sum(1 for r in self.sessions.values() if r["state"] == state)


def batch_paths(settings: ConvertSettings) -> tuple[Path, Path]:
    """``(manifest, staging folder)`` of a batch writing ``settings.out``."""
    out = settings.out
    if settings.format == "pt":
        return out.with_name(f"{out.stem}.manifest.json"), out.with_name(f"{out.stem}.parts")
    return out / "manifest.json", out / ".parts"


def _output_exists(settings: ConvertSettings) -> bool:
    out = settings.out
    if settings.format == "pt":
        return out.exists() or out.with_name(f"{out.stem}.index.json").exists()
    if settings.format == "lerobot":
        return out.is_dir() and any(p.name not in (".parts", "manifest.json")
                                    for p in out.iterdir())
    return (out / "actions").is_dir() and any((out / "actions").iterdir())


def _video_ids(sessions: tuple[Path, ...]) -> dict[Path, str]:
    """Each session's dataset name: its folder name, plus a path hash when two share it."""
    names = {s: _video_id(s.name) for s in sessions}
    taken = Counter(names.values())
    return {s: n if taken[n] == 1 else f"{n}-{path_hash(s)}" for s, n in names.items()}


def _task_frames(t: Task, planned: Planned) -> int:
    total = planned.frames.get(t.session, 0)
    return max(0, min(total, t.last_row if t.last_row is not None else total) - t.first_row)


def run_batch(bs: BatchSettings, *, progress: Callable[[BatchProgress], None] | None = None,
              task_fn: TaskFn = run_task) -> BatchResult:
    """Convert every session of ``bs`` into one output; see the module doc."""
    t0 = time.perf_counter()
    cs = bs.convert
    check_format(cs.format)
    listed = read_session_list(bs.session_list) if bs.session_list else []
    collected = collect_sessions(bs.roots, recursive=bs.recursive, listed=listed)
    sessions = collected.paths  # with the folders refused while scanning, failed by plan_tasks
    for s in sessions:
        check_apart(s, cs.out)
    manifest_path, staging = batch_paths(cs)
    if cs.overwrite:
        manifest_path.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    elif not manifest_path.exists() and _output_exists(cs):
        raise ExportError(f"{cs.out} already exists and has no batch manifest: pass --overwrite "
                          "or choose another --out")
    if cs.format == "lerobot":  # one rate and frame size for every part (batch/lerobot.py)
        from .lerobot import fix_settings

        cs = fix_settings(cs, sessions)
    manifest = Manifest.open(manifest_path, cs, bs.task_frames, overwrite=cs.overwrite)
    if manifest.doc.get("complete"):
        if set(manifest.sessions) == {str(s) for s in sessions}:
            return BatchResult(manifest.sessions, list(manifest.doc.get("outputs", [])),
                               int(manifest.doc.get("totals", {}).get("windows", 0)),
                               manifest=manifest_path,
                               note=f"nothing to do: {cs.out} is complete "
                                    "(pass --overwrite to convert again)")
        raise ExportError(f"{cs.out} holds a complete conversion of other sessions: pass "
                          "--overwrite to start over, or choose another --out")
    planned = plan_tasks(sessions, task_frames=bs.task_frames, split=cs.format in SPLITTABLE,
                         refused=collected.refused)
    manifest.start_run(planned)
    staging.mkdir(parents=True, exist_ok=True)
    for stale in staging.glob(".tmp-*"):  # tasks a kill stopped halfway
        shutil.rmtree(stale, ignore_errors=True)
    settled = {t.task_id for t in planned.tasks
               if manifest.settled(t.task_id, t.session, staging)}
    template = dataclasses.replace(cs, workers=bs.threads)
    vids = _video_ids(tuple(sessions))
    jobs = [TaskJob(t, template, staging, vids[t.session], bs.keep_idle)
            for t in planned.tasks if t.task_id not in settled]
    by_id = {t.task_id: t for t in planned.tasks}
    frames_total = sum(planned.frames.values())
    done_frames = sum(_task_frames(by_id[i], planned) for i in settled)
    run_frames = [0]

    def sessions_done() -> int:
        return sum(1 for r in manifest.sessions.values() if r["state"] != "pending")

    def tell() -> None:
        if progress is not None:
            progress(BatchProgress(sessions_done(), len(sessions), done_frames + run_frames[0],
                                   frames_total, run_frames[0], time.perf_counter() - t0))

    def on_start(job: TaskJob) -> None:
        manifest.started(job.task.task_id, job.task.session)

    def on_result(report: dict[str, Any]) -> None:
        manifest.record(report)
        run_frames[0] += _task_frames(by_id[report["task_id"]], planned)
        tell()

    tell()
    log.info("batch: %d sessions, %d tasks (%d already done)", len(sessions),
             len(planned.tasks), len(settled))
    if bs.engine == "ray":
        run_ray(jobs, bs.jobs, on_result, address=bs.ray_address, on_start=on_start,
                task_fn=task_fn, cpus_per_task=bs.threads)
    else:
        run_local(jobs, bs.jobs, on_result, on_start=on_start, task_fn=task_fn)
    return _merge(cs, manifest, planned, staging, run_frames[0], t0)


def _merge(cs: ConvertSettings, manifest: Manifest, planned: Planned, staging: Path,
           frames: int, t0: float) -> BatchResult:
    done = {s for s, r in manifest.sessions.items() if r["state"] == "done"}
    ids = [t.task_id for t in sorted(planned.tasks, key=lambda t: (str(t.session), t.segment))
           if str(t.session) in done]
    result = BatchResult(manifest.sessions, frames_this_run=frames,
                         manifest=manifest.path)
    try:
        merged = MERGERS[cs.format](cs, staging, ids)
    except ExportError as exc:
        result.note = str(exc)
        result.seconds = time.perf_counter() - t0
        return result
    for session, reason in merged.failed.items():
        manifest.fail(session, reason)
    outputs = [str(p) for p in merged.outputs]
    manifest.finish(outputs, {"windows": merged.windows, "frames": merged.frames})
    shutil.rmtree(staging, ignore_errors=True)
    result.outputs, result.windows = outputs, merged.windows
    result.seconds = time.perf_counter() - t0
    return result
