"""The export format plug-in: one object per ``--format`` value, owning every rule of its format.

``convert`` (one session), the batch planner, its engines, the manifest, the reconciler and the
merger all look the format up in the registry (:mod:`.`) and call it; none of them branches on
the format's name. A format module imports only this module at import time: its writers (torch,
pyarrow, PyAV behind them) are imported by the methods that run them, so the registry is cheap
to import and the writers never import one another (docs/extending.md, "An export format").
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..batch.job import TaskJob
    from ..batch.merged import Merged
    from ..common import ConvertResult, Progress, SizeNote
    from ..settings import ConvertSettings
    from ..source import FreeBytes

__all__ = ["Check", "ExportFormat"]

Check = tuple[bool, str, str]
"""A settings check: ``(ok, the setting, the one-line message when not ok)``."""


class ExportFormat:
    """One export format: its settings checks, its convert, its batch part and merge, its paths.

    Subclasses set the class attributes and implement :meth:`convert`; a format that converts
    many sessions (``--recursive``) implements :meth:`part` and :meth:`merge` too. Every other
    method has the rule of a format that writes one directory.
    """

    name: ClassVar[str] = ""
    """The ``--format`` value."""
    help: ClassVar[str] = ""
    """Its words in ``--format``'s help, e.g. ``lerobot (a LeRobot v3.0 dataset)``."""
    suffix: ClassVar[str | None] = None
    """The file suffix ``--out`` must end in (None: ``--out`` is a directory, never a .pt)."""
    splittable: ClassVar[bool] = False
    """Whether a batch may cut a long session into several tasks (else one task a session)."""
    many_roots: ClassVar[bool] = False
    """Whether several ``--root`` are one output of its own writer (not a batch)."""
    merge_copies: ClassVar[bool] = False
    """Whether the merge copies the parts (needs their size again) rather than moving them."""
    unit: ClassVar[str] = "windows"
    """What a result's ``windows`` counts, in the batch's last line."""
    column: ClassVar[str] = "windows"
    """The batch summary's count column."""
    progress_unit: ClassVar[str] = "rows"
    """What the progress callback counts, in the progress bar's rate."""
    repeat_unit: ClassVar[str] = "frames"
    """What the repeated-frames note counts."""

    # -- settings and outputs ------------------------------------------------------------------
    def checks(self, settings: ConvertSettings) -> list[Check]:
        """The format's own settings checks (run by ``ConvertSettings`` when built)."""
        return []

    def check_output(self, settings: ConvertSettings) -> None:
        """Refuse an ``--out`` that is not this format's to write (outputs.py), before any work."""

    def check_batch_output(self, settings: ConvertSettings) -> None:
        """The batch's own check of ``--out`` before any work (beyond :meth:`check_output`)."""

    # -- one session -----------------------------------------------------------------------------
    def convert(self, settings: ConvertSettings, *, progress: Progress | None,
                free_bytes: FreeBytes, size_note: SizeNote | None) -> ConvertResult:
        """Convert the session(s) of ``settings`` (its output checked already)."""
        raise NotImplementedError(f"--format {self.name} has no converter")

    # -- a batch ---------------------------------------------------------------------------------
    @property
    def batch(self) -> bool:
        """Whether the format converts many sessions (it has a part writer and a merger)."""
        return type(self).part is not ExportFormat.part

    def batch_settings(self, settings: ConvertSettings,
                       sessions: Sequence[Path]) -> ConvertSettings:
        """The settings every part is written with (e.g. one rate fixed for all of them)."""
        return settings

    def part_out(self, folder: Path) -> Path:
        """The per-task settings' ``out`` inside the part folder (what the settings accept)."""
        return folder

    def part(self, job: TaskJob, settings: ConvertSettings, folder: Path) -> dict[str, Any]:
        """Write one task's part into ``folder``; its report (raise ``Skip`` to skip it)."""
        raise NotImplementedError(f"--format {self.name} has no batch part writer")

    def merge(self, settings: ConvertSettings, staging: Path, task_ids: Sequence[str]) -> Merged:
        """Merge the parts ``task_ids`` (in that order) into ``settings.out``."""
        raise NotImplementedError(f"--format {self.name} has no merger")

    def part_problem(self, settings: ConvertSettings, folder: Path,
                     doc: dict[str, Any]) -> str | None:
        """Why a done part's files are not whole (None: they are), for a rerun's reuse."""
        return None

    def part_in_output(self, settings: ConvertSettings, folder: Path,
                       doc: dict[str, Any]) -> bool:
        """Whether a done part was already moved into the output by a merge that stopped."""
        return False

    def output_base(self, out: Path) -> Path:
        """The folder the outputs' names are relative to."""
        return out

    def batch_paths(self, out: Path) -> tuple[Path, Path]:
        """``(manifest, staging folder)`` of a batch writing ``out``."""
        return out / "manifest.json", out / ".parts"

    def output_exists(self, settings: ConvertSettings) -> bool:
        """Whether ``--out`` holds an output already (anything but the batch's own files)."""
        from ...session.io import temp_path

        out = settings.out
        manifest, staging = self.batch_paths(out)
        ours = {staging.name, manifest.name, temp_path(manifest).name}
        return out.is_dir() and any(p.name not in ours for p in out.iterdir())

    def leftovers(self, settings: ConvertSettings) -> list[Path]:
        """What a stopped run left in the output (half-written files), to remove."""
        return []

    def merge_leftovers(self, settings: ConvertSettings) -> list[Path]:
        """What a merge that stopped left half-built in the output, to remove."""
        return []

    def part_bytes(self, settings: ConvertSettings, frames: int) -> int:
        """About how many bytes the parts of ``frames`` frames take (before any is measured)."""
        return 0

    def fingerprint(self, settings: ConvertSettings) -> dict[str, Any]:
        """Settings of this format that change the output's bytes, for the manifest."""
        return {}

    # -- what the CLI says -----------------------------------------------------------------------
    def wrote(self, result: ConvertResult, settings: ConvertSettings) -> tuple[str, Path]:
        """What one convert wrote and where, for its last line."""
        where = result.index or (result.files[0] if len(result.files) == 1 else settings.out)
        return f"{result.windows} {self.unit} ({result.frames} frames)", where

    def repeat_note(self, repeats: dict[str, Any]) -> str:
        """The last line's count of repeated frames (docs/export.md, "Repeated frames")."""
        return (f"repeated frames: {repeats['repeated_frames']} of {repeats['rows']} "
                f"{self.repeat_unit} (frame_is_repeat)")

    def cut_line(self, cut: dict[str, Any]) -> str:
        """The line on what ``--max-repeat-frames`` left out."""
        return (f"left out {cut['stretches']} stretch(es) of more than "
                f"{cut['max_repeat_frames']} repeated frames: {cut['rows']} rows")

    def batch_where(self, outputs: list[str], settings: ConvertSettings) -> str | Path:
        """Where a batch wrote, for its last line."""
        return outputs[-1] if len(outputs) == 1 else settings.out

    def batch_lines(self, settings: ConvertSettings) -> list[str]:
        """Lines printed after a batch's summary table."""
        return []
