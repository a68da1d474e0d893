"""Crash-safe file writes: every file of a session is replaced atomically.

A reader (or a recovery after ``kill -9``) sees either the old file or the new one, never a
half-written one: the data goes to a temporary file in the same directory, is flushed and
fsynced, then renamed over the target with ``os.replace``. Crash recovery never deletes: what it
does not keep is moved aside with :func:`set_aside`, which never overwrites.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["atomic_save_npy", "atomic_write_bytes", "atomic_write_json", "set_aside"]


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
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
        with open(tmp, "wb") as f:
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
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / path.name
    n = 1
    while dest.exists():
        dest = dest_dir / f"{path.stem}.{n}{path.suffix}"
        n += 1
    os.replace(path, dest)
    return dest
