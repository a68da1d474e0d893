"""A small file system that a test fills up: a real tmpfs where mounting is allowed.

:func:`small_fs` mounts a tmpfs of ``size`` (root can; CI runs as root) and yields a
:class:`Disk`: ``disk.fill(leave)`` writes a filler file until the file system is full, then
cuts it so that ``leave`` bytes stay free (tmpfs counts whole 4 KiB pages); ``disk.free_up()``
removes the filler. Where mounting is not allowed the disk is simulated: a plain folder whose
free space, as ``shutil.disk_usage`` reports it, is ``leave`` minus what was written there
since. Then every free-space check sees a full disk, but no write fails for real: tests of a
write that fails half-way call ``disk.require_real()``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

BLOCK = 4096


class _Usage(NamedTuple):
    total: int
    used: int
    free: int


def _used(root: Path) -> int:
    """Blocks taken under ``root`` (each file rounded up to whole blocks)."""
    total = 0
    for top, _, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += -(-os.lstat(os.path.join(top, name)).st_size // BLOCK) * BLOCK
    return total


class Disk:
    """A small file system at ``path`` (see the module docstring)."""

    def __init__(self, path: Path, real: bool, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = path
        self.real = real
        self._mp = monkeypatch
        self._filler = path / "filler"
        self._sim: tuple[int, int] | None = None  # (free when filled, used then)

    def require_real(self) -> None:
        """Skip unless the disk is a real tmpfs (the test needs a write that really fails)."""
        if not self.real:
            pytest.skip("needs a real full file system (mounting a tmpfs is not allowed here)")

    def free(self) -> int:
        """Bytes free on the disk now."""
        return int(shutil.disk_usage(self.path).free)

    def fill(self, leave: int) -> None:
        """Fill the disk so that ``leave`` bytes (a multiple of 4096) stay free."""
        if not self.real:
            self._sim = (leave, _used(self.path))
            def usage(p: Any) -> _Usage:
                if not Path(os.path.abspath(p)).is_relative_to(self.path):
                    return _Usage(*_REAL_USAGE(p))
                assert self._sim is not None
                free = max(0, self._sim[0] - (_used(self.path) - self._sim[1]))
                return _Usage(1 << 21, (1 << 21) - free, free)

            self._mp.setattr(shutil, "disk_usage", usage)
            return
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for chunk in (1 << 16, 512):
                with contextlib.suppress(OSError):  # ENOSPC: full at this grain
                    while True:
                        os.write(fd, b"\0" * chunk)
        finally:
            os.close(fd)
        os.truncate(self._filler, max(0, self._filler.stat().st_size - leave))
        assert abs(self.free() - leave) < BLOCK, (self.free(), leave)

    def free_up(self) -> None:
        """Give the space back."""
        if not self.real:
            self._mp.setattr(shutil, "disk_usage", _REAL_USAGE)
            self._sim = None
            return
        self._filler.unlink(missing_ok=True)

    def entries(self) -> list[str]:
        """Everything on the disk but the filler, as sorted relative paths."""
        return sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*")
                      if p != self._filler)


_REAL_USAGE = shutil.disk_usage


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[bool]:
    """Mount a tmpfs of ``size`` at the new folder ``path``, unmounted at the end.

    Yields whether it is really mounted (root can; CI runs as root).
    """
    path.mkdir()
    try:
        real = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                              capture_output=True, check=False).returncode == 0
    except OSError:  # no mount command (Windows)
        real = False
    try:
        yield real
    finally:
        # Lazily where a file is still open there (PyAV keeps a video open until the process
        # ends when not even its header could be written): the mount never outlives the test.
        if real and subprocess.run(["umount", str(path)], capture_output=True,
                                   check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def mounted(path: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` at the new folder ``path``.

    The test is skipped where mounting is not allowed (it needs the kernel's own full disk).
    """
    with tmpfs(path, size) as real:
        if not real:
            pytest.skip("cannot mount a tmpfs here")
        yield path


@contextlib.contextmanager
def small_fs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: str = "2M") -> Iterator[Disk]:
    """A :class:`Disk` of ``size`` under ``tmp_path`` (simulated where mounting is refused)."""
    with tmpfs(tmp_path / "disk", size) as real:
        yield Disk(tmp_path / "disk", real, monkeypatch)
