"""A full disk, said the same way by every command that writes (docs/reliability.md, section 7).

A write that fails for lack of space (``ENOSPC``, ``EDQUOT``, or numpy's ``N requested and M
written`` when a ``.npy`` write comes up short) becomes one
:class:`~nitrogen_capture.errors.DiskSpaceError` line naming the path written, about how much
space it needs and how much is free there, and what to do::

    /data/s: the disk is full writing chunk 3's arrays: it needs about 24.6 KB (24576 bytes)
    more but only 8.2 KB (8192 bytes) free there: free some space and run merge again (...)

Repair, merge, report, preview, convert and the batch all build that line with
:func:`disk_full_error`: before a write when the size is known (:func:`check_free`), or after
one failed (:func:`said_when_full`, or a caller's own ``except`` with :func:`is_disk_full`). The
writers themselves (atomic.py) leave nothing half-written; this module only says what happened.
"""

from __future__ import annotations

import contextlib
import errno
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .bounds import human_bytes
from .errors import DiskSpaceError

__all__ = ["BLOCK", "check_free", "disk_free", "disk_full_error", "is_disk_full", "on_disk",
           "said_when_full"]

_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
# numpy's message when fwrite comes up short (ndarray.tofile, np.save): it has no errno.
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")
BLOCK = 4096  # the allocation unit assumed for an estimate: a small file still takes a block


def disk_free(path: Path) -> int:
    """Free bytes on the file system holding ``path`` (the nearest existing parent)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return int(shutil.disk_usage(p).free)


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the quota) is full."""
    if isinstance(exc, DiskSpaceError):
        return True
    # pyarrow's and numpy's short writes raise OSError without an errno, saying it in the text.
    return isinstance(exc, OSError) and (exc.errno in _FULL
                                         or "No space left on device" in str(exc)
                                         or _SHORT_WRITE.fullmatch(str(exc)) is not None)


def on_disk(sizes: Iterable[int]) -> int:
    """About the space files of these sizes take: each rounded up to whole blocks."""
    return sum(-(-max(int(n), 1) // BLOCK) * BLOCK for n in sizes)


def disk_full_error(path: Path, needed: int, what: str, todo: str, *,
                    free: int | None = None) -> DiskSpaceError:
    """The one line for a full disk at ``path``: what was written, space needed and free.

    ``free`` defaults to what is free there now (after the failed write cleaned up).
    """
    free = disk_free(path) if free is None else free
    # The estimate is rough; when it is not above what is free, the truth is only "more".
    need = (f"about {human_bytes(needed)} ({needed} bytes) more but only" if needed > free
            else "more than the")
    return DiskSpaceError(
        f"{path}: the disk is full writing {what}: it needs {need} {human_bytes(free)} "
        f"({free} bytes) free there: {todo}")


def check_free(path: Path, needed: int, what: str, todo: str, *,
               free_bytes: Callable[[Path], int] = disk_free) -> None:
    """Raise :func:`disk_full_error` before writing when ``needed`` bytes will not fit."""
    free = free_bytes(path)
    if needed > free:
        raise disk_full_error(path, needed, what, todo, free=free)


@contextlib.contextmanager
def said_when_full(path: Path, needed: int | Callable[[], int], what: str,
                   todo: str) -> Iterator[None]:
    """Turn a write in the block that failed for lack of space into :func:`disk_full_error`.

    ``needed`` may be a function, asked only when the disk filled (a size known by then).
    A DiskSpaceError raised inside already says it all and passes unchanged; any other error
    passes unchanged too. The cause stays attached for ``--debug``.
    """
    try:
        yield
    except DiskSpaceError:
        raise
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        need = needed() if callable(needed) else needed
        raise disk_full_error(path, need, what, todo) from exc
