"""The on-disk session format (docs/format.md): paths, reading, crash repair, merge, validation.

Importing this package loads numpy only: OpenCV, PyAV and torch are imported inside the functions
that decode frames or write ``dataset.pt``.
"""

from __future__ import annotations

from ..events import EVENT_DTYPE, events_to_inputs
from .merge import MergeReport, merge_session
from .meta import ChunkEntry, Pause, SessionMeta
from .paths import SCHEMA_VERSION, SessionPaths
from .reader import SessionReader, load_npy, segments
from .repair import RecoveredChunk, RepairReport, parse_journal, repair_session
from .validate import Problem, ValidationReport, validate_session

__all__ = [
    "EVENT_DTYPE",
    "SCHEMA_VERSION",
    "ChunkEntry",
    "MergeReport",
    "Pause",
    "Problem",
    "RecoveredChunk",
    "RepairReport",
    "SessionMeta",
    "SessionPaths",
    "SessionReader",
    "ValidationReport",
    "events_to_inputs",
    "load_npy",
    "merge_session",
    "parse_journal",
    "repair_session",
    "segments",
    "validate_session",
]
