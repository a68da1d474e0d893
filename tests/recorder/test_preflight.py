"""``record --check``: a few seconds of the real target, grabbed and encoded, and a verdict.

The verdict's rule is checked on figures set by hand (what holds, what is suggested); the real
command is checked end to end on the synthetic source: one report, the exit status its verdict
says, and nothing written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_run import run_cli
from nitrogen_capture.record.preflight import HEADROOM, Candidate, Preflight, format_preflight


def _report(free: float, grab_fps: float = 60.0) -> Preflight:
    grab, encode = 1.0, {"png": 4.0, "video": 9.0}
    cands = []
    for kind in ("png", "video"):
        for fps in (60.0, 30.0, 20.0, 15.0):
            cores = fps * (grab + encode[kind]) / 1000
            cands.append(Candidate(kind, fps, cores,
                                   cores <= HEADROOM * free and fps <= grab_fps * 1.02))
    return Preflight((1280, 720), 60.0, "png", 3.0, 180, grab_fps, grab, encode, free, 2,
                     tuple(cands))


def test_a_configuration_that_fits_holds_and_is_kept() -> None:
    report = _report(free=1.0)  # png 60 fps needs 0.30 cores of 0.8 usable
    assert report.chosen.holds and report.best is report.chosen
    assert format_preflight(report)[-1] == "verdict: png at 60 fps will hold on this machine"


def test_the_fastest_configuration_that_fits_is_suggested() -> None:
    report = _report(free=0.3)  # 0.24 usable: png 60 (0.30) does not fit, png 30 (0.15) does
    assert not report.chosen.holds
    assert report.best == Candidate("png", 30.0, 0.15, True)
    line = format_preflight(report)[-1]
    assert "will not hold (needs 0.30 cores)" in line and "--frame-format png --fps 30" in line


def test_a_rate_the_grabbing_itself_missed_does_not_hold() -> None:
    report = _report(free=2.0, grab_fps=41.0)  # CPU to spare, but the grabs fell behind
    assert not report.chosen.holds and report.best is not None and report.best.fps == 30.0


def test_nothing_holds_says_what_to_change() -> None:
    line = format_preflight(_report(free=0.01))[-1]
    assert line.startswith("verdict: no configuration holds at 1280x720")


def test_record_check_on_the_synthetic_source(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = run_cli(capsys, "record", "--source", "synthetic", "--check", "--check-seconds", "1",
                  "--fps", "30", "--region", "0", "0", "320", "240")
    lines = run.out.splitlines()
    assert lines[0].startswith("check: 320x240 at 30 fps, png, with the game running")
    table = [ln.split() for ln in lines if ln.startswith(("  png", "  video"))]
    assert [(r[0], r[1]) for r in table] == [("png", "30"), ("png", "20"), ("png", "15"),
                                             ("video", "30"), ("video", "20"), ("video", "15")]
    if table[0][3] == "yes":
        assert run.code == 0 and lines[-1].startswith("verdict: png at 30 fps will hold")
    else:  # a busy machine: the verdict is the one error line a script reads
        line = run.one_line_error(1, "verdict: ")
        assert "png at 30 fps will not hold" in line or "no configuration holds" in line
    assert os.listdir(tmp_path) == []  # a check writes nothing
    bad = run_cli(capsys, "record", "--source", "synthetic", "--check", "--check-seconds", "0")
    bad.one_line_error(2, "--check-seconds")


def _recorded(root: Path) -> tuple[dict, float]:
    """meta.json and the grid's period in ms by the session's own arrays: the time its frames
    spanned over the periods they spanned (missed periods on a busy machine do not bias it)."""
    import json

    import numpy as np

    meta = json.loads((root / "meta.json").read_text())
    ts, fi = np.load(root / "timestamps.npy"), np.load(root / "frame_indices.npy")
    return meta, float(ts[-1] - ts[0]) / float(fi[-1] - fi[0]) / 1e6


def _record_adapted(capsys: pytest.CaptureFixture[str], out: Path,
                    monkeypatch: pytest.MonkeyPatch, report: Preflight, frames: int) -> str:
    """``record --adapt --fps 60`` of the synthetic source, the check's figures set by hand."""
    monkeypatch.setattr("nitrogen_capture.record.preflight.run_preflight",
                        lambda config, seconds: report)
    run = run_cli(capsys, "record", "--source", "synthetic", "--adapt", "--fps", "60",
                  "--region", "0", "0", "64", "48", "--max-frames", str(frames), "--cue",
                  "none", "--status-interval", "0", "--out", str(out))
    assert run.code == 0, run.err
    return run.out


def test_adapt_records_at_the_highest_rate_that_holds(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """png at 60 fps would not hold (measured figures set by hand): --adapt records png at 30,
    on a 30 fps grid, and meta.json says what was asked, measured and chosen."""
    # png 60 needs 0.30 cores of 0.24 usable; png 30 fits
    out = _record_adapted(capsys, tmp_path / "s", monkeypatch, _report(free=0.3), 30)
    assert "adapt: recording at 30 fps instead of 60 (png at 60 fps needs 0.30 cores, " \
           "0.30 were free)" in out
    meta, period_ms = _recorded(tmp_path / "s")
    assert meta["fps"]["target"] == 30.0 and abs(period_ms - 1000 / 30) < 3  # not 16.7 ms
    assert meta["preflight"] == {"asked_fps": 60.0, "fps": 30.0, "frame_format": "png",
                                 "free_cores": 0.3, "needed_cores": {"asked": 0.3,
                                                                     "chosen": 0.15},
                                 "holds": True, "seconds": 3.0}


def test_adapt_records_as_asked_when_nothing_holds(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = _record_adapted(capsys, tmp_path / "s", monkeypatch, _report(free=0.01), 10)
    assert "adapt: no rate holds for png at 1280x720 here: recording at 60 fps as asked" in out
    meta, _ = _recorded(tmp_path / "s")
    assert meta["fps"]["target"] == 60.0
    assert meta["preflight"]["holds"] is False and meta["preflight"]["fps"] == 60.0


def test_adapt_measures_the_real_synthetic_source(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    """The real check on a small synthetic region at 10 fps, then the recording at the rate it
    chose: what it printed, what meta.json says and the rate recorded agree. (On a quiet
    machine it holds at 10; a loaded one may choose less, and says so the same way.)"""
    out = tmp_path / "s"
    run = run_cli(capsys, "record", "--source", "synthetic", "--adapt", "--check-seconds", "1",
                  "--fps", "10", "--region", "0", "0", "64", "48", "--max-frames", "5",
                  "--cue", "none", "--status-interval", "0", "--out", str(out))
    assert run.code == 0, run.err
    assert "check: 64x48 at 10 fps, png" in run.out
    meta, _ = _recorded(out)
    pre = meta["preflight"]
    assert pre["asked_fps"] == 10.0 and pre["frame_format"] == "png" and pre["seconds"] == 1.0
    assert meta["fps"]["target"] == pre["fps"] <= 10.0
    # (Windows' thread clock ticks in 15.6 ms steps: a 64x48 grab can measure 0 ms there.)
    assert pre["needed_cores"]["chosen"] >= 0 and pre["free_cores"] >= 0
    if pre["fps"] == 10.0 and pre["holds"]:
        assert "adapt: png at 10 fps holds here: recording as asked" in run.out
    elif pre["holds"]:
        assert f"adapt: recording at {pre['fps']:g} fps instead of 10" in run.out
    else:
        assert "adapt: no rate holds for png at 64x48 here" in run.out


def test_a_busy_machine_counts_the_recordings_fair_share_not_only_idle_time() -> None:
    """Beside busy loops there is no idle time, yet the scheduler gives the recording's threads
    their weight's share: 2 cores, 3 other runnable threads, the capture thread and the fair
    encoders weighing 2 nice-0 threads -> 2 x 2 / 5 = 0.8 cores."""
    from nitrogen_capture.record.preflight import recording_weight, usable_cores

    assert recording_weight("fair", 2) == 2.0
    assert recording_weight("normal", 2) == 3.0
    assert 1.0 < recording_weight("low", 2) < 1.25  # niceness 10 weighs 110 of 1024
    assert usable_cores(0.05, 2, 3.0, 2.0) == pytest.approx(0.8)
    assert usable_cores(1.6, 2, 0.5, 2.0) == 1.6  # a quiet machine: the idle time is more
    assert usable_cores(0.05, 2, None, 2.0) == 0.05  # no run queue to read: idle time only
    assert usable_cores(0.0, 2, 0.0, 2.0) == 2.0  # capped at the machine
    low = usable_cores(0.05, 2, 3.0, recording_weight("low", 2))
    assert low < 0.6  # the old policy's encoders starve beside the same load


def test_the_report_says_when_the_share_was_counted() -> None:
    base = _report(free=0.8)
    shared = Preflight(*(getattr(base, f) for f in (
        "size", "fps", "kind", "seconds", "grabs", "grab_fps", "grab_ms", "encode_ms",
        "free_cores", "cores", "candidates")), idle_cores=0.05, busy_threads=3.0)
    line = format_preflight(shared)[2]
    assert line.startswith("  free while the game ran: 0.80 of 2 cores (idle 0.05; the "
                           "recording's share beside 3.0 busy threads)")
    assert "idle" not in format_preflight(base)[2]
