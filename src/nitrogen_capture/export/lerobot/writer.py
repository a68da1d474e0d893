"""``--format lerobot``: write (or extend) a LeRobot v3.0 dataset (docs/export.md, "LeRobot").

Nothing is ever written into the dataset at ``--out``: a new version is built beside it and
swapped in, so a failure or Ctrl+C at any step before the swap leaves the dataset byte for byte
as it was, and a reader never sees half of one. The steps:

1. **Check** ``--out`` before any work: a new path, an empty folder or a LeRobot dataset this
   tool wrote (:data:`.layout.LEROBOT_DATASET`, outputs.py), nothing else. Leftovers of an
   interrupted run beside it are removed, and an old dataset a kill left between the two renames
   of step 6 is renamed back (:func:`~nitrogen_capture.atomic.recover_folder`; one log line
   each).
2. **Read** (appending): every file of the dataset is read and checked, then the fps and
   features compared with these episodes' (:mod:`.existing`): one line naming the file and
   field, nothing written.
3. **Stage**: a new folder ``.NAME.new-PID`` beside ``--out``; the mark
   ``meta/nitrogen-capture.json`` first (:mod:`.layout`). Appending, every file of the dataset
   is hard-linked into it (copied where the file system has no hard links): the dataset's own
   files are never opened for writing, and the mirror is made without following any link.
4. **Encode** the episodes into it: new data and video files, numbered after the dataset's.
5. **Write** this run's episodes table, then ``tasks.parquet``, ``stats.json`` (the dataset's
   merged with the new episodes') and ``info.json`` in the new folder, each whole or not at all.
6. **Swap**: ``--out`` is renamed to ``.NAME.old-PID``, the new folder to ``--out``, and the
   old one deleted (:func:`~nitrogen_capture.atomic.swap_folder`). An error between the two
   renames renames the old one back.

A failure in steps 1 to 5, or in the first rename of step 6, removes the new folder and changes
nothing else; after the second rename the new dataset is complete and in place (deleting the old
one may still fail: the next run removes it). ``--overwrite`` is the same without step 2 and the
mirror. Never written through a link: the new folder is created exclusively, every folder in it
is checked (``make_dirs``) and every file created new (atomic.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...atomic import (
    atomic_write,
    link_or_copy,
    make_dirs,
    recover_folder,
    remove_tree,
    staged_folder,
    swap_folder,
)
from ...diskspace import BLOCK, said_when_full
from ...errors import ExportError, missing_dependency
from ...keylayout import PAD_AXES, PAD_BUTTONS
from ...outputs import check_output
from ..common import ConvertResult, Progress, check_space
from ..source import ConvertSettings, FreeBytes, disk_free
from . import info as meta
from .audio import AUDIO_KEY, EpisodeAudio, has_audio
from .existing import Existing, read_existing
from .layout import LEROBOT_DATASET, MARK, add_cuts, mark_bytes, read_mark, repeat_total, scan
from .plan import Episode, Plan, frame_size, plan_episodes
from .state import state_kind
from .stats import (
    ImageStats,
    aggregate,
    episode_columns,
    numeric_stats,
    sample_rows,
    stats_to_json,
)
from .tables import DataFiles, frame_table, write_episodes
from .video import VideoFiles, choose_encoder

__all__ = ["convert_lerobot"]

log = logging.getLogger(__name__)
BIN_ROWS = 1200  # actions are re-binned this many rows at a time (bounded event buffers)
_VIDEO_BYTES_PER_PIXEL = 0.02  # rough AV1/H.264 crf 30 size per pixel per frame


def _resizer(size: tuple[int, int]) -> Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.uint8]]:
    import cv2

    def resize(img: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        if (img.shape[1], img.shape[0]) == size:
            return np.ascontiguousarray(img)
        return np.asarray(cv2.resize(img, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)

    return resize


class _Run:
    """One conversion's state: the files being written and the episodes done so far."""

    def __init__(self, settings: ConvertSettings, root: Path, plan: Plan, size: tuple[int, int],
                 existing: Existing | None, progress: Progress | None) -> None:
        self.s, self.root, self.plan, self.size, self.progress = (settings, root, plan, size,
                                                                   progress)
        self.existing = existing
        self.tasks = list(existing.tasks) if existing else []
        self.first_episode = existing.info["total_episodes"] if existing else 0
        self.first_index = existing.info["total_frames"] if existing else 0
        self.encoder, self.codec = choose_encoder(size)
        self.video = VideoFiles(root, size, plan.fps, self.encoder,
                                existing.video_at.get(meta.VIDEO_KEY, (0, 0)) if existing
                                else (0, 0))
        self.data = DataFiles(root, existing.data_at if existing else (0, 0))
        self.rows: list[dict[str, Any]] = []
        self.stats: list[dict[str, Any]] = []
        self.done = 0
        self.resize = _resizer(size)
        # A dataset written before the repeat flag existed is extended without it (its
        # features must stay the same); the flags are still counted.
        self.repeat_flag = existing is None or meta.REPEAT_KEY in existing.info["features"]
        self.repeated = 0
        self.source_flag = existing is None or meta.SOURCE_KEY in existing.info["features"]
        # The same holds for the episodes' outcome column (docs/export.md, "Task and outcome").
        self.outcome_col = existing is None or _has_outcome(root, existing)
        self.labels: list[dict[str, Any]] = []  # each episode's labels, for the mark
        self.state = state_kind(settings.state)
        self.audio: EpisodeAudio | None = None  # sessions with audio: each episode's file

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
        actions, pads, held = [], [], []
        step = round(1e9 / fps)
        self.video.begin_episode()
        k = 0
        for part in ep.parts:
            grid = part.grid
            for lo in range(0, len(grid), BIN_ROWS):
                binned = ep.res.bin_grid(grid[lo:lo + BIN_ROWS], step)
                actions.append(ep.src.map(binned.actions, binned.mouse_deltas, binned.gamepad))
                held.append(binned.held_before)
                if ep.src.use_pad:
                    pads.append(np.asarray(binned.gamepad, dtype=np.float32))
            # The frame each row shows (export/repeats.py: one rule for every format).
            rows, repeats = np.unique(part.rows, return_counts=True)
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
        action = np.concatenate(actions)
        cols: dict[str, npt.NDArray[Any]] = {}
        state = self.state.rows(action, np.concatenate(held))
        if state is not None:
            cols[meta.STATE_KEY] = state
        cols["action"] = action
        if pads:
            cols[meta.GAMEPAD_KEY] = np.concatenate(pads)
        flags = np.concatenate([p.repeat for p in ep.parts])
        self.repeated += int(flags.sum())
        if self.repeat_flag:
            cols[meta.REPEAT_KEY] = flags
        if self.source_flag:  # the source of the frame each row shows (export/action_source.py)
            cols[meta.SOURCE_KEY] = np.concatenate(
                [ep.src.row_source[p.rows] for p in ep.parts]).astype(np.int64)
        audio_cols: dict[str, Any] = {}
        if self.audio is not None:
            grid = np.concatenate([p.grid for p in ep.parts])
            cols[AUDIO_KEY], audio_cols = self.audio.episode(ep.src.settings.root, e, grid, step)
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
        row.update(audio_cols)
        labels = ep.src.reader.meta.effective_labels
        if self.outcome_col:
            row["outcome"] = labels.outcome or ""
        episode = ep.src.reader.meta.episode
        self.labels.append({"episode_index": e, "session": ep.src.settings.root.name,
                            "task": ep.task, "outcome": labels.outcome,
                            "tags": list(labels.tags),
                            "episode": episode.to_json() if episode else None,
                            "action_source": ep.src.action_source})
        self.rows.append(row)

    def abort(self) -> None:
        """After an error: close the open files (the folder they are in is removed)."""
        try:
            self.video.abort()
        finally:
            self.data.abort()

    def publish(self, feats: dict[str, Any]) -> list[Path]:
        """Close the files, then write the episodes table, tasks, stats and info (last)."""
        root, existing = self.root, self.existing
        files = [*self.data.finish(), *self.video.finish(),
                 *(self.audio.written if self.audio is not None else [])]
        files.append(write_episodes(root, self.rows, existing.episodes_at if existing else None))
        meta.write_tasks(root, self.tasks)
        parts = self.stats
        if existing is not None and existing.stats is not None:
            parts = [existing.stats, *parts]
        merged = aggregate(parts)
        meta.write_json(root, meta.STATS, stats_to_json(merged))
        old = read_mark(self.s.out) if existing else None
        cut = add_cuts(old, self.plan.repeat_cut)
        labels = [*(old or {}).get("episodes", []), *self.labels]
        atomic_write(root / MARK, mark_bytes(repeat_total(merged), cut, labels))
        info = dict(existing.info) if existing else meta.new_info(self.plan.fps, feats)
        total = int(info["total_episodes"]) + len(self.rows)
        info.update(total_episodes=total,
                    total_frames=int(info["total_frames"]) + sum(r["length"] for r in self.rows),
                    total_tasks=len(self.tasks), splits={"train": f"0:{total}"})
        meta.write_json(root, meta.INFO, info)
        return files


def _has_outcome(root: Path, existing: Existing) -> bool:
    """Whether the dataset's episodes tables have the ``outcome`` column.

    Older ones do not: their appended episodes get none, so every episodes file keeps one schema.
    """
    import pyarrow.parquet as pq

    tables = sorted(f for f in existing.files if f.startswith("meta/episodes/"))
    return not tables or "outcome" in pq.read_schema(root / tables[0]).names


def _existing(out: Path, overwrite: bool) -> Existing | None:
    """The checked dataset at ``out`` to append to (None: write a new one).

    ``out`` passed the output check: it is absent, an empty folder or a dataset of ours.
    """
    if overwrite or not os.path.lexists(out) or not any(out.iterdir()):
        return None
    if not (out / meta.INFO).is_file():
        tree = scan(out)
        if tree is not None and set(tree.files) <= {MARK}:
            log.warning("%s holds no meta/info.json, only the folders of a dataset whose first "
                        "write never finished: it is replaced", out)
            return None
        raise ExportError(f"--out {out} holds an unfinished LeRobot dataset (no {meta.INFO}; a "
                          "batch conversion not merged yet?): rerun what wrote it, or pass "
                          "--overwrite to replace it")
    return read_existing(out)


def _leftover(path: Path) -> bool:
    """Whether a ``.NAME.new-PID`` / ``.NAME.old-PID`` folder holds only dataset files."""
    tree = scan(path)
    return tree is not None and not tree.foreign


def _mirror(out: Path, staged: Path, files: tuple[str, ...]) -> None:
    """Hard-link every file of the dataset at ``out`` into ``staged`` (the mark is rewritten)."""
    copied = 0
    for rel in files:
        if rel == MARK:
            continue
        dst = staged / rel
        make_dirs(dst.parent, below=staged)
        if not link_or_copy(out / rel, dst):
            copied += 1
    if copied:
        log.info("%d file(s) of %s were copied: its file system has no hard links", copied, out)


def convert_lerobot(settings: ConvertSettings, *, progress: Progress | None = None,
                    free_bytes: FreeBytes = disk_free, check: bool = True) -> ConvertResult:
    """Write the sessions of ``settings`` as a LeRobot v3.0 dataset at ``settings.out``.

    ``check=False`` skips the output check and the leftover cleanup: a batch's part folder,
    which the batch checked and made itself.
    """
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise missing_dependency("pyarrow", "dataset", "--format lerobot") from exc
    out = settings.out
    if check:
        # Before any work: never over anything but our own dataset (outputs.py), never
        # beside a leftover of an interrupted run (an old dataset a kill left mid-swap is put
        # back first, then checked like any other).
        overwrite = True if settings.overwrite else None
        check_output(out, LEROBOT_DATASET, label="--out", overwrite=overwrite)
        if recover_folder(out, _leftover):
            check_output(out, LEROBOT_DATASET, label="--out", overwrite=overwrite)
    existing = _existing(out, settings.overwrite)
    plan = plan_episodes(settings)
    size = frame_size(settings, plan, existing.info if existing else None)
    use_pad = plan.episodes[0].src.use_pad
    if any(e.src.use_pad != use_pad for e in plan.episodes):
        raise ExportError("some sessions recorded a gamepad and some did not: pass "
                          "--input-source keyboard (or convert them to separate datasets)")
    names = plan.episodes[0].src.action_names
    if any(e.src.action_names != names for e in plan.episodes):
        raise ExportError("the sessions' key layouts differ, so do their raw actions: pass "
                          "--action-space nitrogen (or convert them to separate datasets)")
    audio = has_audio([e.src.settings.root for e in plan.episodes])
    kind = state_kind(settings.state)
    state_names = [kind.names(e.src.action_names, list(e.src.layout.keys))
                   for e in plan.episodes]
    if any(n != state_names[0] for n in state_names):
        raise ExportError("the sessions' key layouts differ, so do their held keys: pass "
                          "--state previous-action (or convert them to separate datasets)")
    feats = meta.features(size, names, [*PAD_BUTTONS, *PAD_AXES] if use_pad else None,
                          repeat_flag=existing is None
                          or meta.REPEAT_KEY in existing.info["features"],
                          state_names=state_names[0],
                          source_flag=existing is None
                          or meta.SOURCE_KEY in existing.info["features"], audio_flag=audio)
    if existing is not None:
        meta.check_compatible(existing.info, plan.fps, feats, out)
    needed = int(plan.rows * (size[0] * size[1] * _VIDEO_BYTES_PER_PIXEL + 200))
    check_space(out, needed, free_bytes, f"{plan.rows} frames at {size[0]}x{size[1]}")
    # A disk that fills anyway: one line (diskspace.py), said once the staged copy is gone.
    with said_when_full(out, needed + 16 * BLOCK, "the LeRobot dataset",
                        "free some space (or choose another --out) and run convert again "
                        "(nothing was changed)"):
        staged = staged_folder(out)
        run: _Run | None = None
        try:
            make_dirs(staged / "meta", below=staged)
            atomic_write(staged / MARK, mark_bytes())  # first: a leftover is recognisably ours
            if existing is not None:
                _mirror(out, staged, existing.files)
            run = _Run(settings, staged, plan, size, existing, progress)
            run.audio = EpisodeAudio(staged) if audio else None
            feats[meta.VIDEO_KEY]["info"] = meta.video_info(run.codec, size, plan.fps)
            for ep in plan.episodes:
                run.episode(ep)
            files = run.publish(feats)
            swap_folder(out, staged)
        except BaseException:
            try:
                if run is not None:
                    run.abort()
            finally:
                remove_tree(staged)
            raise
    files = [Path(os.path.abspath(out)) / f.relative_to(staged) for f in files]
    log.info("wrote %d episode(s) to %s (%s, %dx%d, %d fps)", len(run.rows), out, run.encoder,
             size[0], size[1], plan.fps)
    return ConvertResult(files=files, windows=len(run.rows), frames=plan.rows,
                         repeats={"repeated_frames": run.repeated, "rows": plan.rows,
                                  "cut": plan.repeat_cut})
