"""The local engine's worker processes: one task at a time each, over two plain pipes.

Not :class:`concurrent.futures.ProcessPoolExecutor`: its queues and locks are named POSIX
semaphores under the spawn start method (``/dev/shm/sem.mp-*``, five per pool), which only
multiprocessing's resource tracker unlinks, and a ``kill -9`` of the process group kills the
tracker too, so every killed batch left five behind. Here each worker has a task pipe and a
result pipe (``multiprocessing.Pipe``: OS pipes, freed with their last holder) and the driver
waits on the result pipes (``multiprocessing.connection.wait``), so nothing is named and nothing
can be left.

A worker dies with the driver (:func:`~nitrogen_capture.lifeline.die_with_parent`, and its task
pipe ends), ignores Ctrl+C (the driver decides and stops it) and is reaped by the driver the
moment its result pipe ends. A worker that dies mid-task is replaced; :func:`.engines.run_local`
decides whether the task runs again.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from ...lifeline import die_with_parent

__all__ = ["Died", "WorkerProcess", "max_workers"]

_STOP_S = 10.0  # a worker asked to stop gets this long before it is terminated

# multiprocessing.connection.wait on Windows waits on at most 63 handles at once.
_WINDOWS_MAX = 60


def max_workers(workers: int) -> int:
    """``workers``, capped where the platform cannot wait on more result pipes at once."""
    return min(workers, _WINDOWS_MAX) if sys.platform == "win32" else workers


class Died(Exception):
    """The worker process ended before it reported its task."""


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT held back in this thread meanwhile (delivered after; POSIX only).

    A spawned process inherits the mask across exec, so a worker that is still importing when
    Ctrl+C reaches the process group does not print a traceback: only the driver sees it.
    """
    if sys.platform == "win32":  # no signal masks; Ctrl+C reaches console processes anyway
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _serve(tasks: Any, results: Any, parent_pid: int) -> None:
    """A worker's loop: ``(fn, job)`` in, ``("ok", fn(job))`` or ``("raised", exc)`` out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver stops the workers
    die_with_parent(parent_pid)
    while True:
        try:
            item = tasks.recv()
        except (EOFError, OSError):  # the driver is gone
            return
        if item is None:
            return
        fn, job = item
        try:
            reply: tuple[str, Any] = ("ok", fn(job))
        except Exception as exc:  # handed to the driver, which raises it
            reply = ("raised", exc)
        try:
            results.send(reply)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # the report or the exception does not pickle
            results.send(("raised", RuntimeError(f"{type(exc).__name__}: {exc}")))


class WorkerProcess:
    """One spawned worker and the driver's ends of its pipes.

    :meth:`send` hands it a task, :attr:`results` is what to wait on, :meth:`receive` returns
    the task's report (or raises :class:`Died`, after reaping the process).
    """

    def __init__(self, ctx: Any = None) -> None:
        ctx = ctx or multiprocessing.get_context("spawn")
        tasks_in, self.tasks = ctx.Pipe(duplex=False)
        self.results, results_out = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_serve, args=(tasks_in, results_out, os.getpid()),
                                name="batch-worker", daemon=True)
        with _sigint_blocked():  # the worker starts with it blocked, then ignores it
            self.proc.start()
        # Only the worker holds these ends now: its death ends our result pipe, ours its tasks.
        tasks_in.close()
        results_out.close()
        self.job: Any = None

    def send(self, fn: Callable[[Any], Any], job: Any) -> None:
        """Run ``fn(job)`` there (a worker gone already shows as :class:`Died` on receive)."""
        self.job = job
        with suppress(OSError):  # gone already: its result pipe has ended too, receive() says so
            self.tasks.send((fn, job))

    def receive(self) -> Any:
        """The report of the task sent last (call once :attr:`results` is ready)."""
        try:
            kind, value = self.results.recv()
        except (EOFError, OSError):
            self.reap()
            raise Died(f"exit code {self.proc.exitcode}") from None
        if kind == "raised":
            raise value
        return value

    def stop(self, *, now: bool = False) -> None:
        """Ask it to leave (``now``: terminate it) and reap it; idempotent."""
        if now:
            self.proc.terminate()
        else:
            with suppress(OSError):
                self.tasks.send(None)
        self.reap()

    def reap(self) -> None:
        """Wait for the process to end (terminated after :data:`_STOP_S`) and close the pipes."""
        self.proc.join(_STOP_S)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()
        self.tasks.close()
        self.results.close()
