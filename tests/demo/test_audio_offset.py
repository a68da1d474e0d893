"""The audio-to-event offset on synthetic audio: matching, spreads, a whole session's audio.flac."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nitrogen_capture.demo.audiocheck import (
    Spread,
    audio_offset,
    match_clicks,
    session_audio_offset,
)
from nitrogen_capture.demo.sound import click_samples
from nitrogen_capture.events import BUTTON, KEY, PRESS
from session_factory import make_session

RATE = 48000


def with_clicks(times_ns: list[int], length_s: float, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 60.0, (int(length_s * RATE), 2))
    c = click_samples(RATE, 2).astype(np.float64)
    for t in times_ns:
        s = round(t * RATE / 1e9)
        x[s:s + len(c)] += c[:len(x) - s]
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def test_match_takes_the_onset_nearest_the_typical_offset() -> None:
    ms = 1_000_000
    presses = [100 * ms, 105 * ms, 300 * ms, 500 * ms, 900 * ms, 2000 * ms]
    onsets = [112 * ms, 311 * ms, 496 * ms, 620 * ms, 1500 * ms, 1960 * ms]
    # 105 ms: merged with the click of 100 ms (one onset serves both, the next pair is not
    # shifted); 500 ms: its click came 4 ms before the press's (late) stamp, and 620 ms (a later
    # click) is not it; 900 ms: its only later onset is 600 ms away; 2000 ms: 40 ms early is
    # too early.
    assert match_clicks(presses, onsets) == [12 * ms, 7 * ms, 11 * ms, -4 * ms, None, None]
    assert match_clicks(presses, onsets, early_ms=0)[3] == 120 * ms
    assert match_clicks(presses, [], early_ms=0) == [None] * 6


def test_spread() -> None:
    s = Spread.of([10_000_000] * 9 + [40_000_000])
    assert s is not None and (s.p50_ms, s.max_ms, s.n) == (10.0, 40.0, 10)
    assert Spread.of([]) is None


def test_offset_of_clicks_at_known_delays() -> None:
    rng = np.random.default_rng(0)
    presses = sorted(int(t) for t in rng.uniform(0.2e9, 9.5e9, 40))
    presses = [t for i, t in enumerate(presses) if i == 0 or t - presses[i - 1] > 30e6]
    delays = rng.uniform(20e6, 45e6, len(presses)).astype(np.int64)
    starts = [t + int(d) - 10_000_000 for t, d in zip(presses, delays, strict=True)]
    clicks = [t + 10_000_000 for t in starts]
    audio = with_clicks(clicks, 10.0)
    r = audio_offset(audio, RATE, presses, game_clicks_ns=starts)
    assert r.clicks_found == r.presses == len(presses) and not r.missing_ns
    assert r.offset is not None and r.output is not None
    assert abs(r.offset.max_ms - delays.max() / 1e6) < 0.1
    assert abs(r.output.p50_ms - 10.0) < 0.1 and abs(r.output.max_ms - 10.0) < 0.1


def test_a_press_without_a_click_is_reported() -> None:
    presses = [500_000_000, 1_500_000_000, 2_500_000_000]
    audio = with_clicks([p + 30_000_000 for p in presses[:2]], 3.0)
    r = audio_offset(audio, RATE, presses)
    assert (r.presses, r.clicks_found, r.missing_ns) == (3, 2, (2_500_000_000,))


def _store_chunk(root: Path, audio: np.ndarray, start_ns: int) -> None:
    """One finished audio chunk whose first sample is at ``start_ns`` (docs/audio.md)."""
    from nitrogen_capture.session.audio_store import audio_files, write_flac
    from nitrogen_capture.session.paths import SessionPaths

    files = audio_files(SessionPaths(root), 1)
    write_flac(files.flac, audio, RATE)
    n = len(audio)
    np.save(files.blocks, np.array([[0, 0, n, n, start_ns + round(n * 1e9 / RATE)]], np.int64))


def test_session_audio(tmp_path: Path) -> None:
    pytest.importorskip("av")  # FLAC through PyAV (the video extra)
    built = make_session(tmp_path / "s", (30, 30), merge=True, seed=4)
    assert session_audio_offset(built.root) is None  # no --audio: no figures
    presses = sorted(e.t_ns for e in built.events
                     if e.device in (KEY, BUTTON) and e.value == PRESS)
    t0 = int(built.meta["clock"]["t0_ns"])
    start = 200_000_000  # the audio starts 0.2 s after t0: earlier presses were not heard
    heard = [t for t in presses if t >= start]
    audio = with_clicks([t - start + 25_000_000 for t in heard], (presses[-1] + 5e8 - start) / 1e9)
    _store_chunk(built.root, audio, start)
    game_log = {"clicks_ns": [t0 + t + 5_000_000 for t in heard]}
    r = session_audio_offset(built.root, game_log)
    assert r is not None
    assert r.presses == r.clicks_found == len(heard) and not r.missing_ns
    assert r.uncovered == len(presses) - len(heard) > 0
    assert r.output is not None and r.output.p50_ms == pytest.approx(20.0, abs=0.1)
    assert r.offset is not None and r.offset.p50_ms == pytest.approx(25.0, abs=0.1)
