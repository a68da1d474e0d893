"""Shared memory for the encoder pool's frame slots, freed by the OS with its last user.

The recorder copies each frame into a slot that the encoder processes read
(:mod:`.pool`). The slots must not outlive the processes that use them, however those end:
``kill -9`` of the whole process group included, after which no Python code runs. So the
memory is of a kind the kernel frees when its last holder goes, never a named object that
someone has to unlink (``multiprocessing.shared_memory`` on POSIX is such an object: after a
group kill its ``/dev/shm/psm_*`` stays until reboot, as do the ``sem.mp-*`` of
multiprocessing's locks and queues).

This is the pool's platform backend; every platform difference of the slots is here:

- **Linux:** one ``memfd_create`` file per slot. It has no name anywhere; the workers inherit
  its descriptor when they start (:meth:`FdSlot.inheritable`), and a slot that must grow is
  grown in place (``ftruncate``) under the same descriptor.
- **Other POSIX systems** (untested): the same with an unlinked temporary file, in ``/dev/shm``
  when there is one.
- **Windows:** a named file mapping (``multiprocessing.shared_memory``). Windows frees it when
  the last handle to it closes, which happens on any death, so the name cannot leak. A worker
  opens it by the name that comes with each frame; a slot that grows gets a new mapping and
  name.

:func:`new_slot` makes the owner's side of a slot, :class:`SlotMaps` is a worker's side. A
frame task carries the slot's :attr:`ref` (the size on POSIX, the name on Windows): a worker
maps the slot again whenever the ref it holds differs.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sys
import tempfile
from typing import Any, Protocol

__all__ = ["FdSlot", "NamedSlot", "Slot", "SlotMaps", "new_slot"]

SLOT_KIND = "named" if sys.platform == "win32" else "fd"


class Slot(Protocol):
    """The owner's side of one frame slot."""

    kind: str

    @property
    def size(self) -> int:
        """Bytes mapped now (0 before the first :meth:`reserve`)."""

    @property
    def buf(self) -> Any:
        """The writable mapping (a buffer for ``numpy.ndarray(buffer=...)``)."""

    @property
    def ref(self) -> Any:
        """What a frame task carries so that a worker maps the current memory."""

    def reserve(self, nbytes: int) -> None:
        """Make the slot hold at least ``nbytes`` (no-op when it already does)."""

    def inheritable(self) -> Any:
        """What the workers get when they start (picklable only while they are spawned)."""

    def close(self) -> None:
        """Unmap and let go of the memory (workers that still map it keep it alive)."""


def new_slot(kind: str = SLOT_KIND) -> Slot:
    """An empty slot of ``kind`` (``fd`` or ``named``; the platform's by default)."""
    return FdSlot() if kind == "fd" else NamedSlot()


# -- POSIX: an anonymous file descriptor --------------------------------------------------------
def _anonymous_fd() -> int:
    """A file that has no name: a memfd on Linux, else an unlinked temporary file."""
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        fd: int = memfd_create("nitrogen-frame-slot", getattr(os, "MFD_CLOEXEC", 1))
        return fd
    where = "/dev/shm" if os.path.isdir("/dev/shm") else None
    fd, path = tempfile.mkstemp(prefix="nitrogen-slot-", dir=where)
    os.unlink(path)  # named for a few microseconds only
    return fd


class _InheritedFd:
    """A descriptor handed to a spawned worker: pickled only while multiprocessing spawns it.

    ``multiprocessing.reduction.DupFd`` during a spawn adds the descriptor to the ones the new
    process keeps (as multiprocessing does for a ``Connection``); at any other time it would
    start multiprocessing's resource-sharer thread, which the pool never needs.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        if sys.platform == "win32":
            raise TypeError("Windows slots are opened by name")
        from multiprocessing import context, reduction

        if context.get_spawning_popen() is None:
            raise TypeError("a frame slot is handed over only when a worker starts")
        return _inherit, (reduction.DupFd(self.fd),)


def _inherit(dup: Any) -> int:
    return int(dup.detach())


class FdSlot:
    """A slot backed by an anonymous file descriptor (POSIX)."""

    kind = "fd"

    def __init__(self) -> None:
        self._fd = _anonymous_fd()
        self._map: mmap.mmap | None = None

    @property
    def size(self) -> int:
        """Bytes mapped now."""
        return 0 if self._map is None else len(self._map)

    @property
    def buf(self) -> Any:
        """The writable mapping."""
        assert self._map is not None, "reserve() first"
        return self._map

    @property
    def ref(self) -> int:
        """The size: a worker whose mapping is older maps the grown file again."""
        return self.size

    def reserve(self, nbytes: int) -> None:
        """Grow the file in place (the workers keep the same descriptor)."""
        if nbytes <= self.size:
            return
        os.ftruncate(self._fd, nbytes)
        if self._map is not None:
            self._map.close()
        self._map = mmap.mmap(self._fd, nbytes)

    def inheritable(self) -> Any:
        """The descriptor, for a worker being spawned."""
        return _InheritedFd(self._fd)

    def close(self) -> None:
        """Unmap and close (idempotent)."""
        if self._map is not None:
            with contextlib.suppress(BufferError):  # a view still exported: freed at exit
                self._map.close()
            self._map = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


# -- Windows: a named mapping, freed with its last handle ---------------------------------------
class NamedSlot:
    """A slot backed by ``multiprocessing.shared_memory`` (Windows; on POSIX only in tests)."""

    kind = "named"

    def __init__(self) -> None:
        self._shm: Any = None

    @property
    def size(self) -> int:
        """Bytes mapped now."""
        return 0 if self._shm is None else int(self._shm.size)

    @property
    def buf(self) -> Any:
        """The writable mapping."""
        assert self._shm is not None, "reserve() first"
        return self._shm.buf

    @property
    def ref(self) -> str | None:
        """The mapping's name."""
        return None if self._shm is None else str(self._shm.name)

    def reserve(self, nbytes: int) -> None:
        """A new, larger mapping (workers open it by name with the next frame)."""
        if nbytes <= self.size:
            return
        from multiprocessing import shared_memory

        self.close()
        self._shm = shared_memory.SharedMemory(create=True, size=nbytes)

    def inheritable(self) -> Any:
        """Nothing: workers open the mapping by name."""
        return None

    def close(self) -> None:
        """Close; on POSIX also unlink (a no-op on Windows, where the last close frees it)."""
        shm, self._shm = self._shm, None
        if shm is not None:
            with contextlib.suppress(BufferError):
                shm.close()
            with contextlib.suppress(FileNotFoundError):
                shm.unlink()


def _attach_untracked(name: str) -> Any:
    """Map the owner's segment ``name`` without registering it with the resource tracker.

    Only POSIX registers segments (the owner does, when it creates one); Python before 3.13
    also registers a segment a process merely attaches to (CPython issue 82300), and the
    tracker would then warn of a "leak" that the owner already cleaned.
    """
    from multiprocessing import shared_memory

    if sys.version_info >= (3, 13) or sys.platform == "win32":
        kwargs: dict[str, Any] = {} if sys.platform == "win32" else {"track": False}
        return shared_memory.SharedMemory(name=name, **kwargs)
    from multiprocessing import resource_tracker

    register = resource_tracker.register
    resource_tracker.register = lambda *args, **kwargs: None  # the worker maps, never owns
    try:
        return shared_memory.SharedMemory(name=name)
    finally:
        resource_tracker.register = register


class SlotMaps:
    """A worker's side of every slot: maps a slot when a frame names memory it has not mapped.

    Args:
        kind: the owner's :attr:`Slot.kind`.
        handles: the owner's :meth:`Slot.inheritable` of each slot, as the worker received
            them (file descriptors on POSIX, nothing on Windows).
    """

    def __init__(self, kind: str, handles: list[Any]) -> None:
        self._kind = kind
        self._fds = handles
        self._refs: list[Any] = [None] * len(handles)
        self._maps: list[Any] = [None] * len(handles)

    def buffer(self, slot: int, ref: Any) -> Any:
        """The buffer of ``slot`` holding the memory ``ref`` names."""
        if self._refs[slot] != ref:
            self._release(slot)
            if self._kind == "fd":
                self._maps[slot] = mmap.mmap(self._fds[slot], int(ref))
            else:
                self._maps[slot] = _attach_untracked(str(ref))
            self._refs[slot] = ref
        m = self._maps[slot]
        return m if self._kind == "fd" else m.buf

    def _release(self, slot: int) -> None:
        m, self._maps[slot], self._refs[slot] = self._maps[slot], None, None
        if m is not None:
            with contextlib.suppress(BufferError):  # a view still exported: the exit unmaps
                m.close()

    def close(self) -> None:
        """Unmap every slot and close the inherited descriptors."""
        for slot in range(len(self._maps)):
            self._release(slot)
        if self._kind == "fd":
            for fd in self._fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
