"""``validate``'s audio checks (docs/audio.md): every stored sample where frames were recorded.

For a session with ``meta.json`` ``audio``:

* an open chunk's ``.part`` pair (a crash) is an error merge recovers; a chunk's FLAC whose piece
  rows do not describe its samples is an error;
* every piece, dated by its run's clock fit (:mod:`nitrogen_capture.audio.clockmap`), lies in its
  chunk's time span (from the end of the chunk before to the start of the chunk after; the first
  chunk from the clock's zero) and outside every pause, within :data:`TOLERANCE_NS`;
* the merged ``audio.flac`` is as long as the frames (to the last frame's period end);
* a device that went away, lost samples, or a fit whose drift is beyond any sound card's
  (:data:`MAX_DRIFT_PPM`) is a warning: the loss is said where a user looks.

``stats["audio"]`` holds the figures (recorded, cut and lost seconds, runs' drift and jitter).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..audio.clockmap import fit_runs
from ..errors import SessionFormatError
from .audio_store import AUDIO_MERGED, audio_chunks, open_parts, read_audio_chunk, read_flac
from .frames import ERROR, WARNING
from .meta import Pause
from .meta_audio import AudioInfo
from .paths import SessionPaths

__all__ = ["MAX_DRIFT_PPM", "TOLERANCE_NS", "audio_problems"]

TOLERANCE_NS = 60_000_000  # arrival jitter on a loaded machine, plus a frame's period
MAX_DRIFT_PPM = 2000.0

Found = tuple[str, str, str]  # (level, where, message), validate's Problem fields


def audio_problems(paths: SessionPaths, info: AudioInfo, spans: dict[int, tuple[int, int]],
                   pauses: list[Pause], timestamps: npt.NDArray[np.int64], period_ns: float,
                   *, live: bool) -> tuple[list[Found], dict[str, Any]]:
    """The audio's problems and ``stats["audio"]``.

    ``spans``: each listed chunk's (first, last) frame time, ns since ``clock.t0_ns``.
    """
    found: list[Found] = []
    for c in open_parts(paths):
        if not live:
            found.append((ERROR, f"audio chunk {c}",
                          "left open (crash or kill): merge recovers it"))
    chunks = []
    for c in audio_chunks(paths):
        try:
            chunks.append(read_audio_chunk(paths, c))
        except SessionFormatError as exc:
            found.append((ERROR, f"audio chunk {c}", str(exc)))
    pieces = [c.pieces for c in chunks if len(c.pieces)]
    fits = fit_runs(np.concatenate(pieces), info.rate) if pieces else {}
    order = sorted(spans)
    for chunk in chunks:
        if chunk.chunk not in spans:
            found.append((WARNING, f"audio chunk {chunk.chunk}",
                          "audio of a chunk meta.json does not list"))
            continue
        i = order.index(chunk.chunk)
        lo = spans[order[i - 1]][1] if i > 0 else 0
        hi = spans[order[i + 1]][0] if i + 1 < len(order) else spans[chunk.chunk][1] + period_ns
        for run, dev_start, n, _, _ in chunk.pieces.tolist():
            t_a, t_z = (float(t) for t in fits[run].time_ns([dev_start, dev_start + n]))
            if t_a < lo - TOLERANCE_NS or t_z > hi + TOLERANCE_NS:
                found.append((ERROR, f"audio chunk {chunk.chunk}",
                              f"sound at {t_a / 1e9:.3f}-{t_z / 1e9:.3f} s lies outside the "
                              f"chunk's time span {lo / 1e9:.3f}-{hi / 1e9:.3f} s"))
                break
            inside = [p for p in pauses
                      if t_a < p.end_t_ns - TOLERANCE_NS and t_z > p.start_t_ns + TOLERANCE_NS]
            if inside:
                p = inside[0]
                found.append((ERROR, f"audio chunk {chunk.chunk}",
                              f"sound recorded during the {p.reason} pause at "
                              f"{p.start_t_ns / 1e9:.3f}-{p.end_t_ns / 1e9:.3f} s"))
                break
    for fit in fits.values():
        if abs(fit.drift_ppm) > MAX_DRIFT_PPM:
            found.append((WARNING, "audio", f"run {fit.run}: the device clock drifts "
                          f"{fit.drift_ppm:+.0f} ppm, beyond any sound card's: its stamps are "
                          "suspect"))
    found += _losses(info)
    merged = paths.root / AUDIO_MERGED
    if merged.is_file() and len(timestamps):
        try:
            samples, rate = read_flac(merged)
        except SessionFormatError as exc:
            found.append((ERROR, AUDIO_MERGED, str(exc)))
        else:
            want = round((float(timestamps[-1]) + period_ns) * rate / 1e9)
            if abs(len(samples) - want) > 1:
                found.append((ERROR, AUDIO_MERGED,
                              f"{len(samples)} samples, the frames span {want} at {rate} Hz"))
    stored = sum(len(c.samples) for c in chunks)
    stats = {"recorded_s": round(stored / info.rate, 3), "rate": info.rate,
             "channels": info.channels, "chunks": len(chunks), "status": info.status,
             "cut_s": info.stats.get("cut_s"), "lost_s": info.stats.get("lost_s"),
             "runs": [f.to_json() for f in fits.values()]}
    return found, stats


def _losses(info: AudioInfo) -> list[Found]:
    found: list[Found] = []
    for lost in info.stats.get("device_lost", []) or []:
        t = lost.get("t_ns") if isinstance(lost, dict) else None
        at = f" at {t / 1e9:.2f} s" if isinstance(t, int) else ""
        why = lost.get("why") if isinstance(lost, dict) else lost
        found.append((WARNING, "audio", f"the audio device went away{at} ({why}); the "
                      "recording went on without sound until it came back"))
    lost_s = info.stats.get("lost_s")
    if isinstance(lost_s, int | float) and lost_s > 0:
        found.append((WARNING, "audio", f"{lost_s:.3f} s of sound lost (the sound server "
                      "dropped samples)"))
    if info.status != "ok":
        found.append((WARNING, "audio", f"audio status {info.status}: "
                      f"{info.stats.get('error', 'the device did not come back')}"))
    return found
