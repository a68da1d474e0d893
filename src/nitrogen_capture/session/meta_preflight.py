"""The ``preflight`` object of ``meta.json``: what ``record --adapt`` measured and chose."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ._check import JsonObject

__all__ = ["PreflightInfo"]


@dataclass(frozen=True)
class PreflightInfo:
    """What ``record --adapt`` measured before recording and the rate it chose from it.

    ``asked_fps`` is the ``--fps`` given, ``fps`` the rate recorded (lower when the asked one
    would not hold here with the game running, record/preflight.py); ``free_cores`` the idle
    CPU measured while the game ran, ``needed_cores`` what the asked and the chosen
    configuration need. The storage is never changed: only the rate.
    """

    asked_fps: float
    fps: float
    frame_format: str
    free_cores: float
    needed_cores: dict[str, float]
    holds: bool  # whether the rate recorded holds by the measurement (False: none did)
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """The ``preflight`` object of meta.json."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, o: JsonObject) -> PreflightInfo:
        """Parse and check."""
        needed = o.raw("needed_cores", {})
        return cls(o.number("asked_fps", lo=1e-3, hi=1000), o.number("fps", lo=1e-3, hi=1000),
                   o.text("frame_format", "unknown"), o.number("free_cores", 0.0, lo=0),
                   {str(k): float(v) for k, v in needed.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)}
                   if isinstance(needed, dict) else {},
                   o.flag("holds", False), o.number("seconds", 0.0, lo=0))
