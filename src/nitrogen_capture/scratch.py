"""Scratch folders in the system's temporary folder, removed by the next run if their owner died.

A folder cannot vanish with its process the way a pipe or a memfd does, and after ``kill -9``
no code of the owner runs. So each scratch folder carries its own record of who owns it: a file
``.owner`` that the owner keeps locked while it runs (``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows; every platform difference of this module is in
:func:`_try_lock`). The OS drops the lock when the process ends, however it ends, and any later
:func:`scratch_dir` first removes every folder of :data:`PREFIXES` whose ``.owner`` it can lock
(:func:`sweep`), with one log line each. A folder without ``.owner`` (another tool's, an older
version's, or one whose owner died within microseconds of creating it) is left alone.

Users: the demo's and calibration's working folders, the private Ray's temporary folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .atomic import atomic_path

__all__ = ["PREFIXES", "scratch_dir", "sweep"]

log = logging.getLogger(__name__)

PREFIXES: tuple[str, ...] = ("nitrogen-demo-", "nitrogen-calibrate-", "ngray-")
OWNER = ".owner"
_OPEN = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock of ``fd`` without waiting; False when another process holds it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _close(fd: int) -> None:
    """Close ``fd`` (on Windows unlocking it first: Windows asks for that before a close)."""
    if sys.platform == "win32":
        import msvcrt

        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    os.close(fd)


def _new_owner(folder: Path) -> int:
    """Create ``folder/.owner`` already locked: no other process can find it unlocked."""
    if sys.platform == "win32":
        # No rename of an open file on Windows; a sweep that locked it first could not remove
        # the folder either, since Windows does not delete a file that is open.
        fd = os.open(folder / OWNER, os.O_CREAT | os.O_EXCL | _OPEN, 0o600)
        if not _try_lock(fd):
            _close(fd)
            raise OSError(f"cannot lock {folder / OWNER}")
        return fd
    # Locked under its temporary name (atomic.py's), then renamed: a sweep sees it locked.
    fd = -1
    try:
        with atomic_path(folder / OWNER) as tmp:
            fd = os.open(tmp, _OPEN)
            _try_lock(fd)  # a new file nobody else has open: always granted
    except BaseException:
        if fd >= 0:
            _close(fd)
        raise
    return fd


def _ours(entry: os.DirEntry[str]) -> bool:
    """A real folder (not a link) of one of our prefixes, owned by this user (POSIX)."""
    if not entry.name.startswith(PREFIXES):
        return False
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    getuid = getattr(os, "getuid", None)
    return getuid is None or st.st_uid == getuid()


def sweep(root: Path | None = None) -> list[Path]:
    """Remove the scratch folders whose owner is gone; returns them."""
    root = Path(root or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        if not _ours(entry):
            continue
        folder = Path(entry.path)
        try:
            fd = os.open(folder / OWNER, _OPEN)
        except OSError:
            continue  # no record: not ours to judge
        try:
            if not _try_lock(fd) or os.fstat(fd).st_nlink == 0:
                continue  # its owner runs, or another sweep removed it meanwhile
            if sys.platform == "win32":
                _close(fd)  # Windows removes no open file
                fd = -1
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            if fd >= 0:
                _close(fd)
        log.info("removed %s, left by a run that was killed", folder)
        removed.append(folder)
    return removed


@contextlib.contextmanager
def scratch_dir(prefix: str, root: Path | None = None) -> Iterator[Path]:
    """A new folder ``<temp>/<prefix>XXXXXXXX`` for the block, removed after it.

    Sweeps first (:func:`sweep`). ``prefix`` must be one of :data:`PREFIXES`, so that later
    sweeps know to look for it.
    """
    if prefix not in PREFIXES:
        raise ValueError(f"unknown scratch prefix {prefix!r}")
    sweep(root)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    try:
        fd = _new_owner(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        yield folder
    finally:
        if sys.platform == "win32":
            _close(fd)  # Windows removes no open file
            shutil.rmtree(folder, ignore_errors=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)  # the lock is held until it is gone
            _close(fd)
