"""One snapshot of a folder tree for tests that must prove nothing changed on disk.

:func:`tree` maps every path under a folder (links not followed) to a hash of its bytes or what
it is (a link and its target, a folder, a special file, a sparse giant by its size and time), so
two snapshots compare equal only when nothing was written, removed, replaced or linked.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

__all__ = ["BIG_FILE", "tree"]

BIG_FILE = 64 << 20


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` (links not followed) -> a hash of its bytes or what it is."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            elif not p.is_file():  # a FIFO: never opened here either
                out[rel] = "special:" + stat.filemode(p.lstat().st_mode)
            elif p.stat().st_size > BIG_FILE:  # a sparse giant: its size and time stand for it
                out[rel] = f"big:{p.stat().st_size}:{p.stat().st_mtime_ns}"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
