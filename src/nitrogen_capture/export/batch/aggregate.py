"""Merge the parts of a batch into one output, in a fixed order, so any engine gives the same bytes.

Parts are taken in the order of (session path, segment): the order of the sessions sorted, not
the order the workers finished in. ``pt``: every window of every part streamed into
``--out`` (or ``--shard-frames`` shards + one index), the meta naming each window's source
session; ``nitrogen-dataset``: each session's chunk folders moved into one tree; ``lerobot``:
each session's episodes joined into one dataset (:mod:`.lerobot_merge`); each format's object
calls its merger (:meth:`~..formats.ExportFormat.merge`). A session whose
part cannot be merged (e.g. another action layout than the first session's, with
``--action-space raw``) is reported failed, and the others are merged.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ... import __version__
from ...atomic import atomic_path
from ...errors import ExportError
from ..action_source import SOURCE_COLUMN, SOURCE_NAMES
from ..common import check_space
from ..dataset_tree import check_session_folder
from ..nitrogen import (
    PT_FORMAT,
    check_pt_outputs,
    pt_size_estimate,
    shard_paths,
    write_shard_index,
)
from ..ptfile import PtWriter, TensorSpec
from ..settings import ConvertSettings
from .merged import Merged, parts_of

__all__ = ["Merged", "merge_dataset", "merge_pt", "parts_of"]

_BLOCK = 64  # windows copied at a time: a few MB, whatever the part's size


def _copy(f: Any, path: Path, lo: int, hi: int) -> None:
    arr = np.load(path, mmap_mode="r")
    for a in range(lo, hi, _BLOCK):
        f.write(np.ascontiguousarray(arr[a:min(hi, a + _BLOCK)]))


def merge_pt(settings: ConvertSettings, staging: Path, task_ids: Sequence[str]) -> Merged:
    """Stream the windows of the parts ``task_ids`` (in that order) into the ``.pt`` output."""
    parts, merged = parts_of(staging, task_ids), Merged()
    names = next((p["action_names"] for p in parts if p["windows"]), None)
    for p in parts:
        if p["action_names"] != names:
            merged.failed[p["session"]] = (f"its {len(p['action_names'])} action names differ "
                                           "from the first session's (another key layout?)")
    parts = [p for p in parts if p["session"] not in merged.failed and p["windows"]]
    m = sum(p["windows"] for p in parts)
    if m == 0 or names is None:
        raise ExportError("no session gave a training window: nothing to write")
    size, t, d = settings.img_size, settings.seq_len, len(names)
    per_shard = settings.shard_frames or m
    n_shards = -(-m // per_shard)
    files, index = shard_paths(settings.out, n_shards)
    check_pt_outputs(files, index, settings.overwrite)
    check_space(settings.out, pt_size_estimate(m, size, settings.obs_dtype, t, d)
                + n_shards * (1 << 20), lambda p: shutil.disk_usage(_existing(p)).free,
                f"{m} windows of {settings.obs_dtype} 3x{size}x{size} + {t}x{d}")
    sources: list[dict[str, Any]] = []
    where: list[tuple[int, dict[str, Any], int]] = []  # (source number, part, first window)
    first = 0
    for p in parts:
        if not sources or sources[-1]["root"] != p["source"]["root"]:
            sources.append({**p["source"], "keymap": p["keymap"], "segments": p["segments"]})
        where.append((len(sources) - 1, p, first))
        first += p["windows"]
    for k, path in enumerate(files):
        a, b = k * per_shard, min(m, (k + 1) * per_shard)
        spans = [(src, p, max(a, lo) - lo, min(b, lo + p["windows"]) - lo)
                 for src, p, lo in where if lo < b and lo + p["windows"] > a]
        meta = _meta(settings, names, sources, spans, (a, b, m), (k, n_shards))
        obs = TensorSpec("0", settings.obs_dtype, (b - a, 3, size, size))
        act = TensorSpec("1", "float32", (b - a, t, d))
        who = TensorSpec("2", "int8", (b - a, t))
        with atomic_path(path) as tmp, \
                PtWriter(tmp, {"obs": obs, "actions": act, SOURCE_COLUMN: who, "meta": meta},
                         archive=path.name) as w:
            with w.storage(obs) as f:
                for _, p, lo, hi in spans:
                    _copy(f, p["dir"] / "obs.npy", lo, hi)
            with w.storage(act) as f:
                for _, p, lo, hi in spans:
                    _copy(f, p["dir"] / "actions.npy", lo, hi)
            with w.storage(who) as f:
                for _, p, lo, hi in spans:
                    _copy(f, p["dir"] / "action_source.npy", lo, hi)
        merged.outputs.append(path)
    if index is not None:
        write_shard_index(index, files, per_shard, m, settings, size=size, seq_len=t,
                          action_names=names, provenance={"sources": sources})
        merged.outputs.append(index)
    merged.windows = merged.frames = m
    merged.repeated_frames = sum(sum(p["rows"]["repeated_frames"]) for p in parts)
    return merged


def _existing(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _meta(settings: ConvertSettings, names: list[str], sources: list[dict[str, Any]],
          spans: list[tuple[int, dict[str, Any], int, int]], window: tuple[int, int, int],
          shard: tuple[int, int]) -> dict[str, Any]:
    a, b, m = window
    size = settings.img_size
    keys = ("row", "frame_index", "t_ns", "chunk", "chunk_row", "repeated_frames", "repeat_run")
    cols: dict[str, list[int]] = {"session": [], **{k: [] for k in keys}}
    for src, p, lo, hi in spans:
        cols["session"] += [src] * (hi - lo)
        for key in keys:
            cols[key] += p["rows"][key][lo:hi]
    return {
        "format": PT_FORMAT, "format_version": 1,
        "tool": {"name": "nitrogen-capture", "version": __version__},
        "sources": sources, "params": settings.params(),
        "action_space": settings.action_space, "action_names": names, "action_dim": len(names),
        "action_source_names": list(SOURCE_NAMES),
        "obs": {"shape": [b - a, 3, size, size], "dtype": settings.obs_dtype, "channels": "RGB",
                "range": "0-1" if settings.obs_dtype == "float32" else "0-255",
                "resize": "whole frame, cv2.INTER_AREA, no crop"},
        "num_windows": b - a, "total_windows": m, "first_window": a,
        "shard": shard[0], "num_shards": shard[1],
        "repeated_frames": sum(cols["repeated_frames"]), "windows": cols,
    }


def merge_dataset(settings: ConvertSettings, staging: Path, task_ids: Sequence[str]) -> Merged:
    """Move each part's ``actions/SHARD_0000/<video_id>`` folder into the output tree."""
    merged = Merged()
    shard = settings.out / "actions" / "SHARD_0000"
    shard.mkdir(parents=True, exist_ok=True)
    for p in parts_of(staging, task_ids):
        vid = p["video_id"]
        src, dst = p["dir"] / "actions" / "SHARD_0000" / vid, shard / vid
        if src.is_dir():
            if dst.exists():  # an earlier merge of this batch stopped halfway
                check_session_folder(dst, overwrite=True)  # only chunks this tool wrote
                shutil.rmtree(dst)
            os.replace(src, dst)
        elif not dst.is_dir():
            merged.failed[p["session"]] = "its part was lost before the merge: run again"
            continue
        merged.outputs.append(dst)
        merged.windows += int(p["windows"])
        merged.frames += int(p["frames"])
        merged.repeated_frames += int(p.get("repeated_frames") or 0)
    if not merged.outputs:
        raise ExportError("no session gave a dataset chunk: nothing to write")
    return merged
