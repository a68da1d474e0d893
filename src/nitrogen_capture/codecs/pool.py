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
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["EncodeResult", "EncoderPool", "EncoderSpec"]

log = logging.getLogger(__name__)

_NICE = 10  # encoder processes' niceness (Unix); Windows keeps normal priority


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


def _background(worker: Callable[..., None], *args: Any) -> None:
    """Run ``worker`` at a lower CPU priority.

    Encoding is background work: on a busy machine the game and the capture thread must get the
    CPU first (a capture thread that wakes late loses frames; an encoder that runs late only
    fills the queue a little).
    """
    import os
    import signal

    # A terminal's Ctrl+C reaches the whole process group: the recorder (the parent) decides
    # when to stop and then drains and stops its workers through the task queue, so a worker
    # that died of the same SIGINT would lose the frames still queued.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):  # not permitted: run at normal priority
            os.nice(_NICE)
    worker(*args)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes start (main thread only; elsewhere a no-op).

    An ignored signal stays ignored across exec, so a Ctrl+C during a worker's imports (before
    :func:`_background` runs) cannot kill it either.
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
        self.spec = spec
        # An ordered spec has one process: one FIFO task queue keeps the frames in order.
        self._procs = [self._ctx.Process(target=_background, args=(spec.worker, self._tasks,
                                                                   self._results, spec.arg),
                                         name=f"encoder-{spec.name}-{i}", daemon=True)
                       for i in range(spec.workers)]
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
        for slot in free:
            shm = self._shms[slot]
            if shm is None or shm.size < nbytes:
                if shm is not None:
                    shm.close()
                    shm.unlink()
                shm = self._shms[slot] = shared_memory.SharedMemory(create=True, size=nbytes)
                np.ndarray((nbytes,), dtype=np.uint8, buffer=shm.buf).fill(0)  # fault pages in

    def submit(self, frame: npt.NDArray[np.uint8], path: Path, tag: Any = None) -> bool:
        """Queue ``frame`` to be written to ``path``; False (not queued) when every slot is busy."""
        with self._lock:
            if not self._free:
                return False
            slot = self._free.popleft()
            self._in_flight += 1
        shm = self._shms[slot]
        if shm is None or shm.size < frame.nbytes:
            # First use of the slot, or the window grew: (re)allocate this slot only.
            if shm is not None:
                shm.close()
                shm.unlink()
            shm = self._shms[slot] = shared_memory.SharedMemory(create=True, size=frame.nbytes)
        view = np.ndarray(frame.shape, dtype=np.uint8, buffer=shm.buf)
        view[...] = frame
        del view
        self._tasks.put((slot, shm.name, frame.shape, str(path), tag))
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
                shm.unlink()
        self._tasks.close()
        self._results.close()

    def __enter__(self) -> EncoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

