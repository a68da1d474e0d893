"""``--format lerobot``: a LeRobot v3.0 dataset (export/lerobot/), its batch parts and merge.

Several ``--root`` are episodes of one dataset (its own writer, not a batch). A batch fixes the
dataset's rate and frame size first (:func:`~..batch.lerobot.fix_settings`), writes each session
as a standalone dataset (:func:`~..batch.lerobot.lerobot_part`) and joins them without
re-encoding video (:mod:`..batch.lerobot_merge`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import Check, ExportFormat

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..batch.job import TaskJob
    from ..batch.merged import Merged
    from ..common import ConvertResult, Progress, SizeNote
    from ..settings import ConvertSettings
    from ..source import FreeBytes

__all__ = ["LerobotFormat"]


class LerobotFormat(ExportFormat):
    """A LeRobot v3.0 dataset folder: one episode a session (or a pause-free segment)."""

    name = "lerobot"
    help = "lerobot (a LeRobot v3.0 dataset)"
    many_roots = True
    unit = "episodes"
    column = "episodes"

    def checks(self, settings: ConvertSettings) -> list[Check]:
        """Without ``--fps`` the action rate is the dataset's: a whole number."""
        s = settings
        if s.fps is not None or s.action_hz is None:
            return []
        return [(float(s.action_hz).is_integer(), "action_hz",
                 f"--format lerobot needs a whole number of frames per second, got "
                 f"--action-hz {s.action_hz:g}")]

    def check_batch_output(self, settings: ConvertSettings) -> None:
        """``--out`` is new, empty or a LeRobot dataset (or batch) of ours, never a session.

        Whether it may be resumed or replaced is the manifest's business.
        """
        from ...outputs import check_output
        from ..lerobot.layout import LEROBOT_DATASET

        check_output(settings.out, LEROBOT_DATASET, label="--out")

    def convert(self, settings: ConvertSettings, *, progress: Progress | None,
                free_bytes: FreeBytes, size_note: SizeNote | None) -> ConvertResult:
        """:func:`~..lerobot.writer.convert_lerobot` (it checks its ``--out`` itself)."""
        from ..lerobot.writer import convert_lerobot

        return convert_lerobot(settings, progress=progress, free_bytes=free_bytes)

    def batch_settings(self, settings: ConvertSettings,
                       sessions: Sequence[Path]) -> ConvertSettings:
        """One rate and frame size for every part (:func:`~..batch.lerobot.fix_settings`)."""
        from ..batch.lerobot import fix_settings

        return fix_settings(settings, sessions)

    def part(self, job: TaskJob, settings: ConvertSettings, folder: Path) -> dict[str, Any]:
        """:func:`~..batch.lerobot.lerobot_part`."""
        from ..batch.lerobot import lerobot_part

        return lerobot_part(job, settings, folder)

    def merge(self, settings: ConvertSettings, staging: Path, task_ids: Sequence[str]) -> Merged:
        """:func:`~..batch.lerobot_merge.merge_lerobot`."""
        from ..batch.lerobot_merge import merge_lerobot

        return merge_lerobot(settings, staging, task_ids)

    def part_problem(self, settings: ConvertSettings, folder: Path,
                     doc: dict[str, Any]) -> str | None:
        """The part's dataset has its ``meta/info.json``."""
        if not (folder / "meta" / "info.json").is_file():
            return "its LeRobot dataset has no meta/info.json"
        return None

    def merge_leftovers(self, settings: ConvertSettings) -> list[Path]:
        """A stopped merge's half-built ``meta``/``data``/``videos``/``audio``."""
        out = settings.out
        return [out / sub for sub in ("meta", "data", "videos", "audio")
                if (out / sub).exists()]

    def part_bytes(self, settings: ConvertSettings, frames: int) -> int:
        """Video at the dataset's frame size (720p when not fixed yet) and its rows."""
        from ..lerobot.writer import _VIDEO_BYTES_PER_PIXEL as per_pixel

        w, h = settings.frame_size or (1280, 720)
        return int(frames * (w * h * per_pixel + 200))

    def fingerprint(self, settings: ConvertSettings) -> dict[str, Any]:
        """The dataset's rate, size and episodes."""
        size = settings.frame_size
        return {"fps": settings.fps, "frame_size": list(size) if size else None,
                "episode_per": settings.episode_per, "task": settings.task,
                "state": settings.state}

    def wrote(self, result: ConvertResult, settings: ConvertSettings) -> tuple[str, Path]:
        """Episodes and frames, to the dataset folder."""
        return f"{result.windows} episode(s) ({result.frames} frames)", settings.out
