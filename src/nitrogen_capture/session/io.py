"""Crash-safe file writes: every file of a session is replaced atomically.

A reader (or a recovery after ``kill -9``) sees either the old file or the new one, never a
half-written one. Every write here goes through the tool's one writer,
:mod:`nitrogen_capture.atomic` (temporary ``.NAME.partial`` beside the target, fsync,
``os.replace``, cleanup on error, never through a link); this module only adds the session's
data types (bytes, ``.npy`` arrays, JSON). Crash recovery never deletes: what
it does not keep is moved aside with :func:`set_aside`, which never overwrites.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from ..atomic import atomic_file, atomic_paths, atomic_write, open_new, partial_path

__all__ = ["atomic_save_npy", "atomic_write_bytes", "atomic_write_json", "data_size", "inside",
           "is_plain_file", "json_bytes", "set_aside", "temp_path", "write_new",
           "write_together"]

Data = bytes | npt.NDArray[Any]


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


def temp_path(path: Path) -> Path:
    """The temporary name ``path`` is written under before it is renamed into place."""
    return partial_path(path)


def write_new(tmp: Path, data: bytes | npt.ArrayLike) -> None:
    """Write ``data`` (bytes, or an array saved as .npy without pickling) to a new file ``tmp``.

    A temporary left by a crash (or planted as a link) is removed first and never written
    through (atomic.open_new). Fsync and rename are :func:`write_together`'s (atomic.py).
    """
    with open_new(tmp) as f:
        _write_data(f, data)


def _write_data(f: BinaryIO, data: bytes | npt.ArrayLike) -> None:
    if isinstance(data, bytes):
        f.write(data)
    else:
        np.save(f, np.asarray(data), allow_pickle=False)


def data_size(data: Data) -> int:
    """About the bytes ``data`` takes in its file (an array: its .npy header allowed for)."""
    return len(data) if isinstance(data, bytes) else int(data.nbytes) + 256


def write_together(outputs: Sequence[tuple[Path, Data]]) -> None:
    """Write every output under its temporary name, then rename them all into place.

    The files of one step (a chunk's arrays, the merged outputs) appear together or not at
    all (:func:`~nitrogen_capture.atomic.atomic_paths`): a failure while writing (a full disk,
    Ctrl+C) removes every temporary and leaves each target as it was. Saying why is the
    caller's (diskspace.said_when_full).
    """
    with atomic_paths([dest for dest, _ in outputs]) as tmps:
        for tmp, (_, data) in zip(tmps, outputs, strict=True):
            write_new(tmp, data)


def json_bytes(obj: Any) -> bytes:
    """``obj`` as the indented JSON :func:`atomic_write_json` writes."""
    return (json.dumps(obj, indent=2) + "\n").encode("utf-8")


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically."""
    atomic_write(path, data, fsync=fsync)


def atomic_write_json(path: Path, obj: Any) -> None:
    """Replace ``path`` with ``obj`` as indented JSON, atomically."""
    atomic_write_bytes(path, json_bytes(obj))


def atomic_save_npy(path: Path, array: npt.ArrayLike) -> None:
    """Save ``array`` as .npy at ``path`` atomically (never pickles)."""
    with atomic_file(path) as f:
        _write_data(f, array)


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
