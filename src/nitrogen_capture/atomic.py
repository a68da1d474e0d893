"""Write a file whole or not at all, and never through a link (docs/reliability.md, section 5).

Every file this tool writes goes through :func:`atomic_file` (or :func:`atomic_path` for a
library that wants a file name, or :func:`atomic_write` for bytes in hand):

1. the bytes go to a temporary beside the target, named ``.NAME.partial`` (the one temporary
   name of the tool, :func:`partial_path`, so the next run can recognise a leftover);
2. whatever a crash or another user left at that name, a symbolic link included, is removed
   first, and the temporary is created with ``O_CREAT | O_EXCL`` (plus ``O_NOFOLLOW`` where the
   OS has it): a planted link is never written through;
3. the file is flushed and fsynced, then renamed over the target with ``os.replace``, which
   replaces a link at the target itself, never what it points to;
4. on any error (a full disk, Ctrl+C) the temporary is removed and the target is left as it was.

Folders the tool creates inside an output are made by :func:`make_dirs`, which refuses a link at
any level it is responsible for. Which targets a command may write at all is the output-path
rule of :mod:`nitrogen_capture.outputs`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import OutputError

__all__ = ["PARTIAL_SUFFIX", "atomic_file", "atomic_path", "atomic_write", "is_partial_name",
           "make_dirs", "open_new", "partial_path", "remove_entry"]

PARTIAL_SUFFIX = ".partial"
_NEW_FILE = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))


def partial_path(path: Path) -> Path:
    """The temporary ``path`` is written under: ``.NAME.partial`` in the same folder."""
    return path.with_name(f".{path.name}{PARTIAL_SUFFIX}")


def is_partial_name(name: str) -> bool:
    """Whether a file name is one of this tool's temporaries (:func:`partial_path`)."""
    return name.startswith(".") and name.endswith(PARTIAL_SUFFIX)


def remove_entry(path: Path) -> None:
    """Remove the file or link at ``path`` (never what a link points to); absent is fine.

    A folder at that name is not ours to remove: OutputError.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise OutputError(f"{path} is a folder where this tool writes a temporary file: "
                          "remove it and try again")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def open_new(path: Path) -> BinaryIO:
    """Create ``path`` as a new, empty file and open it for writing in binary mode.

    What was at that name (a leftover temporary, a planted link) is removed first; the new file
    is created exclusively, so the open can never follow a link.
    """
    remove_entry(path)
    fd = os.open(path, _NEW_FILE, 0o666)
    return os.fdopen(fd, "wb")


def _fsync_file(path: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: Path, *, fsync: bool = True) -> Iterator[BinaryIO]:
    """Write ``path`` through a fresh temporary; it appears whole when the block ends.

    An exception in the block (or in the rename) removes the temporary and leaves ``path``
    untouched.
    """
    path = Path(path)
    tmp = partial_path(path)
    try:
        with open_new(tmp) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: Path, *, fsync: bool = True) -> Iterator[Path]:
    """Like :func:`atomic_file` for a writer that takes a file name (a video muxer, an image codec).

    Yields the temporary's name, already created empty and exclusively; after the block it must
    still be a plain file (not swapped for a link) before it is renamed into place.
    """
    path = Path(path)
    tmp = partial_path(path)
    try:
        open_new(tmp).close()
        yield tmp
        if not stat.S_ISREG(os.lstat(tmp).st_mode):
            raise OutputError(f"{tmp} was replaced by something else while it was written: "
                              "nothing was changed")
        if fsync:
            _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            if not stat.S_ISDIR(os.lstat(tmp).st_mode):
                os.unlink(tmp)
        raise


def atomic_write(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data``, atomically and without following links."""
    with atomic_file(path, fsync=fsync) as f:
        f.write(data)


def make_dirs(path: Path, *, below: Path | None = None) -> Path:
    """Create folder ``path`` (and its parents) and check that no link stands in it.

    Every level from ``below`` (exclusive; a folder the caller already trusts, such as the
    output it checked) down to ``path`` must be a real folder, not a symbolic link: a link
    planted there would send the writes elsewhere. Without ``below`` only ``path`` itself is
    checked (the levels above it were named by the user).
    """
    path = Path(path)
    levels = [path]
    if below is not None:
        rel = Path(os.path.relpath(path, below))
        if rel.parts and rel.parts[0] == os.pardir:
            raise OutputError(f"{path} is not inside {below}")
        levels = [Path(below).joinpath(*rel.parts[:i + 1]) for i in range(len(rel.parts))]
    for level in levels:
        try:
            os.mkdir(level)
        except FileExistsError:
            pass
        except FileNotFoundError:
            os.makedirs(level, exist_ok=True)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
        mode = os.lstat(level).st_mode
        if stat.S_ISLNK(mode):
            raise OutputError(f"{level} is a symbolic link: this tool never writes through a "
                              "link; remove it and try again")
        if not stat.S_ISDIR(mode):
            raise OutputError(f"{level} is not a folder: remove it or choose another output")
    return path
