"""``--format nitrogen-dataset``: the NitroGen dataset tree (export/dataset_tree.py).

A batch writes one task a session (the tree's chunk numbering runs over a whole session; its
chunks stream, so memory stays bounded) and the merge moves each session's chunk folders into
one tree (:mod:`..batch.aggregate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import ExportFormat

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..batch.job import TaskJob
    from ..batch.merged import Merged
    from ..common import ConvertResult, Progress, SizeNote
    from ..settings import ConvertSettings
    from ..source import FreeBytes

__all__ = ["DatasetFormat"]


class DatasetFormat(ExportFormat):
    """A tree of ``actions/SHARD_0000/<video id>/<chunk>`` folders (parquet, metadata, video)."""

    name = "nitrogen-dataset"
    help = "nitrogen-dataset (parquet + metadata.json + video.mp4)"
    unit = "chunks"
    repeat_unit = "rows"

    def check_output(self, settings: ConvertSettings) -> None:
        """``--out`` is new, empty or a dataset tree of ours."""
        from ...outputs import check_output
        from ..dataset_tree import DATASET_TREE

        check_output(settings.out, DATASET_TREE, label="--out")

    def convert(self, settings: ConvertSettings, *, progress: Progress | None,
                free_bytes: FreeBytes, size_note: SizeNote | None) -> ConvertResult:
        """:func:`~..dataset_tree.convert_dataset` (it does not call ``size_note``)."""
        from ..dataset_tree import convert_dataset

        return convert_dataset(settings, progress=progress, free_bytes=free_bytes)

    def part(self, job: TaskJob, settings: ConvertSettings, folder: Path) -> dict[str, Any]:
        """:func:`~..batch.parts.dataset_part`."""
        from ..batch.parts import dataset_part

        return dataset_part(job, settings, folder)

    def merge(self, settings: ConvertSettings, staging: Path, task_ids: Sequence[str]) -> Merged:
        """:func:`~..batch.aggregate.merge_dataset`."""
        from ..batch.aggregate import merge_dataset

        return merge_dataset(settings, staging, task_ids)

    def part_problem(self, settings: ConvertSettings, folder: Path,
                     doc: dict[str, Any]) -> str | None:
        """A valid ``video_id`` whose chunks are in the part (or already in the tree)."""
        from ..batch.parts import dataset_part_problem

        return dataset_part_problem(settings, folder, doc)

    def part_in_output(self, settings: ConvertSettings, folder: Path,
                       doc: dict[str, Any]) -> bool:
        """A merge that stopped moved this session's chunks into the tree already."""
        from ..batch.parts import DATASET_SHARD

        return doc["state"] == "done" and not (folder / DATASET_SHARD / doc["video_id"]).is_dir()

    def output_exists(self, settings: ConvertSettings) -> bool:
        """The tree has a session folder under ``actions``."""
        actions = settings.out / "actions"
        return actions.is_dir() and any(actions.iterdir())

    def part_bytes(self, settings: ConvertSettings, frames: int) -> int:
        """Rows and (unless ``--no-video``) video at 720p."""
        from ..dataset_tree import _VIDEO_BYTES_PER_PIXEL as per_pixel

        return int(frames * (64 + (1280 * 720 * per_pixel if settings.video else 0)))

    def wrote(self, result: ConvertResult, settings: ConvertSettings) -> tuple[str, Path]:
        """Chunks and rows."""
        _, where = super().wrote(result, settings)
        return f"{result.windows} chunks ({result.frames} rows at 60 Hz)", where
