"""What a frame store's encoder is, and the messages it exchanges with whoever runs it.

A frame store (``nitrogen_capture.session.frames``) describes its encoder as an
:class:`EncoderSpec`: a worker function ``worker(tasks, results, arg)`` (:func:`.png.png_worker`,
:func:`.video.video_worker`) and how to run it. The recorder's encoder pool
(:mod:`nitrogen_capture.encoderpool`) runs it in worker processes; the store never imports the
pool, and the pool knows no store. Standard library only: this module is the contract between
the two.

Messages, all picklable (they cross a pipe):

- to a worker (``tasks.get()``): a :class:`FrameTask`, :data:`FLUSH` (an ordered worker closes
  its open file) or ``None`` (stop; also when the pool is gone);
- from a worker (``results.put(...)``): :data:`READY` once it has started, a :class:`FrameDone`
  for every frame, a :class:`FileClosed` when an ordered worker has closed a chunk's file, and
  :data:`FLUSHED` to answer a :data:`FLUSH`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["FLUSH", "FLUSHED", "READY", "EncoderSpec", "FileClosed", "Flush", "Flushed",
           "FrameDone", "FrameTask", "Ready"]


@dataclass(frozen=True)
class EncoderSpec:
    """What the encoder pool runs: ``worker(tasks, results, arg)`` in ``workers`` processes.

    ``ordered``: the frames must reach one worker in submission order (it appends them to an
    open file); the pool then starts exactly one process and its ``flush`` asks it to close its
    file. ``name`` labels the processes.
    """

    worker: Callable[[Any, Any, Any], None]
    arg: Any
    workers: int = 1
    ordered: bool = False
    name: str = "encoder"
    threads: int = 1  # encoding threads inside each worker (a video encoder runs several)
    nice: int = 0  # each worker's niceness (encoderpool.priority.encoder_nice: the policy)

    def __post_init__(self) -> None:
        if self.workers < 1 or (self.ordered and self.workers != 1):
            raise ValueError(f"{self.name}: {self.workers} workers (ordered encoders run alone)")


class FrameTask(NamedTuple):
    """Encode the frame in shared-memory ``slot`` (mapping ``ref``, ``shape``) to ``path``."""

    slot: int
    ref: Any
    shape: tuple[int, int, int]
    path: str
    tag: Any


@dataclass(frozen=True)
class Flush:
    """Close the open file (an ordered worker), then answer :data:`FLUSHED`."""


@dataclass(frozen=True)
class Ready:
    """The worker has started (its imports are done)."""


@dataclass(frozen=True)
class Flushed:
    """The answer to a :class:`Flush`: the open file, if any, is closed and reported."""


class FrameDone(NamedTuple):
    """One frame of ``slot`` is done (``error`` None) or failed; the slot is free again.

    ``nbytes``: what this frame added to the disk so far (an ordered worker's bytes reach the
    file later and are counted by the :class:`FileClosed` of the chunk).
    """

    slot: int
    path: str
    tag: Any
    ms: float
    nbytes: int
    error: str | None


class FileClosed(NamedTuple):
    """An ordered worker closed the chunk file ``path`` (of the frames tagged ``tag``).

    ``nbytes`` is the rest of the file, so a file's results add up to its size.
    """

    path: str
    tag: Any
    ms: float
    nbytes: int
    error: str | None


FLUSH = Flush()
READY = Ready()
FLUSHED = Flushed()
