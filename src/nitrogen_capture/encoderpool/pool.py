"""Frame encoding in worker processes, fed through shared-memory slots.

Encoding is the expensive part of recording (docs/architecture.md 6), so it never runs on the
capture thread. Worker *processes*, not threads: the fast PNG encoder holds the GIL while it works
(measured: two threads take twice as long as one, and a spinning Python thread gets ~8x fewer turns
during an encode), which would add milliseconds of jitter to the capture clock.

The capture thread copies a frame into a free shared-memory slot (a memcpy, ~0.3 ms at 720p) and
hands a tiny task to a worker; the worker encodes it and writes the file; a collector thread frees
the slot and reports the result. When no slot is free the frame is *not* queued: :meth:`submit`
returns False and the caller counts a drop, so the capture clock is never blocked by a slow disk.

What a worker does is the frame store's choice (``nitrogen_capture.session.frames``): its
:class:`~nitrogen_capture.codecs.jobs.EncoderSpec` names the worker function, its argument, how
many processes and whether order matters; the messages between pool and worker are the typed
ones of :mod:`nitrogen_capture.codecs.jobs`. This package is the recorder's alone: the frame
stores, export and preview never import it. Unordered workers (PNG:
:func:`~nitrogen_capture.codecs.png.png_worker`) may run side by side, each frame goes to the
worker with the fewest frames in hand and results come back in any order. An ordered worker
(video: :func:`~nitrogen_capture.codecs.video.video_worker`) runs alone, gets the frames in
submission order and keeps one open file per chunk; its result of kind ``closed`` says a
chunk's file is finished (see :class:`EncodeResult`), and :meth:`EncoderPool.flush` closes the
open one.

Nothing outlives the recorder, not even after a ``kill -9`` of its whole process group, when no
code of ours runs any more (docs/reliability.md 2). So the pool uses only what the kernel
frees with its last user:

- **Pipes, no locks.** Each worker has its own task pipe and result pipe
  (``multiprocessing.Pipe``, an OS pipe); the collector waits on the result pipes
  (``multiprocessing.connection.wait``). multiprocessing's queues, locks and barriers are named
  POSIX semaphores (``/dev/shm/sem.mp-*``) under the spawn start method, which only its resource
  tracker unlinks, and a group kill kills the tracker too: the pool used to leave 6 (video) to 10
  (PNG, 2 workers) of them per kill. The capture thread only appends a task to a list; a sender
  thread writes it to a pipe (a write that wakes another process costs ~40 us, three times a
  ``Queue.put``, which also left the write to a thread). A worker has at most :data:`CREDIT`
  frames in its pipe, the rest wait here, so no send blocks on a full pipe (Windows pipes hold
  8 KiB).
- **Anonymous slots** (:mod:`.slots`, the platform backend): a memfd per slot on Linux, handed
  to the workers when they start; a mapping Windows frees with its last handle.
- **Workers die with their parent** (:func:`nitrogen_capture.lifeline.die_with_parent`:
  ``PR_SET_PDEATHSIG`` on Linux, which fires when the *thread* that started the worker ends, so
  a pool must be closed by the thread that made it; a watchdog elsewhere), and a worker whose
  task pipe reaches its end (the parent is gone) stops.
- **Workers are reaped at once.** A worker that dies while the pool runs is joined by the
  collector the moment its result pipe ends (no zombie for the rest of the recording), and each
  frame it held is reported with an error.

multiprocessing's resource tracker still starts with the first spawned worker (CPython does that
for every spawn); nothing is registered with it, so it has nothing to clean or warn about, and it
exits by itself once the parent and the workers are gone.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_any
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..codecs.jobs import (
    FLUSH,
    EncoderSpec,
    FileClosed,
    Flush,
    Flushed,
    FrameDone,
    FrameTask,
    Ready,
)
from .slots import SLOT_KIND, Slot, new_slot
from .worker import SlotReader, run_worker

__all__ = ["CREDIT", "EncodeResult", "EncoderPool", "EncoderSpec", "SlotReader"]


log = logging.getLogger(__name__)

CREDIT = 8  # frames handed to one worker at once (~2 KB of pipe); the others wait in the pool
_REAP_S = 5.0  # a worker whose result pipe ended is exiting: how long the collector waits for it


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


@dataclass(eq=False)
class _Worker:
    """One encoder process, the end of its task pipe we write and of its result pipe we read."""

    proc: Any
    tasks: Any
    results: Any
    sent: dict[int, FrameTask] = field(default_factory=dict)  # slot -> task, unreported
    alive: bool = True


class EncoderPool:
    """A pool of encoder processes with ``slots`` shared-memory frame buffers.

    Args:
        spec: the worker to run and how (from the session's frame store).
        slots: frames that may wait for encoding at once (the queue bound).
        on_result: called from the collector thread for every finished frame (and, for an
            ordered worker, every closed chunk file), in the order the workers report them.
        slot_kind: the slots' backend (:mod:`.slots`; the platform's unless a test asks).
    """

    def __init__(self, spec: EncoderSpec, slots: int,
                 on_result: Callable[[EncodeResult], None], *,
                 slot_kind: str = SLOT_KIND) -> None:
        self._ctx = mp.get_context("spawn")  # no fork: the parent runs threads
        self._on_result = on_result
        self._slots: list[Slot] = [new_slot(slot_kind) for _ in range(slots)]
        self._free: deque[int] = deque(range(slots))
        self._lock = threading.Lock()  # the slots' state and the counters
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)
        self._ready = 0
        self._flushed = 0
        # _pending, _control, _stopping and every _Worker.sent/alive; the sender waits on it.
        self._send = threading.Condition(threading.Lock())
        self._pending: deque[FrameTask] = deque()  # frames no worker has taken yet
        self._control: deque[tuple[_Worker, Flush | None]] = deque()  # control messages to send
        self._stopping = False
        self._closed = False
        self.spec = spec
        handles = [s.inheritable() for s in self._slots]
        with _sigint_ignored():  # inherited through spawn: ignored from the child's first line
            self._workers = [self._start(i, slot_kind, handles) for i in range(spec.workers)]
        self._collector = threading.Thread(target=self._collect, name="encoder-results",
                                           daemon=True)
        self._collector.start()
        self._sender = threading.Thread(target=self._feed, name="encoder-tasks", daemon=True)
        self._sender.start()

    def _start(self, i: int, slot_kind: str, handles: list[Any]) -> _Worker:
        tasks_in, tasks_out = self._ctx.Pipe(duplex=False)
        results_in, results_out = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=run_worker,
                                 args=(self.spec.worker, tasks_in, results_out, self.spec.arg,
                                       os.getpid(), slot_kind, handles, self.spec.nice),
                                 name=f"encoder-{self.spec.name}-{i}", daemon=True)
        proc.start()
        # Only the worker holds these ends now: its death ends our result pipe, ours its tasks.
        tasks_in.close()
        results_out.close()
        return _Worker(proc, tasks_out, results_in)

    @property
    def depth(self) -> int:
        """Frames queued or being encoded."""
        return self._in_flight

    @property
    def has_room(self) -> bool:
        """Whether :meth:`submit` would find a free slot now (no lock: a hint, read often)."""
        return bool(self._free)

    @property
    def pids(self) -> list[int]:
        """The worker processes' PIDs."""
        return [int(w.proc.pid) for w in self._workers]

    def preallocate(self, nbytes: int) -> None:
        """Allocate and touch every slot for frames of ``nbytes`` before recording starts.

        Otherwise the first use of each slot allocates shared memory and page-faults it in on
        the capture thread (several ms at 720p).
        """
        with self._lock:
            free = list(self._free)
        for slot in free:
            s = self._slots[slot]
            if s.size < nbytes:
                s.reserve(nbytes)
                np.ndarray((nbytes,), dtype=np.uint8, buffer=s.buf).fill(0)  # fault pages in

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
        s = self._slots[slot]
        s.reserve(shape[0] * shape[1] * 3)  # first use of the slot, or the window grew
        view = np.ndarray(shape, dtype=np.uint8, buffer=s.buf)
        if frame.shape[2] == 4:
            import cv2

            out = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR, dst=view)
            if out is not view:  # OpenCV allocates anew when dst does not fit: never silent
                view[...] = out
        else:
            view[...] = frame
        del view
        if self._dispatch(FrameTask(slot, s.ref, shape, str(path), tag)):
            return True
        with self._lock:  # every worker is gone (their frames were reported): a drop
            self._free.append(slot)
            self._in_flight -= 1
        return False

    def _dispatch(self, task: FrameTask) -> bool:
        """Queue ``task`` for the sender thread; False when no worker is left to take it."""
        with self._send:
            if not any(w.alive for w in self._workers):
                return False
            self._pending.append(task)
            self._send.notify()
        return True

    def _take(self) -> list[tuple[_Worker, FrameTask | Flush | None]]:
        """What to send now (``_send`` held).

        The waiting frames, in order, each for the least busy worker with room; then the
        control messages.
        """
        out: list[tuple[_Worker, FrameTask | Flush | None]] = []
        while self._pending:
            live = [w for w in self._workers if w.alive]
            w = min(live, key=lambda w: len(w.sent), default=None)
            if w is None or len(w.sent) >= CREDIT:
                break
            task = self._pending.popleft()
            w.sent[task.slot] = task  # reported by the collector if w dies before it answers
            out.append((w, task))
        while self._control:
            out.append(self._control.popleft())
        return out

    def _feed(self) -> None:
        """The sender thread: the only writer of the task pipes, so their order is kept."""
        while True:
            with self._send:
                batch = self._take()
                while not batch and not self._stopping:
                    self._send.wait()
                    batch = self._take()
                if not batch:
                    return
            for w, message in batch:
                try:
                    w.tasks.send(message)
                except OSError:  # it died: the collector reports what it held
                    with self._send:
                        w.alive = False

    def _collect(self) -> None:
        live = {w.results: w for w in self._workers}
        while live:
            for conn in wait_any(list(live)):
                w = live[conn]
                try:
                    item = w.results.recv()
                except (EOFError, OSError):  # the worker ended (asked to, or killed)
                    del live[conn]
                    self._lost(w)
                    continue
                self._handle(w, item)

    def _handle(self, w: _Worker, item: Any) -> None:
        if isinstance(item, FrameDone):
            with self._send:
                w.sent.pop(item.slot, None)
                self._send.notify()  # room for one more frame
            self._report(item.slot, EncodeResult(item.tag, Path(item.path), item.ms,
                                                 item.nbytes, item.error))
        elif isinstance(item, FileClosed):
            self._report(-1, EncodeResult(item.tag, Path(item.path), item.ms, item.nbytes,
                                          item.error, "closed"))
        elif isinstance(item, Ready | Flushed):
            with self._lock:
                if isinstance(item, Ready):
                    self._ready += 1
                else:
                    self._flushed += 1
                self._idle.notify_all()
        else:  # a worker that does not speak codecs.jobs: say so, never guess
            log.error("encoder %s sent an unknown message: %r", w.proc.name, item)

    def _report(self, slot: int, result: EncodeResult) -> None:
        if slot >= 0:
            with self._lock:
                self._free.append(slot)  # free at once: the capture thread may reuse it
        try:
            self._on_result(result)
        except Exception:
            log.exception("encoder result handler failed")
        if slot >= 0:
            # Counted down only after on_result: when drain() returns, every result has
            # been handed on (the recorder then posts "stop" after the last "encoded").
            with self._lock:
                self._in_flight -= 1
                self._idle.notify_all()

    def _lost(self, w: _Worker) -> None:
        """``w``'s result pipe ended: reap it now, report every frame it held as failed."""
        with self._send:
            w.alive = False
            lost = list(w.sent.values())
            w.sent.clear()
            if not any(x.alive for x in self._workers):
                lost += self._pending
                self._pending.clear()
            self._send.notify()  # the waiting frames go to the others
        w.proc.join(_REAP_S)  # no zombie while the recording goes on
        if lost:
            why = f"the encoder process {w.proc.name} ended (exit code {w.proc.exitcode})"
            for task in lost:
                self._report(task.slot, EncodeResult(task.tag, Path(task.path), 0.0, 0, why))
        with self._lock:
            self._idle.notify_all()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Wait until every worker has started (imports done), so the first frames are not late."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._ready < len(self._workers):
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
        self._send_all(FLUSH)
        with self._lock:
            while self._flushed < want:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.alive():
                    return False
                self._idle.wait(min(remaining, 0.5))
        return True

    def _send_all(self, message: Flush | None, *, last: bool = False) -> None:
        """Have the sender send a control message to every live worker (``last``: then stop)."""
        with self._send:
            self._control.extend((w, message) for w in self._workers if w.alive)
            self._stopping = self._stopping or last
            self._send.notify()

    def alive(self) -> bool:
        """True while every worker process runs."""
        return all(w.alive for w in self._workers)

    def close(self) -> None:
        """Finish queued frames, stop the workers, free shared memory. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.alive():
            self.drain(timeout=60)
        self._send_all(None, last=True)
        # The collector reaps each worker as its result pipe ends; one that does not end in
        # time is terminated (its pipe then ends too, and a send blocked on it fails).
        self._collector.join(timeout=10)
        for w in self._workers:
            if self._collector.is_alive() and w.alive:
                w.proc.terminate()
        self._collector.join(timeout=10)
        self._sender.join(timeout=10)
        for w in self._workers:
            w.proc.join(timeout=1)
            w.tasks.close()
            w.results.close()
        for s in self._slots:
            s.close()

    def __enter__(self) -> EncoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
