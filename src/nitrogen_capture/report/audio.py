"""The report's audio: the facts rows from meta.json ``audio`` and the waveform band's envelope.

The facts come from :class:`~nitrogen_capture.session.meta_audio.AudioInfo` as the recorder wrote
them (docs/audio.md); the envelope is the min and max of the merged ``audio.flac`` in each pixel
column of the timeline (:func:`envelope`), so an hour of sound costs one pass over its samples
and a thousand columns to draw. The band draws each column's peak on a dB scale
(:func:`level`); silence (a cut, a lost device, nothing recorded) is blank.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..session.audio_store import SessionAudio
from ..session.meta_audio import AudioInfo

__all__ = ["FLOOR_DB", "audio_facts", "envelope", "level"]

FLOOR_DB = -60.0  # the band's bottom: quieter than this (or silence) is not drawn


def _num(d: dict[str, Any], key: str) -> float:
    v = d.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0


def _jitter(value: Any) -> float:
    """A run's arrival jitter in ms: the recorder writes ``{p50, p99, max}``; a number is kept."""
    if isinstance(value, dict):
        return _num(value, "max")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def audio_facts(info: AudioInfo | None) -> list[tuple[str, str]]:
    """``(name, value)`` rows for the facts table (one row saying so when no audio)."""
    if info is None:
        return [("audio", "not recorded (record --audio)")]
    src, stats = info.source, info.stats
    name = str(src.get("name") or src.get("id") or "?")
    backend = str(src.get("backend") or info.settings.get("backend") or "?")
    rows = [("audio", f"{info.rate} Hz, {info.channels} channel(s) from {name} ({backend}); "
                      f"status {info.status}"),
            ("audio time", f"recorded {_num(stats, 'recorded_s'):.1f} s, cut "
                           f"{_num(stats, 'cut_s'):.1f} s (pauses, focus, start), lost "
                           f"{_num(stats, 'lost_s'):.2f} s; {int(_num(stats, 'reopened'))} "
                           f"reopen(s), {int(_num(stats, 'stalls'))} stall(s)")]
    drifts = [_num(r, "drift_ppm") for r in info.runs if "drift_ppm" in r]
    if drifts:
        span = (f"{drifts[0]:+.1f} ppm" if len(drifts) == 1
                else f"{min(drifts):+.1f} .. {max(drifts):+.1f} ppm")
        jitter = max((_jitter(r.get("jitter_ms")) for r in info.runs), default=0.0)
        rows.append(("audio clock", f"device drift {span} over {len(info.runs)} run(s), "
                                    f"corrected at merge; arrival jitter up to {jitter:.2f} ms"))
    lost = stats.get("device_lost") or []
    if isinstance(lost, list) and lost:
        said = "; ".join(f"at {_num(x, 't_ns') / 1e9:.2f} s: {x.get('why', '?')}"
                         for x in lost[:5] if isinstance(x, dict))
        more = f" (+{len(lost) - 5} more)" if len(lost) > 5 else ""
        rows.append(("audio device lost", said + more))
    else:
        rows.append(("audio device lost", "never"))
    return rows


def envelope(audio: SessionAudio, t_end_s: float, columns: int
             ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                        npt.NDArray[np.float64]]:
    """Column edges (s, ``columns + 1``) and the min / max of each column in [-1, 1].

    Channels are mixed to mono (their mean); a column past the audio's end is silent (0, 0).
    """
    edges = np.linspace(0.0, max(t_end_s, 1e-3), columns + 1)
    lo, hi = np.zeros(columns), np.zeros(columns)
    x = audio.samples
    if not len(x):
        return edges, lo, hi
    mono = x.astype(np.float32).mean(axis=1) / 32768.0
    bounds = np.minimum(np.round(edges * audio.rate).astype(np.int64), len(mono))
    used = np.flatnonzero(bounds[1:] > bounds[:-1])
    if len(used):
        starts = bounds[used]
        lo[used] = np.minimum.reduceat(mono, starts)[: len(used)]
        hi[used] = np.maximum.reduceat(mono, starts)[: len(used)]
        # reduceat runs each start to the next start: the last used column stops at its edge
        last = used[-1]
        seg = mono[bounds[last]:bounds[last + 1]]
        lo[last], hi[last] = float(seg.min()), float(seg.max())
    return edges, lo, hi


def level(lo: npt.NDArray[np.float64], hi: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Each column's peak on a dB scale in [0, 1]: 0 at :data:`FLOOR_DB` dBFS or below, 1 at 0.

    A game's sound spans some 60 dB: on a linear scale its quiet stretches would look like the
    silence of a cut.
    """
    peak = np.maximum(np.abs(lo), np.abs(hi))
    with np.errstate(divide="ignore"):
        db = 20.0 * np.log10(peak)
    return np.asarray(np.clip((db - FLOOR_DB) / -FLOOR_DB, 0.0, 1.0), dtype=np.float64)
