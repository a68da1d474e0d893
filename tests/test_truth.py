"""Every number a session states agrees with its own timestamps.

A session started paused and resumed with F8 used to store ``"achieved": 79.35`` for a 30 fps
recording (the wait before F8 was subtracted from a span that never held it); a pacer that
re-anchored its grid after a late tick kept ``frame_indices`` contiguous and counted nothing, so
periods with no frame were invisible. Here the figure is computed from the session's own
``timestamps`` and ``frame_indices`` and compared with every place that states it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.events import KEY
from nitrogen_capture.record.rates import RecentRates
from nitrogen_capture.record.recorder import RecordStats
from nitrogen_capture.record.status import format_status
from nitrogen_capture.session import validate_session
from nitrogen_capture.session.library import scan_library
from nitrogen_capture.session.meta_parts import Pause
from nitrogen_capture.session.timeline import achieved_fps
from recording import synthetic_recorder

MS = 1_000_000


def _arrays(root: Path) -> tuple[np.ndarray, np.ndarray]:
    meta = json.loads((root / "meta.json").read_text())
    fi = np.concatenate([np.load(root / c["files"]["frame_indices"]) for c in meta["chunks"]])
    ts = np.concatenate([np.load(root / c["files"]["timestamps"]) for c in meta["chunks"]])
    return fi, ts


def test_a_session_resumed_with_f8_states_its_real_rate_everywhere(tmp_path: Path,
                                                                   capsys) -> None:
    out = tmp_path / "s"
    # Paused at the start for ~0.4 s, then F8; 45 frames at 60 fps.
    timeline = [(400 * MS, KEY, "f8", 1.0), (410 * MS, KEY, "f8", 0.0)]
    rec = synthetic_recorder(out, timeline=timeline, max_frames=45, start_immediately=False)
    result = rec.run()
    _, ts = _arrays(out)
    assert result.meta.pauses[0].reason == "start"
    # The truth: 45 frames, no pause between them: (n - 1) intervals over their time.
    truth = (len(ts) - 1) / ((ts[-1] - ts[0]) / 1e9)
    stored = json.loads((out / "meta.json").read_text())["fps"]["achieved"]
    assert abs(stored - truth) < 0.01, (stored, truth)
    assert abs(result.meta.fps_achieved - truth) < 0.01
    report = validate_session(out)
    assert abs(report.stats["fps_achieved"] - truth) < 0.01
    [row] = scan_library(tmp_path)
    assert row.fps_achieved is not None and abs(row.fps_achieved - truth) < 0.01
    assert run_cli(capsys, "merge", "--root", str(out), "--no-progress").code == 0
    merged = json.loads((out / "meta.json").read_text())["fps"]["achieved"]
    assert abs(merged - truth) < 0.01


def test_the_rule_leaves_out_intervals_a_pause_cuts_and_keeps_missed_periods() -> None:
    # Frames at ticks 0..4, a pause from tick 5 to 20, frames 20..24 with tick 22 missed.
    fi = np.array([0, 1, 2, 3, 4, 20, 21, 23, 24])
    ts = fi * 10 * MS
    pause = Pause(5, 20, 50 * MS, 200 * MS, "hotkey")
    # 8 intervals, the one across the pause cut: 7 intervals over 40 + 40 ms.
    assert abs(achieved_fps(fi, ts, [pause]) - 7 / 0.080) < 1e-9
    # A pause before the first frame or after the last cuts nothing.
    early = Pause(0, 0, -400 * MS, 0, "start")
    late = Pause(30, 40, 300 * MS, 400 * MS, "focus")
    assert achieved_fps(fi, ts, [early, pause, late]) == achieved_fps(fi, ts, [pause])


def test_recent_rates_and_the_status_line_say_when_frames_are_lost() -> None:
    rates = RecentRates(window_ns=1_000 * MS)
    # 60 fps for 2 s, then a second where every other period is missed.
    t, frames, missed = 0, 0, 0
    for _ in range(120):
        t += 16_666_667
        frames += 1
        rates.tick(t, frames, missed, recording=True)
    steady = rates.recent()
    assert abs(steady.fps - 60) < 1 and steady.missed_share == 0
    for _ in range(30):
        t += 2 * 16_666_667
        frames, missed = frames + 1, missed + 1
        rates.tick(t, frames, missed, recording=True)
    losing = rates.recent()
    assert abs(losing.fps - 30) < 1.5 and 0.45 < losing.missed_share < 0.55
    stats = RecordStats(frames=frames, ticks=frames + missed, elapsed_s=3.0, fps=losing.fps,
                        missed_share=losing.missed_share, dropped_ticks=missed, late_frames=30,
                        queue_full_drops=0, queue_depth=0, chunk=1, paused=False, focused=True,
                        pause_reason=None)
    line = format_status(stats)
    assert "missed  50% (total 30)" in line and line.endswith("LOSING FRAMES")
    # A pause starts a new window: the paused time is not counted as a stall.
    rates.tick(t + 10**9, frames, missed, recording=False)
    assert rates.recent().fps == 0.0


def test_the_status_line_reads_back_what_it_says() -> None:
    """bench/soak.py reads a recorder's progress from its status line: one format, one parser."""
    from nitrogen_capture.record.status import parse_status

    stats = RecordStats(frames=1234, ticks=1300, elapsed_s=42.25, fps=29.97, missed_share=0.031,
                        dropped_ticks=17, late_frames=5, queue_full_drops=0, queue_depth=3,
                        chunk=2, paused=False, focused=True, pause_reason=None)
    got = parse_status("noise before " + format_status(stats))
    assert got is not None and got.recording and got.frames == 1234
    assert (got.elapsed_s, got.fps, got.dropped_ticks, got.late_frames) == (42.2, 29.97, 17, 5)
    assert got.missed_share == 0.03 and (got.chunk, got.queue_depth) == (2, 3)
    assert parse_status("recorded 10 frames") is None


def test_every_session_states_its_alignment(tmp_path: Path, capsys) -> None:
    """validate (text and --json) and the report's first paragraph say how far frames and input
    line up, from the session's own timestamps and its latency record."""
    from session_factory import make_session

    # Dropped ticks before row 10: 3 periods got no frame.
    b = make_session(tmp_path / "s", (12, 12), gaps={10: (3, None)})
    run = run_cli(capsys, "validate", "--root", str(b.root), "--json")
    stated = json.loads(run.out)["alignment"]
    _, ts = _arrays(b.root)
    iv = np.diff(ts) / 1e6
    assert stated["missed_periods"] == 3 and abs(stated["missed_share"] - 3 / 27) < 1e-9
    assert abs(stated["interval_max_ms"] - iv.max()) < 1e-6
    assert abs(stated["interval_p50_ms"] - np.percentile(iv, 50)) < 1e-6
    assert stated["latency_source"] == "none"
    assert "3 period(s) got no frame (11.1%)" in stated["sentence"]
    assert "not calibrated on this machine" in stated["sentence"]
    assert "nitrogen-capture calibrate --fps 30" in stated["sentence"]
    text = run_cli(capsys, "validate", "--root", str(b.root)).out
    assert f"alignment: {stated['sentence']}" in text
    # Recorded with a calibration profile: the offset and its measured delay are named.
    meta = json.loads((b.root / "meta.json").read_text())
    meta["latency_offset_ns"] = 12_400_000
    meta["latency"] = {"source": "profile", "file": "latency30.json", "fps": 30.0,
                       "p50_ms": 12.4, "p90_ms": 18.9, "max_ms": 22.0, "events": 40}
    (b.root / "meta.json").write_text(json.dumps(meta))
    stated = json.loads(run_cli(capsys, "validate", "--root", str(b.root), "--json").out)
    sentence = stated["alignment"]["sentence"]
    assert "shifted 12.4 ms to its frames by the calibration profile latency30.json" in sentence
    assert "p50 12.4 ms, p90 18.9 ms" in sentence
    pytest.importorskip("matplotlib", reason="the report page needs the report extra")
    page = tmp_path / "page.html"
    assert run_cli(capsys, "report", "--root", str(b.root), "--out", str(page),
                   "--no-progress").code == 0
    html = page.read_text()
    first = html.index('<p id="alignment"')
    assert first < html.index("<nav>") and "calibration profile latency30.json" in html[first:]


def test_the_loss_alarm_sounds_once_per_stretch_of_losses() -> None:
    from nitrogen_capture.record.rates import LOSING_SHARE, LossAlarm, Recent

    alarm = LossAlarm(min_span_s=2.0, repeat_s=30.0)
    s = 10**9
    assert not alarm.update(Recent(60.0, 0.0, 5.0), 1 * s)
    assert not alarm.update(Recent(40.0, 0.3, 1.0), 2 * s)  # too short a stretch to be a trend
    assert not alarm.update(Recent(59.0, LOSING_SHARE, 5.0), 3 * s)  # at the line, not above
    assert alarm.update(Recent(40.0, 0.3, 3.0), 4 * s)
    assert not any(alarm.update(Recent(40.0, 0.3, 5.0), (5 + i) * s) for i in range(60))
    assert not alarm.update(Recent(60.0, 0.0, 5.0), 70 * s)  # recovered: armed again
    assert alarm.update(Recent(45.0, 0.25, 5.0), 71 * s)
    assert not alarm.update(Recent(60.0, 0.0, 5.0), 72 * s)
    assert not alarm.update(Recent(45.0, 0.25, 5.0), 73 * s)  # armed, but 30 s have not passed
    assert alarm.alarms == 2


def test_a_recording_that_loses_frames_cues_once_and_grabs_no_frame_it_drops(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Encoders with no room from the second second on (every other period): the recorder
    skips those grabs, counts every drop where a user looks, and plays the ``losing`` cue once
    although the losses go on."""
    from nitrogen_capture.cues import get_cue_backend
    from nitrogen_capture.cues._fake import FakeCue
    from nitrogen_capture.encoderpool.pool import EncoderPool

    rec = synthetic_recorder(tmp_path / "s", size=(64, 48), fps=30.0, max_frames=0,
                             max_seconds=5.0)
    rec.cue.close()
    cue = rec.cue = get_cue_backend("fake")
    assert isinstance(cue, FakeCue)
    refused: list[int] = []

    def has_room(pool: EncoderPool) -> bool:
        tick = rec.ticks
        full = tick > 30 and tick % 2 == 0
        if full:
            refused.append(tick)
        return not full

    monkeypatch.setattr(EncoderPool, "has_room", property(has_room))
    grabs = 0
    grab = rec.source.grab_raw

    def counted() -> np.ndarray:
        nonlocal grabs
        grabs += 1
        return grab()

    monkeypatch.setattr(rec.source, "grab_raw", counted)
    result = rec.run()
    assert refused and result.frames == grabs  # no grab for a period already lost
    meta = json.loads((tmp_path / "s" / "meta.json").read_text())
    stats = meta["counters"]
    assert stats["queue_full_drops"] == len(refused) == rec.queue_full_drops
    # A busy machine may also skip a late period: every loss is one of the two kinds.
    assert stats["dropped_ticks"] == len(refused) + stats["skipped_ticks"]
    assert stats["frames"] == result.frames
    assert cue.events.count("losing") == 1, cue.events
    assert cue.events[0] == "start" and cue.events[-1] == "stop"
    # The frames kept are on their grid points: each refused period is a gap in the indices.
    _, ts = _arrays(tmp_path / "s")
    assert len(ts) == result.frames


def test_periods_missed_before_the_first_frame_are_counted(tmp_path: Path, capsys) -> None:
    """A recorder starved at its start grabs its first frame at tick 5: those 5 periods are a
    gap no frame index shows; a start pause of 5 ticks is no loss."""
    from nitrogen_capture.session.timeline import leading_missed
    from session_factory import make_session

    starved = make_session(tmp_path / "starved", (12,), gaps={0: (5, None), 6: (2, None)})
    assert int(starved.frame_indices[0]) == 5
    stats = json.loads(run_cli(capsys, "validate", "--root", str(starved.root), "--json").out)
    assert stats["stats"]["dropped_ticks"] == 7 and stats["stats"]["gaps"] == 2
    assert stats["alignment"]["missed_periods"] == 7
    paused = make_session(tmp_path / "paused", (12,), gaps={0: (5, "start")})
    assert leading_missed(paused.frame_indices, [Pause(0, 5, 0, 5 * 33_333_333, "start")]) == 0
    assert leading_missed(paused.frame_indices, []) == 5  # the same first index, no pause
    stats = json.loads(run_cli(capsys, "validate", "--root", str(paused.root), "--json").out)
    assert stats["stats"]["dropped_ticks"] == 0


def test_the_status_line_says_starting_and_stopping() -> None:
    base = dict(frames=480, ticks=480, elapsed_s=8.0, fps=60.0, missed_share=0.0,
                dropped_ticks=3, late_frames=0, queue_full_drops=0, queue_depth=7, chunk=1,
                paused=False, focused=True, pause_reason=None)
    assert format_status(RecordStats(**base, phase="starting")).startswith("STARTING")
    line = format_status(RecordStats(**base, phase="stopping"))
    assert line == ("STOPPING: encoding the 7 frame(s) still queued (480 frames in 8.0 s, "
                    "total missed 3)")
    assert format_status(RecordStats(**base)).startswith("REC")
