"""The one output-path rule: where a command may write, and what it may replace.

Every command that writes (record, merge, convert in every format and batch, report, preview,
calibrate, demo) checks its target here before the first byte, then writes it through
:mod:`nitrogen_capture.atomic`. The rule (docs/reliability.md, section 5):

1. **Not inside somebody else's data.** A *store* is a folder whose loss would hurt: a session
   (``meta.json``), a LeRobot dataset (``meta/info.json``), a NitroGen dataset tree
   (``actions/SHARD_*``). A target inside a store (its folders taken as written and with links
   resolved) is refused, with one exception: inside the command's own input session (``home``)
   it may write names that are not part of the session format (``report.html``,
   ``preview.mp4``, ``demo/``), never ``meta.json``, a chunk's arrays, ``frames/`` and the like.
2. **Not a special file, not a link.** A FIFO, a device or a socket is refused, and so is a
   symbolic link at the target: the tool never writes through one.
3. **Replace only our own output of the same kind.** An existing target must hold what this
   command writes (:class:`OutputKind` recognises it by its mark, :mod:`nitrogen_capture.marks`);
   anything else is refused in one line naming what is there. Commands with ``--overwrite``
   also need that flag.

A refusal is an :class:`~nitrogen_capture.errors.OutputError` and changes nothing on disk.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from .errors import OutputError
from .session.paths import LOCK_NAME, META_NAME, is_session

__all__ = ["OutputKind", "Store", "check_output", "describe", "is_session_format",
           "store_at", "stores_holding"]

LEROBOT_INFO = ("meta", "info.json")
DATASET_ACTIONS = "actions"
_SESSION_FOLDERS = ("frames", "orphans")
_SESSION_SUFFIXES = (".npy", ".npz", ".jsonl", ".pt")


@dataclass(frozen=True)
class Store:
    """A folder of data a command must not write into unless it is that command's own."""

    kind: str  # "session", "LeRobot dataset", "NitroGen dataset tree"
    root: Path


@dataclass(frozen=True)
class OutputKind:
    """What a command writes, and how to recognise an earlier one it may replace.

    Attributes:
        what: its name in messages (``"report page"``).
        is_ours: whether an existing path holds this tool's output of this kind.
        folder: the output is a folder (an empty folder counts as new).
        store: for a folder output that is itself a store, that store's kind: the command
            writes into such a folder (its own dataset) but into no other store.
        home_names: file names the command writes by default into its input session; an
            existing regular file there is its own (earlier versions wrote no mark).
        explain: for a refusal, why an existing path is not ``is_ours`` (a few words).
    """

    what: str
    is_ours: Callable[[Path], bool]
    folder: bool = False
    store: str | None = None
    home_names: tuple[str, ...] = field(default=())
    explain: Callable[[Path], str] | None = None


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def store_at(folder: Path) -> str | None:
    """The kind of store ``folder`` is (None: not one). Reads a few names, never a file."""
    with contextlib.suppress(OSError):  # (cannot be told: not a session)
        if is_session(folder):
            return "session"
    if _is_file(folder.joinpath(*LEROBOT_INFO)):
        return "LeRobot dataset"
    actions = folder / DATASET_ACTIONS
    if _is_dir(actions):
        try:
            with os.scandir(actions) as it:
                if any(e.name.startswith("SHARD_") for e in it):
                    return "NitroGen dataset tree"
        except OSError:
            pass
    return None


def _ancestors(path: Path) -> list[Path]:
    """The folders above ``path``, as written (made absolute) and with links resolved."""
    found: dict[str, Path] = {}
    plain = Path(os.path.abspath(path))
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # a link loop: the written form is all there is
        real = plain
    for p in (plain, real):
        for parent in p.parents:
            found.setdefault(str(parent), parent)
    return list(found.values())


def stores_holding(path: Path) -> list[Store]:
    """Every store among the folders above ``path`` (as written and resolved), nearest first."""
    return [Store(kind, parent) for parent in _ancestors(path)
            if (kind := store_at(parent)) is not None]


def is_session_format(rel: PurePath) -> bool:
    """Whether ``rel`` (relative to a session) names a file or folder of the session format.

    The format's names (docs/format.md): ``meta.json``, the lock, every ``.npy``/``.npz``/
    ``.jsonl``/``.pt`` at the top, ``frames/`` and ``orphans/``; hidden names are the writers'
    temporaries. Nothing else in a session belongs to the format.
    """
    if not rel.parts:
        return True
    first = rel.parts[0]
    return (first in (META_NAME, LOCK_NAME, *_SESSION_FOLDERS) or first.startswith(".")
            or (len(rel.parts) == 1 and first.endswith(_SESSION_SUFFIXES)))


def describe(path: Path) -> str:
    """What is at ``path``, in a few words for a refusal (``a session``, ``a file of 3.1 MB``)."""
    try:
        st = os.lstat(path)
    except OSError:
        return "nothing readable"
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        kind = store_at(path)
        if kind is not None:
            return f"a {kind}"
        try:
            with os.scandir(path) as it:
                n = sum(1 for _ in it)
        except OSError:
            return "a folder that cannot be read"
        return f"a folder of {n} entr{'y' if n == 1 else 'ies'}"
    if stat.S_ISREG(mode):
        size = st.st_size
        return (f"a file of {size / 1e6:.1f} MB" if size >= 100_000 else
                f"a file of {size} byte{'' if size == 1 else 's'}")
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return os.path.abspath(a) == os.path.abspath(b)


def _inside_home(path: Path, home: Path) -> PurePath | None:
    """``path`` relative to ``home`` when it lies there (as written, or resolved)."""
    for p, h in ((Path(os.path.abspath(path)), Path(os.path.abspath(home))),
                 (path.resolve(), home.resolve())):
        if p.is_relative_to(h):
            return p.relative_to(h)
    return None


def _check_place(path: Path, kind: OutputKind, label: str, home: Path | None) -> None:
    """Rule 1: ``path`` lies in no store, or in ``home`` outside the session format."""
    for store in stores_holding(path):
        rel = _inside_home(path, home) if home is not None and _same(store.root, home) else None
        if rel is None:
            raise OutputError(f"{label} {path} is inside the {store.kind} {store.root}: "
                              f"choose a {kind.what} path outside it (nothing was changed)")
        if is_session_format(rel):
            raise OutputError(f"{label} {path} is part of the session {store.root} "
                              f"({rel.as_posix()}): a {kind.what} never replaces a session's "
                              "files; choose another path (nothing was changed)")
        for i in range(1, len(rel.parts)):  # no link between the session and the target
            level = store.root.joinpath(*rel.parts[:i])
            if level.is_symlink():
                raise OutputError(f"{label} {path}: {level} is a symbolic link inside the "
                                  "session; this tool never writes through a link")


def _check_existing(path: Path, kind: OutputKind, label: str, home: Path | None,
                    overwrite: bool | None) -> None:
    """Rules 2 and 3 for what is already at ``path``."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"{label} {path} cannot be checked ({exc.strerror})") from exc
    if stat.S_ISLNK(mode):
        raise OutputError(f"{label} {path} is a symbolic link: this tool never writes through "
                          "a link; remove it or choose another path (nothing was changed)")
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise OutputError(f"{label} {path} is {describe(path)}, not a "
                          f"{'folder' if kind.folder else 'file'}: choose another path")
    if kind.folder and not stat.S_ISDIR(mode):
        raise OutputError(f"{label} {path} is {describe(path)}; a {kind.what} is a folder: "
                          "choose another path")
    if not kind.folder and stat.S_ISDIR(mode):
        raise OutputError(f"{label} {path} is {describe(path)}; a {kind.what} is a file: "
                          "give a file name")
    if kind.folder:
        here = store_at(path)
        if here is not None and here != kind.store:
            raise OutputError(f"{label} {path} is a {here}, not a {kind.what}: choose another "
                              "folder (nothing was changed)")
        try:
            with os.scandir(path) as it:
                if next(it, None) is None:
                    return  # an empty folder is as good as a new one
        except OSError as exc:
            raise OutputError(f"{label} {path} cannot be read ({exc.strerror})") from exc
    own = (home is not None and stat.S_ISREG(mode) and path.name in kind.home_names
           and _same(path.parent, home))
    if not (own or kind.is_ours(path)):
        why = f" ({kind.explain(path)})" if kind.explain is not None else ""
        raise OutputError(f"{label} {path} holds {describe(path)}{why}, not a {kind.what} "
                          "written by nitrogen-capture: nothing was changed; choose another path")
    if overwrite is False:
        raise OutputError(f"{label} {path} already exists: pass --overwrite to replace it, or "
                          "choose another path")


def check_output(path: Path, kind: OutputKind, *, label: str = "output",
                 home: Path | None = None, overwrite: bool | None = None) -> Path:
    """Refuse ``path`` as the place to write a ``kind``, or return it.

    Args:
        path: the target (a file, or a folder for folder kinds).
        kind: what will be written there.
        label: how messages name the target (``"--out"``).
        home: the command's input session, inside which it may write outside the format.
        overwrite: ``None`` for commands that replace their own earlier output freely
            (report, preview); ``False`` / ``True`` for commands with ``--overwrite``.

    Raises:
        OutputError: one line saying what is at fault; nothing on disk was changed.
    """
    path = Path(path)
    _check_place(path, kind, label, home)
    _check_existing(path, kind, label, home, overwrite)
    return path
