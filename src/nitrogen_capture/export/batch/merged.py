"""What a merge of batch parts returns, and how a merger reads the parts' reports.

A leaf of the batch package: every format's merger (:mod:`.aggregate`, :mod:`.lerobot_merge`)
imports it, and it imports none of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .job import PART_META

__all__ = ["Merged", "parts_of"]


@dataclass
class Merged:
    """What a merge wrote, and the sessions it had to leave out (path -> reason)."""

    outputs: list[Path] = field(default_factory=list)
    windows: int = 0
    frames: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    repeated_frames: int = 0  # rows (or window grid points) whose frame repeats (repeats.py)


def parts_of(staging: Path, task_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The reports (part.json) of the parts ``task_ids``, each with its folder as ``dir``."""
    out = []
    for tid in task_ids:
        doc = json.loads((staging / tid / PART_META).read_text(encoding="utf-8"))
        doc["dir"] = staging / tid
        out.append(doc)
    return out
