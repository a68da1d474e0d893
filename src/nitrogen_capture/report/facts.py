"""What a session report says, gathered once: facts, series, problems, idle stretches, windows.

:func:`gather` reads the session through the same doors as the rest of the package: the per-row
arrays and events through :func:`~nitrogen_capture.preview.data.load_series` (checked chunk by
chunk), the problems and statistics through
:func:`~nitrogen_capture.session.validate.validate_session`, idle stretches through
:mod:`nitrogen_capture.session.idle` (the rule ``convert --drop-idle-seconds`` applies) and the
exporter's view through :func:`~nitrogen_capture.export.windows.plan_windows` on the segments
``convert`` would use. Nothing here draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..export.latency import action_shift_note, applied_offset
from ..export.settings import ConvertSettings
from ..export.windows import plan_windows
from ..preview.data import SessionSeries, load_series
from ..session.audio_store import SessionAudio, read_session_audio
from ..session.frametimes import describe as describe_frame_times
from ..session.idle import IdleStretch, cut_segments, idle_rows, idle_stretches
from ..session.reader import SessionReader
from ..session.timeline import Jump, tick_jumps
from ..session.validate import ValidationReport, validate_session
from .audio import audio_facts

__all__ = ["DEFAULT_IDLE_SECONDS", "DEFAULT_TILES", "ExportView", "SessionReport", "gather"]

DEFAULT_IDLE_SECONDS = 5.0
DEFAULT_TILES = 24  # frames on the contact sheet (report.ReportOptions.tiles)
NITROGEN_HZ = 60.0  # the released model's action rate (docs/export.md)


@dataclass(frozen=True)
class ExportView:
    """How many NitroGen windows of ``convert``'s defaults survive, at one action rate."""

    rate: str  # "per frame (30 fps)" or "60 Hz grid"
    action_hz: float | None
    idle_dropped: bool
    windows: int
    segments: int
    rows: int  # rows inside the segments the windows are cut from


@dataclass(frozen=True)
class SessionReport:
    """Everything one report page shows (see the module docstring)."""

    root: Path
    reader: SessionReader
    series: SessionSeries
    validation: ValidationReport
    jumps: tuple[Jump, ...]
    idle_seconds: float
    idle: tuple[IdleStretch, ...]
    idle_mask: npt.NDArray[np.bool_]
    exports: tuple[ExportView, ...]
    seq_len: int
    shift: int
    shift_note: str = ""  # convert's line on the shift it uses and why
    audio: SessionAudio | None = None  # the merged audio.flac (None: recorded without --audio)

    @property
    def facts(self) -> list[tuple[str, str]]:
        """``(name, value)`` rows of the facts table (values not yet escaped)."""
        return session_facts(self)

    @property
    def stats(self) -> dict[str, Any]:
        """The statistics ``validate`` measured."""
        return self.validation.stats


def _fmt_size(size: Any) -> str:
    return f"{size[0]} x {size[1]}" if size else "unknown"


def session_facts(rep: SessionReport) -> list[tuple[str, str]]:
    """The facts table: game, window, size, fps, duration, frame format, backends, counters."""
    m, s = rep.reader.meta, rep.stats
    labels = m.effective_labels
    target = m.target or {}
    window = str(target.get("title") or target.get("kind") or "unknown")
    if target.get("process") or target.get("pid"):
        window += f" (process {target.get('process') or '?'}, pid {target.get('pid') or '?'})"
    fmt = m.frame_format
    enc = m.encoder
    enc_text = fmt.kind + (f", {fmt.encoder}" if fmt.encoder else "")
    if enc is not None and enc.ms_per_frame_mean is not None:
        enc_text += f" ({enc.ms_per_frame_mean:.2f} ms/frame on {enc.workers} worker(s))"
    capture = m.capture
    switched = "".join(f" (from {sw.get('from')} until frame {sw.get('frame')}: "
                       f"{sw.get('reason')})" for sw in (capture.switches if capture else []))
    backends = (f"capture {capture.backend if capture else '?'}{switched}; input "
                f"{', '.join(m.input.backends) or 'none'}"
                + (" (raw motion)" if m.input.raw_motion else "")
                + ("; gamepad" if m.gamepad else ""))
    fps_t = s.get("fps_target")
    rows = [
        ("game", labels.game or "(not labelled)"),
        ("controller", labels.controller),
        ("notes", labels.notes or "-"),
        ("task", labels.task or "-"),
        ("outcome", labels.outcome or "not marked"),
        ("tags", ", ".join(labels.tags) or "-"),
        ("episode", f"{m.episode.describe()} of run {m.episode.run} (ended by "
                    f"{m.episode.ended})" if m.episode else "-"),
        ("recorded", str(m.clock.t0_wall or "unknown")),
        ("window", window),
        ("size", _fmt_size(capture.size if capture else None)),
        ("fps", f"target {fps_t:g}, achieved {s.get('fps_achieved', 0.0):.2f}"
         if fps_t else f"achieved {s.get('fps_achieved', 0.0):.2f}"),
        ("duration", f"{s.get('duration_s', 0.0):.1f} s, {s.get('frames', 0)} frames in "
                     f"{s.get('chunks', 0)} chunk(s)"),
        ("frame format", enc_text),
        ("backends", backends),
        ("frame interval", _interval_text(s)),
        *([("frame times", describe_frame_times(s["frame_times"]))]
          if s.get("frame_times") else []),
        ("dropped ticks", f"{s.get('dropped_ticks', 0)} in {s.get('gaps', 0)} gap(s); "
                          f"late frames {s.get('late_frames', 0)}"),
        ("pauses", f"{s.get('pauses', 0)} ({s.get('paused_s', 0.0):.1f} s)"),
        ("idle", f"{len(rep.idle)} stretch(es) with no input for more than "
                 f"{rep.idle_seconds:g} s: {sum(x.seconds for x in rep.idle):.1f} s, "
                 f"{int(rep.idle_mask.sum())} frames"),
        *audio_facts(m.audio),
        ("status", f"{m.status}" + (f", stopped by {m.stop_reason}" if m.stop_reason else "")),
        ("recorded with", f"nitrogen-capture {m.tool.get('version', '?')} on "
                          f"{m.platform.get('system', '?')} {m.platform.get('release', '')}"),
    ]
    return rows


def _interval_text(s: dict[str, Any]) -> str:
    iv, jt = s.get("interval_ms"), s.get("jitter_ms")
    if not iv or not jt:
        return "-"
    return (f"p50 {iv['p50']:.2f} ms, p99 {iv['p99']:.2f} ms, max {iv['max']:.2f} ms; "
            f"jitter p99 {jt['p99']:.2f} ms")


def _export_views(reader: SessionReader, series: SessionSeries, mask: npt.NDArray[np.bool_],
                  seq_len: int, shift: int) -> tuple[ExportView, ...]:
    a = series.arrays
    ts = np.asarray(a["timestamps"], dtype=np.int64)
    segs = reader.segments(frame_indices=a["frame_indices"]) if len(ts) else []
    out = []
    for idle_dropped in (False, True):
        use = cut_segments(segs, mask) if idle_dropped else segs
        for hz in (None, NITROGEN_HZ):
            plan = plan_windows(ts, use, seq_len=seq_len, shift=shift, action_hz=hz)
            rate = f"per frame ({series.fps:g} fps)" if hz is None else f"{hz:g} Hz grid"
            out.append(ExportView(rate, hz, idle_dropped, len(plan), len(use),
                                  sum(b - x for x, b in use)))
    return tuple(out)


def gather(root: str | Path, *, idle_seconds: float = DEFAULT_IDLE_SECONDS,
           check_frames: bool = True) -> SessionReport:
    """Read session ``root`` for a report (raises SessionFormatError on a damaged chunk)."""
    reader = SessionReader(root)
    validation = validate_session(root, check_frames=check_frames)
    series = load_series(reader)
    a = series.arrays
    ts = np.asarray(a["timestamps"], dtype=np.int64)
    idle = (idle_stretches([a["events"]], int(ts[0]), int(ts[-1]), idle_seconds)
            if len(ts) else [])
    mask = idle_rows(ts, idle)
    # What convert with its defaults would write: the same settings, shift and its line.
    defaults = ConvertSettings(root=Path(root), out=Path("x.pt"))
    offset_ns, offset_source = applied_offset(defaults.latency_offset_ms, reader.meta)
    shift_note = action_shift_note(defaults.action_shift, False, offset_ns, offset_source)
    exports = _export_views(reader, series, mask, defaults.seq_len, defaults.action_shift)
    jumps = tuple(tick_jumps(a["frame_indices"], ts, reader.pauses))
    return SessionReport(Path(root), reader, series, validation, jumps, idle_seconds,
                         tuple(idle), mask, exports, defaults.seq_len, defaults.action_shift,
                         shift_note, read_session_audio(root))
