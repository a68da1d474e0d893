"""Per-frame OS times and repeated frames, end to end on the synthetic source (docs/format.md).

``record --source synthetic --synthetic-repeat N`` stamps every frame with its render time and
repeats every Nth grab, as a compositor with nothing new does: the arrays, meta.json's counts,
merge after ``kill -9``, validate (its figures and its errors), the report and the status line
are checked on real recordings through the CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from nitrogen_capture.capture._synthetic import SyntheticSource, read_frame_number
from nitrogen_capture.capture.base import FrameSource, Region
from nitrogen_capture.cli import main
from nitrogen_capture.record.status import parse_status
from nitrogen_capture.rows import OS_TIME_NONE
from nitrogen_capture.session import validate_session
from nitrogen_capture.session.frametimes import OS_TIME_TOLERANCE_NS
from nitrogen_capture.session.journal import FrameRecord, decode, load_line
from waiting import wait_until

REPEAT = 4


def _record(out: Path, *extra: str) -> list[str]:
    return ["record", "--source", "synthetic", "--region", "0", "0", "160", "120",
            "--fps", "30", "--chunk-size", "25", "--synthetic-repeat", str(REPEAT),
            "--out", str(out), *extra]


def _frame_numbers(root: Path, meta: dict[str, Any]) -> list[int | None]:
    out = []
    for c in meta["chunks"]:
        for r in range(c["num_frames"]):
            png = root / c["files"]["frames"] / f"{r + 1:06d}.png"
            out.append(read_frame_number(cv2.imread(str(png))))
    return out


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One real recording through the CLI (about 2 s), shared read-only; and its stderr."""
    root = tmp_path_factory.mktemp("frametimes") / "s"
    proc = subprocess.run(
        [sys.executable, "-m", "nitrogen_capture",
         *_record(root, "--max-frames", "60", "--status-interval", "0.2")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    yield root, proc.stderr
    shutil.rmtree(root.parent, ignore_errors=True)


def test_a_stamping_source_stores_os_times_and_repeats(session: tuple[Path, str]) -> None:
    root, _ = session
    meta = json.loads((root / "meta.json").read_text())
    cap = meta["capture"]
    assert cap["frame_time_source"] == "synthetic"
    ts, os_ts = np.load(root / "timestamps.npy"), np.load(root / "os_timestamps.npy")
    repeated = np.load(root / "repeated.npy")
    assert os_ts.dtype == np.int64 and repeated.dtype == np.bool_
    assert len(ts) == len(os_ts) == len(repeated) == 60
    # Every 4th grab repeats (the warm-up grab is not counted): rows 3, 7, 11, ...
    assert np.flatnonzero(repeated).tolist() == list(range(REPEAT - 1, 60, REPEAT))
    assert cap["repeated_frames"] == int(repeated.sum()) == 15
    assert cap["frames_without_os_time"] == 0 and (os_ts != OS_TIME_NONE).all()
    # The OS time is when the frame was rendered: before our grab returned, never after.
    assert (os_ts <= ts).all() and (np.diff(os_ts) >= 0).all()
    # A repeat is the frame before again: its time and its pixels (the barcode's number).
    r = np.flatnonzero(repeated)
    assert (os_ts[r] == os_ts[r - 1]).all()
    numbers = _frame_numbers(root, meta)
    assert all(numbers[i] == numbers[i - 1] for i in r)
    assert all(numbers[i] == numbers[i - 1] + 1 for i in range(1, 60) if not repeated[i])
    for c in meta["chunks"]:  # the chunk files list the arrays, in the declared order
        stems = [s for s in c["files"] if s not in ("frames", "events")]
        assert stems[-2:] == ["os_timestamps", "repeated"]


def test_validate_states_the_capture_latency(session: tuple[Path, str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = session
    assert main(["validate", "--root", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    ft = report["stats"]["frame_times"]
    ts, os_ts = np.load(root / "timestamps.npy"), np.load(root / "os_timestamps.npy")
    new = ~np.load(root / "repeated.npy")
    lat = (ts[new] - os_ts[new]) / 1e6
    assert ft["source"] == "synthetic" and ft["repeated_frames"] == 15
    assert ft["latency_frames"] == 45
    assert ft["latency_ms"]["max"] == pytest.approx(float(lat.max()), abs=1e-3)
    assert ft["latency_ms"]["p50"] == pytest.approx(float(np.median(lat)), abs=1e-3)
    assert 0 <= ft["latency_ms"]["p50"] <= ft["latency_ms"]["p90"] <= ft["latency_ms"]["max"]
    # (a tick dropped on a loaded machine is a warning: no error is what counts here)
    assert report["ok"] and not [p for p in report["problems"] if p["level"] == "error"]
    assert main(["validate", "--root", str(root)]) == 0
    text = capsys.readouterr().out
    assert "frame times: capture latency p50 " in text and "15 repeated frame(s)" in text


def test_the_status_line_counts_repeats(session: tuple[Path, str]) -> None:
    _, err = session
    readings = [r for r in map(parse_status, err.splitlines()) if r is not None]
    assert readings, err
    assert all(r.repeated is not None for r in readings)
    # Non-decreasing, and never more than a quarter of the frames recorded so far (+1: the
    # counters are read one after the other while frames arrive).
    counts = [r.repeated for r in readings if r.repeated is not None]
    assert counts == sorted(counts)
    assert all((r.repeated or 0) <= r.frames // REPEAT + 1 for r in readings)


def test_report_shows_the_latency(session: tuple[Path, str], tmp_path: Path) -> None:
    root, _ = session
    page = tmp_path / "r.html"
    assert main(["report", "--root", str(root), "--out", str(page)]) == 0
    html = page.read_text()
    assert "<th>frame times</th>" in html and "capture latency p50 " in html
    assert '<h2 id="latency">Capture latency (OS frame times)</h2>' in html


def _copy_unmerged(root: Path, tmp_path: Path) -> Path:
    """A copy without the merged files (else they would disagree with a damaged chunk too)."""
    dest = tmp_path / "copy"
    shutil.copytree(root, dest)
    for f in [*dest.glob("*.npy"), *dest.glob("dataset.*")]:
        if "_chunk_" not in f.name:
            f.unlink()
    return dest


@pytest.mark.parametrize("damage", ["backwards", "after_grab", "count", "dtype"])
def test_validate_catches_damaged_frame_times(session: tuple[Path, str], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              damage: str) -> None:
    root = _copy_unmerged(session[0], tmp_path)
    chunk = root / "os_timestamps_chunk_002.npy"
    os_ts = np.load(chunk)
    if damage == "backwards":
        os_ts[4] = os_ts[3] - 1_000_000  # rows 3, 4 and 5 are no repeats (chunk 2: rows 25..)
        want = "os_timestamps goes back at 1 row(s), first at row 4"
    elif damage == "after_grab":
        ts = np.load(root / "timestamps_chunk_002.npy")
        os_ts[-1] = ts[-1] + OS_TIME_TOLERANCE_NS + 1_000_000
        want = "os_timestamps is after the grab time at 1 row(s)"
    elif damage == "dtype":
        os_ts = os_ts.astype(np.float64)
        want = "os_timestamps_chunk_002.npy is float64[25], expected int64[n]"
    if damage == "count":
        meta = json.loads((root / "meta.json").read_text())
        meta["capture"]["repeated_frames"] += 1
        (root / "meta.json").write_text(json.dumps(meta))
        want = "capture.repeated_frames 16 and frames_without_os_time 0 disagree with the arrays"
    else:
        np.save(chunk, os_ts)
    assert main(["validate", "--root", str(root)]) == 1
    errors = [ln for ln in capsys.readouterr().out.splitlines() if ln.lstrip().startswith("ERROR")]
    assert len(errors) == 1 and want in errors[0], errors


@pytest.mark.slow  # a real recording process, then kill -9
def test_kill_9_then_merge_keeps_the_arrays_aligned(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-m", "nitrogen_capture",
                             *_record(out, "--status-interval", "0")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:  # two finished chunks and an open one, journaled (flushed every 0.5 s) for 0.6 s
        wait_until(lambda: len(list(out.glob("frames/chunk_*/*.png"))) >= 70,
                   "70 frames recorded", 60, proc=proc, interval=0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    journal = sorted(out.glob("journal_chunk_*.jsonl"))[-1]
    frames = [r for r in (decode(load_line(ln)) for ln in journal.read_bytes().splitlines()
                          if b'"kind":"frame"' in ln) if isinstance(r, FrameRecord)]
    assert frames and all(r.rep is not None and r.os is not None for r in frames)

    assert main(["merge", "--root", str(out), "--no-progress"]) == 0, capsys.readouterr().err
    report = validate_session(out)
    assert report.ok, report.format()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "recovered" and meta["chunks"][-1].get("recovered")
    n = meta["merged"]["frames"]
    ts, os_ts = np.load(out / "timestamps.npy"), np.load(out / "os_timestamps.npy")
    repeated = np.load(out / "repeated.npy")
    assert len(ts) == len(os_ts) == len(repeated) == len(np.load(out / "actions.npy")) == n
    assert meta["capture"]["repeated_frames"] == int(repeated.sum())
    assert report.stats["frame_times"]["repeated_frames"] == int(repeated.sum())
    # The recovered rows still describe their own frames: a repeat shows the number before it.
    numbers = _frame_numbers(out, meta)
    assert len(numbers) == n
    for i in range(1, n):
        assert numbers[i] == numbers[i - 1] + (0 if repeated[i] else 1), i
    assert np.flatnonzero(repeated).tolist() == list(range(REPEAT - 1, n, REPEAT))


def test_the_synthetic_source_stamps_and_repeats() -> None:
    assert FrameSource.stamp_source is None  # a backend stamps only when it says so
    src = SyntheticSource(Region(0, 0, 160, 120), repeat_every=3)
    with src:
        src.warm_up()
        stamps = []
        for _ in range(7):
            frame = src.grab()
            stamp = src.last_stamp()
            assert stamp is not None and stamp.os_ns is not None
            stamps.append((stamp.seq, stamp.os_ns, read_frame_number(frame)))
    assert [s for s, _, _ in stamps] == [0, 1, 1, 2, 3, 3, 4]
    assert [n for _, _, n in stamps] == [0, 1, 1, 2, 3, 3, 4]  # the pixels repeat too
    assert stamps[2][1] == stamps[1][1] and stamps[3][1] > stamps[2][1]


def test_journal_frame_lines_with_and_without_os_times() -> None:
    plain = FrameRecord(0, 10, 500)
    assert plain.line() == '{"kind":"frame","row":0,"index":10,"t":500}\n'
    assert decode(load_line(plain.line().encode())) == plain
    stamped = FrameRecord(1, 11, 900, None, True)
    assert stamped.line() == '{"kind":"frame","row":1,"index":11,"t":900,"os":null,"rep":true}\n'
    assert decode(load_line(stamped.line().encode())) == stamped
    with pytest.raises(ValueError, match="rep must be true or false"):
        decode(load_line(b'{"kind":"frame","row":1,"index":11,"t":900,"os":3,"rep":1}'))


def test_the_timing_plot_notes_latency_and_repeats(session: tuple[Path, str],
                                                   tmp_path: Path) -> None:
    from nitrogen_capture.preview.data import load_series
    from nitrogen_capture.preview.timing import _frame_time_lines, write_timing
    from nitrogen_capture.session.reader import SessionReader

    series = load_series(SessionReader(session[0]))
    lines = _frame_time_lines(series.arrays)
    assert lines[0] == "- repeated frames: 15" and lines[2].startswith("  p50 ")
    write_timing(series, tmp_path / "timing.png")  # draws them without error
    assert cv2.imread(str(tmp_path / "timing.png")).shape == (860, 1200, 3)
    old = {k: v for k, v in series.arrays.items() if k not in ("os_timestamps", "repeated")}
    assert _frame_time_lines(old) == []  # a session without OS times: no such note


def test_a_session_without_os_times_validates_as_before(tmp_path: Path) -> None:
    from nitrogen_capture import rows
    from nitrogen_capture.session.reader import SessionReader
    from session_factory import make_session

    built = make_session(tmp_path / "old", merge=True)
    reader = SessionReader(built.root)
    assert not reader.has_frame_times and reader.array_names() == rows.array_names()
    report = validate_session(built.root)
    assert report.ok and not report.problems, report.format()
    assert "frame_times" not in report.stats and "frame times" not in report.format()
    meta = json.loads((built.root / "meta.json").read_text())
    assert "frame_time_source" not in (meta.get("capture") or {})
