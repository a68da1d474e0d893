"""The worker side of :class:`~nitrogen_capture.codecs.pool.EncoderPool`.

What runs first in every encoder process: :func:`run_worker` ignores SIGINT (the recorder
decides when to stop), ties the process to its parent's life (:func:`_die_with_parent`), lowers
its priority and hands the frame store's worker function a :class:`SlotReader`: its tasks, and
the frames in the shared-memory slots. Why each of these: the module docstring of :mod:`.pool`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing import shared_memory
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["SlotReader", "run_worker"]

_NICE = 10  # encoder processes' niceness (Unix); Windows keeps normal priority
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_WATCHDOG_S = 0.5  # how often a worker without PR_SET_PDEATHSIG checks its parent
_BARRIER_S = 60.0  # how long a worker waits for the others to map new segments


def _die_with_parent(parent_pid: int) -> None:
    """End this process when ``parent_pid`` (the pool's owner) dies, however it dies.

    Linux: the kernel sends SIGKILL (``PR_SET_PDEATHSIG``); a parent that died before the call
    shows as a different ``os.getppid()``. Elsewhere, or when prctl fails: a daemon thread polls
    the parent every :data:`_WATCHDOG_S` and leaves with ``os._exit`` (psutil compares the
    process's start time, so a reused PID does not keep the worker alive).
    """
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
            if os.getppid() != parent_pid:
                os._exit(1)
            return
    import psutil

    try:
        parent = psutil.Process(parent_pid)
    except psutil.Error:
        os._exit(1)

    def watch() -> None:
        while parent.is_running() and parent.status() != psutil.STATUS_ZOMBIE:
            time.sleep(_WATCHDOG_S)
        os._exit(1)

    def guarded() -> None:
        try:
            watch()
        except psutil.Error:
            os._exit(1)

    threading.Thread(target=guarded, name="parent-watchdog", daemon=True).start()


def run_worker(worker: Callable[..., None], tasks: Any, results: Any, arg: Any,
                parent_pid: int, barrier: Any) -> None:
    """Run ``worker`` at a lower CPU priority, tied to the life of the parent.

    Encoding is background work: on a busy machine the game and the capture thread must get the
    CPU first (a capture thread that wakes late loses frames; an encoder that runs late only
    fills the queue a little).
    """
    # A terminal's Ctrl+C reaches the whole process group: the recorder (the parent) decides
    # when to stop and then drains and stops its workers through the task queue, so a worker
    # that died of the same SIGINT would lose the frames still queued.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):  # not permitted: run at normal priority
            os.nice(_NICE)
    reader = SlotReader(tasks, results, barrier)
    try:
        worker(reader, results, arg)
    finally:
        reader.close()


class SlotReader:
    """A worker's end of the pool: its tasks, and the frames in the shared-memory slots.

    :meth:`get` returns the next task for the worker (a frame tuple, a worker-specific control
    tuple or ``None`` to stop) and handles the pool's own ``("attach", names)`` messages on the
    way: it maps the new segments, tells the parent (which may then unlink them) and waits
    until every worker has taken its copy, so that each worker maps each segment.
    """

    def __init__(self, tasks: Any, results: Any, barrier: Any) -> None:
        self._tasks = tasks
        self._results = results
        self._barrier = barrier
        self._attached: dict[str, shared_memory.SharedMemory] = {}

    def get(self) -> Any:
        """The next task (blocks)."""
        while True:
            task = self._tasks.get()
            if isinstance(task, tuple) and len(task) == 2 and task[0] == "attach":
                self._attach(task[1])
                continue
            return task

    def _attach(self, names: list[str]) -> None:
        mapped = []
        for name in names:
            try:
                self._segment(name)
                mapped.append(name)
            except OSError:  # replaced by a later resize and already unlinked
                continue
        self._results.put(("attached", mapped, os.getpid()))
        if self._barrier is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                # A dead sibling breaks the barrier: its segments then stay linked until the
                # parent closes the pool (or the resource tracker cleans up).
                self._barrier.wait(_BARRIER_S)

    def _segment(self, name: str) -> shared_memory.SharedMemory:
        shm = self._attached.get(name)
        if shm is None:
            shm = self._attached[name] = _attach_untracked(name)
        return shm

    def frame(self, name: str, shape: tuple[int, ...]) -> npt.NDArray[np.uint8]:
        """The frame in segment ``name`` (a view: delete it before :meth:`close`)."""
        return np.ndarray(shape, dtype=np.uint8, buffer=self._segment(name).buf)

    def close(self) -> None:
        """Unmap every segment."""
        for shm in self._attached.values():
            with contextlib.suppress(BufferError):  # a view still exported: the exit unmaps
                shm.close()
        self._attached.clear()


def _attach_untracked(name: str) -> shared_memory.SharedMemory:
    """Map the parent's segment ``name`` without registering it with the resource tracker.

    The segment is the parent's: it registers it when it creates it and unregisters it when it
    unlinks it. Python before 3.13 also registers a segment a process merely attaches to
    (CPython issue 82300); with the tracker shared by parent and workers, a worker that mapped a
    segment just as the parent unlinked it would leave a stale registration behind, and the
    tracker would warn of a "leaked" segment at exit that was in fact already gone.
    """
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)  # type: ignore[call-arg]
    from multiprocessing import resource_tracker

    register = resource_tracker.register
    resource_tracker.register = lambda *args, **kwargs: None  # the worker maps, never owns
    try:
        return shared_memory.SharedMemory(name=name)
    finally:
        resource_tracker.register = register
