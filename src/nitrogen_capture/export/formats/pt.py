"""``--format pt``: the NitroGen ``.pt`` (export/nitrogen.py), its batch parts and its merge.

A batch cuts long sessions into tasks; each part is ``obs.npy`` + ``actions.npy``
(:mod:`..batch.parts`) and the merge copies them into ``--out`` or its shards
(:mod:`..batch.aggregate`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .base import ExportFormat

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..batch.job import TaskJob
    from ..batch.merged import Merged
    from ..common import ConvertResult, Progress, SizeNote
    from ..settings import ConvertSettings
    from ..source import FreeBytes

__all__ = ["PtFormat"]

_NITROGEN_DIM = 25  # the action width of --action-space nitrogen, for an estimate


class PtFormat(ExportFormat):
    """The NitroGen ``.pt`` file (or ``--shard-frames`` shards and their index)."""

    name = "pt"
    help = "pt (default)"
    suffix: ClassVar[str | None] = ".pt"
    splittable = True
    merge_copies = True
    progress_unit = "frames"

    def check_output(self, settings: ConvertSettings) -> None:
        """``--out`` is new or a ``.pt`` export of ours."""
        from ...outputs import check_output
        from ..nitrogen import PT_FILE

        check_output(settings.out, PT_FILE, label="--out")

    def convert(self, settings: ConvertSettings, *, progress: Progress | None,
                free_bytes: FreeBytes, size_note: SizeNote | None) -> ConvertResult:
        """:func:`~..nitrogen.convert_pt`."""
        from ..nitrogen import convert_pt

        return convert_pt(settings, progress=progress, free_bytes=free_bytes,
                          size_note=size_note)

    def batch_settings(self, settings: ConvertSettings,
                       sessions: Sequence[Path]) -> ConvertSettings:
        """A batch writes no audio features yet: ``--audio-features`` is refused before work."""
        if settings.audio_features is not None:
            from ...errors import ConfigError

            raise ConfigError("--audio-features takes one session (--root), not a batch",
                              setting="audio_features")
        return settings

    def part_out(self, folder: Path) -> Path:
        """A ``.pt`` format's settings must name a .pt (the part writes its own files)."""
        return folder / "part.pt"

    def part(self, job: TaskJob, settings: ConvertSettings, folder: Path) -> dict[str, Any]:
        """:func:`~..batch.parts.pt_part`."""
        from ..batch.parts import pt_part

        return pt_part(job, settings, folder)

    def merge(self, settings: ConvertSettings, staging: Path, task_ids: Sequence[str]) -> Merged:
        """:func:`~..batch.aggregate.merge_pt`."""
        from ..batch.aggregate import merge_pt

        return merge_pt(settings, staging, task_ids)

    def part_problem(self, settings: ConvertSettings, folder: Path,
                     doc: dict[str, Any]) -> str | None:
        """Its rows in ``part.json`` and its two ``.npy`` files whole and of the right shape."""
        from ..batch.parts import pt_part_problem

        return pt_part_problem(settings, folder, doc, int(doc["windows"]))

    def output_base(self, out: Path) -> Path:
        """The ``.pt``'s folder."""
        return out.parent

    def batch_paths(self, out: Path) -> tuple[Path, Path]:
        """``<stem>.manifest.json`` and ``<stem>.parts`` beside the ``.pt``."""
        return out.with_name(f"{out.stem}.manifest.json"), out.with_name(f"{out.stem}.parts")

    def output_exists(self, settings: ConvertSettings) -> bool:
        """The ``.pt`` or its shard index exists."""
        out = settings.out
        return out.exists() or out.with_name(f"{out.stem}.index.json").exists()

    def leftovers(self, settings: ConvertSettings) -> list[Path]:
        """Half-written files of the ``.pt``, its shards or its index."""
        out = settings.out
        if not out.parent.is_dir():
            return []
        stem = re.escape(out.stem)
        # ".NAME.partial" (atomic.py); "NAME.partial" from earlier versions.
        pattern = re.compile(rf"\.?(?:{re.escape(out.name)}|{stem}-\d{{5,}}\.pt|"
                             rf"{stem}\.index\.json)\.partial")
        return sorted(p for p in out.parent.iterdir() if pattern.fullmatch(p.name))

    def part_bytes(self, settings: ConvertSettings, frames: int) -> int:
        """The ``.pt`` estimate of one window a frame, at the nitrogen action width."""
        from ..nitrogen import pt_size_estimate

        return pt_size_estimate(frames, settings.img_size, settings.obs_dtype, settings.seq_len,
                                _NITROGEN_DIM)

    def wrote(self, result: ConvertResult, settings: ConvertSettings) -> tuple[str, Path]:
        """Windows in files; the index, or the one file."""
        where = result.index or (result.files[0] if len(result.files) == 1 else settings.out)
        return f"{result.windows} windows in {len(result.files)} file(s)", where

    def repeat_note(self, repeats: dict[str, Any]) -> str:
        """Counted over windows (meta ``windows.repeated_frames``)."""
        return (f"repeated frames: {repeats['repeated_frames']} in "
                f"{repeats['windows_with_repeats']} of {repeats['windows']} windows "
                "(meta windows.repeated_frames)")

    def cut_line(self, cut: dict[str, Any]) -> str:
        """Windows left out."""
        return (f"left out {cut['windows']} window(s) with more than "
                f"{cut['max_repeat_frames']} repeated frames in a row")

    def batch_where(self, outputs: list[str], settings: ConvertSettings) -> str | Path:
        """The one file, or the shard index (written last)."""
        return outputs[-1]

    def batch_lines(self, settings: ConvertSettings) -> list[str]:
        """Which action shift the windows used."""
        from ..latency import action_shift_note

        return [action_shift_note(settings.action_shift, settings.action_shift_set, None)]
