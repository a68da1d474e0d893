"""Where the tasks run: a process pool on this machine (``local``) or a Ray cluster (``ray``).

Both engines run the same task function on the same :class:`~.tasks.TaskJob` values and hand
each report to ``on_result`` in the driver as it arrives (the driver keeps the manifest and the
progress line); the output never depends on the engine, because the parts are merged afterwards
in a fixed order (:mod:`.aggregate`).

A worker that dies mid-task (killed, out of memory) costs that task a retry: Ray retries it
itself (``max_retries``); the local pool is rebuilt and the unfinished tasks resubmitted, up to
the same number of times. Ray is imported only by :func:`run_ray`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from ...errors import ExportError, missing_dependency
from .tasks import TaskJob, run_task

__all__ = ["ENGINES", "MAX_RETRIES", "TaskFn", "run_local", "run_ray"]

log = logging.getLogger(__name__)
ENGINES: tuple[str, ...] = ("local", "ray")
MAX_RETRIES = 3
TaskFn = Callable[[TaskJob], dict[str, Any]]
OnResult = Callable[[dict[str, Any]], None]
OnStart = Callable[[TaskJob], None]


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


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl+C to the driver, which stops them (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _died(job: TaskJob, why: str) -> dict[str, Any]:
    t = job.task
    return {"task_id": t.task_id, "session": str(t.session), "segment": t.segment,
            "state": "failed", "reason": why, "windows": 0, "frames": 0}


def run_local(jobs: Sequence[TaskJob], workers: int, on_result: OnResult, *,
              on_start: OnStart | None = None, task_fn: TaskFn = run_task,
              max_retries: int = MAX_RETRIES) -> None:
    """Run ``jobs`` on ``workers`` processes (1: in this process), reports to ``on_result``."""
    if workers <= 1:
        for job in jobs:
            if on_start is not None:
                on_start(job)
            on_result(task_fn(job))
        return
    todo, attempts = list(jobs), 0
    # spawn everywhere: what Windows has, and no fork of a driver whose progress thread runs.
    ctx = multiprocessing.get_context("spawn")
    while todo:
        attempts += 1
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                 initializer=_ignore_sigint) as pool:
            running: dict[Future[dict[str, Any]], TaskJob] = {}
            queue = iter(todo)
            lost: list[TaskJob] = []

            def submit(queue: Iterator[TaskJob] = queue, lost: list[TaskJob] = lost,
                       running: dict[Future[dict[str, Any]], TaskJob] = running) -> None:
                # At most ``workers`` in flight: a task counts as started when it really runs.
                while len(running) < workers and not lost:
                    job = next(queue, None)
                    if job is None:
                        return
                    if on_start is not None:
                        on_start(job)
                    try:
                        with _sigint_blocked():  # a worker spawned here starts with it blocked
                            running[pool.submit(task_fn, job)] = job
                    except BrokenProcessPool:
                        lost.append(job)

            try:
                submit()
                while running and not lost:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        job = running.pop(fut)
                        try:
                            on_result(fut.result())
                        except BrokenProcessPool:
                            lost.append(job)
                    submit()
                # A worker died: the pool is unusable, every task still running is lost.
                lost += [*running.values(), *queue]
            except BaseException:  # Ctrl+C (or an error in on_result): stop the workers now
                # The workers ignore SIGINT (no traceback from each); end their tasks here. Their
                # temporary folders are removed by the next run. (3.14 has terminate_workers.)
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.terminate()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        todo = lost
        if todo and attempts > max_retries:
            for job in todo:
                on_result(_died(job, f"its worker process died {attempts} times"))
            return
        if todo:
            log.warning("a worker process died: %d task(s) run again", len(todo))


def _call(fn: TaskFn, job: TaskJob) -> dict[str, Any]:
    """The Ray task: ``fn(job)`` (Ray wraps functions only, and ``fn`` may be a partial)."""
    return fn(job)


@contextmanager
def _quiet_ray_env() -> Iterator[None]:
    """Ray's own chatter off for the driver (usage stats, import warnings)."""
    keys = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_IMPORT_WARNING": "1",
            "RAY_DEDUP_LOGS": "0", "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_ray(jobs: Sequence[TaskJob], workers: int, on_result: OnResult, *,
            address: str | None = None, on_start: OnStart | None = None,
            task_fn: TaskFn = run_task, max_retries: int = MAX_RETRIES,
            cpus_per_task: int = 1) -> None:
    """Run ``jobs`` as Ray tasks; reports to ``on_result`` as they finish.

    ``address`` None starts a private local Ray (``workers`` x ``cpus_per_task`` CPUs, no
    dashboard, its files in a temporary folder removed afterwards); ``"auto"`` or
    ``host:port`` joins that cluster, whose size then decides how many tasks run at once.
    """
    try:
        import ray
    except ImportError as exc:
        raise missing_dependency("ray", "ray", "--engine ray") from exc

    temp = None if address else tempfile.mkdtemp(prefix="ngray-")
    with _quiet_ray_env():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "logging_level": logging.ERROR, "configure_logging": True}
        try:
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=workers * cpus_per_task, _temp_dir=temp,
                         object_store_memory=100 * 1024 * 1024, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            if temp:
                shutil.rmtree(temp, ignore_errors=True)
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            raise ExportError(f"cannot start or join {where}: "
                              f"{' '.join(str(exc).split())[:200]}") from None
        try:
            remote = ray.remote(num_cpus=cpus_per_task, max_retries=max_retries,
                                retry_exceptions=False)(_call)
            pending: dict[Any, TaskJob] = {}
            for job in jobs:
                pending[remote.remote(task_fn, job)] = job
                if on_start is not None:
                    on_start(job)
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    job = pending.pop(ref)
                    try:
                        report = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        report = _died(job, f"Ray gave up on it: {type(exc).__name__}")
                    on_result(report)
        finally:
            ray.shutdown()
            if temp:
                shutil.rmtree(temp, ignore_errors=True)
