"""The worker side of :class:`~nitrogen_capture.encoderpool.pool.EncoderPool`.

What runs first in every encoder process: :func:`run_worker` ignores SIGINT (the recorder
decides when to stop), ties the process to its parent's life
(:func:`~nitrogen_capture.lifeline.die_with_parent`), sets its priority and hands the frame
store's worker function a :class:`SlotReader` (its tasks, and the frames in the shared-memory
slots) and a :class:`ResultPipe`. Why each of these: the module docstring of :mod:`.pool`.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ..codecs.jobs import FileClosed, Flush, Flushed, FrameDone, FrameTask, Ready
from ..lifeline import die_with_parent
from .priority import apply_nice
from .slots import SlotMaps

__all__ = ["ResultPipe", "SlotReader", "run_worker"]

def run_worker(worker: Callable[..., None], tasks: Any, results: Any, arg: Any,
               parent_pid: int, slot_kind: str, slot_handles: list[Any], nice: int = 0) -> None:
    """Run ``worker`` at niceness ``nice``, tied to the life of the parent.

    The niceness is the recorder's policy (:mod:`.priority`): by default the encoders together
    weigh what one normal-priority thread weighs, so on a busy machine they neither starve nor
    take more from the game than the original design's encoding thread did.
    """
    # A terminal's Ctrl+C reaches the whole process group: the recorder (the parent) decides
    # when to stop and then drains and stops its workers through the task pipe, so a worker
    # that died of the same SIGINT would lose the frames still queued.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent_pid)
    apply_nice(nice)  # before the encoder starts its threads: they inherit it
    reader = SlotReader(tasks, SlotMaps(slot_kind, slot_handles))
    try:
        worker(reader, ResultPipe(results), arg)
    finally:
        reader.close()


class ResultPipe:
    """A worker's result pipe: :meth:`put` sends one result to the pool's collector."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def put(self, item: Ready | Flushed | FrameDone | FileClosed) -> None:
        """Send ``item``; a worker whose parent is gone leaves quietly (nobody reads it)."""
        try:
            self._conn.send(item)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            os._exit(1)


class SlotReader:
    """A worker's end of the pool: its tasks, and the frames in the shared-memory slots.

    :meth:`get` returns the next task for the worker: a
    :class:`~nitrogen_capture.codecs.jobs.FrameTask`, a
    :class:`~nitrogen_capture.codecs.jobs.Flush`, or ``None`` to stop (also when the parent's
    end of the task pipe closed: the parent is gone). :meth:`frame` maps a slot when a frame
    names memory this worker has not mapped yet (:class:`~.slots.SlotMaps`).
    """

    def __init__(self, tasks: Any, slots: SlotMaps) -> None:
        self._tasks = tasks
        self._slots = slots

    def get(self) -> FrameTask | Flush | None:
        """The next task (blocks); ``None`` once the parent is gone."""
        try:
            task: FrameTask | Flush | None = self._tasks.recv()
            return task
        except (EOFError, OSError):
            return None

    def frame(self, slot: int, ref: Any, shape: tuple[int, ...]) -> npt.NDArray[np.uint8]:
        """The frame in ``slot`` (a view: delete it before :meth:`close`)."""
        return np.ndarray(shape, dtype=np.uint8, buffer=self._slots.buffer(slot, ref))

    def close(self) -> None:
        """Unmap every slot."""
        self._slots.close()
