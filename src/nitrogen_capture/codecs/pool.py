"""Frame encoding in worker processes, fed through shared-memory slots.

Encoding is the expensive part of recording (docs/architecture.md 6), so it never runs on the
capture thread. Worker *processes*, not threads: the fast PNG encoder holds the GIL while it works
(measured: two threads take twice as long as one, and a spinning Python thread gets ~8x fewer turns
during an encode), which would add milliseconds of jitter to the capture clock.

The capture thread copies a frame into a free shared-memory slot (a memcpy, ~0.3 ms at 720p) and
queues a tiny task; a worker encodes it and writes the file; a collector thread frees the slot
and reports the result. When no slot is free the frame is *not* queued: :meth:`submit` returns
False and the caller counts a drop, so the capture clock is never blocked by a slow disk.

Two kinds of workers share this machinery: PNG workers (any number; any worker takes any frame,
results come back in any order) and the single video worker of :mod:`.video` (``video=...``),
which gets the frames in submission order through the one task queue and keeps one open file per
chunk. A video result of kind ``closed`` says a chunk's file is finished; see
:class:`EncodeResult`.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .video import VideoSettings

__all__ = ["EncodeResult", "EncoderPool"]

log = logging.getLogger(__name__)

_NICE = 10  # encoder processes' niceness (Unix); Windows keeps normal priority


@dataclass(frozen=True)
class EncodeResult:
    """What a worker reports for one frame, or (``kind == "closed"``) for one finished file.

    PNG: a ``frame`` result means the PNG is on disk. Video: a ``frame`` result means the frame
    was handed to the encoder (its bytes reach the file later, at the latest when the file is
    closed); the ``closed`` result of the chunk's tag comes after the last frame's, once the
    file is flushed and closed, with ``nbytes`` the file size. A chunk is complete only then.
    """

    tag: Any
    path: Path
    ms: float
    nbytes: int
    error: str | None = None
    kind: str = "frame"


def _background(worker: Callable[..., None], *args: Any) -> None:
    """Run ``worker`` at a lower CPU priority.

    Encoding is background work: on a busy machine the game and the capture thread must get the
    CPU first (a capture thread that wakes late loses frames; an encoder that runs late only
    fills the queue a little).
    """
    import contextlib
    import os

    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):  # not permitted: run at normal priority
            os.nice(_NICE)
    worker(*args)


def _worker(tasks: Any, results: Any, encoder_name: str) -> None:
    """Worker process: encode frames from shared memory and write them to disk."""
    from .png import get_png_encoder, write_atomic

    _, encode = get_png_encoder(encoder_name)
    results.put("ready")
    attached: dict[str, shared_memory.SharedMemory] = {}
    while True:
        task = tasks.get()
        if task is None:
            break
        slot, shm_name, shape, path, tag = task
        t0 = time.perf_counter()
        try:
            shm = attached.get(shm_name)
            if shm is None:
                shm = attached[shm_name] = shared_memory.SharedMemory(name=shm_name)
            frame = np.ndarray(shape, dtype=np.uint8, buffer=shm.buf)
            data = encode(frame)
            del frame
            write_atomic(Path(path), data)
            results.put((slot, path, tag, (time.perf_counter() - t0) * 1e3, len(data), None,
                         "frame"))
        except Exception as exc:  # reported to the owner, who decides (e.g. disk full -> stop)
            results.put((slot, path, tag, (time.perf_counter() - t0) * 1e3, 0,
                         f"{type(exc).__name__}: {exc}", "frame"))
    for shm in attached.values():
        shm.close()


class EncoderPool:
    """A pool of encoder processes with ``slots`` shared-memory frame buffers.

    Args:
        workers: number of PNG encoder processes (ignored with ``video``: always one).
        slots: frames that may wait for encoding at once (the queue bound).
        on_result: called from the collector thread for every finished frame (and, for video,
            every closed chunk file), in the order the workers report them.
        encoder: PNG encoder name (``auto``, ``fpng``, ``opencv``).
        video: H.264 settings; one video worker encodes every frame in submission order.
    """

    def __init__(self, workers: int, slots: int, on_result: Callable[[EncodeResult], None],
                 encoder: str = "auto", *, video: VideoSettings | None = None) -> None:
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
        self._video = video is not None
        target: Callable[..., None] = _worker
        arg: Any = encoder
        if video is not None:
            from .video import video_worker

            # Strict order: one process, one FIFO task queue (x264 threads inside it).
            workers, target, arg = 1, video_worker, video
        self._procs = [self._ctx.Process(target=_background, args=(target, self._tasks,
                                                                   self._results, arg),
                                         name="encoder-video" if video else f"encoder-{i}",
                                         daemon=True)
                       for i in range(workers)]
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
        """Wait for queued frames, then close the video worker's open file; False on timeout.

        Its ``closed`` result has been passed to ``on_result`` when this returns True. PNG
        workers keep no open file: this is :meth:`drain`.
        """
        if not self.drain(timeout):
            return False
        if not self._video:
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

