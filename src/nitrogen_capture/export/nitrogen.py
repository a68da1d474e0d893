"""The NitroGen ``.pt`` export (the original ``convert_to_nitrogen.py``, docs/architecture.md 8.4).

Output: a dict with ``obs`` (M, 3, H, W) RGB (uint8 0-255 by default, float32 in [0, 1] with
``--obs-dtype float32``; the whole frame squashed with INTER_AREA, no crop), ``actions`` (M, T, D)
float32 and ``meta`` (every parameter, the action names, the source session, and the
frame/window index map). With ``--shard-frames N`` the windows are split over numbered files
``<stem>-00000.pt ...`` listed in ``<stem>.index.json``.

Memory: frames are decoded, resized and streamed straight into the file
(:class:`~nitrogen_capture.export.ptfile.PtWriter`); only per-frame arrays (~60 bytes a frame) and
the window index stay in RAM, so peak memory does not grow with the session's pixel volume. Files
are written to ``.NAME.partial`` and renamed when complete (atomic.py); an existing file is
replaced only with ``--overwrite`` and only when it is this tool's export (outputs.py). The free
space is checked first; a disk that fills anyway is one line (diskspace.py), and a folder made
for the export is removed again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import __version__
from ..atomic import (
    atomic_path,
    atomic_write,
    existing_level,
    partial_path,
    prune_empty,
    remove_entry,
)
from ..bounds import human_bytes
from ..diskspace import disk_full_error, is_disk_full
from ..errors import DiskSpaceError, ExportError
from ..marks import has_format
from ..outputs import OutputKind, check_output
from ..session.io import is_plain_file
from ..session.lock import check_not_locked
from ..session.paths import SessionPaths
from .action_source import SOURCE_COLUMN, SOURCE_NAMES, sources_at
from .common import ConvertResult, Progress, SizeNote, check_space
from .decode import FrameTransform
from .latency import action_shift_note
from .pt_audio import AUDIO_KEY, PtAudio, pt_audio
from .ptfile import PtWriter, TensorSpec, pickle_mentions
from .repeats import WindowRepeats, window_repeats
from .resample import step_ns
from .source import ConvertSettings, ExportSource, FreeBytes, disk_free
from .windows import WindowPlan, plan_windows

__all__ = ["PT_FILE", "PT_FORMAT", "PT_INDEX", "ConvertResult", "Progress", "PtPlan", "SizeNote",
           "check_pt_outputs", "convert_pt", "human_bytes", "plan_pt", "pt_size_estimate",
           "shard_paths"]

log = logging.getLogger(__name__)
PT_FORMAT = "nitrogen-capture.nitrogen-pt"
INDEX_FORMAT = "nitrogen-capture.nitrogen-pt-shards"
# What a .pt export writes (outputs.py): recognised by the format its meta (or index) names.
PT_FILE = OutputKind("NitroGen .pt export",
                     lambda p: pickle_mentions(p, PT_FORMAT.encode("utf-8")))
PT_INDEX = OutputKind("shard index", lambda p: has_format(p, INDEX_FORMAT))


def shard_paths(out: Path, shards: int) -> tuple[list[Path], Path | None]:
    """File names for ``shards`` shards of ``out`` (one shard = ``out`` itself, no index)."""
    if shards <= 1:
        return [out], None
    return ([out.with_name(f"{out.stem}-{k:05d}.pt") for k in range(shards)],
            out.with_name(f"{out.stem}.index.json"))


def check_pt_outputs(files: list[Path], index: Path | None, overwrite: bool) -> None:
    """Refuse any shard or index path that is not ours to write (outputs.py), before any work."""
    for p in files:
        check_output(p, PT_FILE, label="--out", overwrite=overwrite)
    if index is not None:
        check_output(index, PT_INDEX, label="--out", overwrite=overwrite)
    for p in [*files, *([index] if index is not None else [])]:
        leftover = partial_path(p)  # a convert killed while writing p: its half file
        if is_plain_file(leftover):
            remove_entry(leftover)
            log.warning("removed %s, left by an interrupted convert", leftover)


def pt_size_estimate(windows: int, img_size: int, obs_dtype: str, seq_len: int,
                     action_dim: int) -> int:
    """Bytes of a ``.pt`` export: windows x (obs + actions) plus ~64 bytes of meta a window."""
    obs = 3 * img_size * img_size * np.dtype(obs_dtype).itemsize
    return windows * (obs + seq_len * action_dim * 4 + 64)


def obs_transform(size: int, dtype: str) -> FrameTransform[npt.NDArray[Any]]:
    """BGR frame -> (3, size, size) RGB, whole frame squashed with INTER_AREA (no crop).

    Its ``rgb`` side takes an RGB frame (the PNG fast path decodes RGB) and gives the same bytes:
    INTER_AREA treats each channel alike, so resizing then reordering equals reordering then
    resizing (tests/export/test_export_decode.py).
    """
    import cv2

    def finish(small: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
        chw = small.transpose(2, 0, 1)
        if dtype == "uint8":
            return np.ascontiguousarray(chw)
        return np.divide(chw, 255.0, dtype=np.float32)

    def bgr(img: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
        small = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        return finish(np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB), np.uint8))

    def rgb(img: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
        return finish(np.asarray(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA),
                                 np.uint8))

    return FrameTransform(bgr, rgb)


@dataclass(frozen=True)
class PtPlan:
    """The windows a ``.pt`` export writes, their repeated frames and what was left out."""

    windows: WindowPlan
    repeats: WindowRepeats
    cut: dict[str, Any] | None  # --max-repeat-frames: its value and the windows dropped

    def source(self, src: ExportSource) -> dict[str, Any]:
        """The session's ``source`` of the meta, with ``repeat_cut`` when the flag was given."""
        return {**_source(src), **({"repeat_cut": self.cut} if self.cut is not None else {})}

    def summary(self) -> dict[str, Any]:
        """The repeats of the windows written, for :attr:`ConvertResult.repeats`."""
        c = self.repeats.counts
        return {"repeated_frames": int(c.sum()), "windows": len(c),
                "windows_with_repeats": int((c > 0).sum()), "cut": self.cut}


def plan_pt(src: ExportSource, settings: ConvertSettings) -> PtPlan:
    """Every window of the session, less those ``--max-repeat-frames`` leaves out.

    The one plan of a ``.pt`` export: :func:`convert_pt` and a batch's parts
    (:mod:`.batch.tasks`) both take their windows from here, so they write the same windows.
    """
    plan = plan_windows(src.timestamps, src.segments(), seq_len=settings.seq_len,
                        shift=settings.action_shift, action_hz=settings.action_hz)
    reps = window_repeats(src.timestamps, plan.starts, plan.segments, seq_len=plan.seq_len,
                          shift=plan.shift, action_hz=plan.action_hz, period=src.period_ns)
    n = settings.max_repeat_frames
    if n is None:
        return PtPlan(plan, reps, None)
    keep = reps.runs <= n
    cut = {"max_repeat_frames": n, "windows": int((~keep).sum())}
    return PtPlan(dataclasses.replace(plan, starts=plan.starts[keep]), reps.select(keep), cut)


def iter_window_actions(src: ExportSource, plan: WindowPlan) -> Iterator[npt.NDArray[np.float32]]:
    """The (T, D) action chunk of each window, in window order."""
    t, s = plan.seq_len, plan.shift
    if plan.action_hz is None:
        rows = src.frame_rows()
        for i in plan.starts:
            yield rows[i + s:i + s + t]
        return
    res, step = src.resampler(), step_ns(plan.action_hz)
    for i in plan.starts:
        b = res.bin_grid(plan.grid(int(src.timestamps[i])), step)
        yield src.map(b.actions, b.mouse_deltas, b.gamepad)


def iter_window_sources(src: ExportSource, plan: WindowPlan) -> Iterator[npt.NDArray[np.int8]]:
    """The (T,) ``action_source`` of each window's steps, in window order (.action_source)."""
    t, s = plan.seq_len, plan.shift
    if plan.action_hz is None:
        for i in plan.starts:
            yield src.row_source[i + s:i + s + t]
        return
    seg_starts = np.array([a for a, _ in plan.segments], dtype=np.int64)
    for i in plan.starts:
        seg = plan.segments[int(np.searchsorted(seg_starts, i, side="right")) - 1]
        yield sources_at(src.row_source, src.timestamps, seg, plan.grid(int(src.timestamps[i])))


def _meta(src: ExportSource, pt: PtPlan, sel: slice, shard: int, shards: int,
          obs_shape: list[int]) -> dict[str, Any]:
    plan = pt.windows
    rows = plan.starts[sel]
    fi = np.asarray(src.arrays["frame_indices"], dtype=np.int64)
    s = src.settings
    return {
        "format": PT_FORMAT, "format_version": 1,
        "tool": {"name": "nitrogen-capture", "version": __version__},
        "source": pt.source(src),
        "params": {**s.params(), "keymap": None if src.use_pad else src.keymap.to_dict()},
        "action_space": s.action_space, "action_names": list(src.action_names),
        "action_dim": len(src.action_names),
        # the action_source tensor's values (export/action_source.py)
        "action_source_names": list(SOURCE_NAMES),
        "obs": {"shape": obs_shape, "dtype": s.obs_dtype, "channels": "RGB",
                "range": "0-1" if s.obs_dtype == "float32" else "0-255",
                "resize": "whole frame, cv2.INTER_AREA, no crop"},
        "num_windows": len(rows), "total_windows": len(plan), "first_window": sel.start or 0,
        "shard": shard, "num_shards": shards,
        "segments": [list(x) for x in plan.segments],
        "repeated_frames": int(pt.repeats.counts[sel].sum()),
        "windows": {"row": rows.tolist(), "frame_index": fi[rows].tolist(),
                    "t_ns": src.timestamps[rows].tolist(),
                    "chunk": src.row_chunk[rows].tolist(),
                    "chunk_row": src.chunk_row[rows].tolist(),
                    **repeat_columns(pt.repeats, sel)},
    }


def repeat_columns(reps: WindowRepeats, sel: slice) -> dict[str, list[int]]:
    """The ``windows`` columns of the repeats of windows ``sel`` (docs/export.md)."""
    return {"repeated_frames": reps.counts[sel].tolist(), "repeat_run": reps.runs[sel].tolist()}


def convert_pt(settings: ConvertSettings, *, progress: Progress | None = None,
               free_bytes: FreeBytes = disk_free,
               size_note: SizeNote | None = None) -> ConvertResult:
    """Write the ``.pt`` export (or its shards and index) described by ``settings``.

    ``size_note`` gets the estimated size (:func:`pt_size_estimate`) before the first byte.
    """
    # A session being recorded or merged is refused (docs/format.md, "Lock").
    check_not_locked(SessionPaths(settings.root), "convert")
    src = ExportSource(settings)
    audio = pt_audio(src)  # --audio-features: refused here when the session has no audio
    pt = plan_pt(src, settings)
    plan = pt.windows
    m, size = len(plan), settings.img_size
    if m == 0 and pt.cut is not None and pt.cut["windows"]:
        raise ExportError(
            f"session {settings.root}: every window ({pt.cut['windows']}) holds more than "
            f"{pt.cut['max_repeat_frames']} repeated frames in a row: raise --max-repeat-frames "
            "(or leave it out to keep them, marked)")
    if m == 0:
        raise ExportError(
            f"session {settings.root} has no window of {settings.seq_len} steps (shift "
            f"{settings.action_shift}) inside one contiguous segment (segments: "
            f"{[b - a for a, b in plan.segments]} frames): lower --seq-len or record longer")
    per_shard = settings.shard_frames or m
    n_shards = -(-m // per_shard)
    files, index = shard_paths(settings.out, n_shards)
    check_pt_outputs(files, index, settings.overwrite)
    d = len(src.action_names)
    estimate = pt_size_estimate(m, size, settings.obs_dtype, settings.seq_len, d)
    check_space(settings.out, estimate + n_shards * (1 << 20), free_bytes,
                f"{m} windows of {settings.obs_dtype} 3x{size}x{size} + {settings.seq_len}x{d}")
    if size_note is not None:
        size_note(estimate, index or settings.out)
    keep = existing_level(settings.out.parent)
    result = ConvertResult(index=index, windows=m, idle=src.idle, repeats=pt.summary(),
                           shift_note=action_shift_note(
                               settings.action_shift, settings.action_shift_set,
                               src.latency_offset_ns, src.latency_source))
    try:
        settings.out.parent.mkdir(parents=True, exist_ok=True)
        log.info("converting %s: %d windows in %d file(s)", settings.root, m, n_shards)
        _write_shards(src, pt, files, per_shard, result, progress, audio)
        if index is not None:
            write_shard_index(index, files, per_shard, m, settings, size=size,
                              seq_len=settings.seq_len, action_names=list(src.action_names),
                              provenance={"source": pt.source(src)})
    except BaseException as exc:
        prune_empty(settings.out.parent, keep)  # a folder made for the export and left empty
        if isinstance(exc, DiskSpaceError) or not is_disk_full(exc):
            raise
        done = len(result.files)
        kept = (f"; the {done} shard(s) written before it are whole" if done else
                " (nothing was written)")
        where = files[done] if done < len(files) else (index or settings.out)
        raise disk_full_error(where, estimate, "the export", "free some space (or use a "
                              "smaller --img-size, or another --out) and run convert again"
                              + kept) from exc
    return result


def _write_shards(src: ExportSource, pt: PtPlan, files: list[Path], per_shard: int,
                  result: ConvertResult, progress: Progress | None = None,
                  audio: PtAudio | None = None) -> None:
    """Stream each shard's windows into its file (each written whole or not at all).

    ``audio`` adds the ``audio_logmel`` tensor and the meta's ``audio_features`` (:mod:`.pt_audio`).
    """
    plan = pt.windows
    settings, m, size = src.settings, len(plan), src.settings.img_size
    n_shards, d = len(files), len(src.action_names)
    transform = obs_transform(size, settings.obs_dtype)
    frames = src.iter_frames(plan.starts.tolist(), transform)
    actions = iter_window_actions(src, plan)
    sources = iter_window_sources(src, plan)
    sounds = audio.slices(src.timestamps[plan.starts]) if audio is not None else None
    for k, path in enumerate(files):
        sel = slice(k * per_shard, min(m, (k + 1) * per_shard))
        n = sel.stop - sel.start
        obs = TensorSpec("0", settings.obs_dtype, (n, 3, size, size))
        act = TensorSpec("1", "float32", (n, settings.seq_len, d))
        who = TensorSpec("2", "int8", (n, settings.seq_len))
        meta = _meta(src, pt, sel, k, n_shards, [n, 3, size, size])
        tensors: dict[str, Any] = {"obs": obs, "actions": act, SOURCE_COLUMN: who}
        mel = TensorSpec("3", "float32", audio.shape(n)) if audio is not None else None
        if mel is not None and audio is not None:
            tensors[AUDIO_KEY] = mel
            meta["audio_features"] = audio.meta()
        # Ctrl+C or any error: no temporary is left behind, the old file stays (atomic.py).
        with atomic_path(path) as tmp, \
                PtWriter(tmp, {**tensors, "meta": meta}, archive=path.name) as w:
            with w.storage(obs) as f:
                for _ in range(n):
                    f.write(next(frames))
                    result.frames += 1
                    if progress is not None:
                        progress(result.frames, m)
            with w.storage(act) as f:
                for _ in range(n):
                    f.write(np.ascontiguousarray(next(actions), dtype=np.float32))
            with w.storage(who) as f:
                for _ in range(n):
                    f.write(np.ascontiguousarray(next(sources), dtype=np.int8))
            if mel is not None and sounds is not None:
                with w.storage(mel) as f:
                    for _ in range(n):
                        f.write(next(sounds))
        result.files.append(path)
        result.bytes += path.stat().st_size


def write_shard_index(index: Path, files: list[Path], per_shard: int, total: int,
                      settings: ConvertSettings, *, size: int, seq_len: int,
                      action_names: list[str], provenance: dict[str, Any]) -> None:
    """The ``<stem>.index.json`` of ``--shard-frames`` shards, written atomically.

    ``provenance`` is ``{"source": ...}`` for one session, ``{"sources": [...]}`` for a batch
    (docs/export.md, "Many sessions").
    """
    entries = [{"file": p.name, "first_window": k * per_shard,
                "num_windows": min(total, (k + 1) * per_shard) - k * per_shard}
               for k, p in enumerate(files)]
    doc = {"format": INDEX_FORMAT, "format_version": 1, "total_windows": total,
           "obs_shape": [3, size, size], "obs_dtype": settings.obs_dtype,
           "seq_len": seq_len, "action_names": action_names, "params": settings.params(),
           **provenance, "shards": entries}
    atomic_write(index, json.dumps(doc, indent=2).encode("utf-8"))


def _source(src: ExportSource) -> dict[str, Any]:
    """Where the export came from, with the session's labels and episode.

    The labels: game, notes, controller, task, outcome, tags; ``episode``: the session's place
    in a ``record --episodes`` run, or None.
    """
    episode = src.reader.meta.episode
    return {**src.source_meta(), **src.reader.meta.effective_labels.to_json(),
            "episode": episode.to_json() if episode else None}

