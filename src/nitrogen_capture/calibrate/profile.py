"""The result of ``nitrogen-capture calibrate``: per-event samples, their statistics, the offset.

Definitions (docs/calibration.md), for one input event recorded at time ``e`` whose effect first
shows in the frame of merged row ``j``, captured at ``t_j``:

* **delay** ``t_j - e``: what the issue asks for, "from an input event's timestamp to the first
  captured frame that shows its effect". It includes the wait for the next capture tick (0 to one
  frame period, uniform when events come at random phases), so it is reported in ms and in frames
  of the calibration's ``--fps``.
* **row lag** ``j - i``, ``i`` the row the recorder bins ``e`` into (the first frame captured at
  or after ``e``, docs/format.md "Per-frame semantics"): how many rows after the row that carries
  the action the first frame showing it comes. 0 on a machine without latency.
* **offset** ``O``: the latency beyond the frame grid. Shifting ``e`` by ``+O`` puts the event into
  row ``j`` exactly when ``t_{j-1} < e + O <= t_j``, i.e. ``lower < O <= delay`` with
  ``lower = t_{j-1} - e``. :func:`best_offset` picks the ``O`` inside the most of those intervals
  (the middle of the best run): the value under which the most calibration events land in the row
  of the first frame that shows them. With events at random phases this is sharper than any
  percentile of the delays (which carry up to a frame of tick wait). ``record`` stores it as
  ``meta.json`` ``latency_offset_ns`` and every exporter applies it (:mod:`nitrogen_capture.
  export.source`).

A profile file is JSON (:meth:`LatencyProfile.to_json`); :meth:`LatencyProfile.load` checks every
field and refuses a missing or garbled file with one :class:`~nitrogen_capture.errors.ConfigError`
line (it comes from a flag: ``record --latency-profile FILE``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..bounds import MAX_LATENCY_MS
from ..errors import ConfigError
from ..inputfiles import read_input_text

__all__ = ["MAX_LATENCY_MS", "PROFILE_FORMAT", "DelayStats", "LatencyProfile", "aligned_count",
           "best_offset", "check_save_path", "delay_stats", "offset_run"]

PROFILE_FORMAT = "nitrogen-capture.latency-profile"
PROFILE_VERSION = 1
MAX_SAMPLES = 100_000
# Three lists of MAX_SAMPLES integers written one a line: about 7 MB at most.
MAX_PROFILE_BYTES = 16_000_000
_SETTING = "latency_profile"


@dataclass(frozen=True)
class DelayStats:
    """p50 / p90 / max of the delays in ms, and the same in frames of ``fps``."""

    p50_ms: float
    p90_ms: float
    max_ms: float
    fps: float

    def frames(self, ms: float) -> float:
        """``ms`` in frame periods at :attr:`fps`."""
        return ms * self.fps / 1000.0

    def to_json(self) -> dict[str, float]:
        """The ``delay`` object of a profile (rounded for reading)."""
        out: dict[str, float] = {}
        for name in ("p50", "p90", "max"):
            ms = getattr(self, f"{name}_ms")
            out[f"{name}_ms"] = round(ms, 3)
            out[f"{name}_frames"] = round(self.frames(ms), 3)
        return out

    def describe(self) -> str:
        """``p50 12.3 ms (0.37 frames), p90 ..., max ...`` for reports."""
        return ", ".join(f"{name} {getattr(self, name + '_ms'):.1f} ms "
                         f"({self.frames(getattr(self, name + '_ms')):.2f} frames)"
                         for name in ("p50", "p90", "max"))


def delay_stats(delays_ns: Sequence[int], fps: float) -> DelayStats:
    """Percentiles (numpy's linear interpolation) of ``delays_ns``; at least one delay needed."""
    if len(delays_ns) == 0:
        raise ValueError("no delays: nothing was measured")
    ms = np.asarray(delays_ns, dtype=np.float64) / 1e6
    return DelayStats(float(np.percentile(ms, 50)), float(np.percentile(ms, 90)),
                      float(ms.max()), fps)


def aligned_count(lower_ns: Sequence[int], delays_ns: Sequence[int], offset_ns: int) -> int:
    """Events that land in the row of the first frame showing them when shifted by ``offset_ns``."""
    lo = np.asarray(lower_ns, dtype=np.int64)
    hi = np.asarray(delays_ns, dtype=np.int64)
    return int(np.count_nonzero((lo < offset_ns) & (offset_ns <= hi)))


def best_offset(lower_ns: Sequence[int], delays_ns: Sequence[int]) -> int:
    """The offset inside the most ``(lower, delay]`` intervals (module docstring).

    The middle of :func:`offset_run`, rounded to the ns.
    """
    a, b = offset_run(lower_ns, delays_ns)
    return round((a + b) / 2)


def offset_run(lower_ns: Sequence[int], delays_ns: Sequence[int]) -> tuple[float, float]:
    """The span of offsets inside the most ``(lower, delay]`` intervals (ns).

    Every offset in it aligns as many events; its width says how sharply the samples pin the
    offset. Among several best runs the one whose middle is nearest the median interval middle.
    """
    lo = np.asarray(lower_ns, dtype=np.int64)
    hi = np.asarray(delays_ns, dtype=np.int64)
    if len(lo) == 0 or len(lo) != len(hi) or bool(np.any(lo >= hi)):
        raise ValueError("best_offset needs matching, non-empty intervals with lower < delay")
    points = np.unique(np.concatenate([lo, hi]))
    mids = (points[:-1] + points[1:]) / 2.0
    # Coverage is constant on each open span between neighbouring end points.
    cover = ((lo[None, :] < mids[:, None]) & (mids[:, None] <= hi[None, :])).sum(axis=1)
    best = cover == cover.max()
    runs: list[tuple[float, float]] = []
    k = 0
    while k < len(best):
        if best[k]:
            start = k
            while k + 1 < len(best) and best[k + 1]:
                k += 1
            runs.append((float(points[start]), float(points[k + 1])))
        k += 1
    centre = float(np.median((lo + hi) / 2.0))
    return min(runs, key=lambda r: abs((r[0] + r[1]) / 2 - centre))


def _fail(source: str, message: str) -> ConfigError:
    return ConfigError(f"latency profile {source}: {message}", setting=_SETTING)


@dataclass(frozen=True)
class LatencyProfile:
    """One calibration: its settings, its samples and the offset it recommends.

    Attributes:
        fps: the capture rate calibrated at (frames in the statistics are of this rate).
        method: how the events were made: ``xtest``, ``sendinput`` or ``manual``.
        injected: events injected (or asked for, ``manual``).
        logged: presses of the counted keys the recorder logged.
        delays_ns / lower_ns / row_lags: per seen event, ``t_j - e``, ``t_{j-1} - e`` and
            ``j - i`` (module docstring).
        offset_ns: the recommended offset (:func:`best_offset`).
        capture_backend / input_backend: the recorder's backends.
        platform: ``system``, ``release``, ``machine`` of the calibrating machine.
        created: ISO time of the calibration.
        audio_offset_ms: with ``calibrate --audio``: the window's click onsets in the recorded
            audio after each press, ``p50_ms``, ``p90_ms``, ``max_ms``, ``n`` (clicks found)
            and ``presses`` (docs/audio.md "Measured offset"); None without audio.
    """

    fps: float
    method: str
    injected: int
    logged: int
    delays_ns: tuple[int, ...]
    lower_ns: tuple[int, ...]
    row_lags: tuple[int, ...]
    offset_ns: int
    capture_backend: str = ""
    input_backend: str = ""
    platform: dict[str, str] = field(default_factory=dict)
    created: str = ""
    audio_offset_ms: dict[str, float] | None = None

    @property
    def seen(self) -> int:
        """Events whose effect a captured frame showed."""
        return len(self.delays_ns)

    @property
    def stats(self) -> DelayStats:
        """The delay statistics."""
        return delay_stats(self.delays_ns, self.fps)

    @property
    def offset_run_ms(self) -> tuple[float, float]:
        """The span of equally good offsets in ms (:func:`offset_run`)."""
        a, b = offset_run(self.lower_ns, self.delays_ns)
        return a / 1e6, b / 1e6

    @property
    def offset_ms(self) -> float:
        """The offset in ms."""
        return self.offset_ns / 1e6

    def aligned(self, offset_ns: int) -> int:
        """Events landing in their first showing frame's row under ``offset_ns``."""
        return aligned_count(self.lower_ns, self.delays_ns, offset_ns)

    # -- JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The profile file's object (statistics included for the reader; samples decide)."""
        lags = np.asarray(self.row_lags, dtype=np.int64)
        out: dict[str, Any] = {
            "format": PROFILE_FORMAT, "format_version": PROFILE_VERSION,
            "created": self.created, "fps": self.fps, "method": self.method,
            "capture_backend": self.capture_backend, "input_backend": self.input_backend,
            "platform": dict(self.platform),
            "events": {"injected": self.injected, "logged": self.logged, "seen": self.seen},
            "offset_ns": self.offset_ns, "offset_ms": round(self.offset_ms, 3),
            "offset_run_ms": [round(v, 3) for v in self.offset_run_ms],
            "delay": self.stats.to_json(),
            "row_lag": {"p50": float(np.percentile(lags, 50)), "max": int(lags.max())},
            "aligned": {"offset_0": self.aligned(0), "offset": self.aligned(self.offset_ns)},
            "samples": {"delay_ns": list(self.delays_ns), "lower_ns": list(self.lower_ns),
                        "row_lag": list(self.row_lags)},
        }
        if self.audio_offset_ms is not None:  # calibrate --audio only
            out["audio_offset_ms"] = dict(self.audio_offset_ms)
        return out

    @classmethod
    def from_json(cls, data: object, source: str = "<profile>") -> LatencyProfile:
        """Parse and check a profile object; one ConfigError line names the first bad field."""
        if not isinstance(data, dict):
            raise _fail(source, "is not a JSON object")
        if data.get("format") != PROFILE_FORMAT:
            raise _fail(source, f"'format' must be {PROFILE_FORMAT!r}, got "
                                f"{str(data.get('format'))[:40]!r}: not a calibrate --save file")
        version = data.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise _fail(source, f"'format_version' must be an integer >= 1, got {version!r}")
        if version > PROFILE_VERSION:
            raise _fail(source, f"is format v{version}, this tool reads v{PROFILE_VERSION}: "
                                "upgrade nitrogen-capture")
        fps: Any = data.get("fps")
        if not _number(fps) or not 0 < fps <= 240:
            raise _fail(source, f"'fps' must be a number in (0, 240], got {fps!r}")
        samples: Any = data.get("samples")
        if not isinstance(samples, dict):
            raise _fail(source, "'samples' must be an object")
        lists = {name: _ints(samples.get(name), f"samples.{name}", source)
                 for name in ("delay_ns", "lower_ns", "row_lag")}
        n = len(lists["delay_ns"])
        if not 1 <= n <= MAX_SAMPLES or any(len(v) != n for v in lists.values()):
            raise _fail(source, f"'samples' lists must have the same length, 1..{MAX_SAMPLES}, "
                                f"got {[len(v) for v in lists.values()]}")
        if any(lo >= hi for lo, hi in zip(lists["lower_ns"], lists["delay_ns"], strict=True)):
            raise _fail(source, "every samples.lower_ns must be below its samples.delay_ns")
        offset: Any = data.get("offset_ns")
        limit = round(MAX_LATENCY_MS * 1e6)
        if not _int(offset) or abs(offset) > limit:
            raise _fail(source, f"'offset_ns' must be an integer within +-{limit}, got "
                                f"{offset!r}")
        events: Any = data.get("events") if isinstance(data.get("events"), dict) else {}
        counts = [events.get(k, n) for k in ("injected", "logged")]
        if not all(_int(c) and 0 <= c <= MAX_SAMPLES for c in counts):
            raise _fail(source, f"'events' counts must be integers in 0..{MAX_SAMPLES}")
        platform = data.get("platform")
        audio: Any = data.get("audio_offset_ms")
        if audio is not None and not (isinstance(audio, dict) and all(
                isinstance(k, str) and _number(v) and abs(v) <= MAX_SAMPLES
                for k, v in audio.items())):
            raise _fail(source, f"'audio_offset_ms' must be an object of numbers or null, got "
                                f"{str(audio)[:60]!r}")
        return cls(fps=float(fps), method=str(data.get("method", "")), injected=counts[0],
                   logged=counts[1], delays_ns=lists["delay_ns"], lower_ns=lists["lower_ns"],
                   row_lags=lists["row_lag"], offset_ns=offset,
                   capture_backend=str(data.get("capture_backend", "")),
                   input_backend=str(data.get("input_backend", "")),
                   platform={str(k): str(v) for k, v in platform.items()}
                   if isinstance(platform, dict) else {},
                   created=str(data.get("created", "")),
                   audio_offset_ms=None if audio is None
                   else {k: float(v) for k, v in audio.items()})

    @classmethod
    def load(cls, path: Path) -> LatencyProfile:
        """Read and check a profile file (a missing or garbled one is one ConfigError line)."""
        path = Path(path)
        # A FIFO, a device or a file beyond any real profile is refused before it is read.
        text = read_input_text(path, what="latency profile", max_bytes=MAX_PROFILE_BYTES,
                               error=partial(ConfigError, setting=_SETTING),
                               missing=f"latency profile not found: {path} (write one with "
                                       "nitrogen-capture calibrate --save FILE)")
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise _fail(str(path), f"is not valid JSON ({exc})") from None
        return cls.from_json(data, str(path))

    def save(self, path: Path) -> None:
        """Write the profile as JSON (atomic.py); ``path`` must pass :func:`check_save_path`."""
        from ..atomic import atomic_write

        check_save_path(Path(path))
        atomic_write(Path(path), (json.dumps(self.to_json(), indent=2) + "\n").encode("utf-8"))


def check_save_path(path: Path) -> Path:
    """Refuse a profile path that is not this tool's to write (outputs.py), before any work."""
    from ..marks import has_format
    from ..outputs import OutputKind, check_output

    kind = OutputKind("latency profile", lambda p: has_format(p, PROFILE_FORMAT))
    return check_output(path, kind, label="--save")


def _int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _ints(value: object, name: str, source: str) -> tuple[int, ...]:
    limit = 10**12  # 1000 s in ns: a sample beyond it is damage, not a measurement
    if not isinstance(value, list) or not all(_int(v) and abs(v) <= limit for v in value):
        raise _fail(source, f"'{name}' must be a list of integers within +-{limit}")
    return tuple(value)
