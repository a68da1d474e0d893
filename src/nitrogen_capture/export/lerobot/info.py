"""The metadata of a LeRobot v3.0 dataset: layout, ``info.json``, features and ``tasks.parquet``.

Key names, path templates and defaults are those LeRobot's own loader reads
(``lerobot.datasets.utils``; docs/export.md, "LeRobot"). Files are found by index: episode ``e``
says which ``chunk-CCC/file-FFF`` of ``data/``, ``videos/<key>/`` and ``meta/episodes/`` holds it,
and a chunk folder holds at most :data:`CHUNKS_SIZE` files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ...atomic import atomic_file, atomic_write, make_dirs
from ...errors import ExportError
from ..action_source import SOURCE_COLUMN, SOURCE_NAMES
from ..repeats import REPEAT_COLUMN
from .state import STATE_KEY

__all__ = ["CHUNKS_SIZE", "CODEBASE_VERSION", "DATA_FILE_MB", "DEFAULT_COLUMNS", "REPEAT_KEY",
           "STATE_KEY", "VIDEO_FILE_MB", "VIDEO_KEY", "DatasetFault", "check_compatible",
           "check_info", "features", "new_info", "next_file", "read_info", "read_tasks", "rel_path",
           "video_keys", "write_json", "write_tasks"]

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
# The row's frame is the capture of the row before: the one name of every format (repeats.py).
REPEAT_KEY = REPEAT_COLUMN
# Who had control of the row's frame: 0 human, 1 policy (export/action_source.py), its value
# names in the feature's names.
SOURCE_KEY = SOURCE_COLUMN
# The per-frame bookkeeping columns every LeRobot dataset has, after the features.
DEFAULT_COLUMNS: dict[str, str] = {"timestamp": "float32", "frame_index": "int64",
                                   "episode_index": "int64", "index": "int64",
                                   "task_index": "int64"}
# LeRobot's encoding defaults (lerobot.datasets.video_utils): keyframe every 2 frames, crf 30.
VIDEO_G, VIDEO_CRF = 2, 30
# Bounds of info.json's numbers (check_info): LeRobot's own checks (fps, chunks_size and the
# file sizes positive) and what fits the tool (--fps is at most 1000, frames at most 8192 px).
MAX_FPS = 1000
MAX_COUNT = 2**53  # totals: exact in a JSON reader's float
MAX_SIDE = 8192
MAX_FILE_MB = 1 << 20


def rel_path(template: str, chunk: int, file: int, video_key: str = VIDEO_KEY) -> str:
    """A file's path inside the dataset, from one of the path templates."""
    return template.format(chunk_index=chunk, file_index=file, video_key=video_key)


def next_file(chunk: int, file: int) -> tuple[int, int]:
    """The (chunk, file) after ``(chunk, file)``: a chunk folder holds :data:`CHUNKS_SIZE`."""
    return (chunk + 1, 0) if file == CHUNKS_SIZE - 1 else (chunk, file + 1)


def features(size: tuple[int, int], action_names: list[str], pad_names: list[str] | None,
             video_info: dict[str, Any] | None = None, *, repeat_flag: bool = True,
             state_names: list[str] | None = None,
             source_flag: bool = True, audio_flag: bool = False) -> dict[str, dict[str, Any]]:
    """The ``features`` of info.json: the video, the state, ``action``, the pad, the flag, the rest.

    The state is ``observation.state`` named ``state_names`` (None: none; :mod:`.state`), the
    flag ``frame_is_repeat`` (``repeat_flag``: a dataset written before it existed is extended
    without it), the source ``action_source`` (int64 0 human / 1 policy, the names in
    ``names.values``; ``source_flag`` as ``repeat_flag``); ``audio_sample`` with
    ``audio_flag`` (each frame's sample in its episode's audio file, :mod:`.audio`); the rest
    LeRobot's bookkeeping columns.
    """
    w, h = size
    out: dict[str, dict[str, Any]] = {
        VIDEO_KEY: {"dtype": "video", "shape": [h, w, 3], "names": ["height", "width", "channels"],
                    "info": video_info or {}},
    }
    if state_names is not None:
        out[STATE_KEY] = {"dtype": "float32", "shape": [len(state_names)],
                          "names": list(state_names)}
    out["action"] = {"dtype": "float32", "shape": [len(action_names)],
                     "names": list(action_names)}
    if pad_names is not None:
        out[GAMEPAD_KEY] = {"dtype": "float32", "shape": [len(pad_names)],
                            "names": list(pad_names)}
    if repeat_flag:
        # No observation./action prefix: LeRobot's policies take every other observation.*
        # key as robot state (dataset_to_policy_features); this is for filtering, not input.
        out[REPEAT_KEY] = {"dtype": "bool", "shape": [1], "names": None}
    if source_flag:
        out[SOURCE_KEY] = {"dtype": "int64", "shape": [1],
                           "names": {"values": list(SOURCE_NAMES)}}
    if audio_flag:
        out["audio_sample"] = {"dtype": "int64", "shape": [1], "names": None}
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


class DatasetFault(ValueError):
    """A file of a dataset holds what this tool cannot use: ``rel`` (the file) and ``what``."""

    def __init__(self, rel: str, what: str) -> None:
        super().__init__(f"{rel}: {what}")
        self.rel, self.what = rel, what


def _int(info: dict[str, Any], key: str, lo: int, hi: int) -> int:
    v = info.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise DatasetFault(INFO, f"{key} must be an integer in [{lo}, {hi}], got {v!r}"[:300])
    return v


def _size_mb(info: dict[str, Any], key: str) -> None:
    v = info.get(key)
    if (not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v)
            or not 0 < v <= MAX_FILE_MB):
        raise DatasetFault(INFO, f"{key} must be a number in (0, {MAX_FILE_MB}], got {v!r}"[:300])


def _check_features(feats: Any) -> None:
    if not isinstance(feats, dict) or not feats:
        raise DatasetFault(INFO, "features must be a JSON object of features")
    for key, ft in feats.items():
        shape = ft.get("shape") if isinstance(ft, dict) else None
        names = ft.get("names") if isinstance(ft, dict) else None
        if (not isinstance(ft, dict) or not isinstance(ft.get("dtype"), str)
                or not isinstance(shape, list) or not shape
                or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 1 << 20
                           for d in shape)
                or not (names is None or isinstance(names, list | dict))):
            got = {k: ft.get(k) for k in ("dtype", "shape", "names")} if isinstance(
                ft, dict) else ft
            raise DatasetFault(INFO, f"feature {key!r} is not a dtype, a shape of positive "
                               f"integers and names: {got!r}"[:300])
        if ft["dtype"] == "video" and (len(shape) != 3 or shape[2] != 3
                                       or max(shape[:2]) > MAX_SIDE):
            raise DatasetFault(INFO, f"video feature {key!r} has shape {shape}: not (height, "
                               f"width, 3) within {MAX_SIDE} px")


def check_info(root: Path) -> dict[str, Any]:
    """The dataset's info.json with every field the writer uses checked (else DatasetFault).

    Types and ranges: ``fps`` a whole number in [1, 1000] (LeRobot's ``fps`` is an int),
    totals integers >= 0, ``chunks_size`` this tool's 1000, the file sizes positive finite
    numbers, ``data_path`` / ``video_path`` exactly the templates this tool writes (so every
    file they name lies inside the dataset where the writer puts it), ``splits`` an object,
    ``features`` well-formed. JSON's NaN and Infinity are refused.
    """
    from .jsonfile import load_json

    try:
        info = load_json(root / INFO)
    except FileNotFoundError:
        raise DatasetFault(INFO, "is missing") from None
    except (OSError, ValueError) as exc:
        raise DatasetFault(INFO, f"is not a JSON file this tool can read ({exc})") from None
    if not isinstance(info, dict):
        raise DatasetFault(INFO, "is not a JSON object")
    version = info.get("codebase_version")
    if version != CODEBASE_VERSION:
        raise DatasetFault(INFO, f"it is a LeRobot {version!r} dataset: only "
                           f"{CODEBASE_VERSION} can be appended to"[:300])
    _int(info, "fps", 1, MAX_FPS)
    for key in ("total_episodes", "total_frames", "total_tasks"):
        _int(info, key, 0, MAX_COUNT)
    if _int(info, "chunks_size", 1, MAX_COUNT) != CHUNKS_SIZE:
        raise DatasetFault(INFO, f"chunks_size is {info['chunks_size']}: this tool appends "
                           f"only to datasets of {CHUNKS_SIZE} files per chunk")
    _size_mb(info, "data_files_size_in_mb")
    _size_mb(info, "video_files_size_in_mb")
    for key, want in (("data_path", DATA_PATH), ("video_path", VIDEO_PATH)):
        if info.get(key) != want:
            raise DatasetFault(INFO, f"{key} is {info.get(key)!r}; this tool appends only to "
                               f"datasets laid out as {want!r}"[:300])
    splits = info.get("splits", {})
    if not isinstance(splits, dict) or not all(isinstance(v, str) for v in splits.values()):
        raise DatasetFault(INFO, f"splits must map names to ranges, got {splits!r}"[:300])
    if not (info.get("robot_type") is None or isinstance(info.get("robot_type"), str)):
        raise DatasetFault(INFO, "robot_type must be a string or null")
    _check_features(info.get("features"))
    return info


def video_keys(info: dict[str, Any]) -> list[str]:
    """The video features of a checked info.json."""
    return [k for k, f in info["features"].items() if f["dtype"] == "video"]


def read_info(root: Path) -> dict[str, Any]:
    """An existing dataset's checked info.json (an ExportError naming the fault)."""
    try:
        return check_info(root)
    except DatasetFault as exc:
        raise ExportError(f"{root}: {exc}") from None


def check_compatible(info: dict[str, Any], fps: int, feats: dict[str, dict[str, Any]],
                     root: Path) -> None:
    """Refuse to append episodes whose fps or features differ from the dataset's (one line)."""
    if int(info["fps"]) != fps:
        raise ExportError(f"cannot append to {root}: it is {info['fps']} fps, these episodes "
                          f"{fps} fps (pass --fps {info['fps']})")
    old, new = info["features"], feats
    if (STATE_KEY in old) != (STATE_KEY in new):
        raise ExportError(
            f"cannot append to {root}: it has no {STATE_KEY} (written by an older "
            "nitrogen-capture, or with --state none): pass --state none to extend it as it is, "
            "or --overwrite to write it anew" if STATE_KEY in new else
            f"cannot append to {root}: it has an {STATE_KEY}, these episodes none: pass the "
            "--state it was written with")
    if set(old) != set(new):
        diff = ", ".join(sorted(set(old) ^ set(new)))
        raise ExportError(f"cannot append to {root}: its features differ from these episodes' "
                          f"({diff})")
    for key in sorted(new, key=lambda k: k == STATE_KEY):  # the state follows the action
        for field in ("dtype", "shape", "names"):
            there, here = old[key].get(field), new[key].get(field)
            if field == "shape":
                there, here = list(there or []), list(here or [])
            if there != here:
                hint = {VIDEO_KEY: " (omit --img-size: frames then take its size)",
                        STATE_KEY: " (pass the --state it was written with)"}.get(key, "")
                raise ExportError(f"cannot append to {root}: feature {key} has {field} {there} "
                                  f"there, {here} here{hint}")


def write_json(root: Path, rel: str, data: Any) -> Path:
    """Write ``root/rel`` as JSON, whole or not at all and through no link (atomic.py)."""
    path = root / rel
    make_dirs(path.parent, below=root)
    text = json.dumps(data, indent=4, ensure_ascii=False, allow_nan=False)
    atomic_write(path, text.encode("utf-8"))
    return path


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
    make_dirs(path.parent, below=root)
    with atomic_file(path) as f:
        pq.write_table(table, f)
