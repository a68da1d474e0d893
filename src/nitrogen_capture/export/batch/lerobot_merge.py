"""Merge the LeRobot parts of a batch into one LeRobot v3.0 dataset, without re-encoding video.

Parts are taken in the batch's fixed (session, segment) order. Each part is a standalone dataset
(:func:`.lerobot.lerobot_part`); its files become the next files of the output: every video file
is hard-linked (copied across file systems) as the next ``videos/<key>/chunk-CCC/file-FFF.mp4``,
every data parquet rewritten as the next data file with ``episode_index``, ``index`` and
``task_index`` renumbered, and its episode rows renumbered to match (their ``from/to_timestamp``
stay: each video file holds only that part's episodes). Tasks merge by their string, the stats
with the LeRobot writer's own rule over every episode, and ``info.json`` is written last
(docs/export.md, "Many sessions"). A part whose rate or features differ from the first one's is
reported failed and left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...atomic import atomic_file, atomic_write, link_or_copy, make_dirs, remove_tree
from ...errors import ExportError
from ..lerobot import info as meta
from ..lerobot.audio import move_episode_audio
from ..lerobot.layout import MARK, add_cuts, mark_bytes, read_mark, repeat_total
from ..lerobot.stats import aggregate, episode_columns, numeric_stats, stats_to_json
from ..lerobot.tables import write_episodes
from ..settings import ConvertSettings
from .merged import Merged, parts_of

__all__ = ["merge_lerobot"]

_RENUMBERED = ("episode_index", "index", "task_index")
# Why a feature may differ between sessions, for the failed session's reason.
_HINTS = {"action": " (another key layout? --action-space nitrogen gives all the same)",
          meta.GAMEPAD_KEY: " (a gamepad in one session and not the other? pass "
                            "--input-source keyboard)",
          meta.STATE_KEY: " (another key layout? --state previous-action with --action-space "
                          "nitrogen gives all the same)"}


def _differs(first: dict[str, Any], info: dict[str, Any]) -> str | None:
    """Why a part cannot join the dataset (None: it can)."""
    if int(info["fps"]) != int(first["fps"]):
        return f"its LeRobot part is {info['fps']} fps, the dataset {first['fps']} fps"
    a, b = first["features"], info["features"]
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            return f"its feature {key} differs from the first session's{_HINTS.get(key, '')}"
    return None


def _files(root: Path, folder: str, suffix: str) -> list[Path]:
    return sorted((root / folder).glob(f"chunk-*/file-*.{suffix}"))


def _episode_stats(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The per-episode stats of an episodes-table row (the inverse of ``episode_columns``)."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in row.items():
        if name.startswith("stats/"):
            feature, stat = name[len("stats/"):].rsplit("/", 1)
            out.setdefault(feature, {})[stat] = np.asarray(value, dtype=np.float64)
    return out


class _Output:
    """The dataset being built: where the next files go and what was merged so far."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.data_at = (0, 0)
        self.video_at: dict[str, tuple[int, int]] = {}
        self.tasks: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self.frames = 0
        self.cut: dict[str, int] | None = None  # what --max-repeat-frames cut in the parts
        self.repeated: int | None = None  # rows flagged frame_is_repeat, once finished
        self.labels: list[dict[str, Any]] = []  # each episode's labels (the parts' marks)

    def add(self, root: Path, info: dict[str, Any]) -> None:
        """Append the part at ``root`` (a standalone LeRobot dataset)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        first_ep, first_index = len(self.rows), self.frames
        mark = read_mark(root)
        self.cut = add_cuts({"repeat_cut": self.cut}, mark.get("repeat_cut"))
        self.labels += [{**d, "episode_index": int(d["episode_index"]) + first_ep}
                        for d in mark.get("episodes", [])]
        for task in meta.read_tasks(root):
            if task not in self.tasks:
                self.tasks.append(task)
        task_map = np.asarray([self.tasks.index(t) for t in meta.read_tasks(root)], np.int64)
        data_map: dict[tuple[int, int], tuple[int, int]] = {}
        cols: dict[str, list[Any]] = {c: [] for c in _RENUMBERED}
        for path in _files(root, "data", "parquet"):
            table = pq.read_table(path)
            new = {"episode_index": table.column("episode_index").to_numpy() + first_ep,
                   "index": table.column("index").to_numpy() + first_index,
                   "task_index": task_map[table.column("task_index").to_numpy()]}
            for name, values in new.items():
                table = table.set_column(table.schema.get_field_index(name), name,
                                         pa.array(values, pa.int64()))
                cols[name].append(values)
            data_map[_index_of(path)] = self.data_at
            dst = self.out / meta.rel_path(meta.DATA_PATH, *self.data_at)
            make_dirs(dst.parent, below=self.out)
            with atomic_file(dst) as sink:
                pq.write_table(table, sink, compression="snappy")
            self.data_at = meta.next_file(*self.data_at)
        video_maps: dict[str, dict[tuple[int, int], tuple[int, int]]] = {}
        for key, feat in info["features"].items():
            if feat.get("dtype") != "video":
                continue
            at, video_maps[key] = self.video_at.get(key, (0, 0)), {}
            for path in _files(root, f"videos/{key}", "mp4"):
                dst = self.out / meta.rel_path(meta.VIDEO_PATH, *at, video_key=key)
                make_dirs(dst.parent, below=self.out)
                link_or_copy(path, dst)  # another file system, or no hard links: a copy
                video_maps[key][_index_of(path)] = at
                at = meta.next_file(*at)
            self.video_at[key] = at
        joined = {c: np.concatenate(v) if v else np.zeros(0, np.int64) for c, v in cols.items()}
        episodes = [r for path in _files(root, "meta/episodes", "parquet")
                    for r in pq.read_table(path).to_pylist()]
        for row in sorted(episodes, key=lambda r: int(r["episode_index"])):
            e = int(row["episode_index"]) + first_ep
            row["episode_index"] = e
            row["dataset_from_index"] += first_index
            row["dataset_to_index"] += first_index
            row["data/chunk_index"], row["data/file_index"] = data_map[
                (row["data/chunk_index"], row["data/file_index"])]
            for key, where in video_maps.items():
                c, f = f"videos/{key}/chunk_index", f"videos/{key}/file_index"
                row[c], row[f] = where[(row[c], row[f])]
            move_episode_audio(root, row, self.out, e)
            mine = joined["episode_index"] == e
            row.update(episode_columns({c: numeric_stats(joined[c][mine]) for c in _RENUMBERED}))
            self.rows.append(row)
            self.frames += int(row["length"])

    def finish(self, first: dict[str, Any]) -> None:
        """Write the episodes table, tasks, stats and last info.json."""
        write_episodes(self.out, self.rows)
        meta.write_tasks(self.out, self.tasks)
        stats = aggregate([_episode_stats(r) for r in self.rows])
        meta.write_json(self.out, meta.STATS, stats_to_json(stats))
        self.repeated = repeat_total(stats)
        atomic_write(self.out / MARK, mark_bytes(self.repeated, self.cut, self.labels))
        info = dict(first)
        total = len(self.rows)
        info.update(total_episodes=total, total_frames=self.frames, total_tasks=len(self.tasks),
                    splits={"train": f"0:{total}"})
        meta.write_json(self.out, meta.INFO, info)


def _index_of(path: Path) -> tuple[int, int]:
    return int(path.parent.name.split("-")[1]), int(path.stem.split("-")[1])


def merge_lerobot(settings: ConvertSettings, staging: Path, task_ids: Sequence[str]) -> Merged:
    """Join the LeRobot parts ``task_ids`` (in that order) into one dataset at ``--out``."""
    out = settings.out
    # What an earlier merge of this batch left (the batch checked that --out is a dataset of
    # ours, outputs.py); a link there is removed, never followed.
    for sub in ("meta", "data", "videos", "audio"):
        remove_tree(out / sub)
    make_dirs(out / "meta", below=out)
    atomic_write(out / MARK, mark_bytes())
    merged, dataset, first = Merged(), _Output(out), None
    for p in parts_of(staging, task_ids):
        try:
            info = meta.read_info(p["dir"])
        except ExportError as exc:
            merged.failed[p["session"]] = f"its LeRobot part cannot be read ({exc}): run again"
            continue
        why = None if first is None else _differs(first, info)
        if why:
            merged.failed[p["session"]] = why
            continue
        first = first or info
        dataset.add(p["dir"], info)
    if first is None or not dataset.rows:
        raise ExportError("no session gave a LeRobot episode: nothing to write")
    dataset.finish(first)
    merged.outputs = [out]
    merged.windows, merged.frames = len(dataset.rows), dataset.frames
    merged.repeated_frames = dataset.repeated or 0
    return merged
