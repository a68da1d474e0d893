"""What a worker gets for one task, and what every format's part writer shares.

A leaf of the batch package: the part writers (:mod:`.parts`, :mod:`.lerobot`) and the task
runner (:mod:`.tasks`) import it, it imports none of them, so no two of them form a circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..settings import ConvertSettings
from ..source import ExportSource
from .plan import Task

__all__ = ["PART_META", "PartReport", "PartWriter", "Skip", "TaskJob", "idle_check"]

PART_META = "part.json"


class PartWriter(Protocol):
    """What a task asks of its format (an ``export.formats.ExportFormat``)."""

    @property
    def name(self) -> str:
        """The ``--format`` value."""

    def part_out(self, folder: Path) -> Path:
        """The per-task settings' ``out`` inside the part folder."""

    def part(self, job: TaskJob, settings: ConvertSettings, folder: Path) -> dict[str, Any]:
        """Write one task's part into ``folder``; its report."""


class Skip(Exception):
    """The session is not to convert (idle, too short, discarded): skipped with this reason."""


@dataclass(frozen=True)
class TaskJob:
    """Everything a worker needs for one task (picklable: it crosses process/Ray boundaries).

    ``export_format`` is the format object itself (None: the registry's ``settings.format``), so
    a worker process runs a format registered only in the driver (a plug-in, a test's toy).
    """

    task: Task
    settings: ConvertSettings  # root/out are replaced per task; workers = decode threads
    staging: Path
    video_id: str
    keep_idle: bool = False
    fingerprint: str = ""  # of the batch's settings, written into part.json
    export_format: PartWriter | None = None


@dataclass(frozen=True)
class PartReport:
    """What a task reports to the driver (it crosses process/Ray boundaries).

    ``state`` is done, skipped or failed (with ``reason``); ``disk_full`` stops the batch
    (:mod:`.space`). ``info`` holds the rest of the format's part report that the manifest keeps
    (e.g. ``action_names``, ``video_id``); the part's rows and sources stay in its ``part.json``.
    """

    task_id: str
    session: str
    segment: int
    state: str
    reason: str | None = None
    windows: int = 0
    frames: int = 0
    seconds: float | None = None
    disk_full: bool = False
    info: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, job: TaskJob, state: str, reason: str | None, **more: Any) -> PartReport:
        """The report of ``job``'s task."""
        t = job.task
        return cls(t.task_id, str(t.session), t.segment, state, reason, **more)


def idle_check(src: ExportSource, keep_idle: bool) -> None:
    """Skip a session whose input is all zero (unless ``--keep-idle``)."""
    if keep_idle:
        return
    rows = src.frame_rows()
    if len(rows) and not np.any(rows):
        raise Skip(f"idle: no input in {len(rows)} frames")
