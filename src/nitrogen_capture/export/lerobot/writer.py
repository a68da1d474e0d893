"""``--format lerobot``: write (or extend) a LeRobot v3.0 dataset (docs/export.md, "LeRobot").

Order of work, so that neither a failure nor Ctrl+C leaves a dataset LeRobot cannot load: every
new data and video file is written under a temporary name; only when all episodes are encoded are
they renamed, then this run's episodes table is written, then ``tasks.parquet``, ``stats.json``
and last ``info.json`` (whose totals name the episodes). On an error the temporaries are removed
and an existing dataset is left as it was. ``--overwrite`` writes the new dataset in a hidden
folder beside ``--out`` and swaps it in only once it is complete, so a failed or interrupted
overwrite also leaves the old dataset as it was.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...errors import ExportError, missing_dependency
from ...keylayout import PAD_AXES, PAD_BUTTONS
from ..nitrogen import ConvertResult, Progress, check_space
from ..source import ConvertSettings, FreeBytes, disk_free
from . import info as meta
from .plan import Episode, Plan, frame_size, plan_episodes
from .stats import (
    ImageStats,
    aggregate,
    episode_columns,
    numeric_stats,
    sample_rows,
    stats_from_json,
    stats_to_json,
)
from .tables import DataFiles, first_free, frame_table, write_episodes
from .video import VideoFiles, choose_encoder

__all__ = ["convert_lerobot"]

log = logging.getLogger(__name__)
BIN_ROWS = 1200  # actions are re-binned this many rows at a time (bounded event buffers)
_VIDEO_BYTES_PER_PIXEL = 0.02  # rough AV1/H.264 crf 30 size per pixel per frame


def _existing(out: Path, overwrite: bool) -> dict[str, Any] | None:
    """The info.json of a dataset at ``out`` to append to (None: a new dataset)."""
    if not out.exists():
        return None
    if overwrite:
        return None
    if (out / meta.INFO).is_file():
        return meta.read_info(out)
    if out.is_dir() and not any(out.iterdir()):
        return None
    raise ExportError(f"--out {out} exists and is not a LeRobot dataset (no {meta.INFO}): "
                      "choose another --out, or pass --overwrite to replace it")


def _staging(out: Path) -> Path:
    """A fresh folder beside ``out`` for an ``--overwrite`` run (same filesystem: renames)."""
    out = Path(os.path.abspath(out))  # "--out ." has no name to put beside; no link followed
    staging = out.with_name(f".{out.name}.new-{os.getpid()}")
    _discard(staging)  # left by a killed run of a process that had this pid
    return staging


def _discard(path: Path | None) -> None:
    """Remove ``path`` (a file, a folder, or a symbolic link, never what a link points to)."""
    if path is None or not os.path.lexists(path):
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _replace_with(out: Path, staging: Path) -> None:
    """Swap the finished ``staging`` dataset in for ``out``, then delete the old one.

    Two renames: between them the old dataset sits under a hidden name beside ``out``, so a
    crash there loses nothing (the log line names both).
    """
    out = Path(os.path.abspath(out))
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    _discard(old)
    out.rename(old)
    log.debug("replacing %s: old dataset at %s, new at %s", out, old, staging)
    staging.rename(out)
    _discard(old)


def _resizer(size: tuple[int, int]) -> Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.uint8]]:
    import cv2

    def resize(img: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        if (img.shape[1], img.shape[0]) == size:
            return np.ascontiguousarray(img)
        return np.asarray(cv2.resize(img, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)

    return resize


class _Run:
    """One conversion's state: the files being written and the episodes done so far."""

    def __init__(self, settings: ConvertSettings, plan: Plan, size: tuple[int, int],
                 existing: dict[str, Any] | None, progress: Progress | None) -> None:
        self.s, self.plan, self.size, self.progress = settings, plan, size, progress
        out = settings.out
        self.tasks = meta.read_tasks(out) if existing else []
        self.first_episode = int(existing["total_episodes"]) if existing else 0
        self.first_index = int(existing["total_frames"]) if existing else 0
        self.encoder, self.codec = choose_encoder(size)
        self.video = VideoFiles(out, size, plan.fps, self.encoder,
                                meta_start(out, "videos/" + meta.VIDEO_KEY))
        self.data = DataFiles(out, meta_start(out, "data"))
        self.rows: list[dict[str, Any]] = []
        self.stats: list[dict[str, Any]] = []
        self.done = 0
        self.resize = _resizer(size)

    def task_index(self, task: str) -> int:
        if task not in self.tasks:
            self.tasks.append(task)
        return self.tasks.index(task)

    def episode(self, ep: Episode) -> None:
        """Encode one episode's frames, bin its actions, write its rows and note its stats."""
        n, fps = ep.length, self.plan.fps
        e = self.first_episode + len(self.rows)
        start = self.first_index + sum(r["length"] for r in self.rows)
        task = self.task_index(ep.task)
        sampled = set(sample_rows(n).tolist())
        images = ImageStats()
        actions, pads = [], []
        step = round(1e9 / fps)
        self.video.begin_episode()
        k = 0
        for a, b, grid in ep.parts:
            for lo in range(0, len(grid), BIN_ROWS):
                binned = ep.res.bin_grid(grid[lo:lo + BIN_ROWS], step)
                actions.append(ep.src.map(binned.actions, binned.mouse_deltas, binned.gamepad))
                if ep.src.use_pad:
                    pads.append(np.asarray(binned.gamepad, dtype=np.float32))
            # The frame shown at grid time g: the latest frame captured at or before g.
            shown = a + np.searchsorted(ep.src.timestamps[a:b], grid, side="right") - 1
            rows, repeats = np.unique(shown, return_counts=True)
            for img, times in zip(ep.src.iter_frames(rows.tolist(), self.resize),
                                  repeats.tolist(), strict=True):
                for _ in range(times):
                    self.video.write(img)
                    if k in sampled:
                        images.add_bgr(img)
                    k += 1
                self.done += times
                if self.progress is not None:
                    self.progress(self.done, self.plan.rows)
        cols: dict[str, npt.NDArray[Any]] = {"action": np.concatenate(actions)}
        if pads:
            cols[meta.GAMEPAD_KEY] = np.concatenate(pads)
        frame = np.arange(n, dtype=np.int64)
        cols.update(timestamp=(frame / fps).astype(np.float32), frame_index=frame,
                    episode_index=np.full(n, e, np.int64), index=start + frame,
                    task_index=np.full(n, task, np.int64))
        stats = {key: numeric_stats(v) for key, v in cols.items()}
        stats[meta.VIDEO_KEY] = images.stats()
        self.stats.append(stats)
        row: dict[str, Any] = {"episode_index": e, "tasks": [ep.task], "length": n}
        row.update(self.data.write(frame_table(cols)))
        row.update(dataset_from_index=start, dataset_to_index=start + n)
        row.update(self.video.end_episode())
        row.update(episode_columns(stats))
        self.rows.append(row)

    def abort(self) -> None:
        self.video.abort()
        self.data.abort()

    def publish(self, existing: dict[str, Any] | None, feats: dict[str, Any]) -> list[Path]:
        """Rename the files, then write the episodes table, tasks, stats and info (last)."""
        out = self.s.out
        files = [*self.data.publish(), *self.video.publish()]
        files.append(write_episodes(out, self.rows))
        meta.write_tasks(out, self.tasks)
        parts = self.stats
        if existing and (out / meta.STATS).is_file():
            import json

            old = json.loads((out / meta.STATS).read_text(encoding="utf-8"))
            parts = [stats_from_json(old), *parts]
        meta.write_json(out / meta.STATS, stats_to_json(aggregate(parts)))
        info = dict(existing) if existing else meta.new_info(self.plan.fps, feats)
        total = int(info["total_episodes"]) + len(self.rows)
        info.update(total_episodes=total,
                    total_frames=int(info["total_frames"]) + sum(r["length"] for r in self.rows),
                    total_tasks=len(self.tasks), splits={"train": f"0:{total}"})
        meta.write_json(out / meta.INFO, info)
        return files


def meta_start(out: Path, folder: str) -> tuple[int, int]:
    """The (chunk, file) of the first new file under ``out/folder``."""
    return first_free(out / folder)


def convert_lerobot(settings: ConvertSettings, *, progress: Progress | None = None,
                    free_bytes: FreeBytes = disk_free) -> ConvertResult:
    """Write the sessions of ``settings`` as a LeRobot v3.0 dataset at ``settings.out``."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise missing_dependency("pyarrow", "dataset", "--format lerobot") from exc
    plan = plan_episodes(settings)
    out = settings.out
    existing = _existing(out, settings.overwrite)
    size = frame_size(settings, plan, existing)
    use_pad = plan.episodes[0].src.use_pad
    if any(e.src.use_pad != use_pad for e in plan.episodes):
        raise ExportError("some sessions recorded a gamepad and some did not: pass "
                          "--input-source keyboard (or convert them to separate datasets)")
    names = plan.episodes[0].src.action_names
    if any(e.src.action_names != names for e in plan.episodes):
        raise ExportError("the sessions' key layouts differ, so do their raw actions: pass "
                          "--action-space nitrogen (or convert them to separate datasets)")
    feats = meta.features(size, names, [*PAD_BUTTONS, *PAD_AXES] if use_pad else None)
    if existing is not None:
        meta.check_compatible(existing, plan.fps, feats, out)
    check_space(out, int(plan.rows * (size[0] * size[1] * _VIDEO_BYTES_PER_PIXEL + 200)),
                free_bytes, f"{plan.rows} frames at {size[0]}x{size[1]}")
    staging = _staging(out) if settings.overwrite and out.exists() else None
    if staging is not None:  # --overwrite: the old dataset stays until the new one is whole
        settings = replace(settings, out=staging)
    settings.out.mkdir(parents=True, exist_ok=True)
    run = _Run(settings, plan, size, existing, progress)
    feats[meta.VIDEO_KEY]["info"] = meta.video_info(run.codec, size, plan.fps)
    try:
        for ep in plan.episodes:
            run.episode(ep)
    except BaseException:
        run.abort()
        _discard(staging)
        raise
    try:
        files = run.publish(existing, feats)
    except BaseException:
        _discard(staging)
        raise
    if staging is not None:
        _replace_with(out, staging)
        files = [out / f.relative_to(staging) for f in files]
    log.info("wrote %d episode(s) to %s (%s, %dx%d, %d fps)", len(run.rows), out, run.encoder,
             size[0], size[1], plan.fps)
    return ConvertResult(files=files, windows=len(run.rows), frames=plan.rows)
