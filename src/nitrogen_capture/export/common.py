"""What every export format shares: its result, its progress callback and its free-space check.

Formats (:mod:`.formats`) and their writers (``.pt``, the dataset tree, LeRobot) take these from
here rather than from one another, so no format depends on another format's module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bounds import human_bytes
from ..errors import DiskSpaceError
from .source import FreeBytes

__all__ = ["ConvertResult", "Progress", "SizeNote", "check_space"]

Progress = Callable[[int, int], None]
"""Progress callback: ``(frames done, frames total)``."""
SizeNote = Callable[[int, Path], None]
"""Called once before anything is written: ``(estimated bytes, output path)``."""


@dataclass
class ConvertResult:
    """What a conversion wrote."""

    files: list[Path] = field(default_factory=list)
    index: Path | None = None
    windows: int = 0
    frames: int = 0
    bytes: int = 0
    idle: dict[str, Any] | None = None  # what --drop-idle-seconds cut (session/idle.py)
    # Repeated frames of what was written (export/repeats.py): ``repeated_frames``, the rows or
    # windows they were counted over, and ``cut``, what --max-repeat-frames left out.
    repeats: dict[str, Any] | None = None
    # .pt: the action shift used and why, one line (latency.action_shift_note).
    shift_note: str | None = None


def check_space(out: Path, needed: int, free_bytes: FreeBytes, what: str) -> None:
    """Raise DiskSpaceError when ``needed`` bytes will not fit where ``out`` goes."""
    free = free_bytes(out.parent)
    if needed > free:
        raise DiskSpaceError(
            f"{out}: the export needs about {human_bytes(needed)} ({needed} bytes: {what}) but "
            f"only {human_bytes(free)} ({free} bytes) is free on {out.parent}: use --obs-dtype "
            "uint8 (4x smaller), a smaller --img-size, --format nitrogen-dataset, or another --out"
        )
