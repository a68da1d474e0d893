"""Helpers to make real recordings in tests (in-process, synthetic source)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nitrogen_capture.capture.base import Region
from nitrogen_capture.config import RecordConfig
from nitrogen_capture.inputs._scripted import Scheduled, ScriptedInput
from nitrogen_capture.record import Recorder, RecordResult, build_recorder


def synthetic_recorder(out: Path, *, size: tuple[int, int] = (320, 240),
                       timeline: list[Scheduled] | None = None,
                       held: list[tuple[str, str]] | None = None, **kw: Any) -> Recorder:
    """A recorder of the synthetic source; ``timeline`` replaces the generated script and
    ``held`` lists the ``(device, code)`` already down when it starts."""
    opts: dict[str, Any] = {"fps": 60.0, "max_frames": 120, "chunk_size": 50,
                            "start_immediately": True, "encoder_workers": 1,
                            "status_interval": 0}
    opts.update(kw)
    opts.setdefault("cue", "none")  # no tones from the test suite on a machine with a player
    cfg = RecordConfig(out=out, capture_backend="synthetic", input_backend="scripted", **opts)
    rec = build_recorder(cfg, region=Region(0, 0, *size))
    if timeline is not None or held is not None:
        rec.inputs[:] = [ScriptedInput(timeline=timeline or [], held=held or ())]
    return rec


def record_synthetic(out: Path, **kw: Any) -> tuple[RecordResult, Recorder]:
    rec = synthetic_recorder(out, **kw)
    return rec.run(), rec


def assert_resumed_by(rec: Recorder, result: RecordResult, offset_ns: int) -> None:
    """The start pause ended at the first tick after the scripted press at ``offset_ns``.

    The script's clock starts before the recorder's, and by how much depends on the machine's
    load, so the press is placed where it really fell. The lower bound is on the resuming tick's
    waking *time*, not its index: a pacer that wakes late (seen under Wine) still serves the tick
    it was due for, so tick 10 can see a press at tick 11.7.
    """
    script = rec.inputs[0]
    assert isinstance(script, ScriptedInput) and script.start_ns is not None
    assert result.meta.fps_target is not None
    period_ns = 1e9 / result.meta.fps_target
    press_ns = max(0.0, script.start_ns + offset_ns - result.meta.clock.t0_ns)
    pause = result.meta.pauses[0].to_json()
    assert pause["reason"] == "start" and pause["start_tick"] == 0, pause
    assert pause["end_t_ns"] >= press_ns - period_ns, (pause, press_ns)
    assert pause["end_tick"] <= press_ns / period_ns + 2, (pause, press_ns)
