"""A torch Dataset over a ``--format nitrogen-dataset`` tree: windows across its sessions/chunks.

The tree (:mod:`.dataset_tree`) holds, per session (``<video_id>``), chunk folders of 60 Hz rows:
``actions_raw.parquet`` (17 buttons, two sticks, ``frame_is_repeat``) and ``video.mp4`` (the
frame shown at each row). Consecutive chunks of one session whose rows continue
(``original_video.start_frame`` = the previous chunk's ``end_frame`` + 1) form one *run*: a
contiguous segment of the recording, as the exporter cut it (pauses, dropped ticks,
``--max-repeat-frames``). A window starts at run row ``k``: its observation is row ``k``'s frame,
its actions rows ``k + S .. k + S + T - 1`` (S = ``action_shift``, T = ``seq_len``), mapped back
to the 25 NitroGen floats (buttons 0/1, sticks as stored, the four unused slots 0). That is
``convert --format pt --action-hz 60``'s window rule on the tree's grid, so on a session whose
captures sit on that grid the windows equal that ``.pt``'s: actions exactly, observations to the
H.264 loss of ``video.mp4`` (docs/loading.md gives the measured difference).

From the settings the tree loader uses ``img_size``, ``seq_len``, ``action_shift``,
``obs_dtype`` and ``max_repeat_frames`` (a window whose longest run of repeated rows is longer is
left out, the ``.pt``'s rule); the rest (keymap, mouse scale, latency, idle trimming) was applied
when the tree was written. pyarrow and PyAV are imported when a tree is opened.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError, ExportError, missing_dependency
from ..keylayout import PAD_BUTTONS
from .dataset_tree import DATASET_HZ, METADATA, PARQUET, VIDEO
from .decode import FrameTransform
from .frameaccess import OPEN_FILES, VideoCursor
from .framecache import DEFAULT_CACHE_BYTES
from .keymap import NITROGEN_ACTIONS
from .repeats import REPEAT_COLUMN, longest_runs
from .settings import ConvertSettings
from .windowset import WindowSet, check_stride, loader_settings, torch_class

__all__ = ["DatasetTreeDataset", "TreeChunk", "read_chunk_actions", "tree_chunks"]

_SLOT = {name: i for i, name in enumerate(NITROGEN_ACTIONS)}


@dataclass(frozen=True)
class TreeChunk:
    """One complete chunk folder: its session, rows, first/last grid row and frame size."""

    folder: Path
    video_id: str
    rows: int
    start_frame: int
    end_frame: int
    size: tuple[int, int]  # (w, h) of its frames


def tree_chunks(tree: Path) -> list[TreeChunk]:
    """Every complete chunk of the tree (its metadata.json written), by session then chunk."""
    base = tree / "actions"
    if not base.is_dir():
        raise ExportError(f"{tree} is not a dataset tree (no actions/ folder)")
    out = []
    for meta_path in sorted(base.glob(f"*/*/*_chunk_*/{METADATA}")):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            video = meta["original_video"]
            h, w = (int(x) for x in video["resolution"])
            out.append(TreeChunk(meta_path.parent, meta_path.parent.parent.name,
                                 int(meta["chunk_size"]), int(video["start_frame"]),
                                 int(video["end_frame"]), (w, h)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ExportError(f"{meta_path} is not a dataset chunk's metadata ({exc})") from exc
    if not out:
        raise ExportError(f"{tree} holds no complete chunk (no */*/*_chunk_NNNN/{METADATA})")
    return out


def read_chunk_actions(folder: Path) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """A chunk's rows as the 25 NitroGen floats, and its ``frame_is_repeat`` flags.

    The inverse of the tree writer's columns: each button's bool in its slot, ``j_left`` /
    ``j_right`` as ``lx, ly`` / ``rx, ry``.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise missing_dependency("pyarrow", "dataset", "loading a dataset tree") from exc
    path = folder / PARQUET
    try:
        table = pq.read_table(path)
        n = table.num_rows
        rows = np.zeros((n, len(NITROGEN_ACTIONS)), dtype=np.float32)
        for b in PAD_BUTTONS:
            rows[:, _SLOT[b.upper()]] = np.asarray(table.column(b).to_numpy(), dtype=np.float32)
        for name, (x, y) in (("j_left", ("lx", "ly")), ("j_right", ("rx", "ry"))):
            xy = np.asarray(table.column(name).to_pylist(), dtype=np.float32).reshape(n, 2)
            rows[:, _SLOT[x]], rows[:, _SLOT[y]] = xy[:, 0], xy[:, 1]
        repeat = (np.asarray(table.column(REPEAT_COLUMN).to_numpy(), dtype=bool)
                  if REPEAT_COLUMN in table.column_names else np.zeros(n, dtype=bool))
    except (OSError, KeyError, ValueError) as exc:
        raise ExportError(f"{path} cannot be read as a dataset chunk's actions ({exc})") from exc
    return rows, repeat


def _runs(chunks: list[TreeChunk]) -> list[list[int]]:
    """Chunk numbers grouped into runs: same session, each starting where the last ended."""
    runs: list[list[int]] = []
    for k, c in enumerate(chunks):
        prev = chunks[runs[-1][-1]] if runs else None
        if (prev is not None and prev.video_id == c.video_id
                and prev.folder.parent == c.folder.parent and c.start_frame == prev.end_frame + 1):
            runs[-1].append(k)
        else:
            runs.append([k])
    return runs


class _VideoFiles:
    """The tree's video.mp4 decoders of this process (a few kept open)."""

    def __init__(self, chunks: list[TreeChunk]) -> None:
        self.chunks = chunks
        self._open: OrderedDict[int, VideoCursor] = OrderedDict()

    def get(self, k: int) -> VideoCursor:
        cur = self._open.pop(k, None)
        if cur is None:
            c = self.chunks[k]
            cur = VideoCursor(c.folder / VIDEO, c.rows, c.size, "reading a dataset tree's video")
            while len(self._open) >= OPEN_FILES:
                self._open.popitem(last=False)[1].close()
        self._open[k] = cur
        return cur

    def close(self) -> None:
        for v in self._open.values():
            v.close()
        self._open.clear()


class _TreeWindows(WindowSet):
    """Windows across every session and chunk of a ``--format nitrogen-dataset`` tree."""

    _core = True

    def __init__(self, settings: ConvertSettings, *, stride: int = 1,
                 cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        super().__init__(settings.img_size, settings.seq_len, settings.obs_dtype, cache_bytes)
        stride = check_stride(stride)
        if settings.action_space != "nitrogen":
            raise ConfigError("a dataset tree holds the nitrogen action space only, got "
                              f"action_space {settings.action_space!r}", setting="action_space")
        if settings.action_hz not in (None, DATASET_HZ):
            raise ConfigError(f"a dataset tree's rows are at {DATASET_HZ:g} Hz, got action_hz "
                              f"{settings.action_hz:g}", setting="action_hz")
        self.root = settings.root
        self.chunks = tree_chunks(settings.root)
        missing = [c.folder for c in self.chunks if not (c.folder / VIDEO).is_file()]
        if missing:
            raise ExportError(f"{missing[0]} has no {VIDEO} (a tree written with --no-video has "
                              "no frames to load)")
        span = settings.action_shift + settings.seq_len
        acts, keys, starts, reps = [], [], [], []
        offset = 0
        for run in _runs(self.chunks):
            parts = [read_chunk_actions(self.chunks[k].folder) for k in run]
            rows = np.concatenate([p[0] for p in parts])
            flags = np.concatenate([p[1] for p in parts])
            where = np.concatenate([np.stack([np.full(self.chunks[k].rows, k),
                                              np.arange(self.chunks[k].rows)], axis=1)
                                    for k in run])
            n = len(rows) - span + 1
            if n > 0:
                # Window k's repeats: rows k+1 .. k+span-1 that show the row before's frame.
                win = np.lib.stride_tricks.sliding_window_view(flags[1:], span - 1)[:n] \
                    if span > 1 else np.zeros((n, 0), dtype=bool)
                count, longest = win.sum(axis=1).astype(np.int64), longest_runs(win)
                ok = np.ones(n, dtype=bool) if settings.max_repeat_frames is None \
                    else longest <= settings.max_repeat_frames
                first = np.flatnonzero(ok)
                keys.append(where[first])
                starts.append(offset + first + settings.action_shift)
                reps.append(count[first])
            acts.append(rows)
            offset += len(rows)
        if not keys or not sum(len(k) for k in keys):
            raise ExportError(f"{settings.root}: no window of {settings.seq_len} steps (shift "
                              f"{settings.action_shift}) inside one run of chunks")
        keep = slice(None, None, stride)
        self.actions = np.concatenate(acts)
        self.keys = np.concatenate(keys)[keep].astype(np.int64)
        self.act_start = np.concatenate(starts)[keep].astype(np.int64)
        self.repeats = np.concatenate(reps)[keep]
        self.wanted = {}
        for k, c in enumerate(self.chunks):
            mask = np.zeros(c.rows, dtype=bool)
            mask[self.keys[self.keys[:, 0] == k, 1]] = True
            self.wanted[k] = mask
        self.meta = {"source": str(settings.root), "action_space": "nitrogen",
                     "action_names": list(NITROGEN_ACTIONS), "rate_hz": DATASET_HZ,
                     "params": {"img_size": settings.img_size, "seq_len": settings.seq_len,
                                "action_shift": settings.action_shift,
                                "obs_dtype": settings.obs_dtype,
                                "max_repeat_frames": settings.max_repeat_frames},
                     "stride": stride, "sessions": sorted({c.video_id for c in self.chunks}),
                     "chunks": len(self.chunks), "total_windows": sum(len(k) for k in keys)}

    def _open(self) -> _VideoFiles:
        return _VideoFiles(self.chunks)

    def _decode(self, files: _VideoFiles, chunk: int, row: int, transform: FrameTransform[Any],
                keep: Callable[[int, Callable[[], Any]], None]) -> npt.NDArray[np.uint8]:
        def on_way(r: int, img: Callable[[], Any]) -> None:
            keep(r, lambda: transform.bgr(img()))

        return transform.bgr(files.get(chunk).read(row, on_way))  # type: ignore[no-any-return]


class DatasetTreeDataset:
    """Windows across a dataset tree's sessions and chunks, as ``(obs, actions)`` tensors.

    Args:
        tree: the ``--out`` folder of ``convert --format nitrogen-dataset`` (one session or a
            batch of many).
        settings: a :class:`ConvertSettings` for ``img_size``, ``seq_len``, ``action_shift``,
            ``obs_dtype``, ``max_repeat_frames`` (None: the defaults); ``**fields`` set them too.
        stride, cache_bytes: as :class:`~.stream.StreamingDataset`'s.

    Items as :class:`~.stream.StreamingDataset`'s (25 nitrogen floats a step, 60 Hz).
    """

    def __new__(cls, tree: str | Path, settings: ConvertSettings | None = None, *,
                stride: int = 1, cache_bytes: int = DEFAULT_CACHE_BYTES,
                **fields: Any) -> Any:
        """Build the loader: every complete chunk's actions read, no frame decoded."""
        s = loader_settings(tree, settings, fields)
        return torch_class(_TreeWindows)(s, stride=stride, cache_bytes=cache_bytes)
