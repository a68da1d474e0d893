"""Where the tasks run: a process pool on this machine (``local``) or a Ray cluster (``ray``).

Both engines run the same task function on the same :class:`~.tasks.TaskJob` values and hand
each report to ``on_result`` in the driver as it arrives (the driver keeps the manifest and the
progress line); the output never depends on the engine, because the parts are merged afterwards
in a fixed order (:mod:`.aggregate`).

A worker that dies mid-task (killed, out of memory) costs that task a retry: Ray retries it
itself (``max_retries``); the local engine runs it again on a new worker process, up to the same
number of times (:mod:`.localpool`: plain pipes, so a ``kill -9`` of the run leaves nothing
named behind). Ray is imported only by :func:`run_ray`.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import wait as wait_any
from typing import Any

from ...errors import ExportError, missing_dependency
from ...scratch import scratch_dir
from .localpool import Died, WorkerProcess, max_workers
from .tasks import PartReport, TaskJob, run_task

__all__ = ["ENGINES", "MAX_RETRIES", "TaskFn", "run_local", "run_ray"]

log = logging.getLogger(__name__)
ENGINES: tuple[str, ...] = ("local", "ray")
MAX_RETRIES = 3
TaskFn = Callable[[TaskJob], PartReport]
OnResult = Callable[[PartReport], None]
OnStart = Callable[[TaskJob], None]


def _died(job: TaskJob, why: str) -> PartReport:
    return PartReport.of(job, "failed", why)


def run_local(jobs: Sequence[TaskJob], workers: int, on_result: OnResult, *,
              on_start: OnStart | None = None, task_fn: TaskFn = run_task,
              max_retries: int = MAX_RETRIES) -> None:
    """Run ``jobs`` on ``workers`` processes (1: in this process), reports to ``on_result``.

    A task whose worker died is run again on a new worker, up to ``max_retries`` times.
    """
    if workers <= 1:
        for job in jobs:
            if on_start is not None:
                on_start(job)
            on_result(task_fn(job))
        return
    workers = max_workers(workers)
    # spawn everywhere: what Windows has, and no fork of a driver whose progress thread runs.
    ctx = multiprocessing.get_context("spawn")
    todo: deque[TaskJob] = deque(jobs)
    deaths: dict[str, int] = {}
    idle: list[WorkerProcess] = []
    busy: dict[Any, WorkerProcess] = {}  # result pipe -> worker running a task
    stopped = False
    try:
        while todo or busy:
            # At most ``workers`` in flight: a task counts as started when it really runs.
            while todo and len(busy) < workers:
                job = todo.popleft()
                w = idle.pop() if idle else WorkerProcess(ctx)
                if on_start is not None:
                    on_start(job)
                w.send(task_fn, job)
                busy[w.results] = w
            for conn in wait_any(list(busy)):
                w = busy.pop(conn)
                try:
                    report = w.receive()
                except Died as exc:  # reaped already; the task runs again on a new worker
                    job = w.job
                    n = deaths[job.task.task_id] = deaths.get(job.task.task_id, 0) + 1
                    if n > max_retries:
                        on_result(_died(job, f"its worker process died {n} times"))
                    else:
                        log.warning("a worker process died (%s): its task runs again", exc)
                        todo.append(job)
                    continue
                except BaseException:
                    idle.append(w)  # still running: stopped below
                    raise
                idle.append(w)
                on_result(report)
    except BaseException:  # Ctrl+C (or an error in on_result): stop the workers now
        # The workers ignore SIGINT (no traceback from each); end their tasks here. Their
        # temporary folders are removed by the next run.
        stopped = True
        raise
    finally:
        for w in [*busy.values(), *idle]:
            w.stop(now=stopped)


def _call(fn: TaskFn, job: TaskJob) -> PartReport:
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

    # A private Ray's files go to a scratch folder: removed afterwards, or by the next run
    # if this one is killed (nitrogen_capture.scratch).
    with contextlib.ExitStack() as stack, _quiet_ray_env():
        temp = None if address else str(stack.enter_context(scratch_dir("ngray-")))
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "logging_level": logging.ERROR, "configure_logging": True}
        try:
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=workers * cpus_per_task, _temp_dir=temp,
                         object_store_memory=100 * 1024 * 1024, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
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
