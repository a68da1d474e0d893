"""A session's alignment statement: how far its frames and its input can be trusted to line up.

Three facts, each from the session itself (docs/format.md, "Alignment"):

1. **Input to frame**: the latency offset the session was recorded with and where it came from
   (a ``calibrate`` profile with its delay statistics, a number given by hand), or that the
   input-to-frame delay was never measured on this machine, with the command that measures it.
2. **Frame timing**: the frame intervals (p50, p99, max, from the session's own timestamps with
   pauses left out) and the periods that got no frame (missed periods: the gaps in
   ``frame_indices`` no pause explains), with their share.
3. **What a frame's time is**: when the grab returned on the recording's monotonic clock (every
   backend today); a capture backend that reports the OS's present time per frame would say so.

:func:`alignment` builds it from validate's statistics; ``validate`` prints it and returns it
in ``--json`` (``alignment``), and ``report`` puts its sentence at the top of the page.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .meta import SessionMeta

__all__ = ["Alignment", "alignment"]


@dataclass(frozen=True)
class Alignment:
    """The statement's figures (JSON-ready through :meth:`to_json`)."""

    latency_source: str  # "profile", "flag" or "none"
    latency_offset_ms: float | None
    latency_p50_ms: float | None
    latency_p90_ms: float | None
    latency_file: str | None
    fps_target: float | None
    fps_achieved: float
    interval_p50_ms: float
    interval_p99_ms: float
    interval_max_ms: float
    missed_periods: int
    missed_share: float
    frame_time: str  # "grab returned (monotonic clock)" or the backend's own

    def to_json(self) -> dict[str, Any]:
        """The ``alignment`` object of ``validate --json``, with its sentence."""
        return {**asdict(self), "sentence": self.sentence()}

    def timing_sentence(self) -> str:
        """What the frame intervals and missed periods say."""
        rate = f"{self.fps_achieved:.2f} fps" + (
            f" of {self.fps_target:g}" if self.fps_target else "")
        timing = (f"frames came every {self.interval_p50_ms:.1f} ms (p99 "
                  f"{self.interval_p99_ms:.1f}, max {self.interval_max_ms:.1f} ms; {rate})")
        if self.missed_periods:
            return (f"{timing}, and {self.missed_periods} period(s) got no frame "
                    f"({self.missed_share:.1%})")
        return f"{timing}, and no period was missed"

    def latency_sentence(self) -> str:
        """What is known of the input-to-frame delay."""
        if self.latency_source == "profile":
            stats = (f"; measured delay p50 {self.latency_p50_ms:.1f} ms, p90 "
                     f"{self.latency_p90_ms:.1f} ms" if self.latency_p50_ms is not None
                     and self.latency_p90_ms is not None else "")
            return (f"input is shifted {self.latency_offset_ms:.1f} ms to its frames by the "
                    f"calibration profile {self.latency_file}{stats}")
        if self.latency_source == "flag":
            return (f"input is shifted {self.latency_offset_ms:.1f} ms to its frames by an "
                    "offset given by hand (not measured)")
        fps = f"{self.fps_target:g}" if self.fps_target else "FPS"
        return ("the input-to-frame delay was not calibrated on this machine (measure it: "
                f"nitrogen-capture calibrate --fps {fps} --save latency.json, then record "
                "with --latency-profile latency.json)")

    def sentence(self) -> str:
        """The statement in one sentence a reader can check against the session."""
        return (f"Frame times are when the {self.frame_time}; "
                f"{self.timing_sentence()}; {self.latency_sentence()}.")


def alignment(meta: SessionMeta, stats: dict[str, Any]) -> Alignment:
    """The statement of a session from its meta.json and validate's statistics."""
    lat = meta.latency
    source = lat.source if lat is not None else ("flag" if meta.latency_offset_ns else "none")
    offset = meta.latency_offset_ns / 1e6 if meta.latency_offset_ns is not None else None
    if offset is None:
        source = "none"
    iv = stats.get("interval_ms") or {"p50": 0.0, "p99": 0.0, "max": 0.0}
    frames, missed = int(stats.get("frames", 0)), int(stats.get("dropped_ticks", 0))
    details = meta.capture.details if meta.capture is not None else {}
    frame_time = str(details.get("frame_time") or "grab returned (monotonic clock)")[:80]
    return Alignment(
        latency_source=source, latency_offset_ms=offset,
        latency_p50_ms=lat.p50_ms if lat is not None else None,
        latency_p90_ms=lat.p90_ms if lat is not None else None,
        latency_file=lat.file if lat is not None else None,
        fps_target=meta.fps_target, fps_achieved=float(stats.get("fps_achieved", 0.0)),
        interval_p50_ms=float(iv["p50"]), interval_p99_ms=float(iv["p99"]),
        interval_max_ms=float(iv["max"]), missed_periods=missed,
        missed_share=missed / (missed + frames) if missed + frames else 0.0,
        frame_time=frame_time)
