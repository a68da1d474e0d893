"""Helpers to make real recordings in tests (in-process, synthetic source)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nitrogen_capture.capture.base import Region
from nitrogen_capture.config import RecordConfig
from nitrogen_capture.inputs._scripted import Scheduled, ScriptedInput
from nitrogen_capture.record import Recorder, RecordResult, build_recorder


def synthetic_recorder(out: Path, *, size: tuple[int, int] = (320, 240),
                       timeline: list[Scheduled] | None = None, **kw: Any) -> Recorder:
    """A recorder of the synthetic source; ``timeline`` replaces the generated script."""
    opts: dict[str, Any] = {"fps": 60.0, "max_frames": 120, "chunk_size": 50,
                            "start_immediately": True, "encoder_workers": 1,
                            "status_interval": 0}
    opts.update(kw)
    opts.setdefault("cue", "none")  # no tones from the test suite on a machine with a player
    cfg = RecordConfig(out=out, capture_backend="synthetic", input_backend="scripted", **opts)
    rec = build_recorder(cfg, region=Region(0, 0, *size))
    if timeline is not None:
        rec.inputs[:] = [ScriptedInput(timeline=timeline)]
    return rec


def record_synthetic(out: Path, **kw: Any) -> tuple[RecordResult, Recorder]:
    rec = synthetic_recorder(out, **kw)
    return rec.run(), rec
