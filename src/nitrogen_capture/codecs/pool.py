"""Frame encoding in worker processes, fed through shared-memory slots.

Encoding is the expensive part of recording (docs/architecture.md 6), so it never runs on the
capture thread. Worker *processes*, not threads: the fast PNG encoder holds the GIL while it works
(measured: two threads take twice as long as one, and a spinning Python thread gets ~8x fewer turns
during an encode), which would add milliseconds of jitter to the capture clock.

The capture thread copies a frame into a free shared-memory slot (a memcpy, ~0.3 ms at 720p) and
queues a tiny task; a worker encodes it and writes the file; a collector thread frees the slot
and reports the result. When no slot is free the frame is *not* queued: :meth:`submit` returns
False and the caller counts a drop, so the capture clock is never blocked by a slow disk.

What a worker does is the frame store's choice (``nitrogen_capture.session.frames``): its
:class:`EncoderSpec` names the worker function, its argument, how many processes and whether
order matters. Unordered workers (PNG: :func:`.png.png_worker`) may run side by side, any worker
takes any frame and results come back in any order. An ordered worker (video:
:func:`.video.video_worker`) runs alone, gets the frames in submission order through the one
task queue and keeps one open file per chunk; its result of kind ``closed`` says a chunk's file
is finished (see :class:`EncodeResult`), and :meth:`EncoderPool.flush` closes the open one.

Processes and shared memory outlive nothing (docs/architecture.md 2):

- A worker dies with its parent: on Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (then a check of
  ``os.getppid()``, in case the parent died before the call), elsewhere a watchdog thread that
  polls the parent with psutil (:mod:`.worker`). ``PR_SET_PDEATHSIG`` fires when the
  *thread* that started the worker ends, so a pool must be closed by the thread that made it
  (the recorder's capture thread does both).
- A segment is unlinked as soon as every worker has mapped it (:meth:`EncoderPool._on_attached`);
  the mappings stay valid (Linux frees the memory when the last one goes), so from then on no
  death of any process, not even a ``kill -9`` of the whole process group, leaves it in
  ``/dev/shm``. The workers map the segments when they are created (an ``attach`` message, one
  per worker, in :meth:`EncoderPool.preallocate` and on a resize), not on their first frame: an
  unordered worker might otherwise never see some slot. Measured on the 2-core build machine
  (64 slots at 640x360, PNG with 2 workers and video): all are unlinked 1-5 ms after the
  workers report ready, so before the recorder's clock starts; ``bench/kill9.py`` counts the
  ones still linked at the kill (none in its trials). The alternative, workers unlinking the
  parent's segments when they notice it died, needs a worker that outlives its parent and
  loses everything when the whole group is killed. Until the acknowledgements arrive (start-up, a
  resize) a segment is still linked: :meth:`EncoderPool.close`, an atexit hook and, after a
  ``kill -9`` of the parent alone, multiprocessing's resource tracker unlink it. The tracker is
  our child too; it exits by itself once every holder of its pipe (the parent and the workers)
  is gone, which the parent-death rule makes immediate (tests/test_process_faults.py).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing as mp
import os
import signal
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .worker import SlotReader, run_worker

__all__ = ["EncodeResult", "EncoderPool", "EncoderSpec", "SlotReader"]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodeResult:
    """What a worker reports for one frame, or (``kind == "closed"``) for one finished file.

    Unordered (PNG) workers: a ``frame`` result means the frame's file is on disk. Ordered
    (video) workers: a ``frame`` result means the frame was handed to the encoder (its bytes
    reach the file later, at the latest when the file is closed); the ``closed`` result of the
    chunk's tag comes after the last frame's, once the file is flushed and closed. A chunk is
    complete only then. ``nbytes`` is what the result added to the disk, so the results of a
    session add up to its frame bytes.
    """

    tag: Any
    path: Path
    ms: float
    nbytes: int
    error: str | None = None
    kind: str = "frame"


@dataclass(frozen=True)
class EncoderSpec:
    """What an :class:`EncoderPool` runs: ``worker(tasks, results, arg)`` in ``workers`` processes.

    ``ordered``: the frames must reach one worker in submission order (it appends them to an
    open file); the pool then starts exactly one process and :meth:`EncoderPool.flush` asks it
    to close its file. ``name`` labels the processes.
    """

    worker: Callable[[Any, Any, Any], None]
    arg: Any
    workers: int = 1
    ordered: bool = False
    name: str = "encoder"

    def __post_init__(self) -> None:
        if self.workers < 1 or (self.ordered and self.workers != 1):
            raise ValueError(f"{self.name}: {self.workers} workers (ordered encoders run alone)")

@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes start (main thread only; elsewhere a no-op).

    An ignored signal stays ignored across exec, so a Ctrl+C during a worker's imports (before
    :func:`.worker.run_worker` runs) cannot kill it either.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class EncoderPool:
    """A pool of encoder processes with ``slots`` shared-memory frame buffers.

    Args:
        spec: the worker to run and how (from the session's frame store).
        slots: frames that may wait for encoding at once (the queue bound).
        on_result: called from the collector thread for every finished frame (and, for an
            ordered worker, every closed chunk file), in the order the workers report them.
    """

    def __init__(self, spec: EncoderSpec, slots: int,
                 on_result: Callable[[EncodeResult], None]) -> None:
        self._ctx = mp.get_context("spawn")  # no fork: the parent runs threads
        self._tasks: Any = self._ctx.Queue()
        self._results: Any = self._ctx.Queue()
        self._on_result = on_result
        self._shms: list[shared_memory.SharedMemory | None] = [None] * slots
        self._free: deque[int] = deque(range(slots))
        self._lock = threading.Lock()
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)
        self._ready = 0
        self._flushed = 0
        # Segments not yet unlinked, and which workers (PIDs) have mapped each of them.
        self._linked: dict[str, shared_memory.SharedMemory] = {}
        self._mapped_by: dict[str, set[int]] = {}
        self.spec = spec
        # Kept while the pool lives: a collected barrier unlinks its semaphores at once.
        self._barrier = self._ctx.Barrier(spec.workers) if spec.workers > 1 else None
        # An ordered spec has one process: one FIFO task queue keeps the frames in order.
        self._procs = [self._ctx.Process(target=run_worker,
                                         args=(spec.worker, self._tasks, self._results,
                                               spec.arg, os.getpid(), self._barrier),
                                         name=f"encoder-{spec.name}-{i}", daemon=True)
                       for i in range(spec.workers)]
        _open_pools.add(self)
        with _sigint_ignored():  # inherited through spawn: ignored from the child's first line
            for p in self._procs:
                p.start()
        self._collector = threading.Thread(target=self._collect, name="encoder-results",
                                           daemon=True)
        self._collector.start()
        self._closed = False

    @property
    def depth(self) -> int:
        """Frames queued or being encoded."""
        return self._in_flight

    def preallocate(self, nbytes: int) -> None:
        """Allocate and touch every slot for frames of ``nbytes`` before recording starts.

        Otherwise the first use of each slot allocates shared memory and page-faults it in on
        the capture thread (several ms at 720p).
        """
        with self._lock:
            free = list(self._free)
        new = []
        for slot in free:
            shm = self._shms[slot]
            if shm is None or shm.size < nbytes:
                shm = self._allocate(slot, nbytes)
                np.ndarray((nbytes,), dtype=np.uint8, buffer=shm.buf).fill(0)  # fault pages in
                new.append(shm.name)
        self._announce(new)

    def _allocate(self, slot: int, nbytes: int) -> shared_memory.SharedMemory:
        """(Re)allocate ``slot`` with ``nbytes``; the caller announces it to the workers."""
        old = self._shms[slot]
        if old is not None:
            old.close()
            self._unlink(old.name)
        shm = self._shms[slot] = shared_memory.SharedMemory(create=True, size=nbytes)
        with self._lock:
            self._linked[shm.name] = shm
        return shm

    def _announce(self, names: list[str]) -> None:
        """Ask every worker to map ``names`` (one message each; see :class:`SlotReader`)."""
        if names:
            for _ in self._procs:
                self._tasks.put(("attach", names))

    def _unlink(self, name: str) -> None:
        """Remove segment ``name`` from /dev/shm once (mappings stay valid)."""
        with self._lock:
            shm = self._linked.pop(name, None)
            self._mapped_by.pop(name, None)
        if shm is not None:
            with contextlib.suppress(FileNotFoundError):
                shm.unlink()

    def _on_attached(self, names: list[str], pid: int) -> None:
        """A worker mapped ``names``: unlink those every worker has mapped."""
        done = []
        with self._lock:
            for name in names:
                if name in self._linked:
                    pids = self._mapped_by.setdefault(name, set())
                    pids.add(pid)
                    if len(pids) >= len(self._procs):
                        done.append(name)
        for name in done:
            self._unlink(name)

    def submit(self, frame: npt.NDArray[np.uint8], path: Path, tag: Any = None) -> bool:
        """Queue ``frame`` to be written to ``path``; False (not queued) when every slot is busy.

        ``frame`` is (H, W, 3) BGR or (H, W, 4) BGRA; the slot always holds BGR, converted
        while copied (one pass over the pixels instead of a conversion and then a copy).
        """
        with self._lock:
            if not self._free:
                return False
            slot = self._free.popleft()
            self._in_flight += 1
        shape = (int(frame.shape[0]), int(frame.shape[1]), 3)
        nbytes = shape[0] * shape[1] * 3
        shm = self._shms[slot]
        if shm is None or shm.size < nbytes:
            # First use of the slot, or the window grew: (re)allocate this slot only.
            shm = self._allocate(slot, nbytes)
            self._announce([shm.name])
        view = np.ndarray(shape, dtype=np.uint8, buffer=shm.buf)
        if frame.shape[2] == 4:
            import cv2

            out = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR, dst=view)
            if out is not view:  # OpenCV allocates anew when dst does not fit: never silent
                view[...] = out
        else:
            view[...] = frame
        del view
        self._tasks.put((slot, shm.name, shape, str(path), tag))
        return True

    def _collect(self) -> None:
        while True:
            item = self._results.get()
            if item is None:
                return
            if item in ("ready", "flushed"):
                with self._lock:
                    if item == "ready":
                        self._ready += 1
                    else:
                        self._flushed += 1
                    self._idle.notify_all()
                continue
            if item[0] == "attached":
                self._on_attached(item[1], item[2])
                continue
            slot, path, tag, ms, nbytes, error, kind = item
            if slot >= 0:
                with self._lock:
                    self._free.append(slot)  # free at once: the capture thread may reuse it
            try:
                self._on_result(EncodeResult(tag, Path(path), ms, nbytes, error, kind))
            except Exception:
                log.exception("encoder result handler failed")
            if slot >= 0:
                # Counted down only after on_result: when drain() returns, every result has
                # been handed on (the recorder then posts "stop" after the last "encoded").
                with self._lock:
                    self._in_flight -= 1
                    self._idle.notify_all()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait until every worker has started (imports done), so the first frames are not late."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._ready < len(self._procs):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.alive():
                    return False
                self._idle.wait(min(remaining, 0.5))
        return True

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued frame is written; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait for queued frames, then close an ordered worker's open file; False on timeout.

        Its ``closed`` result has been passed to ``on_result`` when this returns True.
        Unordered workers keep no open file: this is :meth:`drain`.
        """
        if not self.drain(timeout):
            return False
        if not self.spec.ordered:
            return True
        deadline = time.monotonic() + timeout
        with self._lock:
            want = self._flushed + 1
            self._tasks.put(("flush",))
            while self._flushed < want:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.alive():
                    return False
                self._idle.wait(min(remaining, 0.5))
        return True

    def alive(self) -> bool:
        """True while every worker process runs."""
        return all(p.is_alive() for p in self._procs)

    def close(self) -> None:
        """Finish queued frames, stop the workers, free shared memory. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.alive():
            self.drain(timeout=60)
        for _ in self._procs:
            self._tasks.put(None)
        for p in self._procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
        self._results.put(None)
        self._collector.join(timeout=5)
        for shm in self._shms:
            if shm is not None:
                shm.close()
        self.unlink_segments()
        self._tasks.close()
        self._results.close()

    def unlink_segments(self) -> None:
        """Unlink every segment still linked (mappings stay valid). Safe from any thread."""
        with self._lock:
            names = list(self._linked)
        for name in names:
            self._unlink(name)

    def __enter__(self) -> EncoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()




_open_pools: weakref.WeakSet[EncoderPool] = weakref.WeakSet()


@atexit.register
def _atexit() -> None:
    """Unlink the segments of every pool its owner never closed.

    Registered after multiprocessing's own exit hook (imported with ``shared_memory`` above),
    so it runs before it: an exception between ``EncoderPool()`` and the owner's ``try`` still
    leaves nothing in /dev/shm, and the resource tracker finds nothing to warn about.
    """
    for pool in list(_open_pools):
        pool.unlink_segments()
