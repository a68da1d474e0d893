"""What a worker gets for one task, and what every format's part writer shares.

A leaf of the batch package: the part writers (:mod:`.parts`, :mod:`.lerobot`) and the task
runner (:mod:`.tasks`) import it, it imports none of them, so no two of them form a circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..settings import ConvertSettings
from ..source import ExportSource
from .plan import Task

if TYPE_CHECKING:
    from ..formats import ExportFormat

__all__ = ["PART_META", "Skip", "TaskJob", "idle_check"]

PART_META = "part.json"


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
    export_format: ExportFormat | None = None


def idle_check(src: ExportSource, keep_idle: bool) -> None:
    """Skip a session whose input is all zero (unless ``--keep-idle``)."""
    if keep_idle:
        return
    rows = src.frame_rows()
    if len(rows) and not np.any(rows):
        raise Skip(f"idle: no input in {len(rows)} frames")
