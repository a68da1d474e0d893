"""``calibrate --audio``: the window's clicks in the recorded sound, after each logged press.

The window clicks as it flips (:mod:`nitrogen_capture.calibrate.window` ``--sound on``); the
recording has the default output's monitor (``record --audio``). The offset figures are the
demo's (:mod:`nitrogen_capture.demo.audiocheck`), stored in the profile as ``audio_offset_ms``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..demo.audiocheck import AudioOffset, session_audio_offset

__all__ = ["audio_figure", "clicks_offset"]


def clicks_offset(session: Path, keys: Sequence[str], window_log: dict[str, Any] | None,
                  problems: list[str]) -> AudioOffset | None:
    """The offset of the window's clicks after the presses of ``keys``; appends problems."""
    a = session_audio_offset(session, window_log, keys)
    if a is None:
        problems.append("--audio: the recording has no audio (see the recorder's audio line "
                        "above)")
    elif a.clicks_found == 0:
        problems.append(f"--audio: no click heard after any of {a.presses} presses "
                        f"({a.onsets} onsets; the window started {a.game_clicks or 0} clicks): "
                        "is the monitor of the output the window plays to recorded?")
    elif a.missing_ns:
        problems.append(f"--audio: {len(a.missing_ns)} of {a.presses} presses without a click "
                        "in the recorded audio")
    return a


def audio_figure(a: AudioOffset | None) -> dict[str, float] | None:
    """The profile's ``audio_offset_ms``: p50/p90/max, clicks found (``n``) and presses."""
    if a is None or a.offset is None:
        return None
    return {**a.offset.to_json(), "presses": a.presses}
