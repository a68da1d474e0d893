"""``--format nitrogen-dataset``: NitroGen's public dataset chunk tree (docs/architecture.md 8.2).

::

    <out>/actions/SHARD_0000/<video_id>/<video_id>_chunk_0000/
        actions_raw.parquet   60 Hz rows: 17 bool button columns (dataset order), then
                              j_left / j_right as [x, y] float lists in [-1, 1], +y down,
                              then ours: frame_is_repeat (bool), action_source
                              ("human"/"policy": who had control; export/action_source.py)
        metadata.json         uuid, chunk_id, chunk_size, game, controller_type, original_video
                              {...}, bbox_controller_overlay (+ our source_rows,
                              repeated_frames, repeat_cut, task, outcome, tags, episode,
                              action_source)
        video.mp4             the chunk's frames at 60 fps (H.264), row k = frame shown at row k;
                              an odd size is padded by one pixel (docs/format.md), the real
                              size is original_video.resolution [h, w]
        audio.flac            (--audio sessions) the chunk's sound; the parquet's audio_sample
                              column is each row's sample in it, metadata.json's audio the
                              mapping to session time (export/chunk_audio.py)

Rows sit on an exact 60 Hz grid from the first frame of each contiguous segment (no chunk crosses
a pause, dropped ticks or a stretch ``--max-repeat-frames`` cut), re-binned from the raw events
with the recorder's semantics (:mod:`.resample`); a 20 s chunk holds 1200 rows, the last chunk
of a segment may be shorter (but not shorter than :data:`MIN_CHUNK_ROWS`, one action chunk of
the released model). Keyboard/mouse sessions go through the keymap; pads map 1:1. Each video
frame is the one shown at the row's time (:mod:`.repeats`), so a 30 fps session shows every
frame twice, the second time marked ``frame_is_repeat``.
pyarrow (extra ``dataset``) and PyAV (extra ``video``) are imported only here.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..atomic import (
    existing_level,
    is_partial_name,
    make_dirs,
    open_new,
    partial_path,
    prune_empty,
    remove_entry,
    remove_tree,
)
from ..diskspace import BLOCK, disk_full_error, is_disk_full
from ..errors import DiskSpaceError, ExportError, OutputError, missing_dependency
from ..keylayout import PAD_BUTTONS
from ..marks import has_mark
from ..outputs import OutputKind, describe
from ..session.audio_store import read_session_audio
from ..session.io import is_plain_file
from ..session.lock import check_not_locked
from ..session.paths import SessionPaths
from .action_source import SOURCE_COLUMN, source_names
from .chunk_audio import AUDIO_COLUMN, AUDIO_FILE, span_audio
from .common import ConvertResult, Progress, check_space
from .keymap import NITROGEN_ACTIONS
from .repeats import REPEAT_COLUMN, GridPart
from .resample import step_ns
from .source import ConvertSettings, ExportSource, FreeBytes, disk_free

__all__ = ["CHUNK_ROWS", "CONTROLLER_TYPES", "DATASET_HZ", "DATASET_TREE", "check_session_folder",
           "convert_dataset"]

log = logging.getLogger(__name__)
DATASET_HZ = 60.0
CHUNK_ROWS = 1200  # 20 s at 60 Hz
# metadata.json controller_type of each session label (docs/export.md): the dataset names the
# pad whose overlay was read; a keyboard session keeps our own value.
CONTROLLER_TYPES = {"keyboard": "keyboard_mouse", "xbox": "xbox", "ps": "playstation"}
# A tail chunk shorter than one action chunk of the released checkpoint (18 steps) holds no
# training window; it is not written (e.g. the 1 row a session ending on a 20 s boundary leaves).
MIN_CHUNK_ROWS = 18
_SLOT = {name: i for i, name in enumerate(NITROGEN_ACTIONS)}
# Rough H.264 (ultrafast, crf 18) size per pixel per frame, for the free-space check.
_VIDEO_BYTES_PER_PIXEL = 0.06


PARQUET, VIDEO, METADATA = "actions_raw.parquet", "video.mp4", "metadata.json"
AUDIO = AUDIO_FILE  # a session recorded with --audio: the chunk's sound (export/chunk_audio.py)


def _tree_is_ours(folder: Path) -> bool:
    """A folder that holds a dataset tree and nothing else (a batch's manifest and parts too)."""
    try:
        names = [e.name for e in os.scandir(folder)]
    except OSError:
        return False
    ours = ("actions", "manifest.json", ".parts")  # a batch writes its manifest and parts first
    return any(n in ours for n in names) and all(n in ours or is_partial_name(n) for n in names)


DATASET_TREE = OutputKind("NitroGen dataset tree", _tree_is_ours, folder=True,
                          store="NitroGen dataset tree")
_CHUNK_DIR = re.compile(r"(.+)_chunk_\d{4}")


def _chunk_is_ours(folder: Path) -> bool:
    """A chunk folder this tool wrote: its metadata.json names nitrogen-capture as the source."""
    meta = folder / METADATA
    if not has_mark(meta, b'"source": "nitrogen-capture"'):
        return not meta.exists() and all(  # a chunk a kill stopped before its metadata
            is_partial_name(e.name) or e.name in (PARQUET, VIDEO, AUDIO)
            for e in os.scandir(folder))
    return True


def _remove_unfinished(folder: Path) -> bool:
    """Remove a chunk folder a killed convert left unfinished, saying so in one line.

    Unfinished: no metadata.json, and only this tool's files and temporaries in it. Returns
    whether ``folder`` was one.
    """
    if not (_CHUNK_DIR.fullmatch(folder.name) and folder.is_dir() and not folder.is_symlink()
            and not (folder / METADATA).exists() and _chunk_is_ours(folder)):
        return False
    remove_tree(folder)
    log.warning("removed %s, an unfinished chunk left by an interrupted convert", folder)
    return True


def check_session_folder(base: Path, overwrite: bool) -> None:
    """Refuse a session's folder of the tree that is not new or, with ``--overwrite``, ours.

    Ours: it holds only chunk folders this tool wrote (outputs.py).
    """
    try:
        entries = list(os.scandir(base))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"{base} cannot be read ({exc.strerror})") from exc
    entries = [e for e in entries if not _remove_unfinished(Path(e.path))]
    if not entries:
        return
    if not overwrite:
        raise ExportError(f"{base} already holds chunks: pass --overwrite or choose another --out")
    for e in entries:
        if not (e.is_dir(follow_symlinks=False) and _CHUNK_DIR.fullmatch(e.name)
                and _chunk_is_ours(Path(e.path))):
            raise OutputError(f"--out: {e.path} is {describe(Path(e.path))}, not a dataset "
                              "chunk written by nitrogen-capture: nothing was changed")


class _ChunkFiles:
    """A chunk folder's files, written under temporary names and renamed when all are written.

    The folder is made without following a link (atomic.make_dirs) and the temporaries are
    created new (atomic.open_new: ``.NAME.partial``), so a link planted in the tree is never
    written through. ``metadata.json`` is renamed last (and an old one removed first), so a
    folder whose ``metadata.json`` exists is complete: a kill or Ctrl+C mid-chunk never leaves
    an undecodable ``video.mp4`` beside complete-looking metadata. On any error the temporaries
    are removed. Not :func:`~nitrogen_capture.atomic.atomic_file` per file: the three files are
    one commit, renamed only once all are written; the temporary names, their creation and
    their removal are atomic.py's.
    """

    def __init__(self, folder: Path, top: Path) -> None:
        self.folder = make_dirs(folder, below=top)

    def tmp(self, name: str) -> Path:
        """The temporary of ``name``, created new and empty (writers are told their format)."""
        path = partial_path(self.folder / name)
        open_new(path).close()
        return path

    def __enter__(self) -> _ChunkFiles:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: object) -> None:
        temps = {name: partial_path(self.folder / name)
                 for name in (PARQUET, VIDEO, AUDIO, METADATA)}
        if et is not None:
            for p in temps.values():
                remove_entry(p)
            return
        (self.folder / METADATA).unlink(missing_ok=True)  # incomplete until the new one lands
        for name in (PARQUET, VIDEO, AUDIO, METADATA):
            if is_plain_file(temps[name]):
                os.replace(temps[name], self.folder / name)
            elif name in (VIDEO, AUDIO):
                (self.folder / name).unlink(missing_ok=True)  # no video this time: no stale one


def _video_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "session"


def _write_parquet(path: Path, rows: npt.NDArray[np.float32],
                   repeat: npt.NDArray[np.bool_], sources: npt.NDArray[np.int8],
                   audio_rows: npt.NDArray[np.int64] | None = None) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise missing_dependency("pyarrow", "dataset", "--format nitrogen-dataset") from exc
    cols: dict[str, Any] = {b: pa.array(rows[:, _SLOT[b.upper()]] > 0.5, type=pa.bool_())
                            for b in PAD_BUTTONS}
    for name, (x, y) in (("j_left", ("lx", "ly")), ("j_right", ("rx", "ry"))):
        xy = np.stack([rows[:, _SLOT[x]], rows[:, _SLOT[y]]], axis=1).astype(np.float32)
        cols[name] = pa.array(xy.tolist(), type=pa.list_(pa.float32()))
    # Ours, after the dataset's 19 columns (readers select those by name): the row's frame is
    # the capture of the row before (export/repeats.py).
    cols[REPEAT_COLUMN] = pa.array(np.asarray(repeat, dtype=bool), type=pa.bool_())
    # Who had control of the row's frame (a session not a rollout: all "human").
    cols[SOURCE_COLUMN] = pa.array(source_names(sources), type=pa.string())
    if audio_rows is not None:  # each row's sample in the chunk's audio.flac
        cols[AUDIO_COLUMN] = pa.array(np.asarray(audio_rows, np.int64), type=pa.int64())
    pq.write_table(pa.table(cols), path)


def _frame_at(frames: Iterator[Any], first: int) -> Callable[[int], Any]:
    """A function giving the frame of merged row ``r``, asked for non-decreasing ``r``.

    ``frames`` yields rows ``first``, ``first + 1``, ... and is read only as far as needed.
    """
    current: list[Any] = [first - 1, None]

    def at(row: int) -> Any:
        while current[0] < row:
            current[0], current[1] = current[0] + 1, next(frames)
        return current[1]

    return at


def _write_video(path: Path, images: Iterable[npt.NDArray[np.uint8]]) -> tuple[int, int] | None:
    """Encode ``images`` at the dataset's 60 fps (libx264 ultrafast crf 18).

    Returns the real frame size; None when there was no image (then no file is written).
    """
    from ..codecs.h264 import H264Writer

    with ExitStack() as stack:
        video: H264Writer | None = None
        for img in images:
            if video is None:
                video = stack.enter_context(H264Writer(
                    path, (img.shape[1], img.shape[0]), DATASET_HZ, crf=18, preset="ultrafast",
                    purpose="video.mp4 of --format nitrogen-dataset (or pass --no-video)",
                    container_format="mp4"))
            elif (img.shape[1], img.shape[0]) != video.size:
                import cv2

                # The window was resized inside the chunk: one video keeps one size.
                img = np.asarray(cv2.resize(img, video.size, interpolation=cv2.INTER_AREA),
                                 np.uint8)
            video.write(img)
        return None if video is None else video.size


def convert_dataset(settings: ConvertSettings, *, progress: Progress | None = None,
                    free_bytes: FreeBytes = disk_free,
                    video_id: str | None = None) -> ConvertResult:
    """Write the NitroGen dataset chunk tree under ``settings.out`` (a directory).

    ``video_id``: the tree's name for the session (default: its folder name, made safe); a
    batch conversion passes a unique one when two sessions share a folder name.
    """
    # A session being recorded or merged is refused (docs/format.md, "Lock").
    check_not_locked(SessionPaths(settings.root), "convert")
    src = ExportSource(settings)
    step = step_ns(DATASET_HZ)
    # Each segment's 60 Hz grid from its first frame, the frame each row shows and whether it
    # repeats the row before's (export/repeats.py), cut at long repeat runs when asked.
    parts, cut = src.grid_parts(step)
    total = sum(len(p.grid) for p in parts)
    if total == 0:
        raise ExportError(f"session {settings.root} has no frames to export")
    vid = video_id or _video_id(settings.root.name)
    base = settings.out / "actions" / "SHARD_0000" / vid
    check_session_folder(base, settings.overwrite)
    w, h = src.frame_size or (1280, 720)
    needed = total * (64 + (w * h * _VIDEO_BYTES_PER_PIXEL if settings.video else 0))
    check_space(settings.out / "actions", int(needed), free_bytes,
                f"{total} rows at 60 Hz{' with video' if settings.video else ''}")
    keep = existing_level(settings.out)
    result = ConvertResult(windows=0, idle=src.idle)
    try:
        _write_chunks(src, parts, cut, base, (vid, total), result, progress)
    except BaseException as exc:
        # The chunk being written is removed whole (_ChunkFiles); so is a folder made for it.
        prune_empty(base / f"{vid}_chunk_{len(result.files):04d}", keep)
        if isinstance(exc, DiskSpaceError) or not is_disk_full(exc):
            raise
        done = len(result.files)
        kept = (f" with --overwrite (the {done} chunk(s) written before it are whole)" if done
                else " (nothing was written)")
        files = 3 * sum(-(-len(p.grid) // CHUNK_ROWS) for p in parts)  # each takes a block
        raise disk_full_error(settings.out, int(needed) + files * BLOCK, "the dataset tree",
                              "free some space (or choose another --out) and run convert again"
                              + kept) from exc
    return result


def _write_chunks(src: ExportSource, parts: list[GridPart], cut: dict[str, Any] | None, base: Path,
                  name: tuple[str, int], result: ConvertResult,
                  progress: Progress | None) -> None:
    """Write the session's chunk folders under ``base``, counting them in ``result``."""
    settings, (vid, total), step = src.settings, name, step_ns(DATASET_HZ)
    res = src.resampler()
    sound = read_session_audio(settings.root)  # None: recorded without --audio
    labels = src.reader.meta.effective_labels
    game = settings.game or labels.game or vid  # --game overrides the session's label
    chunk_no, done, repeated = 0, 0, 0
    frames: tuple[int, Callable[[int], Any]] | None = None  # (segment, its frame reader)
    for part in parts:
        if settings.video and (frames is None or frames[0] != part.first):
            frames = (part.first, _frame_at(
                src.iter_frames(range(part.first, part.stop), lambda img: img), part.first))
        for lo in range(0, len(part.grid), CHUNK_ROWS):
            g = part.grid[lo:lo + CHUNK_ROWS]
            if len(g) < MIN_CHUNK_ROWS:
                continue
            shown, flags = part.rows[lo:lo + len(g)], part.repeat[lo:lo + len(g)]
            binned = res.bin_grid(g, step)
            rows = src.map(binned.actions, binned.mouse_deltas, binned.gamepad)
            span = span_audio(sound, g, step) if sound is not None else None
            with _ChunkFiles(base / f"{vid}_chunk_{chunk_no:04d}", settings.out) as files:
                folder = files.folder
                _write_parquet(files.tmp(PARQUET), rows, flags, src.row_source[shown],
                               None if span is None else span.rows)
                if span is not None:
                    span.write(files.tmp(AUDIO))
                size = None
                if frames is not None:
                    video_tmp = files.tmp(VIDEO)
                    size = _write_video(video_tmp, (frames[1](int(r)) for r in shown))
                    if size is None:  # no image: no video.mp4
                        remove_entry(video_tmp)
                meta = _chunk_meta(src, vid, chunk_no, g, step, (game, labels.controller),
                                   (int(shown[0]), int(shown[-1])), settings, size)
                meta["repeated_frames"] = int(flags.sum())
                if span is not None:
                    meta["audio"] = span.meta()
                meta.update(_labels_meta(src))
                if cut is not None:
                    meta["repeat_cut"] = cut
                files.tmp(METADATA).write_bytes(json.dumps(meta, indent=2).encode("utf-8"))
            done += len(g)
            repeated += int(flags.sum())
            result.files.append(folder)
            result.windows += 1
            if progress is not None:
                progress(done, total)
            chunk_no += 1
            result.frames = done
    result.repeats = {"repeated_frames": repeated, "rows": done, "cut": cut}


def _labels_meta(src: ExportSource) -> dict[str, Any]:
    """The session's task, outcome, tags and episode (docs/export.md, "Task and outcome")."""
    labels, episode = src.reader.meta.effective_labels, src.reader.meta.episode
    return {"task": labels.task, "outcome": labels.outcome, "tags": list(labels.tags),
            "episode": episode.to_json() if episode else None}


def _chunk_meta(src: ExportSource, vid: str, chunk_no: int, grid: npt.NDArray[Any], step: int,
                labels: tuple[str, str], rows: tuple[int, int], settings: ConvertSettings,
                video_size: tuple[int, int] | None) -> dict[str, Any]:
    # The real size of video.mp4's frames (it may be padded to even), else the capture's.
    size = video_size or src.frame_size or (0, 0)
    start, end = int(grid[0]) / 1e9, (int(grid[-1]) + step) / 1e9
    first = round(int(grid[0]) / step)
    return {
        "uuid": f"{vid}_chunk_{chunk_no:04d}_actions",
        "chunk_id": f"{chunk_no:04d}",
        "chunk_size": len(grid),
        "game": labels[0],
        "controller_type": CONTROLLER_TYPES[labels[1]],
        "original_video": {
            "resolution": [int(size[1]), int(size[0])], "video_id": vid,
            "source": "nitrogen-capture", "url": settings.root.resolve().as_uri(),
            "start_time": start, "end_time": end, "duration": end - start,
            "start_frame": first, "end_frame": first + len(grid) - 1,
        },
        "bbox_controller_overlay": [0, 0, 0, 0],
        "source_rows": list(rows),
        "keymap": None if src.use_pad else src.keymap.name,
        "latency_offset_ns": src.latency_offset_ns,  # applied to the actions (export/latency.py)
        "action_source": src.action_source,  # what --action-source kept (export/action_source.py)
        **({"idle": src.idle} if src.idle is not None else {}),
    }
