"""The library view: one summary row per session found under a directory (``sessions DIR``).

Fast on hundreds of sessions: a row reads ``meta.json`` (and the lock file) only, plus one
``os.scandir`` walk of the session for its size on disk; no array, journal or frame is opened.
A session is a directory holding ``meta.json``. The search never follows a symbolic link (a
link out of DIR is not part of the library) and never descends into a session it found (its
``frames/`` tree holds thousands of files and no sessions). A damaged ``meta.json`` gives a row
whose status is ``damaged: <reason>`` instead of stopping the scan.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import NitrogenCaptureError
from .lock import lock_status
from .meta import SessionMeta
from .paths import META_NAME, SessionPaths

__all__ = ["LibraryRow", "find_sessions", "scan_library"]


@dataclass(frozen=True)
class LibraryRow:
    """One session of the library (``None``: not known, e.g. for a damaged meta.json)."""

    session: str
    status: str
    game: str | None = None
    controller: str | None = None
    date: str | None = None
    duration_s: float | None = None
    size_bytes: int = 0
    frames: int = 0
    fps_achieved: float | None = None
    dropped_ticks: int = 0
    merged: bool = False

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON object (``sessions --json``)."""
        return asdict(self)


def find_sessions(top: Path) -> Iterator[Path]:
    """Every session directory under ``top`` (``top`` itself included), in sorted order."""
    if (top / META_NAME).is_file():
        yield top
        return
    try:
        entries = sorted(os.scandir(top), key=lambda e: e.name)
    except OSError:  # unreadable directory: nothing to list there
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from find_sessions(Path(entry.path))


def disk_size(root: Path) -> int:
    """Bytes of every file under ``root`` (links not followed, unreadable parts skipped)."""
    total, stack = 0, [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    return total


def _local_time(wall: str | None) -> str | None:
    """``t0_wall`` (ISO 8601, UTC) as local ``YYYY-MM-DD HH:MM``; the text itself if unparsable."""
    if not wall:
        return None
    try:
        return _dt.datetime.fromisoformat(wall).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return wall


def _status(paths: SessionPaths, meta: SessionMeta) -> str:
    lock = lock_status(paths)
    if lock is not None and lock.blocks:  # a live (or foreign, or unreadable) lock
        action = lock.holder.action if lock.holder else "record"
        return "recording" if action == "record" else f"busy ({action})"
    journals = paths.open_journals()
    if journals:
        # The recorder died (kill -9, power cut): merge recovers its open chunk, unless the
        # chunk's files are such that merge refuses it (the same rule, repair.py).
        stuck = _unrecoverable(paths, journals)
        if stuck is not None:
            return f"damaged: {stuck} (merge --skip-bad leaves it out)"
        return "interrupted (run merge)"
    if meta.status == "recording":
        return "interrupted (run merge)"
    return meta.status


def _unrecoverable(paths: SessionPaths, journals: dict[int, Path]) -> str | None:
    """``chunk N cannot be recovered`` when merge would refuse an open chunk, else None."""
    from .reader import SessionReader
    from .repair import open_chunk_unsafe

    try:
        reader = SessionReader(paths.root)
    except NitrogenCaptureError:
        return None  # the row's meta.json parsed; what the reader refuses, validate will say
    for number, journal in journals.items():
        if open_chunk_unsafe(reader, number, journal) is not None:
            return f"chunk {number} cannot be recovered"
    return None


def session_row(root: Path, top: Path) -> LibraryRow:
    """The row of session ``root`` (its name relative to ``top``)."""
    name = root.relative_to(top).as_posix() if root != top else "."
    paths = SessionPaths(root)
    size = disk_size(root)
    try:
        meta = SessionMeta.load(paths.meta)
    except NitrogenCaptureError as exc:
        # One short line: the row already names the session, the reason need not repeat it.
        reason = " ".join(str(exc).split()).replace(str(paths.meta), META_NAME)
        reason = reason if len(reason) <= 100 else reason[:97] + "..."
        return LibraryRow(name, f"damaged: {reason}", size_bytes=size)
    chunks = meta.included_chunks() or meta.chunks
    duration = ((max(c.last_t_ns for c in chunks) - min(c.first_t_ns for c in chunks)) / 1e9
                if chunks else None)
    labels = meta.effective_labels
    merged = meta.merged is not None and paths.merged("actions").is_file()
    return LibraryRow(
        name, _status(paths, meta), labels.game, labels.controller, _local_time(meta.clock.t0_wall),
        duration, size, meta.merged.frames if merged and meta.merged else meta.frames_listed,
        meta.fps_achieved, meta.counters.dropped_ticks, merged)


def scan_library(top: Path) -> list[LibraryRow]:
    """The rows of every session under ``top``, sorted by path."""
    return [session_row(root, top) for root in find_sessions(top)]
