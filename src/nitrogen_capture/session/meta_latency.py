"""``meta.json`` ``latency``: where a session's input-to-frame latency offset came from.

The offset itself is the top-level ``latency_offset_ns`` (null: none; docs/format.md, docs/
calibration.md); this part says how ``record`` got it: a calibration profile (``--latency-profile
FILE``: the file, the fps it was measured at, its delay p50/p90/max and how many events it saw)
or a number given by hand (``--latency-offset-ms``).
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

    def to_json(self) -> dict[str, Any]:
        """The ``latency`` object of meta.json."""
        return {"source": self.source, "file": self.file, "fps": self.fps,
                "p50_ms": self.p50_ms, "p90_ms": self.p90_ms, "max_ms": self.max_ms,
                "events": self.events}

    @classmethod
    def from_json(cls, o: JsonObject) -> LatencyInfo:
        """Parse and check."""
        ms = {k: o.number(k, None, lo=-1e6, hi=1e6, nullable=True)
              for k in ("p50_ms", "p90_ms", "max_ms")}
        return cls(o.text("source", "flag", choices=LATENCY_SOURCES),
                   o.text("file", None, nullable=True),
                   o.number("fps", None, lo=1e-3, hi=1000, nullable=True), **ms,
                   events=o.integer("events", None, lo=0, nullable=True))
