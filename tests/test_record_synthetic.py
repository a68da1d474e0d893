"""Real recordings of the synthetic source: files, chunks, alignment with the scripted truth."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from nitrogen_capture.binning import bin_events
from nitrogen_capture.capture._synthetic import read_frame_number
from nitrogen_capture.errors import SessionExistsError
from nitrogen_capture.events import EVENT_DTYPE, KEY, InputEvent
from nitrogen_capture.inputs._scripted import ScriptedInput, scheduled_events
from nitrogen_capture.keylayout import DEFAULT_LAYOUT
from nitrogen_capture.session.paths import SessionPaths
from nitrogen_capture.session.timeline import leading_missed, tick_jumps
from recording import assert_resumed_by, record_synthetic, synthetic_recorder

MS = 1_000_000


def load_chunks(root: Path, stem: str) -> np.ndarray:
    paths = SessionPaths(root)
    meta = json.loads(paths.meta.read_text())
    return np.concatenate([np.load(paths.chunk_array(stem, c["index"]), allow_pickle=False)
                           for c in meta["chunks"]])


@pytest.mark.slow  # 130 frames at 60 fps
def test_files_chunks_and_meta(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result, _ = record_synthetic(out, max_frames=130, chunk_size=50)
    assert result.frames == 130 and result.chunks == 3
    meta = json.loads((out / "meta.json").read_text())
    assert meta["schema_version"] == 1 and meta["status"] == "complete"
    assert [c["num_frames"] for c in meta["chunks"]] == [50, 50, 30]
    assert [c["first_row"] for c in meta["chunks"]] == [0, 50, 100]
    assert meta["layout"]["keys"] == list(DEFAULT_LAYOUT.keys)
    for c in meta["chunks"]:
        n = c["num_frames"]
        pngs = sorted((out / c["files"]["frames"]).glob("*.png"))
        assert [p.name for p in pngs] == [f"{i:06d}.png" for i in range(1, n + 1)]
        acts = np.load(out / c["files"]["actions"], allow_pickle=False)
        assert acts.shape == (n, 28) and acts.dtype == np.int8
        assert np.load(out / c["files"]["mouse_deltas"]).shape == (n, 2)
        assert np.load(out / c["files"]["frame_indices"]).dtype == np.int64
    assert not list(out.glob("journal_*"))  # complete chunks leave no journal
    idx = load_chunks(out, "frame_indices")
    # Grid positions: a period the recorder missed (a busy machine) is a gap, and every gap is
    # counted in meta.json (never a silent re-anchor).
    assert idx[0] >= 0 and np.all(np.diff(idx) >= 1)  # a late first tick is tick 1 or later
    gaps = int(idx[-1] + 1 - len(idx))
    assert gaps == meta["counters"]["dropped_ticks"] == meta["counters"]["skipped_ticks"]
    ts = load_chunks(out, "timestamps")
    assert np.all(np.diff(ts) > 0)


def test_t0_wall_is_the_wall_time_of_t0(tmp_path: Path) -> None:
    """clock.t0_wall names the wall time of the instant every session time counts from (not of
    when the settings were built), and the start and end pairs bracket the recording."""
    import datetime as dt
    import time

    built = time.time_ns()
    rec = synthetic_recorder(tmp_path / "s", max_frames=20)
    time.sleep(0.3)  # the gap the encoders' start-up used to leave in t0_wall
    result = rec.run()
    done = time.time_ns()
    clock = result.meta.clock
    start, end = clock.pairs
    assert (start.at, end.at) == ("start", "end")
    assert built + 300_000_000 <= start.wall_ns <= end.wall_ns <= done
    wall_t0 = dt.datetime.fromisoformat(clock.t0_wall).timestamp() * 1e9
    # t0_wall (ms) is the start pair moved back to t0_ns along the monotonic clock.
    assert abs(wall_t0 - (start.wall_ns - (start.mono_ns - clock.t0_ns))) < 1.5e6
    # The first frame's wall time, from t0_wall and its timestamp, lies inside the recording.
    first = wall_t0 + int(load_chunks(tmp_path / "s", "timestamps")[0])
    assert start.wall_ns - 2e6 <= first <= end.wall_ns
    assert abs(clock.drift_ns) < 50_000_000  # no clock step in a one-second recording
    on_disk = json.loads((tmp_path / "s" / "meta.json").read_text())["clock"]
    assert [p["at"] for p in on_disk["pairs"]] == ["start", "end"]


def test_frames_are_the_grabbed_frames_in_order(tmp_path: Path) -> None:
    out = tmp_path / "s"
    record_synthetic(out, max_frames=60, chunk_size=25, size=(480, 64))
    rows = []
    for chunk in (1, 2, 3):
        for png in sorted((out / f"frames/chunk_{chunk:03d}").glob("*.png")):
            img = cv2.imread(str(png))
            assert img.shape == (64, 480, 3)
            rows.append(read_frame_number(img))
    assert rows == list(range(60))


@pytest.mark.slow  # 180 frames at 60 fps
def test_actions_are_exactly_the_binned_scripted_truth(tmp_path: Path) -> None:
    out = tmp_path / "s"
    rec = synthetic_recorder(out, max_frames=180, chunk_size=70, seed=7)
    result = rec.run()
    script = rec.inputs[0]
    assert isinstance(script, ScriptedInput) and script.start_ns is not None
    t0 = result.meta.clock.t0_ns
    ts = load_chunks(out, "timestamps")
    truth: list[InputEvent] = []
    for e in scheduled_events(7, script.start_ns):
        if e.t_ns - t0 > ts[-1]:
            break
        truth.append(InputEvent(e.t_ns - t0, e.device, e.code, e.value))
    expected = bin_events(truth, ts, DEFAULT_LAYOUT)
    actions = load_chunks(out, "actions")
    assert actions.sum() > 0, "the script pressed keys"
    np.testing.assert_array_equal(actions, expected.actions)
    np.testing.assert_allclose(load_chunks(out, "mouse_deltas"), expected.mouse_deltas)
    stored = load_chunks(out, "events")
    assert stored.dtype == EVENT_DTYPE
    assert len(stored) == len(truth)
    assert np.all(np.diff(stored["t_ns"]) >= 0)


def test_sub_frame_tap_and_hold_across_chunk_boundary(tmp_path: Path) -> None:
    # Frames every ~16.7 ms; chunk of 20 frames ends near 330 ms.
    timeline = [(100 * MS, KEY, "space", 1.0), (103 * MS, KEY, "space", 0.0),
                (250 * MS, KEY, "w", 1.0), (600 * MS, KEY, "w", 0.0)]
    out = tmp_path / "s"
    rec = synthetic_recorder(out, timeline=timeline, max_frames=60, chunk_size=20)
    result = rec.run()
    start = rec.inputs[0].start_ns  # type: ignore[attr-defined]
    t0 = result.meta.clock.t0_ns
    ts = load_chunks(out, "timestamps") + t0 - start  # times since the script started
    actions = load_chunks(out, "actions")
    space = actions[:, DEFAULT_LAYOUT.index("space")]
    assert space.sum() == 1  # a 3 ms tap shows in exactly one frame
    i = int(np.argmax(space))
    assert ts[i - 1] < 100 * MS <= ts[i]
    w = actions[:, DEFAULT_LAYOUT.index("w")]
    held = (ts >= 250 * MS) & (ts < 600 * MS)
    first_after = int(np.argmax(ts >= 250 * MS))
    held[first_after] = True
    np.testing.assert_array_equal(w.astype(bool), held)
    assert w[19] == 1 and w[20] == 1  # held on both sides of the chunk boundary
    meta = json.loads((out / "meta.json").read_text())
    assert meta["chunks"][1]["held_at_start"] == ["w"]


@pytest.mark.slow  # 60 frames at 60 fps around a 0.5 s pause
def test_hotkeys_pause_and_resume(tmp_path: Path) -> None:
    timeline = [(200 * MS, KEY, "w", 1.0), (400 * MS, KEY, "f7", 1.0),
                (410 * MS, KEY, "f7", 0.0), (900 * MS, KEY, "ctrl", 1.0),
                (950 * MS, KEY, "t", 1.0), (960 * MS, KEY, "t", 0.0),
                (970 * MS, KEY, "ctrl", 0.0), (1300 * MS, KEY, "w", 0.0)]
    out = tmp_path / "s"
    rec = synthetic_recorder(out, timeline=timeline, max_frames=60)
    result = rec.run()
    meta = result.meta.to_json()
    assert len(meta["pauses"]) == 1
    pause = meta["pauses"][0]
    assert pause["reason"] == "hotkey" and pause["end_tick"] - pause["start_tick"] >= 25
    idx = load_chunks(out, "frame_indices")
    # One jump holds the pause; any other gap, and a first frame later than tick 0, is periods
    # a busy machine missed, each counted.
    jumps = tick_jumps(idx, load_chunks(out, "timestamps"), result.meta.pauses)
    [cut] = [j for j in jumps if j.cut]
    assert idx[cut.row - 1] < pause["start_tick"] and idx[cut.row] == pause["end_tick"]
    missed = sum(j.dropped for j in jumps) + leading_missed(idx, result.meta.pauses)
    assert missed == meta["counters"]["dropped_ticks"]
    events = load_chunks(out, "events")
    codes = set(events["code"].tolist())
    assert not codes & {"f7", "t", "ctrl"}  # hotkeys never reach the stream
    actions = load_chunks(out, "actions")
    w = actions[:, DEFAULT_LAYOUT.index("w")]
    # w was held through the pause: released at the pause, pressed again at the resume.
    assert w[cut.row - 1] == 1 and w[cut.row] == 1
    assert actions[:, DEFAULT_LAYOUT.index("t")].sum() == 0
    assert actions[:, DEFAULT_LAYOUT.index("ctrl")].sum() == 0


def test_starts_paused_without_start_immediately(tmp_path: Path) -> None:
    timeline = [(300 * MS, KEY, "f8", 1.0), (310 * MS, KEY, "f8", 0.0)]
    rec = synthetic_recorder(tmp_path / "s", timeline=timeline, max_frames=20,
                             start_immediately=False)
    result = rec.run()
    assert_resumed_by(rec, result, 300 * MS)  # ~18 ticks at 60 fps before F8
    assert result.frames == 20


def test_refuses_existing_session(tmp_path: Path) -> None:
    out = tmp_path / "s"
    record_synthetic(out, max_frames=5)
    before = (out / "meta.json").read_bytes()
    with pytest.raises(SessionExistsError, match="already holds a session"):
        synthetic_recorder(out)
    assert (out / "meta.json").read_bytes() == before


@pytest.mark.slow  # 1.6 s of recording
def test_target_resize_starts_a_new_chunk_and_window_close_stops(tmp_path: Path) -> None:
    from nitrogen_capture.capture.base import Region
    from nitrogen_capture.clock import now_ns
    from nitrogen_capture.targets.base import Target

    class ResizingWindow(Target):
        """A window that is resized after 0.6 s and closed after 1.6 s."""

        def __init__(self) -> None:
            self.t_start = now_ns()

        def region(self) -> Region:
            grown = now_ns() - self.t_start > 600 * MS
            return Region(0, 0, 320, 240) if not grown else Region(10, 10, 410, 310)

        def refresh(self) -> Region | None:
            return None if now_ns() - self.t_start > 1600 * MS else self.region()

    from nitrogen_capture.config import RecordConfig
    from nitrogen_capture.record import build_recorder

    out = tmp_path / "s"
    cfg = RecordConfig(out=out, fps=30, chunk_size=1000, start_immediately=True,
                       capture_backend="synthetic", input_backend="none", encoder_workers=1,
                       status_interval=0)
    result = build_recorder(cfg, target=ResizingWindow()).run()
    assert result.stop_reason == "target window closed"
    chunks = result.meta.to_json()["chunks"]
    assert [c["size"] for c in chunks] == [[320, 240], [400, 300]]
    assert chunks[1]["region"] == [10, 10, 410, 310]
    img = cv2.imread(str(out / chunks[1]["files"]["frames"] / "000001.png"))
    assert img.shape == (300, 400, 3)
    # Recorded until the window closed, 1.6 s after it was made (found within the 0.5 s
    # refresh), from a start the machine's load delays: every period of that span is a frame
    # or a counted gap.
    ts, fi = load_chunks(out, "timestamps"), load_chunks(out, "frame_indices")
    assert len(ts) == result.frames and 0.5 <= (ts[-1] - ts[0]) / 1e9 <= 2.2
    assert fi[-1] - fi[0] + 1 == result.frames + result.meta.counters.dropped_ticks
