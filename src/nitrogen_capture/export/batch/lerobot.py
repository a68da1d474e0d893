"""``--format lerobot`` in a batch: the dataset's rate and size fixed once, one part per session.

A LeRobot dataset has one ``fps`` and one frame size for all its episodes, so a batch decides
them before any task runs (:func:`fix_settings`): ``--fps`` / ``--action-hz`` and ``--img-size``
when given, else the first readable session in sorted order, with the LeRobot writer's own rules
(:func:`~..lerobot.plan.dataset_fps`, :func:`~..lerobot.plan.capture_size`). Every task then
writes its session with the LeRobot writer as a standalone dataset in its part folder
(:func:`lerobot_part`), and :mod:`.lerobot_merge` joins the parts without re-encoding video
(docs/export.md, "Many sessions").
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import ExportError, NitrogenCaptureError
from ..settings import ConvertSettings
from ..source import ExportSource
from .job import Skip, TaskJob, idle_check
from .plan import one_line

__all__ = ["fix_settings", "lerobot_part"]

log = logging.getLogger(__name__)


def fix_settings(settings: ConvertSettings, sessions: Sequence[Path]) -> ConvertSettings:
    """``settings`` with the dataset's ``fps`` and ``frame_size`` decided for every part.

    Flags first; what they leave open comes from the first session (sorted order) that opens.
    """
    from ..lerobot.plan import capture_size, dataset_fps

    fps = settings.fps if settings.fps is not None else (
        int(settings.action_hz) if settings.action_hz is not None else None)
    size = (settings.img_size, settings.img_size) if settings.img_size_set else None
    reasons = []
    for s in sessions:
        if fps is not None and size is not None:
            break
        try:
            src = ExportSource(dataclasses.replace(settings, root=s, more_roots=()))
            fps = fps if fps is not None else dataset_fps(settings, src)
            size = size if size is not None else capture_size(src)
            log.info("the LeRobot dataset: %d fps, %dx%d (from %s)", fps, *size, s)
        except (NitrogenCaptureError, OSError, ValueError) as exc:
            reasons.append(f"{s.name}: {one_line(exc)}")
    if fps is None or size is None:
        raise ExportError("no session could be opened to choose the LeRobot dataset's rate and "
                          f"size (pass --fps and --img-size): {'; '.join(reasons)[:200]}")
    return dataclasses.replace(settings, fps=fps, frame_size=size)


def lerobot_part(job: TaskJob, settings: ConvertSettings, folder: Path) -> dict[str, Any]:
    """The session's episodes as a standalone LeRobot dataset in ``folder``."""
    from ..lerobot.writer import convert_lerobot

    src = ExportSource(settings)
    idle_check(src, job.keep_idle)
    if not src.segments():
        raise Skip(f"too short: no frame to export in {len(src.timestamps)} rows")
    # The batch checked its --out; the part folder is its own, made empty for this task.
    result = convert_lerobot(dataclasses.replace(settings, out=folder), check=False)
    if result.windows == 0:
        raise Skip("too short: no episode")
    return {"windows": result.windows, "frames": result.frames}
