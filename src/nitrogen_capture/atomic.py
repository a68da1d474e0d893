"""Write a file whole or not at all, and never through a link (docs/reliability.md, section 5).

Every file this tool writes goes through :func:`atomic_file` (or :func:`atomic_path` for a
library that wants a file name, :func:`atomic_write` for bytes in hand, or :func:`atomic_paths`
for several files that appear together or not at all):

1. the bytes go to a temporary beside the target, named ``.NAME.partial`` (the one temporary
   name of the tool, :func:`partial_path`, so the next run can recognise a leftover);
2. whatever a crash or another user left at that name, a symbolic link included, is removed
   first, and the temporary is created with ``O_CREAT | O_EXCL`` (plus ``O_NOFOLLOW`` where the
   OS has it): a planted link is never written through;
3. the file is flushed and fsynced, then renamed over the target with ``os.replace``, which
   replaces a link at the target itself, never what it points to;
4. on any error (a full disk, Ctrl+C) the temporary is removed and the target is left as it was.

Folders the tool creates inside an output are made by :func:`make_dirs`, which refuses a link at
any level it is responsible for; when the write they were made for fails (a full disk), the
command removes again those it made that are left empty (:func:`existing_level`,
:func:`prune_empty`). Which targets a command may write at all is the output-path
rule of :mod:`nitrogen_capture.outputs`.

A whole output *folder* is replaced the same way: built complete in :func:`staged_folder`
(``.NAME.new-PID`` beside it), then :func:`swap_folder` renames the old one to ``.NAME.old-PID``
and the new one into place, and deletes the old. :func:`recover_folder` finds what a killed run
left of that (and, if it was killed between the two renames, puts the old folder back).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from .errors import OutputError

__all__ = ["PARTIAL_SUFFIX", "atomic_file", "atomic_path", "atomic_paths", "atomic_write",
           "existing_level", "is_partial_name", "link_or_copy", "make_dirs", "open_new",
           "partial_path", "prune_empty", "recover_folder", "remove_entry", "remove_tree",
           "staged_folder", "swap_folder"]

log = logging.getLogger(__name__)

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


def open_new(path: Path, *, replace: bool = True) -> BinaryIO:
    """Create ``path`` as a new, empty file and open it for writing in binary mode.

    What was at that name (a leftover temporary, a planted link) is removed first, unless
    ``replace`` is False: then anything there is a FileExistsError. The new file is created
    exclusively, so the open can never follow a link.
    """
    if replace:
        remove_entry(path)
    fd = os.open(path, _NEW_FILE, 0o666)
    return os.fdopen(fd, "wb")


def _fsync_file(path: Path) -> None:
    # Windows' fsync (FlushFileBuffers) needs a handle opened for writing; POSIX takes any.
    access = os.O_RDWR if os.name == "nt" else os.O_RDONLY
    flags = access | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
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
    with atomic_paths([path], fsync=fsync, create=True) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(paths: Sequence[Path], *, fsync: bool = True,
                 create: bool = False) -> Iterator[list[Path]]:
    """Files that appear together or not at all: the temporaries of ``paths``, in order.

    The block writes each temporary (with :func:`open_new`, or by name when ``create`` made them
    empty first); after it every one must be a plain file, is fsynced, and only then are all
    renamed into place. An exception in the block (a full disk, Ctrl+C) or in a check removes
    every temporary and leaves each target as it was.
    """
    tmps = [partial_path(Path(p)) for p in paths]
    try:
        if create:
            for tmp in tmps:
                open_new(tmp).close()
        yield tmps
        for tmp in tmps:
            if not stat.S_ISREG(os.lstat(tmp).st_mode):
                raise OutputError(f"{tmp} was replaced by something else while it was "
                                  "written: nothing was changed")
            if fsync:
                _fsync_file(tmp)
        for tmp, path in zip(tmps, paths, strict=True):
            os.replace(tmp, path)
    except BaseException:
        for tmp in tmps:
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


def existing_level(path: Path) -> Path:
    """The nearest of ``path`` and its parents that exists: what a command did not create.

    Taken before a command makes the folders of an output, it is where :func:`prune_empty`
    stops when a failure leaves them empty.
    """
    p = Path(os.path.abspath(path))
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def prune_empty(path: Path, keep: Path) -> None:
    """Remove folder ``path`` and each parent while empty, up to ``keep`` (never it or above).

    For the folders a command made (``keep`` from :func:`existing_level` taken before it made
    them) when the write they were made for failed: a failed command leaves no empty folder
    behind. A folder that holds anything, or is not below ``keep``, stays; a link is never
    followed (``rmdir`` of a link fails).
    """
    p, keep = Path(os.path.abspath(path)), Path(os.path.abspath(keep))
    while p != keep and p.is_relative_to(keep):
        try:
            os.rmdir(p)
        except FileNotFoundError:
            pass
        except OSError:  # not empty (or not ours to remove): everything above stays too
            return
        p = p.parent


def remove_tree(path: Path) -> None:
    """Remove the folder tree, file or link at ``path``; a link is removed, never followed."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)  # removes the links inside a tree, never what they point to
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def link_or_copy(src: Path, dst: Path) -> bool:
    """Make ``dst`` a hard link to the regular file ``src`` (True), or a copy (False).

    The copy is for file systems without hard links. ``dst`` must be new: nothing at that name
    is followed.
    """
    try:
        if os.link in os.supports_follow_symlinks:  # link a link itself, never its target
            os.link(src, dst, follow_symlinks=False)
        else:  # Windows: os.link takes no follow_symlinks (and NTFS links are rare)
            os.link(src, dst)
        return True
    except FileExistsError:
        raise
    except (OSError, NotImplementedError):  # FAT, some network shares: copy
        with open(src, "rb") as fin, open_new(dst, replace=False) as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        return False


def _sibling(path: Path, tag: str, pid: int | None = None) -> Path:
    path = Path(os.path.abspath(path))  # "--out ." has a name only once made absolute
    return path.with_name(f".{path.name}.{tag}-{os.getpid() if pid is None else pid}")


def staged_folder(path: Path) -> Path:
    """Create and return ``.NAME.new-PID`` beside ``path``: a new folder is built there."""
    staged = _sibling(path, "new")
    if not staged.parent.is_dir():  # (a folder the user named, a link to one included)
        make_dirs(staged.parent)
    try:
        os.mkdir(staged)
    except FileExistsError:
        raise OutputError(f"{staged} already exists: remove it and try again") from None
    return staged


def swap_folder(path: Path, staged: Path) -> None:
    """Put the finished folder ``staged`` at ``path``; the old folder there (if any) is deleted.

    Two renames: ``path`` to ``.NAME.old-PID``, then ``staged`` to ``path``. An error or Ctrl+C
    between them renames the old folder back; a kill there leaves both for
    :func:`recover_folder`. Once the new folder is in place a failure to delete the old one is
    only logged (the next run removes it).
    """
    path = Path(os.path.abspath(path))
    old = _sibling(path, "old")
    remove_tree(old)
    present = os.path.lexists(path)
    if present:
        os.rename(path, old)
    try:
        os.rename(staged, path)
    except BaseException:
        if present:
            os.rename(old, path)
        raise
    if present:
        try:
            remove_tree(old)
        except OSError as exc:
            log.warning("%s could not be removed (%s): the next run removes it", old, exc)


def _leftovers(path: Path) -> list[tuple[Path, str, int]]:
    """``(entry, "new" | "old", pid)`` of each ``.NAME.new-PID`` / ``.NAME.old-PID`` beside."""
    path = Path(os.path.abspath(path))
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(new|old)-(\d{{1,10}})")
    try:
        with os.scandir(path.parent) as it:
            names = [e.name for e in it]
    except OSError:
        return []
    return [(path.parent / n, m.group(1), int(m.group(2))) for n in sorted(names)
            if (m := pattern.fullmatch(n))]


def recover_folder(path: Path, looks_ours: Callable[[Path], bool]) -> list[str]:
    """Clean up what an interrupted :func:`swap_folder` of ``path`` (or its build) left.

    A ``.NAME.old-PID`` while ``path`` is missing is the old folder of a swap killed between its
    two renames: it is renamed back. Every other leftover (a half-built ``.NAME.new-PID``, an
    old folder whose deletion was cut short) is removed once ``looks_ours`` says it holds only
    what this tool writes there. A leftover of a process that is still running is another run
    at work: OutputError. Returns what was done, one line each (also logged).
    """
    from .session.lock import process_alive

    path = Path(os.path.abspath(path))
    found = _leftovers(path)
    for entry, _, pid in found:
        if pid != os.getpid() and process_alive(pid):
            raise OutputError(f"{entry} is being written by process {pid} (another run on "
                              f"{path}?): wait for it to finish; if none is running, remove "
                              f"{entry}")
    for entry, _, _ in found:
        if not os.path.islink(entry) and not looks_ours(entry):
            raise OutputError(f"{entry} looks like a leftover of this tool but holds other "
                              "files: nothing was changed; move it away and try again")
    said = []
    olds = [e for e, kind, _ in found if kind == "old" and not os.path.islink(e)]
    if olds and not os.path.lexists(path):
        if len(olds) > 1:
            raise OutputError(f"{path} is missing and {len(olds)} earlier versions of it are "
                              f"beside it ({', '.join(o.name for o in olds)}): rename the one "
                              "to keep back to its name")
        os.rename(olds[0], path)
        said.append(f"restored {path} from {olds[0].name}: an earlier run was interrupted "
                    "while replacing it")
    for entry, _, pid in found:
        if os.path.lexists(entry):  # (a restored old folder is no longer at its name)
            remove_tree(entry)
            said.append(f"removed {entry}, left by an interrupted run (process {pid})")
    for line in said:
        log.warning("%s", line)
    return said
