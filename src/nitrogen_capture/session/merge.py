"""Merge a session's chunks into the dataset files (docs/architecture.md section 7, docs/format.md).

:func:`merge_session` first runs :func:`~nitrogen_capture.session.repair.repair_session` (so a
session killed mid-chunk merges in one step), then concatenates every complete chunk's arrays in
chunk order into ``actions.npy``, ``mouse_deltas.npy``, ``frame_indices.npy``, ``timestamps.npy``,
``gamepad.npy`` (when recorded), ``os_timestamps.npy`` and ``repeated.npy`` (when the source
stamped its frames) and ``events.npy``, the same arrays into ``dataset.npz``, and as
torch tensors into ``dataset.pt`` when torch is installed.

Only the per-frame arrays are read (a few dozen bytes per frame), never the frames, so memory stays
small for hours of recording. Every output is first written under a temporary name and only
when all are written are they renamed (``os.replace``): a crash or a full disk during merge
leaves the previous outputs, never a mix or a torn file, and a full disk is named in one line
with the space needed and free (diskspace.py). Chunk files are only read, never changed; a
chunk whose frames sit behind a symbolic link or outside the session is refused
(``skip_bad`` leaves it out).
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..diskspace import check_free, on_disk, said_when_full
from ..errors import SessionFormatError
from ..keylayout import PAD_AXES, PAD_BUTTONS
from .audio_merge import merge_audio
from .chunkcheck import check_chunk_arrays
from .frametimes import set_frame_time_counts
from .input_check import PREFIX as INPUT_CHECK
from .input_check import input_warnings
from .io import Data, data_size, json_bytes, write_together
from .lock import SessionLock
from .meta import ChunkEntry, MergedInfo
from .paths import META_NAME, SessionPaths, run_merge
from .reader import SessionReader
from .repair import RepairReport, repair_session
from .timeline import achieved_fps
from .unbegun import never_began, never_began_message

__all__ = ["MergeReport", "merge_session"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergeReport:
    """Result of :func:`merge_session`.

    Attributes:
        frames: rows in the merged arrays.
        chunks: indices of the chunks merged, in order.
        skipped: ``(chunk index, reason)`` of chunks left out (``skip_bad`` or incomplete).
        files: names of the files written.
        torch_written: whether ``dataset.pt`` was written.
        notes: anything else worth telling the user (e.g. torch missing).
    """

    root: Path
    frames: int
    chunks: tuple[int, ...]
    skipped: tuple[tuple[int, str], ...]
    files: tuple[str, ...]
    torch_written: bool
    repair: RepairReport
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """A few readable lines for the CLI."""
        lines = []
        if self.repair.changed:
            lines.append(self.repair.summary())
        lines.append(f"merged {self.frames} frames from {len(self.chunks)} chunks into "
                     f"{self.root}: {', '.join(self.files)}")
        lines += [f"skipped chunk {i}: {why}" for i, why in self.skipped]
        lines += list(self.notes)
        return "\n".join(lines)


def merge_session(root: str | Path, *, progress: Callable[[int, int], None] | None = None,
                  skip_bad: bool = False) -> MergeReport:
    """Repair, then merge every complete chunk of the session at ``root``.

    ``progress(done, total)`` is called after each chunk (the CLI draws it as a bar).

    Merge holds the session lock (docs/format.md, "Lock") for its whole run: a session being
    recorded, or merged by another process, is refused; a stale lock is removed.

    Raises:
        SessionFormatError: a chunk is damaged and ``skip_bad`` is False (nothing is written).
        SchemaVersionError: the session comes from a newer format version.
        SessionLockedError: the session is being recorded or merged.
    """
    with SessionLock.acquire(SessionPaths(root), "merge") as lock:
        return _merge(root, lock, progress=progress, skip_bad=skip_bad)


def _merge(root: str | Path, lock: SessionLock, *, progress: Callable[[int, int], None] | None,
           skip_bad: bool) -> MergeReport:
    left = SessionPaths(root)
    if (lock.reclaimed is not None and lock.reclaimed.action == "record"
            and not left.meta.exists() and never_began(left.root, own_lock=True, reclaimed=True)):
        # The stale lock merge just removed was all a recording killed before it began left.
        raise SessionFormatError(never_began_message(left.root))
    repair = repair_session(root, held=lock)
    reader = SessionReader(root)
    paths = SessionPaths(root)
    merged_idx: list[int] = []
    skipped: list[tuple[int, str]] = []
    parts: dict[str, list[npt.NDArray[Any]]] = {}
    for idx, why in repair.refused:
        if not skip_bad:
            raise SessionFormatError(
                f"chunk {idx}: {why}; merge stopped: fix or remove chunk {idx}, or rerun with "
                "--skip-bad to leave it out", chunk=idx)
        log.warning("skipping chunk %d: %s", idx, why)
        skipped.append((idx, why))
    for c in _progress(reader.chunks, progress):
        if any(i == c.index for i, _ in skipped):
            continue
        if not c.complete:
            skipped.append((c.index, "chunk is not complete"))
            continue
        checked = check_chunk_arrays(reader, c)
        problem = checked.problems[0].error() if checked.problems else _frames_problem(reader, c)
        if problem is not None:
            if not skip_bad:
                raise SessionFormatError(
                    f"{problem}; merge stopped: repair or remove chunk {c.index}, or rerun "
                    "with --skip-bad to leave it out", chunk=c.index, path=problem.path
                ) from problem
            log.warning("skipping %s", problem)
            skipped.append((c.index, str(problem)))
            continue
        merged_idx.append(c.index)
        for stem, arr in checked.arrays.items():
            parts.setdefault(stem, []).append(arr)

    empty = reader.concat_arrays([])
    merged = {stem: np.concatenate(parts[stem]) if stem in parts else empty[stem]
              for stem in (*reader.array_names(), "events")}
    outputs: list[tuple[Path, Data]] = [
        (paths.events_merged if stem == "events" else paths.merged(stem), arr)
        for stem, arr in merged.items()]
    outputs.append((paths.npz, _npz_bytes(merged)))
    notes: list[str] = []
    pt = _pt_bytes(merged, reader)
    torch_written = pt is not None
    if pt is not None:
        outputs.append((paths.pt, pt))
    else:
        notes.append("dataset.pt not written: torch is not installed "
                     "(pip install 'nitrogen-capture[torch]')")
    files = [dest.name for dest, _ in outputs]
    frames = len(merged["actions"])
    meta = reader.meta
    meta.merged = MergedInfo(frames, tuple(merged_idx), tuple(i for i, _ in skipped),
                             tuple(files))
    meta.counters = dataclasses.replace(meta.counters, frames=frames)
    if meta.status == "recording":  # merge holds the lock: the recorder died before it could say
        meta.status = "recovered"
    # The one rule on the session's own timestamps (sessions of earlier versions stored a rate
    # that also subtracted pauses outside the recorded frames).
    meta.fps_achieved = round(achieved_fps(merged["frame_indices"], merged["timestamps"],
                                           reader.pauses), 3)
    if reader.has_frame_times:  # the counts of the merged rows (frametimes.py)
        meta.capture = set_frame_time_counts(meta.capture, merged["os_timestamps"],
                                             merged["repeated"])
    # No silent emptiness (input_check.py): this merge's findings replace an earlier merge's,
    # after the recorder's own warnings.
    found = input_warnings(merged["events"], merged["timestamps"], reader.pauses,
                           gamepad=meta.gamepad)
    for w in found:
        log.warning("%s: %s", root, w)
    kept = tuple(w for w in meta.input.warnings if not w.startswith(INPUT_CHECK))
    meta.input = dataclasses.replace(meta.input, warnings=(*kept, *found))
    needed = _write_outputs(Path(root), outputs, len(json_bytes(meta.to_json())))
    audio = merge_audio(paths, meta, merged["timestamps"], skip_bad=skip_bad)
    if audio is not None:  # --audio: the session's one sound file (docs/audio.md)
        files.append(audio)
        meta.merged = dataclasses.replace(meta.merged, files=tuple(files))
    with said_when_full(Path(root), needed, META_NAME,
                        f"free some space and {run_merge()} again (the merged files are whole)"):
        meta.save(paths.meta)
    return MergeReport(Path(root), frames, tuple(merged_idx), tuple(skipped), tuple(files),
                       torch_written, repair, tuple(notes))


def _frames_problem(reader: SessionReader, c: ChunkEntry) -> SessionFormatError | None:
    """Every row's frame exists (existence only: merge never decodes frames)."""
    try:
        present = reader.frames_present(c)
    except SessionFormatError as exc:  # a symbolic link, a location outside the session
        return exc
    if present.all():
        return None
    absent = np.flatnonzero(~present)
    first = ", ".join(reader.frame_store.frame_target(c.index, int(r)).name for r in absent[:3])
    return SessionFormatError(f"chunk {c.index}: {len(absent)} of {c.num_frames} frame files are "
                              f"missing under {reader.frames_path(c)} (first: {first})",
                              chunk=c.index,
                              path=reader.frames_path(c))


def _progress(chunks: list[ChunkEntry],
              progress: Callable[[int, int], None] | None) -> Iterable[ChunkEntry]:
    for done, c in enumerate(chunks, 1):
        yield c
        if progress is not None:
            progress(done, len(chunks))


_TODO = f"free some space and {run_merge()} again (nothing was replaced)"


def _write_outputs(root: Path, outputs: list[tuple[Path, Data]], meta_size: int) -> int:
    """Write every output under a temporary name, then rename them all (docs/format.md).

    A failure (a full disk, Ctrl+C) removes the temporaries and leaves the previous outputs as
    they were; a full disk is one line with the space needed and free (diskspace.py). Returns
    the space it was checked against (``meta_size``: meta.json, written after).
    """
    needed = on_disk([*(data_size(d) for _, d in outputs), meta_size])
    check_free(root, needed, "the merged files", _TODO)
    with said_when_full(root, needed, "the merged files", _TODO):
        write_together(outputs)
    return needed


def _npz_bytes(arrays: dict[str, npt.NDArray[Any]]) -> bytes:
    # No allow_pickle=False: numpy before 2.2 (the package supports >= 1.26; the Windows wheels
    # are 2.1) has no such parameter and stores it as one more array, named "allow_pickle".
    # What it would guard against cannot happen: no merged array holds Python objects.
    if any(a.dtype.hasobject for a in arrays.values()):
        raise ValueError("dataset.npz: an array of Python objects")  # a programming error
    buf = io.BytesIO()
    savez: Callable[..., None] = np.savez  # numpy's stubs type **arrays as allow_pickle too
    savez(buf, **arrays)
    return buf.getvalue()


def _pt_bytes(arrays: dict[str, npt.NDArray[Any]], reader: SessionReader) -> bytes | None:
    """dataset.pt's bytes; None when torch is missing.

    Tensors of the merged arrays plus ``events`` as a dict (``t_ns``, ``value`` tensors,
    ``device``, ``code`` string lists: tensors cannot hold strings) and ``meta`` (layout key
    names, gamepad column names, target fps, schema version). Everything is loadable with
    ``torch.load(weights_only=True)``.
    """
    try:
        import torch
    except ImportError:
        log.info("torch missing: dataset.pt not written")
        return None
    data: dict[str, Any] = {stem: torch.from_numpy(np.ascontiguousarray(arr))
                            for stem, arr in arrays.items() if stem != "events"}
    ev = arrays["events"]
    data["events"] = {"t_ns": torch.from_numpy(ev["t_ns"].astype(np.int64)),
                      "device": [str(d) for d in ev["device"]],
                      "code": [str(c) for c in ev["code"]],
                      "value": torch.from_numpy(ev["value"].astype(np.float64))}
    data["meta"] = {"layout": list(reader.layout.keys), "layout_name": reader.layout.name,
                    "gamepad_columns": [*PAD_BUTTONS, *PAD_AXES] if reader.has_gamepad else [],
                    "fps": reader.meta.fps_target,
                    "schema_version": reader.meta.schema_version}
    buf = io.BytesIO()
    torch.save(data, buf)
    return buf.getvalue()
