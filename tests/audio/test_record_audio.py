"""``record --audio`` end to end on the synthetic source and the drifting synthetic click track.

The synthetic device's clock runs ``drift_ppm`` fast and clicks at known device times
(:meth:`SyntheticAudio.click_times_ns`), so the tests know where each click really happened and
check where the merged ``audio.flac`` put it, across chunks, pauses and a lost device.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from nitrogen_capture.audio.base import AudioSettings
from nitrogen_capture.cues import get_cue_backend
from nitrogen_capture.events import KEY
from nitrogen_capture.session.audio_store import read_session_audio
from nitrogen_capture.session.merge import merge_session
from nitrogen_capture.session.validate import validate_session
from recording import synthetic_recorder

MS = 1_000_000


def onsets_ns(samples: np.ndarray, rate: int, threshold: int = 5000) -> np.ndarray:
    """Session times of the click starts: first loud sample after 50 ms of quiet."""
    loud = np.flatnonzero(np.abs(samples[:, 0].astype(np.int32)) > threshold)
    if not len(loud):
        return np.zeros(0)
    starts = loud[np.r_[True, np.diff(loud) > rate // 20]]
    return starts * 1e9 / rate


def _audio(source: str, rate: int = 16000) -> AudioSettings:
    return AudioSettings(source=source, backend="synthetic", rate=rate, channels=1)


def _truth(rec, lo_ns: int, hi_ns: int) -> np.ndarray:
    """The clicks' true session times within ``[lo, hi]`` (the current run's)."""
    t0 = rec.meta.clock.t0_ns
    clicks = np.asarray(rec.audio.source.click_times_ns(t0 + hi_ns)) - t0
    return clicks[clicks >= lo_ns]


def _match(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each true click's distance (ms) to the nearest found one."""
    assert len(found), "no clicks found"
    idx = np.clip(np.searchsorted(found, truth), 1, len(found) - 1)
    near = np.minimum(np.abs(found[idx] - truth), np.abs(found[idx - 1] - truth))
    return near / 1e6


def test_clicks_land_at_their_true_time_across_chunks(tmp_path):
    out = tmp_path / "s"
    rec = synthetic_recorder(out, fps=30.0, max_frames=0, max_seconds=8.0, chunk_size=60,
                             audio=_audio("drift_ppm=400;click_s=0.25"))
    result = rec.run()
    merge_session(out)
    audio = read_session_audio(out)
    assert audio is not None and audio.rate == 16000 and audio.channels == 1
    meta = json.loads((out / "meta.json").read_text())
    ts = np.load(out / "timestamps.npy")
    # As long as the frames, to the end of the last frame's period.
    assert abs(len(audio.samples) - round((ts[-1] + 1e9 / 30) * 16000 / 1e9)) <= 1
    # Every frame chunk has its sound (a loaded machine may drop frames: 4 or 5 chunks of 60).
    assert meta["audio"]["merged"]["chunks"] == meta["merged"]["chunks"]
    assert len(meta["merged"]["chunks"]) >= 3
    (run,) = meta["audio"]["runs"]
    assert abs(run["drift_ppm"] - 400) < 60, run  # measured, not assumed
    truth = _truth(rec, 30 * MS, int(ts[-1]) - 30 * MS)
    found = onsets_ns(audio.samples, audio.rate)
    err = _match(found, truth)
    assert len(truth) >= 28 and err.max() < 3.0, (err.round(2), len(truth), run)
    # Nothing but the clicks: every click found is a true one.
    inside = found[(found > 30 * MS) & (found < ts[-1] - 30 * MS)]
    assert len(inside) == len(truth), (inside / 1e6, truth / 1e6, run)
    report = validate_session(out)
    assert report.ok, report.format()
    assert report.stats["audio"]["recorded_s"] == pytest.approx(result.meta.audio.stats[
        "recorded_s"], abs=0.05)


def test_a_pause_cuts_the_sound_where_it_cuts_the_frames(tmp_path):
    out = tmp_path / "s"
    f8 = [(1500 * MS, KEY, "f8", 1.0), (1510 * MS, KEY, "f8", 0.0),
          (3500 * MS, KEY, "f8", 1.0), (3510 * MS, KEY, "f8", 0.0)]
    rec = synthetic_recorder(out, timeline=f8, fps=30.0, max_frames=0, max_seconds=4.0,
                             chunk_size=1000, audio=_audio("click_s=0.1"))
    result = rec.run()
    merge_session(out)
    (pause,) = [p for p in result.meta.pauses if p.reason == "hotkey"]
    audio = read_session_audio(out)
    assert audio is not None
    a, z = audio.sample_at(pause.start_t_ns + 15 * MS), audio.sample_at(pause.end_t_ns - 15 * MS)
    assert z - a > audio.rate  # the pause is long enough to mean something
    assert not audio.samples[a:z].any(), "sound stored during the pause"
    # Right before and after the pause the sound is there (clicks every 100 ms).
    before = audio.samples[audio.sample_at(pause.start_t_ns - 300 * MS):a]
    after = audio.samples[z:audio.sample_at(pause.end_t_ns + 300 * MS)]
    assert np.abs(before).max() > 5000 and np.abs(after).max() > 5000
    cut_s = result.meta.audio.stats["cut_s"]
    assert cut_s == pytest.approx((pause.end_t_ns - pause.start_t_ns) / 1e9, abs=0.1)
    report = validate_session(out)
    assert report.ok, report.format()


@pytest.mark.parametrize(("option", "said"), [("vanish_s", "went away"),
                                              ("rate_s", "changed its sample rate")])
def test_a_device_that_goes_away_comes_back_as_a_new_run(tmp_path, caplog, option, said):
    """Unplugged, or its format changed (a new sample rate): reopened at the session's rate."""
    out = tmp_path / "s"
    rec = synthetic_recorder(out, fps=30.0, max_frames=0, max_seconds=5.0,
                             audio=_audio(f"click_s=0.2;{option}=1.5"))
    result = rec.run()
    info = result.meta.audio
    assert info is not None and info.stats["reopened"] == 1
    (lost,) = info.stats["device_lost"]
    assert said in lost["why"] and 1.0e9 < lost["t_ns"] < 3.0e9
    assert any("recording goes on without audio" in r.message for r in caplog.records)
    assert result.frames >= 100  # the recording went on
    merge_session(out)
    meta = json.loads((out / "meta.json").read_text())
    assert len(meta["audio"]["runs"]) == 2
    audio = read_session_audio(out)
    assert audio is not None
    truth = _truth(rec, int(lost["t_ns"]) + 1500 * MS, int(np.load(out / "timestamps.npy")[-1])
                   - 50 * MS)
    assert len(truth) >= 5 and _match(onsets_ns(audio.samples, audio.rate), truth).max() < 3.0
    report = validate_session(out)
    assert report.ok and any("went away" in p.message for p in report.warnings), report.format()


def test_samples_the_server_dropped_are_counted_lost(tmp_path):
    out = tmp_path / "s"
    rec = synthetic_recorder(out, fps=30.0, max_frames=0, max_seconds=6.0,
                             audio=_audio("stall_s=1.5"))
    result = rec.run()
    assert result.meta.audio.stats["lost_s"] == pytest.approx(1.0, abs=0.2)
    merge_session(out)
    (run,) = json.loads((out / "meta.json").read_text())["audio"]["runs"]
    assert len(run["steps"]) == 1 and run["lost_ms"] == pytest.approx(1000, abs=150)
    report = validate_session(out)
    assert any("lost" in p.message for p in report.warnings), report.format()


def test_unfocused_sound_is_never_stored_even_without_focus_pause(tmp_path, monkeypatch):
    """--no-focus-pause keeps the frames going while the window is unfocused; the sound, like
    the input, is not recorded then (privacy)."""
    out = tmp_path / "s"
    rec = synthetic_recorder(out, fps=30.0, max_frames=0, max_seconds=4.0, focus_pause=False,
                             audio=_audio("click_s=0.1"))
    away: list[int] = []  # [start, end] of the unfocused stretch (monotonic ns)

    def focused() -> bool:
        t = time.monotonic_ns() - rec.meta.clock.t0_ns
        inside = 1_500 * MS <= t < 2_500 * MS
        if inside and not away:
            away.append(time.monotonic_ns())
        if not inside and len(away) == 1 and t >= 2_500 * MS:
            away.append(time.monotonic_ns())
        return not inside

    monkeypatch.setattr(rec.target, "is_focused", focused)
    result = rec.run()
    assert not [p for p in result.meta.pauses if p.reason == "focus"]  # frames went on
    merge_session(out)
    audio = read_session_audio(out)
    assert audio is not None and len(away) == 2
    t0 = result.meta.clock.t0_ns
    a = audio.sample_at(away[0] - t0 + 40 * MS)
    z = audio.sample_at(away[1] - t0 - 40 * MS)
    assert z - a > audio.rate // 2 and not audio.samples[a:z].any()
    assert np.abs(audio.samples[z + audio.rate // 10:]).max() > 5000  # back after refocus
    assert result.meta.audio.stats["cut_s"] == pytest.approx(1.0, abs=0.15)


def test_no_sound_cues_while_the_game_sound_is_recorded(tmp_path):
    """A start/stop tone played to the game's output would be recorded with the game."""
    with_audio = synthetic_recorder(tmp_path / "a", cue="sound", audio=_audio("click_s=1"))
    without = synthetic_recorder(tmp_path / "b", cue="sound")
    here = get_cue_backend("sound", say_missing=False)  # what this machine plays cues with
    try:
        assert with_audio.cue.name == "none"
        assert without.cue.name == here.name
    finally:
        here.close()
        for rec in (with_audio, without):
            rec.cue.close()
            rec.target.close()
