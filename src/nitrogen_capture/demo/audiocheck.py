"""The audio-to-event offset: where the clicks of recorded presses sit in the recorded audio.

The demo game and the calibration window click on every press they see
(:mod:`nitrogen_capture.demo.sound`). :func:`match_clicks` pairs each press with the first click
onset (:mod:`nitrogen_capture.audio.onsets`) nearest the typical offset within a window (up
to 300 ms after it, or a little before: a late input stamp). The
offset of a pair is ``onset - press``: the game's reaction (up to a frame of its loop), its and
SDL's output buffering, and whatever error the recorder's audio timing has. Against the game's
own click start times (its log's ``clicks_ns``) the same matching gives the output side alone
(``onset - click start``): SDL's and the sound server's buffering plus the recorder's audio
timing, without the game loop (docs/audio.md "Measured offset").

Only presses whose next :data:`COVER_MS` the recording covers count: where audio was lost (the
recorder's reads stalled on a busy machine, ``meta.json`` ``audio.stats.lost_s``) or cut, the
timeline is silence, and a press there would take a later press's click or none. They are
counted apart (``uncovered``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..audio.onsets import find_onsets

__all__ = ["COVER_MS", "DEFAULT_WINDOW_MS", "AudioOffset", "RecordedAudio", "Spread",
           "audio_lines", "audio_offset",
           "match_clicks", "recorded_audio",
           "session_audio_offset", "session_presses"]

DEFAULT_WINDOW_MS = (0.0, 300.0)
COVER_MS = 150.0  # a press counts when the audio covers this long after it
EARLY_MS = 30.0  # a click may sound this long before its press's timestamp (a late stamp)


@dataclass(frozen=True)
class Spread:
    """p50/p90/max of a set of offsets, in ms."""

    p50_ms: float
    p90_ms: float
    max_ms: float
    n: int

    @classmethod
    def of(cls, offsets_ns: Sequence[int]) -> Spread | None:
        """The spread of ``offsets_ns`` (None when empty)."""
        if not offsets_ns:
            return None
        a = np.asarray(offsets_ns, np.float64) / 1e6
        return cls(round(float(np.percentile(a, 50)), 3), round(float(np.percentile(a, 90)), 3),
                   round(float(a.max()), 3), len(a))

    def to_json(self) -> dict[str, float]:
        """``{p50_ms, p90_ms, max_ms, n}``."""
        return {"p50_ms": self.p50_ms, "p90_ms": self.p90_ms, "max_ms": self.max_ms,
                "n": self.n}

    def __str__(self) -> str:
        return f"p50 {self.p50_ms:.1f} ms, p90 {self.p90_ms:.1f} ms, max {self.max_ms:.1f} ms"


@dataclass(frozen=True)
class AudioOffset:
    """What the audio check found (times in ns since ``clock.t0_ns``)."""

    presses: int
    clicks_found: int
    onsets: int
    offset: Spread | None  # onset - press event
    output: Spread | None = None  # onset - the game's click start (needs its log)
    game_clicks: int | None = None
    missing_ns: tuple[int, ...] = field(default_factory=tuple)  # presses without a click
    uncovered: int = 0  # presses left out: no audio recorded within COVER_MS after them

    def to_json(self) -> dict[str, Any]:
        """A JSON object of the figures."""
        return {"presses": self.presses, "clicks_found": self.clicks_found,
                "onsets": self.onsets,
                "audio_offset_ms": None if self.offset is None else self.offset.to_json(),
                "output_offset_ms": None if self.output is None else self.output.to_json(),
                "game_clicks": self.game_clicks, "missing_ns": list(self.missing_ns),
                "uncovered": self.uncovered}


def match_clicks(events_ns: Sequence[int] | npt.ArrayLike, onsets_ns: npt.ArrayLike,
                 window_ms: tuple[float, float] = DEFAULT_WINDOW_MS,
                 early_ms: float = EARLY_MS) -> list[int | None]:
    """For each event (time order), the offset to its click's onset, or None when none.

    First pass: the first onset in ``[t + lo, t + hi]``; their median is the typical offset.
    Second pass: the onset nearest ``t + median`` within ``[t - early_ms, t + hi]``. The second
    pass keeps a click that sounds a little before the press's timestamp (the recorder's input
    thread stamped it late on a busy machine) from taking the next press's click instead. An
    onset may serve two events: presses closer together than the detector's refractory period
    make one onset (taking onsets one-to-one would shift every later pairing by one).
    """
    ev = np.sort(np.asarray(events_ns, np.int64))
    on = np.sort(np.asarray(onsets_ns, np.int64))
    lo, hi = (int(w * 1e6) for w in window_ms)
    j = np.searchsorted(on, ev + lo, side="left")
    first = [int(on[k]) - t if k < len(on) and on[k] <= t + hi else None
             for t, k in zip(ev.tolist(), j.tolist(), strict=True)]
    got = [o for o in first if o is not None]
    if not got:
        return first
    typical = float(np.median(got))
    early = int(early_ms * 1e6)
    out: list[int | None] = []
    for t in ev.tolist():
        a, b = np.searchsorted(on, [t - early, t + hi], side="left")
        cand = on[a:b + int(b < len(on) and on[b] == t + hi)]
        out.append(int(cand[np.argmin(np.abs(cand - t - typical))]) - t if len(cand) else None)
    return out


def session_presses(events: npt.NDArray[Any], codes: Sequence[str] | None = None) -> list[int]:
    """Observed key and button presses of a session's ``events`` (ns since t0), time order.

    ``codes``: only these keys (default: every key and button). Synthetic ``HELD`` presses (a
    key already down at the start) are left out: nothing was pressed then.
    """
    from ..events import BUTTON, KEY, PRESS

    sel = np.isin(events["device"], (KEY, BUTTON)) & (events["value"] == PRESS)
    if codes is not None:
        sel &= np.isin(events["code"], list(codes))
    return sorted(int(t) for t in events["t_ns"][sel])


def audio_offset(samples: npt.NDArray[np.int16], rate: int, presses_ns: Sequence[int],
                 game_clicks_ns: Sequence[int] | None = None,
                 window_ms: tuple[float, float] = DEFAULT_WINDOW_MS) -> AudioOffset:
    """The offset figures of one recording's audio (sample 0 at t0) and presses (ns since t0).

    ``game_clicks_ns``: the game's click start times in ns since t0, when known.
    """
    onsets = find_onsets(samples, rate)
    offsets = match_clicks(presses_ns, onsets, window_ms)
    found = [o for o in offsets if o is not None]
    missing = tuple(int(t) for t, o in zip(sorted(presses_ns), offsets, strict=True)
                    if o is None)
    output = None
    if game_clicks_ns is not None:
        out = [o for o in match_clicks(game_clicks_ns, onsets, window_ms) if o is not None]
        output = Spread.of(out)
    return AudioOffset(len(offsets), len(found), len(onsets), Spread.of(found), output,
                       None if game_clicks_ns is None else len(game_clicks_ns), missing)


@dataclass(frozen=True)
class RecordedAudio:
    """A session's audio on its clock and the spans (ns since t0) the recording covers."""

    samples: npt.NDArray[np.int16]
    rate: int
    spans: tuple[tuple[int, int], ...]

    def covers(self, a_ns: int, b_ns: int) -> bool:
        """Whether one recorded span holds all of ``[a_ns, b_ns]``."""
        return any(s <= a_ns and b_ns <= e for s, e in self.spans)


def recorded_audio(root: str | Path) -> RecordedAudio | None:
    """A session's audio on its clock; None without audio.

    ``audio.flac`` once merged, else rendered from the finished chunks (calibrate does not
    merge); the spans come from the chunks' pieces and their runs' fits.
    """
    from ..audio.clockmap import fit_runs
    from ..audio.timeline import all_pieces, render, segments
    from ..session.audio_store import audio_chunks, read_audio_chunk, read_session_audio
    from ..session.paths import SessionPaths

    paths = SessionPaths(Path(root))
    chunks = [read_audio_chunk(paths, c) for c in audio_chunks(paths)]
    if not chunks:
        return None
    rate, channels = chunks[0].rate, int(chunks[0].samples.shape[1])
    merged = read_session_audio(root)
    if merged is not None:
        samples, fits = merged.samples, fit_runs(all_pieces(chunks), rate)
    else:  # the render fits the runs itself: its fits date the spans too
        samples, fits = render(chunks, rate, channels)
    spans = tuple(sorted((int(fits[run].time_ns(start)), int(fits[run].time_ns(start + len(x))))
                         for run, start, x in segments(chunks)))
    return RecordedAudio(samples, rate, spans)


def session_audio_offset(root: str | Path, game_log: dict[str, Any] | None = None,
                         codes: Sequence[str] | None = None) -> AudioOffset | None:
    """:func:`audio_offset` of a session (None when it recorded no audio).

    ``game_log``: the demo game's (or calibration window's) log: its ``clicks_ns`` are
    monotonic ns, moved to t0 here. ``codes``: only these keys' presses.
    """
    from ..session.reader import SessionReader

    audio = recorded_audio(root)
    if audio is None:
        return None
    reader = SessionReader(root)
    t0 = reader.meta.clock.t0_ns or 0
    presses = session_presses(reader.concat_arrays()["events"], codes)
    cover = int(COVER_MS * 1e6)
    heard = [t for t in presses if audio.covers(t, t + cover)]
    clicks = None
    if game_log is not None and game_log.get("clicks_ns") is not None:
        clicks = [int(t) - t0 for t in game_log["clicks_ns"]]
    found = audio_offset(audio.samples, audio.rate, heard, clicks)
    return dataclasses.replace(found, uncovered=len(presses) - len(heard))


def audio_lines(a: AudioOffset | None, note: str | None = None) -> list[str]:
    """The demo summary's audio line and what it means (``note``: why there is no audio)."""
    if a is None:
        return [f"audio: {note or 'not recorded (record --audio was not given)'}"]
    lines = [f"audio: clicks found for {a.clicks_found}/{a.presses} presses; audio-to-event "
             f"offset {a.offset or 'none'}"
             + ("" if a.output is None else f"; after the game's click start {a.output}")
             + (f"; {a.uncovered} presses where no audio was recorded left out"
                if a.uncovered else "")]
    lines.append("  = the game clicks on every press it sees; the first click onset 0..300 ms "
                 "after each recorded press in audio.flac gives the offset (the game's loop, "
                 "its sound output and the recorder's audio timing together); after the game's "
                 "own click start leaves the game loop out (its sound output and the audio "
                 "timing: docs/audio.md \"Measured offset\"); presses where the recording lost "
                 "or cut audio are left out")
    return lines
