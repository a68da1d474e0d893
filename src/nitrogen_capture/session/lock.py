"""The session lock: ``session.lock`` says which process is writing a session right now.

The recorder creates the file before it writes anything else and removes it on every exit path;
``merge`` holds it for its whole run, so a second merge is refused instead of racing. ``repair``
and ``convert`` refuse a locked session; ``validate`` only warns (docs/format.md, "Lock").

The file is created with ``O_CREAT | O_EXCL`` (of two processes, exactly one wins) and holds one
JSON object: ``pid``, ``host``, ``started`` (wall time), ``process_start`` (the holder's start
time from psutil, to tell a reused PID from the holder), ``action`` and ``command``.

A lock outlives a holder killed with ``kill -9`` or a power cut. On the same host a lock whose
process is gone (or whose PID now belongs to a younger process) is *stale*: the next merge,
repair, convert or recording removes it, says so in one log line, and proceeds. A lock from
another host (a session on a network share) is never assumed stale: the error says to delete it
by hand. Removing a stale lock goes through a short-lived guard file, so two processes that both
saw the same stale lock cannot remove each other's fresh one.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ..diskspace import on_disk, said_when_full
from ..errors import SessionFormatError, SessionLockedError
from ..inputfiles import read_input_bytes
from .paths import LOCK_NAME, SessionPaths

__all__ = ["LockHolder", "LockStatus", "SessionLock", "check_not_locked", "lock_status",
           "process_alive"]

log = logging.getLogger(__name__)

_DOING = {"record": "being recorded", "merge": "being merged", "repair": "being repaired"}
_START_SLACK_S = 1.0  # psutil start times of one process agree to far better than this
_SETUP_S = 2.0  # an unreadable lock younger than this is still being written by its creator
_GUARD_STALE_S = 10.0  # a reclaim guard is held for microseconds; older is a crash leftover
_ATTEMPTS = 100
# A lock file is one JSON line of a few hundred bytes (its command line included).
MAX_LOCK_BYTES = 1_000_000
_RETRY_S = 0.05
# os.open on Windows opens in text mode unless O_BINARY is given: the lock's "\n" would be
# written as "\r\n", and release() would no longer recognise its own lock.
_CREATE_NEW = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class LockHolder:
    """The process named in a lock file."""

    pid: int
    host: str
    started: str
    process_start: float | None
    action: str
    command: tuple[str, ...] = ()

    @classmethod
    def current(cls, action: str) -> LockHolder:
        """The current process, about to ``action`` (``record``, ``merge`` or ``repair``)."""
        return cls(os.getpid(), socket.gethostname(),
                   _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                   _process_start(os.getpid()), action, tuple(sys.argv))

    @classmethod
    def from_bytes(cls, raw: bytes) -> LockHolder | None:
        """Parse a lock file's content; None when it is not a lock this tool wrote."""
        try:
            data = json.loads(raw)
            pid, host = data["pid"], data["host"]
            start = data.get("process_start")
            if (not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0
                    or not isinstance(host, str)):
                return None
            return cls(pid, host, str(data.get("started", "?")),
                       float(start) if isinstance(start, int | float) else None,
                       str(data.get("action", "record")),
                       tuple(str(c) for c in data.get("command") or ()))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def to_bytes(self) -> bytes:
        """The lock file's content."""
        return (json.dumps({"pid": self.pid, "host": self.host, "started": self.started,
                            "process_start": self.process_start, "action": self.action,
                            "command": list(self.command)}) + "\n").encode("utf-8")

    @property
    def local(self) -> bool:
        """Whether the holder runs on this host (only then can its liveness be checked)."""
        return self.host == socket.gethostname()

    def describe(self) -> str:
        """``being recorded by PID 1234 on host H (since ...)``."""
        doing = _DOING.get(self.action, f"in use ({self.action})")
        return f"{doing} by PID {self.pid} on host {self.host} (since {self.started})"


@dataclass(frozen=True)
class LockStatus:
    """What a session's lock file says right now.

    ``state`` is ``live`` (a process on this host that is running), ``stale`` (on this host,
    gone), ``foreign`` (another host: cannot be checked, treated as live) or ``unreadable``.
    """

    state: str
    holder: LockHolder | None
    raw: bytes
    age_s: float

    @property
    def blocks(self) -> bool:
        """Whether the lock keeps other processes out (everything but a stale lock)."""
        return self.state != "stale"

    def message(self, root: Path) -> str:
        """One line for a person: who holds the session, and what to do."""
        lock = SessionPaths(root).lock
        h = self.holder
        if h is None:
            return (f"session {root} has an unreadable lock file {lock}: if no record or merge "
                    "is running on this session, delete that file and run the command again")
        if self.state == "foreign":
            return (f"session {root} is {h.describe()}, another machine: wait for it to "
                    f"finish; if that process is gone, delete {lock} by hand and run the "
                    "command again")
        return (f"session {root} is {h.describe()}: wait for it to finish, or stop it; if that "
                "process is gone, run the command again")

    def error(self, root: Path) -> SessionLockedError:
        """The error that refuses the session."""
        h = self.holder
        return SessionLockedError(self.message(root), pid=h.pid if h else None,
                                  host=h.host if h else None, path=SessionPaths(root).lock)


def lock_status(paths: SessionPaths) -> LockStatus | None:
    """Read and judge the session's lock; None when there is none."""
    try:
        # A FIFO, a device or a huge file in the lock's place must not hang or exhaust the
        # reader (sessions DIR reads every session's lock): it is an unreadable lock.
        raw = read_input_bytes(paths.lock, what="lock file", max_bytes=MAX_LOCK_BYTES,
                               error=SessionFormatError)
    except SessionFormatError:
        if not os.path.lexists(paths.lock):  # none, or removed meanwhile
            return None
        raw = b""
    try:
        age = time.time() - paths.lock.stat().st_mtime
    except FileNotFoundError:
        return None
    holder = LockHolder.from_bytes(raw)
    if holder is None:
        state = "unreadable"
    elif not holder.local:
        state = "foreign"
    else:
        state = "live" if _alive(holder.pid, holder.process_start) else "stale"
    return LockStatus(state, holder, raw, age)


def check_not_locked(paths: SessionPaths, action: str) -> LockHolder | None:
    """Refuse a locked session; remove a stale lock. For commands that do not hold the lock.

    Returns the holder of the stale lock that was removed, if any.

    Raises:
        SessionLockedError: a live (or foreign, or unreadable) lock names another process.
    """
    reclaimed = None
    for _ in range(_ATTEMPTS):
        status = lock_status(paths)
        if status is None:
            return reclaimed
        reclaimed = _clear(paths, status, action) or reclaimed
    raise _busy(paths)


class SessionLock:
    """The held lock of one session; a context manager with an idempotent :meth:`release`."""

    def __init__(self, paths: SessionPaths, holder: LockHolder, raw: bytes,
                 reclaimed: LockHolder | None = None) -> None:
        self.paths = paths
        self.holder = holder
        self.reclaimed = reclaimed  # the stale lock this one replaced
        self._raw = raw
        self._held = True

    @classmethod
    def acquire(cls, paths: SessionPaths, action: str) -> SessionLock:
        """Create the lock file for ``action``, removing a stale one first.

        Raises:
            SessionLockedError: a live (or foreign, or unreadable) lock names another process.
            SessionFormatError: the session directory does not exist.
        """
        if not paths.root.is_dir():
            raise SessionFormatError(f"{paths.root} is not a session directory (it does not "
                                     "exist)", path=paths.root)
        holder = LockHolder.current(action)
        raw = holder.to_bytes()
        reclaimed = None
        # Even the lock may not fit: the one full-disk line (diskspace.py), nothing changed.
        full = said_when_full(paths.root, on_disk([len(raw)]), f"the session lock {LOCK_NAME}",
                              f"free some space and run {action} again (nothing was changed)")
        with full:
            for _ in range(_ATTEMPTS):
                try:
                    fd = os.open(paths.lock, _CREATE_NEW, 0o644)
                except FileExistsError:
                    status = lock_status(paths)
                    if status is not None:
                        reclaimed = _clear(paths, status, action) or reclaimed
                    continue
                try:
                    os.write(fd, raw)
                    os.fsync(fd)
                except BaseException:
                    os.close(fd)
                    paths.lock.unlink(missing_ok=True)
                    raise
                os.close(fd)
                return cls(paths, holder, raw, reclaimed)
        raise _busy(paths)

    def release(self) -> None:
        """Remove the lock file, if it is still ours (idempotent)."""
        if not self._held:
            return
        self._held = False
        try:
            if self.paths.lock.read_bytes() == self._raw:
                self.paths.lock.unlink()
            else:  # someone removed ours by hand and took the session: theirs stays
                log.warning("%s no longer holds this process's lock; left as it is",
                            self.paths.lock)
        except FileNotFoundError:
            log.warning("%s was removed while this process held it", self.paths.lock)

    def __enter__(self) -> SessionLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _clear(paths: SessionPaths, status: LockStatus, action: str) -> LockHolder | None:
    """One step past an existing lock: raise, wait a moment, or remove it when stale.

    Returns the stale holder when this call removed its lock.
    """
    if status.state == "unreadable" and status.age_s < _SETUP_S:
        time.sleep(_RETRY_S)  # its creator is between O_EXCL and write: read it again
        return None
    if status.blocks:
        raise status.error(paths.root)
    if not _remove_if_unchanged(paths, status.raw):
        time.sleep(_RETRY_S)  # another process is removing it: look again
        return None
    holder = status.holder
    assert holder is not None  # only a parsed lock can be stale
    log.warning("session %s: removed the stale lock of PID %d (%s since %s, the process is "
                "gone); %s proceeds", paths.root, holder.pid, holder.action, holder.started,
                action)
    return holder


def _remove_if_unchanged(paths: SessionPaths, seen: bytes) -> bool:
    """Delete the lock if it still holds ``seen``, one process at a time (the guard file).

    Without the guard, a process could read the stale lock, lose the CPU while another removes
    it and creates its own, then delete that fresh lock.
    """
    guard = paths.lock.with_name(f".{paths.lock.name}.reclaim")
    try:
        os.close(os.open(guard, _CREATE_NEW, 0o644))
    except FileExistsError:
        try:
            if time.time() - guard.stat().st_mtime > _GUARD_STALE_S:
                guard.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
        return False
    try:
        try:
            if paths.lock.read_bytes() != seen:
                return False  # replaced meanwhile: judge the new one
        except FileNotFoundError:
            return False
        paths.lock.unlink()
        return True
    finally:
        guard.unlink(missing_ok=True)


def _busy(paths: SessionPaths) -> SessionLockedError:
    return SessionLockedError(f"session {paths.root}: its lock {paths.lock} kept changing; "
                              "another process is starting on it: run the command again",
                              path=paths.lock)


def _process_start(pid: int) -> float | None:
    """The process's start time (seconds since the epoch) from psutil, None when unknown."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (not a zombie, not a PID out of range).

    Used to tell a leftover of a killed run from the work of a running one.
    """
    if not 0 < pid < 2**31:  # os.kill(0, ...) means "my process group"; larger is no PID
        return False
    return _alive(pid, None)


def _alive(pid: int, process_start: float | None) -> bool:
    """Whether ``pid`` on this host is still the process that wrote the lock."""
    if sys.platform != "win32":
        # os.kill(pid, 0) checks without signalling (on Windows it would terminate: psutil).
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # another user's process: it exists
        except OSError:
            return False  # e.g. a PID out of range: no such process
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False  # killed, not yet reaped by its parent
        started = proc.create_time()
    except psutil.NoSuchProcess:
        return False
    except (psutil.Error, OSError):
        return True  # exists but cannot be inspected: assume it is the holder
    # The PID was reused by a younger process: the holder is gone.
    return process_start is None or abs(started - process_start) <= _START_SLACK_S
