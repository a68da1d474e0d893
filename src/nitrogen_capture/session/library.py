"""The library view: one summary row per session found under a directory (``sessions DIR``).

Fast on hundreds of sessions: a row reads ``meta.json`` (and the lock file) only, plus one
``os.scandir`` walk of the session for its size on disk; no array, journal or frame is opened.
A session is a directory holding ``meta.json``. The search never follows a symbolic link (a
link out of DIR is not part of the library) and never descends into a session it found (its
``frames/`` tree holds thousands of files and no sessions).

One bad entry never stops the scan (:func:`scan_tree`): a damaged, oversized or special
``meta.json`` (a FIFO, a device, a directory) gives a row whose status is ``damaged: <reason>``;
a folder that cannot be listed gives ``unreadable: <reason>``; a folder more than
:data:`MAX_DEPTH` levels below DIR that still has subfolders gives ``too deep: ...`` and is not
searched further. The search is a loop over a stack, not a recursion, so no tree is too deep
for Python's recursion limit.
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
from .meta_episode import EpisodeInfo
from .paths import META_NAME, SessionPaths, is_session, run_merge

__all__ = ["MAX_DEPTH", "NO_OUTCOME", "UNSEARCHED_STATUSES", "Found", "LibraryRow", "RowFilter",
           "filter_rows", "find_sessions", "library_row", "row_name", "scan_library", "scan_tree",
           "session_row"]


# Folders searched below DIR: a library is a few levels deep (game/day/session); far deeper is a
# mistake or a trap (a tree thousands of levels deep), listed as one row instead.
MAX_DEPTH = 32
# Statuses of a folder that could not be searched, and of any row whose numbers are unknown.
UNSEARCHED_STATUSES = ("unreadable", "too deep")
PROBLEM_STATUSES = ("damaged", *UNSEARCHED_STATUSES)


@dataclass(frozen=True)
class Found:
    """One entry of a library scan: a session, or a folder that could not be searched."""

    path: Path
    problem: str | None = None  # None: a session; else the row's status, e.g. "unreadable: ..."


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
    task: str = ""
    outcome: str | None = None
    tags: tuple[str, ...] = ()
    episode: EpisodeInfo | None = None  # record --episodes: the session's place in its run

    @property
    def episode_label(self) -> str:
        """``2/5`` (``2`` for a run without a count), `` try 2`` for a re-recording; ``-``."""
        e = self.episode
        if e is None:
            return "-"
        return f"{e.index}" + (f"/{e.count}" if e.count else "") + (
            f" try {e.attempt}" if e.attempt > 1 else "")

    @property
    def problem(self) -> bool:
        """Whether this row is a damaged session or a folder that could not be searched."""
        return self.status.startswith(PROBLEM_STATUSES)

    @property
    def is_session(self) -> bool:
        """Whether this row is a session (a damaged one too), not a folder left unsearched."""
        return not self.status.startswith(UNSEARCHED_STATUSES)

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON object (``sessions --json``)."""
        return asdict(self)


def scan_tree(top: Path) -> Iterator[Found]:
    """Every session under ``top`` (``top`` itself included), and each folder not searched.

    :class:`Found` entries, in sorted path order; see the module doc for the problems.
    """
    stack: list[tuple[Path, int]] = [(top, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            # A damaged session (a FIFO or a directory as meta.json) is listed, not searched.
            session = is_session(folder)
        except OSError as exc:
            yield Found(folder, _unreadable(exc))
            continue
        if session:
            yield Found(folder)
            continue
        try:
            with os.scandir(folder) as it:
                subs = sorted(e.name for e in it if _is_folder(e))
        except OSError as exc:
            yield Found(folder, _unreadable(exc))
            continue
        if subs and depth >= MAX_DEPTH:
            yield Found(folder, f"too deep: more than {MAX_DEPTH} folders below the top, its "
                                f"{len(subs)} subfolder(s) not searched")
            continue
        stack.extend((folder / name, depth + 1) for name in reversed(subs))


def find_sessions(top: Path) -> Iterator[Path]:
    """Every session directory under ``top`` (``top`` itself included), in sorted order.

    Folders :func:`scan_tree` could not search are left out; callers that list them use it.
    """
    return (f.path for f in scan_tree(top) if f.problem is None)


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:  # it vanished, or cannot be stat'ed: nothing to search there
        return False


def _unreadable(exc: OSError) -> str:
    return f"unreadable: {(exc.strerror or type(exc).__name__).lower()}"


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
        return f"interrupted ({run_merge()})"
    if meta.status == "recording":
        return f"interrupted ({run_merge()})"
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


def row_name(path: Path, top: Path) -> str:
    """A row's ``session``: the path relative to ``top`` with ``/``, or ``.`` for ``top``."""
    return path.relative_to(top).as_posix() if path != top else "."


def library_row(found: Found, top: Path) -> LibraryRow:
    """The row of one scan entry: the session's, or the folder's with its problem."""
    if found.problem is not None:
        return LibraryRow(row_name(found.path, top), found.problem)
    try:
        return session_row(found.path, top)
    except OSError as exc:  # e.g. its lock or merged files cannot be stat'ed
        return LibraryRow(row_name(found.path, top), _unreadable(exc))


def session_row(root: Path, top: Path) -> LibraryRow:
    """The row of session ``root`` (its name relative to ``top``)."""
    name = row_name(root, top)
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
        meta.fps_achieved, meta.counters.dropped_ticks, merged, labels.task, labels.outcome,
        labels.tags, meta.episode)


def scan_library(top: Path) -> list[LibraryRow]:
    """The rows of every session under ``top``, and of each folder that was not searched."""
    return [library_row(found, top) for found in scan_tree(top)]


# The --outcome word of a session whose outcome is not marked (meta.json null).
NO_OUTCOME = "none"


@dataclass(frozen=True)
class RowFilter:
    """Which sessions ``sessions`` shows (None / empty: any).

    ``game`` matches the game exactly but for case; ``task`` is a case-insensitive substring of
    the task; ``outcome`` is one of the outcomes or :data:`NO_OUTCOME`; every one of ``tags``
    must be on the session; ``episode_run`` is the run of a ``record --episodes`` session.
    """

    game: str | None = None
    task: str | None = None
    outcome: str | None = None
    tags: tuple[str, ...] = ()
    episode_run: str | None = None

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any(v not in (None, ()) for v in asdict(self).values())

    def matches(self, row: LibraryRow) -> bool:
        """Whether ``row`` passes every filter set."""
        return ((self.game is None or (row.game or "").casefold() == self.game.casefold())
                and (self.task is None or self.task.casefold() in row.task.casefold())
                and (self.outcome is None
                     or (row.outcome or NO_OUTCOME) == self.outcome)
                and set(self.tags) <= set(row.tags)
                and (self.episode_run is None
                     or (row.episode is not None and row.episode.run == self.episode_run)))


def filter_rows(rows: list[LibraryRow], keep: RowFilter) -> tuple[list[LibraryRow], int]:
    """The rows ``keep`` matches and how many it left out.

    A row whose labels are unknown (a damaged session, a folder not searched) is always kept:
    whether it matches cannot be told, and hiding it would hide the problem.
    """
    shown = [r for r in rows if r.problem or keep.matches(r)]
    return shown, len(rows) - len(shown)
