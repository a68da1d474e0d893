"""Crash-safe file writes: every file of a session is replaced atomically.

A reader (or a recovery after ``kill -9``) sees either the old file or the new one, never a
half-written one: the data goes to a temporary file in the same directory, is flushed and
fsynced, then renamed over the target with ``os.replace``. Crash recovery never deletes: what it
does not keep is moved aside with :func:`set_aside`, which never overwrites.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["atomic_save_npy", "atomic_write_bytes", "atomic_write_json", "inside",
           "is_plain_file", "set_aside"]


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` resolves (symlinks followed) to a place inside the directory ``root``."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False


def is_plain_file(path: Path) -> bool:
    """A regular file that is not a symbolic link (what repair may read, move or replace)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _open_new(tmp: Path) -> Any:
    # A temporary left by a crash (or planted as a link) is removed, never written through.
    tmp.unlink(missing_ok=True)
    return open(tmp, "xb")


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with _open_new(tmp) as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # e.g. disk full: leave no half-written temporary behind
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Replace ``path`` with ``obj`` as indented JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode("utf-8"))


def atomic_save_npy(path: Path, array: npt.ArrayLike) -> None:
    """Save ``array`` as .npy at ``path`` atomically (never pickles)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with _open_new(tmp) as f:
            np.save(f, np.asarray(array), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def set_aside(path: Path, dest_dir: Path) -> Path:
    """Move ``path`` into ``dest_dir`` without ever overwriting (a chunk may crash twice).

    A name already taken gets a counter: ``000006.png`` then ``000006.1.png``. Returns where
    the file went.
    """
    if dest_dir.is_symlink() or path.is_symlink():
        raise OSError(f"refusing to move {path} through a symbolic link")
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / path.name
    n = 1
    while dest.exists():
        dest = dest_dir / f"{path.stem}.{n}{path.suffix}"
        n += 1
    os.replace(path, dest)
    return dest
