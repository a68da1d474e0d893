"""``record --check``: whether this size, rate and format hold here, with the game running.

Before an hour of play is recorded, a few seconds of the real target are grabbed at the chosen
rate and a sample of those frames is encoded, in this process, while the game runs as it will
during the recording. From what that cost and how much CPU the machine had left:

- grab: CPU ms per frame of the capture thread (the grab and its colour conversion);
- encode: CPU ms per frame of each storage at this size (PNG with the chosen encoder, H.264
  with libx264 at the chosen preset and quality, one thread);
- free cores: the CPU the recording can count on. That is the machine's idle time while the
  game ran beside the grabbing (plus the check's own grabbing, which the recording will do
  anyway), or, on a machine with no idle time, the recording's share under the scheduler: Linux
  shares a busy CPU among the runnable threads by weight (encoderpool/priority.py), so beside ``b``
  busy threads (``procs_running`` of /proc/stat, sampled during the check) the capture thread and
  the encoders (weighing ``w`` nice-0 threads: 1 + 1 under ``fair``) get about
  ``cores x w / (b + w)``. Idle time alone would call every configuration hopeless beside a busy
  loop, although the fair encoders keep 720p60 at 60 fps there (bench/README.md, "Under load").

A configuration *holds* when the cores it needs (rate x (grab + encode) / 1000) are at most
:data:`HEADROOM` of the free cores: the rest is the margin for the game's own peaks. The report
names every candidate (both storages at the chosen rate and at lower common rates) and the
best one that holds. Nothing is written: no session, no file.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..clock import FramePacer
from ..config import FRAME_FORMATS, RecordConfig
from ..session.meta_preflight import PreflightInfo

__all__ = ["HEADROOM", "Candidate", "Preflight", "format_preflight", "run_preflight"]

log = logging.getLogger(__name__)
HEADROOM = 0.8  # a configuration may use this share of the free cores
SAMPLE_FRAMES = 12  # frames kept for the encode measurement
LOWER_RATES = (60.0, 30.0, 20.0, 15.0)


@dataclass(frozen=True)
class Candidate:
    """One configuration and what it would need."""

    kind: str
    fps: float
    cores: float  # cores of CPU it needs
    holds: bool


@dataclass(frozen=True)
class Preflight:
    """What the check measured and concluded."""

    size: tuple[int, int]
    fps: float
    kind: str
    seconds: float
    grabs: int
    grab_fps: float  # the rate the check's own grabbing reached
    grab_ms: float
    encode_ms: dict[str, float]
    free_cores: float  # what the recording can count on: max(idle, its fair share)
    cores: int
    candidates: tuple[Candidate, ...]
    idle_cores: float | None = None  # idle while the game ran (None: not measured apart)
    busy_threads: float | None = None  # other runnable threads, on average (Linux)

    @property
    def chosen(self) -> Candidate:
        """The configuration asked for."""
        return next(c for c in self.candidates if c.kind == self.kind and c.fps == self.fps)

    @property
    def best(self) -> Candidate | None:
        """The one to use: the chosen one when it holds, else the fastest that holds.

        Between two that hold at one rate, the chosen storage comes first.
        """
        if self.chosen.holds:
            return self.chosen
        holding = [c for c in self.candidates if c.holds]
        holding.sort(key=lambda c: (-c.fps, c.kind != self.kind))
        return holding[0] if holding else None

    @property
    def rate_that_holds(self) -> Candidate | None:
        """The chosen storage at the highest rate that holds (``--adapt``), or None."""
        return max((c for c in self.candidates if c.kind == self.kind and c.holds),
                   key=lambda c: c.fps, default=None)

    def adaptation(self) -> PreflightInfo:
        """What ``record --adapt`` records: the rate it chose from this check (meta.json)."""
        use = self.rate_that_holds or self.chosen
        return PreflightInfo(asked_fps=self.fps, fps=use.fps, frame_format=self.kind,
                             free_cores=self.free_cores,
                             needed_cores={"asked": self.chosen.cores, "chosen": use.cores},
                             holds=use.holds, seconds=self.seconds)


def _running_threads() -> int | None:
    """Runnable threads on the machine now (/proc/stat ``procs_running``; None off Linux)."""
    try:
        with open("/proc/stat", "rb") as f:
            for line in f:
                if line.startswith(b"procs_running "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def recording_weight(priority: str, cores: int) -> float:
    """How many nice-0 threads the recording weighs: the capture thread plus the encoders."""
    from ..encoderpool.priority import LOW_NICE, nice_weight

    encoders = {"fair": 1.0, "normal": float(cores),
                "low": cores * nice_weight(LOW_NICE)}
    return 1.0 + encoders.get(priority, 1.0)


def usable_cores(idle: float, cores: int, busy: float | None, weight: float) -> float:
    """The CPU a recording of ``weight`` can count on (module docstring).

    The idle cores, or its fair share beside ``busy`` other runnable threads when that is more.
    """
    if busy is None:
        return idle
    share = cores * weight / (max(0.0, busy) + weight)
    return min(float(cores), max(idle, share))


@dataclass(frozen=True)
class _Grabbed:
    frames: list[npt.NDArray[np.uint8]]  # a sample kept for the encode measurement
    costs: list[float]  # CPU ms of each grab
    size: tuple[int, int]
    rate: float  # grabs per second of the periods they spanned (the chosen rate: none missed)
    idle: float  # idle cores while the game ran
    busy: float | None  # other runnable threads on average (None where not readable)


def _grab(config: RecordConfig, seconds: float) -> _Grabbed:
    """Grab at the chosen rate for ``seconds``."""
    import cv2
    import psutil

    from ..capture import get_capture_backend
    from . import _resolve_target, picked_config

    target = _resolve_target(config, None)
    picked = picked_config(config, target)  # a portal pick: its stream whole, no 2nd dialog
    source = get_capture_backend(config.capture_backend,
                                 region=target.region() if picked is None else None,
                                 target=target.capture_target() if picked else None,
                                 seed=config.seed, monitor=config.target.monitor,
                                 portal_reset=config.portal_reset, fps=config.fps,
                                 config=picked)
    pacer = FramePacer(config.fps)
    kept: list[npt.NDArray[np.uint8]] = []
    costs: list[float] = []
    running: list[int] = []
    ticks: list[int] = []
    source.open()
    try:
        source.warm_up()
        me = psutil.Process()
        before = psutil.cpu_times()
        mine = me.cpu_times()
        pacer.start()
        end = time.monotonic() + seconds
        every = max(1, int(config.fps * seconds) // SAMPLE_FRAMES)
        while time.monotonic() < end:
            ticks.append(pacer.wait().index)  # a missed period is a gap in the indices
            t = time.thread_time()
            raw = source.grab_raw()
            frame = (np.asarray(cv2.cvtColor(raw, cv2.COLOR_BGRA2BGR), dtype=np.uint8)
                     if raw.ndim == 3 and raw.shape[2] == 4 else raw)
            costs.append((time.thread_time() - t) * 1e3)
            if len(costs) % every == 0 and len(kept) < SAMPLE_FRAMES:
                kept.append(np.ascontiguousarray(frame))
            count = _running_threads()
            if count is not None:
                running.append(count - 1)  # this thread is running as it reads
        after, mine_after = psutil.cpu_times(), me.cpu_times()
    finally:
        source.close()
        target.close()
    wall = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (mine_after.user + mine_after.system
                                         - mine.user - mine.system)
    ncpu = os.cpu_count() or 1
    free = min(float(ncpu), ncpu * idle / wall) if wall > 0 else float(ncpu)
    h, w = kept[0].shape[:2] if kept else (0, 0)
    busy = float(np.mean(running)) if running else None
    span = ticks[-1] - ticks[0] if ticks else 0
    rate = config.fps * (len(ticks) - 1) / span if span > 0 else 0.0
    return _Grabbed(kept, costs, (int(w), int(h)), rate, free, busy)


def _encode_costs(config: RecordConfig, frames: list[npt.NDArray[np.uint8]]) -> dict[str, float]:
    """CPU ms per frame of each storage on ``frames`` (one thread each), the chosen one first.

    Each frame store prices itself (``FrameStore.encode_cost``): nothing here knows the kinds.
    """
    from ..session.frames import frame_store_class

    kinds = (config.frame_format, *(k for k in FRAME_FORMATS if k != config.frame_format))
    return {kind: frame_store_class(kind).encode_cost(config.encoding, frames) for kind in kinds}


def run_preflight(config: RecordConfig, seconds: float = 3.0) -> Preflight:
    """Grab and encode ``seconds`` of the real target at the chosen settings (nothing written)."""
    grabbed = _grab(config, seconds)
    ncpu = os.cpu_count() or 1
    free = usable_cores(grabbed.idle, ncpu, grabbed.busy,
                        recording_weight(config.encoder_priority, ncpu))
    if not grabbed.frames:
        raise RuntimeError("the check grabbed no frame")
    encode = _encode_costs(config, grabbed.frames)
    grab_ms = float(np.median(grabbed.costs))
    grab_fps = grabbed.rate
    rates = sorted({config.fps, *(r for r in LOWER_RATES if r < config.fps)}, reverse=True)
    candidates = []
    for kind in encode:  # the chosen storage first
        for fps in rates:
            cores = fps * (grab_ms + encode[kind]) / 1000
            # A rate the grabbing alone could not keep up with here does not hold either.
            holds = cores <= HEADROOM * free and fps <= grab_fps * 1.02
            candidates.append(Candidate(kind, fps, round(cores, 3), holds))
    busy = grabbed.busy
    return Preflight(grabbed.size, config.fps, config.frame_format, seconds, len(grabbed.costs),
                     round(grab_fps, 2), grab_ms, encode, round(free, 2), ncpu,
                     tuple(candidates), round(grabbed.idle, 2),
                     None if busy is None else round(busy, 2))


def _why_free(p: Preflight) -> str:
    """How the free cores were counted, when the fair share beat the idle time."""
    if p.idle_cores is None or p.busy_threads is None or p.free_cores <= p.idle_cores:
        return ""
    return (f" (idle {p.idle_cores:.2f}; the recording's share beside "
            f"{p.busy_threads:.1f} busy threads)")


def format_preflight(p: Preflight) -> list[str]:
    """The report ``record --check`` prints."""
    w, h = p.size
    lines = [f"check: {w}x{h} at {p.fps:g} fps, {p.kind}, with the game running "
             f"({p.seconds:g} s, {p.grabs} grabs: {p.grab_fps:.1f} fps)",
             f"  grab {p.grab_ms:.2f} ms/frame; encode png {p.encode_ms['png']:.2f} ms/frame, "
             f"video {p.encode_ms['video']:.2f} ms/frame (one thread each)",
             f"  free while the game ran: {p.free_cores:.2f} of {p.cores} cores{_why_free(p)} "
             f"(a configuration may use {HEADROOM:.0%} of them)",
             "  format    fps  needs cores  holds"]
    for c in p.candidates:
        mark = "  <- chosen" if c == p.chosen else ""
        lines.append(f"  {c.kind:<7} {c.fps:5g}  {c.cores:11.2f}  {'yes' if c.holds else 'no':>5}"
                     f"{mark}")
    best = p.best
    if best is p.chosen:
        lines.append(f"verdict: {p.kind} at {p.fps:g} fps will hold on this machine")
    elif best is not None:
        lines.append(f"verdict: {p.kind} at {p.fps:g} fps will not hold (needs "
                     f"{p.chosen.cores:.2f} cores); record with --frame-format {best.kind} "
                     f"--fps {best.fps:g} instead")
    else:
        lines.append(f"verdict: no configuration holds at {w}x{h} on this machine while the "
                     "game runs: record a smaller region or lower the game's load")
    return lines
