"""Run a batch conversion: plan, run the tasks on an engine, keep the manifest, merge the parts.

docs/export.md, "Many sessions". :func:`run_batch` is what ``convert --recursive`` (or several
``--root``, or ``--sessions FILE``) calls; it returns a :class:`BatchResult` whose per-session
records are the manifest's, for the summary. Before any task runs the manifest is checked
(:mod:`.schema`) and reconciled with the parts and outputs on disk (:mod:`.reconcile`), each
finding one line to ``notice``; a full disk stops the batch in one line (:mod:`.space`).
"""

from __future__ import annotations

import contextlib
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
from ...errors import DiskSpaceError, ExportError, check_settings
from .. import check_convert_output, formats
from ..dataset_tree import _video_id
from ..settings import DEFAULT_WORKERS, ConvertSettings
from ..source import check_apart
from .engines import ENGINES, TaskFn, run_local, run_ray
from .manifest import Manifest
from .plan import (
    DEFAULT_TASK_FRAMES,
    Planned,
    Task,
    collect_sessions,
    few,
    path_hash,
    plan_tasks,
    read_session_list,
)
from .reconcile import check_outputs, output_base, outputs_of, reconcile, remove_leftovers
from .schema import Totals
from .space import batch_needs, disk_full_error, is_disk_full, tree_bytes
from .tasks import PartReport, TaskJob, check_format, run_task

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
        check_settings(checks)

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
    repeated_frames: int | None = None  # in the merged output (export/repeats.py), once merged

    def count(self, state: str) -> int:
        """Sessions in ``state``."""
        return sum(1 for r in self.sessions.values() if r["state"] == state)


def batch_paths(settings: ConvertSettings) -> tuple[Path, Path]:
    """``(manifest, staging folder)`` of a batch writing ``settings.out`` (the format's rule)."""
    return formats.get(settings.format).batch_paths(settings.out)


def _output_exists(settings: ConvertSettings) -> bool:
    return formats.get(settings.format).output_exists(settings)


def _video_ids(sessions: tuple[Path, ...]) -> dict[Path, str]:
    """Each session's dataset name: its folder name, plus a path hash when two share it."""
    names = {s: _video_id(s.name) for s in sessions}
    taken = Counter(names.values())
    return {s: n if taken[n] == 1 else f"{n}-{path_hash(s)}" for s, n in names.items()}


def _task_frames(t: Task, planned: Planned) -> int:
    total = planned.frames.get(t.session, 0)
    return max(0, min(total, t.last_row if t.last_row is not None else total) - t.first_row)


def _settled(manifest: Manifest, t: Task) -> bool:
    return manifest.task(str(t.session), t.task_id).state in ("done", "skipped")


def _open(cs: ConvertSettings, manifest_path: Path, staging: Path, task_frames: int,
          sessions: list[Path], say: Callable[[str], None]) -> Manifest | BatchResult:
    """The checked manifest of this batch, or the result of a batch that is already complete."""
    existed = manifest_path.exists() and not cs.overwrite
    parts = staging.is_dir() and any(not p.name.startswith(".") for p in staging.iterdir())
    manifest = Manifest.open(manifest_path, cs, task_frames, overwrite=cs.overwrite,
                             base=output_base(cs), output_exists=_output_exists(cs),
                             parts_exist=parts)
    stopped = existed and not manifest.complete  # a run that stopped before its merge ended
    if manifest.complete:
        if set(manifest.doc.sessions) != {str(s) for s in sessions}:
            raise ExportError(f"{cs.out} holds a complete conversion of other sessions: pass "
                              "--overwrite to start over, or choose another --out")
        missing, changed = check_outputs(cs, manifest.doc.outputs)
        if changed:
            raise ExportError(f"{cs.out} is not what this batch wrote: {changed[0]}: pass "
                              "--overwrite to convert again, or choose another --out")
        if not missing:
            totals = manifest.doc.totals
            return BatchResult(manifest.sessions_json(),
                               [str(output_base(cs) / o.name) for o in manifest.doc.outputs],
                               totals.windows if totals else 0, manifest=manifest_path,
                               note=f"nothing to do: {cs.out} is complete "
                                    "(pass --overwrite to convert again)")
        say(f"{manifest_path} says the batch is complete but {few(missing)} is missing: "
            "converting again")
        manifest.restart()
    left = remove_leftovers(cs, staging, manifest_path, merge_stopped=stopped)
    if left:
        say(left)
    return manifest


def run_batch(bs: BatchSettings, *, progress: Callable[[BatchProgress], None] | None = None,
              task_fn: TaskFn = run_task,
              notice: Callable[[str], None] | None = None) -> BatchResult:
    """Convert every session of ``bs`` into one output; see the module doc.

    ``notice`` gets each one-line finding about the manifest and the disk (a damaged manifest
    rebuilt, a part redone, a stopped run's leftovers removed); default: a logged warning.
    """
    t0 = time.perf_counter()
    say = notice or (lambda line: log.warning("%s", line))
    cs = bs.convert
    check_format(cs.format)
    fmt = formats.get(cs.format)
    fmt.check_batch_output(cs)  # before any work (outputs.py)
    listed = read_session_list(bs.session_list) if bs.session_list else []
    collected = collect_sessions(bs.roots, recursive=bs.recursive, listed=listed)
    sessions = collected.paths  # with the folders refused while scanning, failed by plan_tasks
    for s in sessions:
        check_apart(s, cs.out)
    check_convert_output(cs)
    manifest_path, staging = batch_paths(cs)
    new_base = not output_base(cs).exists()
    if cs.overwrite:
        manifest_path.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    elif not manifest_path.exists() and _output_exists(cs):
        raise ExportError(f"{cs.out} already exists and has no batch manifest: pass --overwrite "
                          "or choose another --out")
    cs = fmt.batch_settings(cs, sessions)  # e.g. LeRobot's one rate and frame size
    opened = _open(cs, manifest_path, staging, bs.task_frames, sessions, say)
    if isinstance(opened, BatchResult):
        return opened
    manifest = opened
    planned = plan_tasks(sessions, task_frames=bs.task_frames, split=fmt.splittable,
                         refused=collected.refused)
    dropped = manifest.start_run(planned)
    if dropped:
        say(f"{manifest_path}: {len(dropped)} session(s) of an earlier run are not in this one "
            f"({few(dropped)}): left out of the output")
    staging.mkdir(parents=True, exist_ok=True)
    for line in reconcile(manifest, planned, staging, cs):
        say(line)
    settled = {t.task_id for t in planned.tasks if _settled(manifest, t)}
    template = dataclasses.replace(cs, workers=bs.threads)
    vids = _video_ids(tuple(sessions))
    jobs = [TaskJob(t, template, staging, vids[t.session], bs.keep_idle,
                    manifest.doc.fingerprint, fmt)
            for t in planned.tasks if t.task_id not in settled]
    by_id = {t.task_id: t for t in planned.tasks}
    frames_total = sum(planned.frames.values())
    done_frames = sum(_task_frames(by_id[i], planned) for i in settled)
    run_frames = [0]

    def sessions_done() -> int:
        return sum(1 for r in manifest.doc.sessions.values() if r.state != "pending")

    def tell() -> None:
        if progress is not None:
            progress(BatchProgress(sessions_done(), len(sessions), done_frames + run_frames[0],
                                   frames_total, run_frames[0], time.perf_counter() - t0))

    def on_start(job: TaskJob) -> None:
        manifest.started(job.task.task_id, job.task.session)

    def on_result(report: PartReport) -> None:
        if report.disk_full:  # every task after it would fail the same way: stop
            raise _disk_full(cs, manifest, planned, staging, report, new_base)
        manifest.record(report)
        run_frames[0] += _task_frames(by_id[report.task_id], planned)
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


def _disk_full(cs: ConvertSettings, manifest: Manifest, planned: Planned, staging: Path,
               report: PartReport, new_base: bool) -> DiskSpaceError:
    """The one line for a full disk in a task; what nothing can resume from is removed."""
    kept = [t for t in planned.tasks if _settled(manifest, t)]
    done = sum(_task_frames(t, planned) for t in kept)
    needed = batch_needs(cs, staging, done, sum(planned.frames.values()) - done)
    if kept:
        todo = (f"free some space and rerun the same command: the {len(kept)} finished "
                f"part(s) in {staging} are kept and reused")
    else:  # nothing to resume: leave the disk as it was
        shutil.rmtree(staging, ignore_errors=True)
        manifest.path.unlink(missing_ok=True)
        if new_base:
            with contextlib.suppress(OSError):
                output_base(cs).rmdir()
        todo = "free some space and run the command again (nothing was kept)"
    return disk_full_error(cs.out, needed, f"the part of {Path(report.session).name}",
                           todo)


def _merge(cs: ConvertSettings, manifest: Manifest, planned: Planned, staging: Path,
           frames: int, t0: float) -> BatchResult:
    done = {s for s, r in manifest.doc.sessions.items() if r.state == "done"}
    ids = [t.task_id for t in sorted(planned.tasks, key=lambda t: (str(t.session), t.segment))
           if str(t.session) in done]
    result = BatchResult(manifest.sessions_json(), frames_this_run=frames,
                         manifest=manifest.path)
    kept = f"the converted parts are kept in {staging}: rerun the same command to merge them"
    fmt = formats.get(cs.format)
    try:
        merged = fmt.merge(cs, staging, ids)
    except (ExportError, DiskSpaceError) as exc:
        result.note = f"{exc}; {kept}" if isinstance(exc, DiskSpaceError) else str(exc)
        result.seconds = time.perf_counter() - t0
        return result
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        # A .pt merge copies the parts; the trees move or link them (their need is unknown).
        need = tree_bytes(staging) if fmt.merge_copies else 0
        result.note = str(disk_full_error(output_base(cs), need, "the merged output",
                                          f"free some space; {kept}"))
        result.seconds = time.perf_counter() - t0
        return result
    for session, reason in merged.failed.items():
        manifest.fail(session, reason)
    outputs = [str(p) for p in merged.outputs]
    manifest.finish(outputs_of(cs, list(merged.outputs), manifest.path),
                    Totals(merged.windows, merged.frames))
    shutil.rmtree(staging, ignore_errors=True)
    result.sessions = manifest.sessions_json()
    result.outputs, result.windows = outputs, merged.windows
    result.repeated_frames = merged.repeated_frames
    result.seconds = time.perf_counter() - t0
    return result
