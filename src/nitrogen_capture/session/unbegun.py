"""A folder left by a recording killed before it began: what it is and the one line about it.

``kill -9`` of ``record`` between its lock and its first ``meta.json`` leaves the lock (stale:
its process is gone) and perhaps an empty ``frames/`` (docs/reliability.md 2). That is no
session and no damage: ``record --out`` may take the folder over, and merge and validate say
what it is and what to do instead of calling it "not a session directory".
"""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import is_partial_name
from .lock import lock_status
from .paths import SessionPaths

__all__ = ["never_began", "never_began_message"]


def never_began(out: Path, *, own_lock: bool = False, reclaimed: bool = False) -> bool:
    """Whether ``out`` is left by a recording killed before its first ``meta.json``.

    Nothing is then left but its stale lock and an empty ``frames/`` (either may be gone: merge
    removes a stale lock): a new recording may take the folder over, its lock replacing the
    stale one with a log line (session/lock.py). ``own_lock``: a lock held by this process
    (merge's, taken before it reads ``meta.json``) is no trace of that recording: a folder
    holding nothing else is just empty, unless ``reclaimed``: that lock replaced the stale one
    of a recording (merge removed it, session/lock.py ``reclaimed``), the trace it left.
    """
    paths = SessionPaths(out)
    status = lock_status(paths)
    if own_lock and status is not None and status.holder is not None and (
            status.holder.local and status.holder.pid == os.getpid()):
        status = None
    try:
        # A temporary of ours (``.meta.json.partial``: killed while writing the first
        # meta.json) is no trace either: the next atomic write replaces it.
        names = {p.name for p in out.iterdir() if not is_partial_name(p.name)}
        if status is None:
            names.discard(paths.lock.name)
        frames = paths.frames_dir
        if (not names and not reclaimed) or not names <= {paths.lock.name, frames.name} or (
                frames.name in names and (frames.is_symlink() or not frames.is_dir()
                                          or any(frames.iterdir()))):
            return False
    except OSError:
        return False
    return status is None or status.state == "stale"


def never_began_message(root: Path) -> str:
    """The one line for such a folder: what it is and what to do with it."""
    return (f"{root} holds no session: a recording was killed there before it began (nothing "
            "of it is left but perhaps its lock file and an empty frames folder); record into "
            f"it again (nitrogen-capture record --out {root} ...) or delete the folder")
