"""``meta.json`` ``latency``: where a session's input-to-frame latency offset came from.

The offset itself is the top-level ``latency_offset_ns`` (null: none; docs/format.md, docs/
calibration.md); this part says how ``record`` got it: a calibration profile (``--latency-profile
FILE``: the file, the fps it was measured at, its delay p50/p90/max and how many events it saw)
or a number given by hand (``--latency-offset-ms``). A profile made with ``calibrate --audio``
also carries ``audio_offset_ms`` (p50/p90/max of the click onsets after each press, docs/audio.md
"Measured offset"), copied here; the key is absent otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._check import JsonObject

__all__ = ["LATENCY_SOURCES", "LatencyInfo"]

LATENCY_SOURCES: tuple[str, ...] = ("profile", "flag")


@dataclass(frozen=True)
class LatencyInfo:
    """How the offset was obtained; the statistics are the profile's (None for ``flag``)."""

    source: str
    file: str | None = None
    fps: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    max_ms: float | None = None
    events: int | None = None
    audio_offset_ms: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``latency`` object of meta.json."""
        out: dict[str, Any] = {"source": self.source, "file": self.file, "fps": self.fps,
                               "p50_ms": self.p50_ms, "p90_ms": self.p90_ms,
                               "max_ms": self.max_ms, "events": self.events}
        if self.audio_offset_ms is not None:
            out["audio_offset_ms"] = dict(self.audio_offset_ms)
        return out

    @classmethod
    def from_json(cls, o: JsonObject) -> LatencyInfo:
        """Parse and check."""
        ms = {k: o.number(k, None, lo=-1e6, hi=1e6, nullable=True)
              for k in ("p50_ms", "p90_ms", "max_ms")}
        audio = o.obj("audio_offset_ms", None)
        return cls(o.text("source", "flag", choices=LATENCY_SOURCES),
                   o.text("file", None, nullable=True),
                   o.number("fps", None, lo=1e-3, hi=1000, nullable=True), **ms,
                   events=o.integer("events", None, lo=0, nullable=True),
                   audio_offset_ms=None if audio is None else {
                       k: audio.number(k, lo=-1e6, hi=1e6) for k in audio.data})
