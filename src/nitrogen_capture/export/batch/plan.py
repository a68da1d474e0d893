"""What a batch conversion will do: the sessions it found and the tasks it cuts them into.

A task is one session, or one bounded stretch of a long one (``--task-frames`` rows of
observation frames), so no task holds more than a bounded amount of work or memory, and a retried
or resumed task redoes little. Task ids are stable (a hash of the session's resolved path plus
the segment number), so a rerun finds the parts an earlier run finished
(docs/export.md, "Many sessions").
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ...errors import ConfigError, NitrogenCaptureError
from ...inputfiles import read_input_text
from ...session.library import scan_tree
from ...session.meta import SessionMeta
from ...session.paths import META_NAME, SessionPaths

__all__ = ["DEFAULT_TASK_FRAMES", "MAX_LIST_BYTES", "Collected", "Planned", "Task",
           "collect_sessions", "few", "one_line", "path_hash", "plan_tasks", "read_session_list",
           "task_id"]

# Five minutes at 60 fps: a task decodes at most this many frames (~10-30 s of CPU on one
# core at 720p), whatever the session's length.
DEFAULT_TASK_FRAMES = 18_000
# A --sessions list: 100,000 paths of 160 characters.
MAX_LIST_BYTES = 16_000_000


@dataclass(frozen=True)
class Task:
    """One unit of work: rows ``[first_row, last_row)`` of one session.

    ``last_row`` None: to the end. ``segment``/``segments`` number it within its session.
    """

    task_id: str
    session: Path
    segment: int
    segments: int
    first_row: int
    last_row: int | None


@dataclass(frozen=True)
class Planned:
    """The tasks of every readable session, and the sessions refused while planning."""

    sessions: tuple[Path, ...]
    tasks: tuple[Task, ...]
    failed: dict[Path, str]
    frames: dict[Path, int]


def read_session_list(path: Path) -> list[Path]:
    """Session paths listed in a text file, one a line (``#`` comments, blank lines skipped).

    Relative paths are relative to the file's folder. The file is read by
    :func:`~nitrogen_capture.inputfiles.read_input_text`: a FIFO, a device or a list over
    :data:`MAX_LIST_BYTES` is one ConfigError line, never a hang.
    """
    text = read_input_text(path, what="--sessions list", max_bytes=MAX_LIST_BYTES,
                           error=partial(ConfigError, setting="sessions"),
                           missing=f"--sessions {path}: cannot read it (no such file)")
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            p = Path(line)
            out.append(p if p.is_absolute() else path.parent / p)
    return out


@dataclass(frozen=True)
class Collected:
    """What a batch converts: ``paths`` in output order, and why some of them cannot be read.

    ``refused`` maps a path of ``paths`` (a folder the library scan could not search, e.g.
    ``unreadable: permission denied``, ``too deep: ...``) to its reason; :func:`plan_tasks`
    lists each as failed and converts the others.
    """

    paths: list[Path]
    refused: dict[Path, str]


def collect_sessions(roots: Sequence[Path], *, recursive: bool,
                     listed: Iterable[Path] = ()) -> Collected:
    """Every session to convert: each root (its sessions with ``recursive``) and each listed one.

    Resolved, without duplicates, in sorted order (the order of the output). A folder the
    recursive scan could not search (:func:`~nitrogen_capture.session.library.scan_tree`) is
    in ``refused`` with its reason, so one bad folder never stops the others.
    """
    found: set[Path] = set()
    refused: dict[Path, str] = {}
    for root in roots:
        if not root.is_dir():
            raise ConfigError(f"--root {root} is not a directory", setting="root")
        if recursive:
            hits = list(scan_tree(root))
            if not hits:
                raise ConfigError(f"--root {root}: no session (a folder with {META_NAME}) under "
                                  "it", setting="root")
            for hit in hits:
                found.add(hit.path.resolve())
                if hit.problem is not None:
                    refused[hit.path.resolve()] = hit.problem
        else:
            found.add(root.resolve())
    for p in listed:
        try:
            is_dir = stat.S_ISDIR(os.stat(p).st_mode)
        except FileNotFoundError:
            is_dir = False
        except OSError as exc:  # e.g. inside a folder it may not enter: that one fails alone
            refused[p.resolve()] = f"unreadable: {(exc.strerror or str(exc)).lower()}"
            found.add(p.resolve())
            continue
        if not is_dir:
            raise ConfigError(f"--sessions: {p} is not a directory", setting="sessions")
        found.add(p.resolve())
    return Collected(sorted(found), refused)


def path_hash(session: Path) -> str:
    """A short stable hash of a session's path (12 hex digits).

    A path that is not UTF-8 (its bytes as lone surrogates, PEP 383) is hashed as it is held.
    """
    return hashlib.sha256(str(session).encode("utf-8", "surrogatepass")).hexdigest()[:12]


def task_id(session: Path, segment: int) -> str:
    """A stable name for a task: the session's folder name, a hash of its path, the segment."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in session.name)[:40]
    return f"{safe}-{path_hash(session)}-{segment:04d}"


def session_rows(session: Path) -> int:
    """Rows the session's merged arrays will have (from ``meta.json`` alone)."""
    meta = SessionMeta.load(SessionPaths(session).meta)
    return sum(c.num_frames for c in meta.included_chunks())


def plan_tasks(sessions: Sequence[Path], *, task_frames: int, split: bool,
               refused: Mapping[Path, str] | None = None) -> Planned:
    """Cut each session into tasks of at most ``task_frames`` rows (one task when not ``split``).

    A session whose ``meta.json`` cannot be read, or a path in ``refused`` (with its reason,
    :class:`Collected`), is not planned: it is in ``failed`` with the reason, and the others go
    on.
    """
    tasks: list[Task] = []
    failed: dict[Path, str] = dict(refused or {})
    frames: dict[Path, int] = {}
    for s in sessions:
        if s in failed:
            continue
        try:
            rows = session_rows(s)
        except NitrogenCaptureError as exc:
            failed[s] = one_line(exc)
            continue
        frames[s] = rows
        n = max(1, -(-rows // task_frames)) if split else 1
        for k in range(n):
            last = (k + 1) * task_frames if k < n - 1 else None
            tasks.append(Task(task_id(s, k), s, k, n, k * task_frames if n > 1 else 0, last))
    return Planned(tuple(sessions), tuple(tasks), failed, frames)


def one_line(exc: BaseException) -> str:
    """An error as one short line (the summary's reason column)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def few(items: list[str]) -> str:
    """The first three of ``items`` and how many more, for a one-line message."""
    return ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")
