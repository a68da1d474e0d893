"""Hostile file-system entries for the tests of library scans and input files.

* :func:`make_unreadable`: a folder that behaves as ``chmod 000`` does for an ordinary user.
  The tests run as root (in containers) where ``chmod 000`` stops nothing, and the venv's
  interpreter is not reachable by an unprivileged user, so the folder is made unreadable in
  this process: listing it, or reaching anything inside it, fails with EACCES (its own
  ``stat`` still works, as with ``chmod 000``).
* :func:`make_deep_tree`: a folder chain thousands of levels deep, built relative to an open
  directory, POSIX only; :func:`remove_tree` removes it again (pytest's own cleanup cannot).
* :data:`needs_fifo` / :data:`needs_dev_zero` / :data:`needs_sparse`: skip where the OS has
  neither FIFOs nor /dev/zero, or would really allocate a 3 GB file (Windows).
* :func:`run_cli_bounded`: the CLI in a child process with a wall-clock timeout and a memory
  ceiling, for inputs that hang (a FIFO) or never end (``/dev/zero``) when a regression reads
  them: the test then fails in seconds instead of hanging or eating the machine's memory.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cli_run import CliRun

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
needs_dev_zero = pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
BIG_SPARSE = 3 << 30  # 3 GiB, made with truncate: no byte is written
# NTFS reserves the space of a file grown by truncate; POSIX file systems write nothing.
needs_sparse = pytest.mark.skipif(sys.platform == "win32",
                                  reason="a 3 GB file made by truncate is sparse on POSIX only")


def make_unreadable(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Make the folder ``path`` unlistable and everything inside it unreachable (or the file
    ``path`` unopenable), for this process."""
    locked = os.path.abspath(path)

    def blocked(path: Any, itself: bool) -> bool:
        if isinstance(path, int):  # a file descriptor
            return False
        p = os.path.abspath(os.fsdecode(path))
        return p.startswith(locked + os.sep) or (itself and p == locked)

    def wrap(fn: Callable[..., Any], itself: bool = False) -> Callable[..., Any]:
        def inner(path: Any, *args: Any, **kwargs: Any) -> Any:
            if blocked(path, itself):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES),
                                      os.fsdecode(path))
            return fn(path, *args, **kwargs)
        return inner

    if not os.path.isdir(locked):  # a file: its stat works, opening it does not
        monkeypatch.setattr(os, "open", wrap(os.open, itself=True))
        return
    monkeypatch.setattr(os, "scandir", wrap(os.scandir, itself=True))
    monkeypatch.setattr(os, "listdir", wrap(os.listdir, itself=True))
    for name in ("stat", "lstat", "open"):
        monkeypatch.setattr(os, name, wrap(getattr(os, name)))


def make_deep_tree(top: Path, levels: int, name: str = "d") -> None:
    """``top/name/name/...`` ``levels`` folders deep, each made relative to its parent's fd."""
    top.mkdir(parents=True, exist_ok=True)
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(levels):
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def remove_tree(top: Path) -> None:
    """Remove ``top`` and everything under it, without recursion.

    ``shutil.rmtree`` (and with it pytest's cleanup of old ``tmp_path`` folders, shared by
    every pytest run of this user) recurses once per level: a tree deeper than the recursion
    limit left behind breaks every later run's cleanup, so a test that builds one removes it.
    """
    stack = [os.fspath(top)]
    while stack:
        folder = stack[-1]
        with os.scandir(folder) as it:
            subs = []
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    subs.append(entry.path)
                else:
                    os.unlink(entry.path)
        if subs:
            stack.extend(subs)
        else:
            os.rmdir(folder)
            stack.pop()


def _limit_memory(limit: int) -> None:  # pragma: no cover - runs in the child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_cli_bounded(*args: str, timeout: float = 120, memory: int = 2500 << 20) -> CliRun:
    """``nitrogen-capture ARGS`` in a child process; TimeoutExpired fails the test on a hang.

    ``memory`` caps the child's address space (POSIX), so reading an endless file ends in a
    MemoryError there rather than in the machine running out of memory.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    limit = (lambda: _limit_memory(memory)) if hasattr(os, "fork") else None
    proc = subprocess.run([sys.executable, "-m", "nitrogen_capture", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False,
                          preexec_fn=limit)
    return CliRun(proc.returncode, proc.stdout, proc.stderr)
