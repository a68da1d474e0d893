"""The ``audio`` object of ``meta.json``: how the game's sound was recorded and what it measured.

Present only in sessions recorded with ``--audio`` (docs/audio.md). The chunk files are described
in docs/audio.md "On disk"; this object says what they came from and how their clock fits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ._check import JsonObject

__all__ = ["AudioInfo"]

_RATES = (8000, 96000)


@dataclass(frozen=True)
class AudioInfo:
    """``meta.json`` ``audio``.

    Attributes:
        rate: samples per second stored (per channel).
        channels: 1 or 2.
        source: the device opened (``backend``, ``id``, ``name``, ``kind``; the synthetic
            source's options).
        settings: what was asked (``source``, ``backend``, ``block_ms``).
        runs: per run of device samples, its fit (:meth:`RunFit.to_json`).
        stats: ``recorded_s`` (audio stored), ``cut_s`` (dropped by pauses, focus loss, before
            the start), ``lost_s`` (the server dropped samples, or the device was gone),
            ``device_lost`` (``[{"t_ns", "why"}]``), ``reopened``, ``stalls`` (reads that waited
            in vain), ``chunks``.
        status: ``ok``; ``lost`` (the device went away and did not come back: the recording went
            on without audio); ``failed`` (the audio thread failed; see ``stats.error``).
        merged: after merge: ``file``, ``samples``, ``seconds``.
    """

    rate: int
    channels: int
    source: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    runs: tuple[dict[str, Any], ...] = ()
    stats: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    merged: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``audio`` object of meta.json."""
        out = dataclasses.asdict(self)
        out["runs"] = list(self.runs)
        return out

    @classmethod
    def from_json(cls, o: JsonObject) -> AudioInfo:
        """Parse and check (the figures are kept as written: they are for people)."""
        parts = {k: o.raw(k, {}) for k in ("source", "settings", "stats")}
        for key, value in parts.items():
            if not isinstance(value, dict):
                o.fail(key, "must be an object", value)
        runs = o.raw("runs", [])
        if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
            o.fail("runs", "must be a list of objects", runs)
        merged = o.raw("merged", None)
        if merged is not None and not isinstance(merged, dict):
            o.fail("merged", "must be an object or null", merged)
        rate, channels = o.integer("rate", lo=_RATES[0]), o.integer("channels", lo=1)
        if rate > _RATES[1]:
            o.fail("rate", f"must be at most {_RATES[1]}", rate)
        if channels > 2:
            o.fail("channels", "must be 1 or 2", channels)
        return cls(rate, channels, parts["source"], parts["settings"],
                   tuple(runs), parts["stats"],
                   o.text("status", "ok", choices=("ok", "lost", "failed")), merged)
