"""The metadata of a LeRobot v3.0 dataset: layout, ``info.json``, features and ``tasks.parquet``.

Key names, path templates and defaults are those LeRobot's own loader reads
(``lerobot.datasets.utils``; docs/export.md, "LeRobot"). Files are found by index: episode ``e``
says which ``chunk-CCC/file-FFF`` of ``data/``, ``videos/<key>/`` and ``meta/episodes/`` holds it,
and a chunk folder holds at most :data:`CHUNKS_SIZE` files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ...errors import ExportError

__all__ = ["CHUNKS_SIZE", "CODEBASE_VERSION", "DATA_FILE_MB", "DEFAULT_COLUMNS", "VIDEO_FILE_MB",
           "VIDEO_KEY", "check_compatible", "features", "new_info", "next_file", "read_info",
           "read_tasks", "rel_path", "write_json", "write_tasks"]

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # files per chunk folder
DATA_FILE_MB = 100  # a data parquet file is closed once it holds about this much
VIDEO_FILE_MB = 200  # likewise a video file
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
INFO, STATS, TASKS = "meta/info.json", "meta/stats.json", "meta/tasks.parquet"
VIDEO_KEY = "observation.images.game"
GAMEPAD_KEY = "gamepad"
# The per-frame bookkeeping columns every LeRobot dataset has, after the features.
DEFAULT_COLUMNS: dict[str, str] = {"timestamp": "float32", "frame_index": "int64",
                                   "episode_index": "int64", "index": "int64",
                                   "task_index": "int64"}
# LeRobot's encoding defaults (lerobot.datasets.video_utils): keyframe every 2 frames, crf 30.
VIDEO_G, VIDEO_CRF = 2, 30


def rel_path(template: str, chunk: int, file: int, video_key: str = VIDEO_KEY) -> str:
    """A file's path inside the dataset, from one of the path templates."""
    return template.format(chunk_index=chunk, file_index=file, video_key=video_key)


def next_file(chunk: int, file: int) -> tuple[int, int]:
    """The (chunk, file) after ``(chunk, file)``: a chunk folder holds :data:`CHUNKS_SIZE`."""
    return (chunk + 1, 0) if file == CHUNKS_SIZE - 1 else (chunk, file + 1)


def features(size: tuple[int, int], action_names: list[str], pad_names: list[str] | None,
             video_info: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The ``features`` of info.json: the game video, ``action``, the pad, the bookkeeping."""
    w, h = size
    out: dict[str, dict[str, Any]] = {
        VIDEO_KEY: {"dtype": "video", "shape": [h, w, 3], "names": ["height", "width", "channels"],
                    "info": video_info or {}},
        "action": {"dtype": "float32", "shape": [len(action_names)], "names": list(action_names)},
    }
    if pad_names is not None:
        out[GAMEPAD_KEY] = {"dtype": "float32", "shape": [len(pad_names)],
                            "names": list(pad_names)}
    for name, dtype in DEFAULT_COLUMNS.items():
        out[name] = {"dtype": dtype, "shape": [1], "names": None}
    return out


def video_info(codec: str, size: tuple[int, int], fps: int) -> dict[str, Any]:
    """The ``info`` block of the video feature (what LeRobot's ``get_video_info`` records)."""
    return {"video.height": size[1], "video.width": size[0], "video.codec": codec,
            "video.pix_fmt": "yuv420p", "video.is_depth_map": False, "video.fps": fps,
            "video.channels": 3, "video.g": VIDEO_G, "video.crf": VIDEO_CRF, "has_audio": False,
            "is_depth_map": False}


def new_info(fps: int, feats: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The info.json of an empty dataset."""
    return {"codebase_version": CODEBASE_VERSION, "robot_type": None, "total_episodes": 0,
            "total_frames": 0, "total_tasks": 0, "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": DATA_FILE_MB, "video_files_size_in_mb": VIDEO_FILE_MB,
            "fps": fps, "splits": {}, "data_path": DATA_PATH, "video_path": VIDEO_PATH,
            "features": feats}


def read_info(root: Path) -> dict[str, Any]:
    """An existing dataset's info.json (an ExportError naming it when unreadable)."""
    path = root / INFO
    try:
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        version = info["codebase_version"]
        if not isinstance(info["features"], dict) or not info["fps"]:
            raise ValueError("no features or fps")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"{path} is not a LeRobot info.json ({exc})") from exc
    if version != CODEBASE_VERSION:
        raise ExportError(f"--out {root} is a LeRobot {version} dataset: only "
                          f"{CODEBASE_VERSION} can be appended to")
    return info


def check_compatible(info: dict[str, Any], fps: int, feats: dict[str, dict[str, Any]],
                     root: Path) -> None:
    """Refuse to append episodes whose fps or features differ from the dataset's (one line)."""
    if int(info["fps"]) != fps:
        raise ExportError(f"cannot append to {root}: it is {info['fps']} fps, these episodes "
                          f"{fps} fps (pass --fps {info['fps']})")
    old, new = info["features"], feats
    if set(old) != set(new):
        diff = ", ".join(sorted(set(old) ^ set(new)))
        raise ExportError(f"cannot append to {root}: its features differ from these episodes' "
                          f"({diff})")
    for key in new:
        for field in ("dtype", "shape", "names"):
            there, here = old[key].get(field), new[key].get(field)
            if field == "shape":
                there, here = list(there or []), list(here or [])
            if there != here:
                hint = " (omit --img-size: frames then take its size)" if key == VIDEO_KEY else ""
                raise ExportError(f"cannot append to {root}: feature {key} has {field} {there} "
                                  f"there, {here} here{hint}")


def write_json(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and a rename (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(data, indent=4, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


# tasks.parquet is a pandas DataFrame (the task string is its index, ``task_index`` its column)
# as LeRobot writes and reads it with pandas; this metadata lets pandas restore the index.
_PANDAS_META = {
    "index_columns": ["__index_level_0__"],
    "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode",
                        "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
    "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
                 "numpy_type": "int64", "metadata": None},
                {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode",
                 "numpy_type": "object", "metadata": None}],
    "attributes": {}, "creator": {"library": "pyarrow", "version": "14.0.0"},
    "pandas_version": "2.2.3",
}


def read_tasks(root: Path) -> list[str]:
    """The task strings of an existing dataset, in task_index order."""
    import pyarrow.parquet as pq

    table = pq.read_table(root / TASKS)
    meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
    index_cols = [c for c in meta.get("index_columns", []) if isinstance(c, str)]
    name = index_cols[0] if index_cols else "task"
    tasks = table.column(name).to_pylist()
    order = table.column("task_index").to_pylist()
    return [t for _, t in sorted(zip(order, tasks, strict=True))]


def write_tasks(root: Path, tasks: list[str]) -> None:
    """Write tasks.parquet (task ``i`` has task_index ``i``), through a rename."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("task_index", pa.int64()), ("__index_level_0__", pa.string())],
                       metadata={"pandas": json.dumps(_PANDAS_META)})
    table = pa.table({"task_index": list(range(len(tasks))), "__index_level_0__": tasks},
                     schema=schema)
    path = root / TASKS
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
