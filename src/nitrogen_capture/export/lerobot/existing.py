"""Read and check every file of a LeRobot dataset before anything is appended to it.

An append must not start on a dataset it would damage further or misread, so
:func:`read_existing` reads it all first and refuses the first fault in one line naming the
file and the field (an :class:`~nitrogen_capture.errors.ExportError`; nothing is written):

* no symbolic link anywhere in it (the append links its files into the new version);
* ``meta/info.json`` (:func:`.info.check_info`): every field the writer uses, typed and in range;
* ``meta/tasks.parquet``: ``task_index`` is ``0 .. total_tasks - 1``, the tasks distinct strings;
* ``meta/episodes/*``: episodes ``0 .. total_episodes - 1`` whose lengths add up to
  ``total_frames``, rows numbered back to back, their tasks known, every data and video file
  they name present, each in the file it says;
* ``data/*``: exactly the files the episodes name, each with the features' columns and as many
  rows as its episodes (read from the parquet footer);
* ``videos/*``: exactly the files the episodes name, each a non-empty regular file (not decoded);
* ``meta/stats.json`` (:func:`.stats.check_stats`): a finite ``min max mean std count`` of the
  right shape for every feature.

Leftover temporaries (``.NAME.partial``) are not part of the dataset: the append leaves them out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ExportError
from .info import (
    DATA_PATH,
    STATS,
    TASKS,
    VIDEO_PATH,
    DatasetFault,
    check_info,
    next_file,
    rel_path,
    video_keys,
)
from .layout import Tree, scan
from .stats import Stats, check_stats

__all__ = ["Existing", "read_existing"]

_INT_COLUMNS = ("episode_index", "length", "dataset_from_index", "dataset_to_index",
                "data/chunk_index", "data/file_index", "meta/episodes/chunk_index",
                "meta/episodes/file_index")


@dataclass(frozen=True)
class Existing:
    """A checked dataset: its info.json, tasks and stats, and where new files go."""

    info: dict[str, Any]
    tasks: tuple[str, ...]
    stats: dict[str, Stats] | None
    files: tuple[str, ...]  # every file of the dataset, relative ("/"-separated)
    data_at: tuple[int, int]
    video_at: dict[str, tuple[int, int]]
    episodes_at: tuple[int, int]


class _Refusal(ExportError):
    pass


def _fail(root: Path, rel: str, what: str) -> _Refusal:
    return _Refusal(f"cannot append to {root}: {rel}: {what} (nothing was changed; repair it "
                    "or choose another --out)")


def _after(keys: set[tuple[int, int]]) -> tuple[int, int]:
    return next_file(*max(keys)) if keys else (0, 0)


def read_existing(root: Path) -> Existing:
    """Check the dataset at ``root`` (module doc); the one-line ExportError names the fault."""
    tree = scan(root, limit=1)
    if tree is None:
        raise ExportError(f"cannot append to {root}: it cannot be read")
    for rel in (*tree.links, *tree.foreign):
        raise _fail(root, rel, "is a symbolic link; this tool never writes through a link, "
                    "remove it" if rel in tree.links else "is not a file of a LeRobot dataset")
    try:
        info = check_info(root)
    except DatasetFault as exc:
        raise _fail(root, exc.rel, exc.what) from None
    tasks = _tasks(root, tree, info)
    keys = video_keys(info)
    data, videos, eps = _episodes(root, tree, info, tasks, keys)
    stats = None
    if STATS in tree.files:
        try:
            stats = check_stats(root / STATS, info["features"])
        except ValueError as exc:
            raise _fail(root, STATS, str(exc)) from None
    elif info["total_episodes"]:
        raise _fail(root, STATS, "is missing")
    return Existing(info, tuple(tasks), stats, tree.files, _after(set(data)),
                    {k: _after(set(v)) for k, v in videos.items()}, _after(eps))


def _read(root: Path, rel: str, columns: list[str] | None = None) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(root / rel, columns=columns)
    except (OSError, pa.ArrowException, ValueError, KeyError) as exc:
        raise _fail(root, rel, f"cannot be read as parquet ({str(exc).splitlines()[0][:160]})"
                    ) from None


def _tasks(root: Path, tree: Tree, info: dict[str, Any]) -> list[str]:
    import json

    if TASKS not in tree.files:
        if info["total_tasks"]:
            raise _fail(root, TASKS, "is missing")
        return []
    table = _read(root, TASKS)
    try:
        meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
        index = [c for c in meta.get("index_columns", []) if isinstance(c, str)]
    except (ValueError, AttributeError):
        index = []
    name = index[0] if index else "task"
    if name not in table.column_names or "task_index" not in table.column_names:
        raise _fail(root, TASKS, f"has no task_index and {name} columns")
    tasks, order = table.column(name).to_pylist(), table.column("task_index").to_pylist()
    if not all(isinstance(t, str) for t in tasks) or len(set(tasks)) != len(tasks):
        raise _fail(root, TASKS, "its tasks are not distinct strings")
    if sorted(order, key=lambda v: (not isinstance(v, int), str(v))) != list(range(len(order))):
        raise _fail(root, TASKS, f"task_index is not 0..{len(order) - 1}")
    if len(tasks) != info["total_tasks"]:
        raise _fail(root, TASKS, f"holds {len(tasks)} tasks, info.json total_tasks says "
                    f"{info['total_tasks']}")
    return [t for _, t in sorted(zip(order, tasks, strict=True))]


def _index(rel: str) -> tuple[int, int]:
    chunk, file = rel.split("/")[-2:]
    return int(chunk.split("-")[1]), int(file.split("-")[1].split(".")[0])


def _episodes(root: Path, tree: Tree, info: dict[str, Any], tasks: list[str],
              keys: list[str]) -> tuple[dict[tuple[int, int], int],
                                        dict[str, dict[tuple[int, int], int]],
                                        set[tuple[int, int]]]:
    """Check the episodes tables; returns the data and video files they name (rows each)."""
    cols = [*_INT_COLUMNS, "tasks"]
    for k in keys:
        cols += [f"videos/{k}/{c}" for c in ("chunk_index", "file_index", "from_timestamp",
                                             "to_timestamp")]
    ep_files = sorted(f for f in tree.files if f.startswith("meta/episodes/"))
    rows: list[dict[str, Any]] = []
    for rel in ep_files:
        for row in _read(root, rel, cols).to_pylist():
            if (row["meta/episodes/chunk_index"], row["meta/episodes/file_index"]) != _index(rel):
                raise _fail(root, rel, f"episode {row['episode_index']} says it is in another "
                            "episodes file")
            rows.append(row)
    for row in rows:
        bad = [c for c in _INT_COLUMNS if not isinstance(row[c], int) or row[c] < 0]
        if bad:
            raise _fail(root, "meta/episodes", f"{bad[0]} {row[bad[0]]!r} is not an integer >= 0")
    rows.sort(key=lambda r: int(r["episode_index"]))
    n = info["total_episodes"]
    if [r["episode_index"] for r in rows] != list(range(n)):
        raise _fail(root, "meta/episodes", f"the episodes are not 0..{n - 1} (info.json "
                    f"total_episodes {n}), there are {len(rows)}")
    start = 0
    data: dict[tuple[int, int], int] = {}
    videos: dict[str, dict[tuple[int, int], int]] = {k: {} for k in keys}
    for r in rows:
        e = r["episode_index"]
        if (r["length"] < 1 or r["dataset_from_index"] != start
                or r["dataset_to_index"] != start + r["length"]):
            raise _fail(root, "meta/episodes", f"episode {e}: length {r['length']} from "
                        f"{r['dataset_from_index']} to {r['dataset_to_index']} does not follow "
                        f"the episode before (row {start})")
        start += r["length"]
        if not isinstance(r["tasks"], list) or not r["tasks"] or any(
                t not in tasks for t in r["tasks"]):
            raise _fail(root, "meta/episodes", f"episode {e}: tasks {r['tasks']!r} are not in "
                        f"{TASKS}")
        where = (r["data/chunk_index"], r["data/file_index"])
        data[where] = data.get(where, 0) + r["length"]
        for k in keys:
            t0, t1 = r[f"videos/{k}/from_timestamp"], r[f"videos/{k}/to_timestamp"]
            c, f = r[f"videos/{k}/chunk_index"], r[f"videos/{k}/file_index"]
            if not (isinstance(c, int) and isinstance(f, int) and c >= 0 and f >= 0
                    and isinstance(t0, float | int) and isinstance(t1, float | int)
                    and math.isfinite(t0) and math.isfinite(t1) and 0 <= t0 < t1):
                raise _fail(root, "meta/episodes", f"episode {e}: its {k} video is at chunk "
                            f"{c!r} file {f!r}, {t0!r} s to {t1!r} s")
            videos[k][(c, f)] = videos[k].get((c, f), 0) + 1
    if start != info["total_frames"]:
        raise _fail(root, "meta/episodes", f"the episodes hold {start} frames, info.json "
                    f"total_frames says {info['total_frames']}")
    _same_files(root, tree, "data/", {rel_path(DATA_PATH, *w) for w in data})
    for k in keys:
        _same_files(root, tree, f"videos/{k}/",
                    {rel_path(VIDEO_PATH, *w, video_key=k) for w in videos[k]})
    for where, length in sorted(data.items()):
        _check_data(root, rel_path(DATA_PATH, *where), length, info)
    return data, videos, {_index(rel) for rel in ep_files}


def _same_files(root: Path, tree: Tree, folder: str, named: set[str]) -> None:
    there = {f for f in tree.files if f.startswith(folder)}
    for rel in sorted(named - there):
        raise _fail(root, rel, "is named by an episode but missing")
    for rel in sorted(there - named):
        raise _fail(root, rel, "is named by no episode (a file left by an interrupted write?)")
    for rel in sorted(named):
        if (root / rel).stat().st_size == 0:
            raise _fail(root, rel, "is empty")


def _check_data(root: Path, rel: str, length: int, info: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(root / rel)
        schema = meta.schema.to_arrow_schema()
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise _fail(root, rel, f"cannot be read as parquet ({str(exc).splitlines()[0][:160]})"
                    ) from None
    if meta.num_rows != length:
        raise _fail(root, rel, f"holds {meta.num_rows} rows, its episodes {length}")
    want = [k for k, f in info["features"].items() if f["dtype"] not in ("video", "image")]
    if sorted(schema.names) != sorted(want):
        raise _fail(root, rel, f"its columns {schema.names} are not the features {want}")
