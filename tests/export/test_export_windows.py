"""Windowing (no window across a pause, a gap or missing frames), action shift, 60 Hz resampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from markers import needs_torch
from nitrogen_capture.binning import bin_events
from nitrogen_capture.errors import ConfigError
from nitrogen_capture.events import BUTTON, KEY, MOTION, InputEvent
from nitrogen_capture.export import ConvertSettings, convert, load, map_rows, plan_windows
from nitrogen_capture.export.resample import GridResampler, step_ns
from session_factory import LAYOUT, make_session

P60 = step_ns(60)


def test_clean_session_gives_n_minus_t_plus_1() -> None:
    ts = np.arange(12, dtype=np.int64) * 33_333_333
    plan = plan_windows(ts, [(0, 12)], seq_len=4)
    assert len(plan) == 12 - 4 + 1
    assert plan.starts.tolist() == list(range(9))
    assert len(plan_windows(ts, [(0, 12)], seq_len=4, shift=3)) == 12 - 4 - 3 + 1


def test_resampled_windows_need_the_grid_inside_the_segment() -> None:
    ts = np.arange(10, dtype=np.int64) * 33_333_333  # 30 fps, last frame at 300 ms
    plan = plan_windows(ts, [(0, 10)], seq_len=6, shift=3, action_hz=60)
    span = (3 + 6 - 1) * P60
    assert all(ts[i] + span <= ts[9] for i in plan.starts)
    assert plan.starts[-1] + 1 == 10 or ts[plan.starts[-1] + 1] + span > ts[9]
    np.testing.assert_array_equal(plan.grid(1000), 1000 + (3 + np.arange(6)) * P60)
    with pytest.raises(ConfigError):
        plan_windows(ts, [(0, 10)], seq_len=0)
    with pytest.raises(ConfigError):
        plan_windows(ts, [(0, 10)], seq_len=2, action_hz=0)


@needs_torch  # convert writes a .pt
def test_no_window_across_pause_gap_or_missing_frames(tmp_path: Path) -> None:
    # 14 rows; a pause before row 5, dropped ticks before row 10; row 12's PNG deleted.
    b = make_session(tmp_path / "s", (6, 4, 4), gaps={5: (7, "hotkey"), 10: (2, None)})
    (tmp_path / "s" / "frames" / "chunk_003" / "000003.png").unlink()  # merged row 12
    out = tmp_path / "o.pt"
    convert(ConvertSettings(root=b.root, out=out, seq_len=3, img_size=8))
    meta = load(out)["meta"]
    assert meta["segments"] == [[0, 5], [5, 10], [10, 12], [13, 14]]
    rows = meta["windows"]["row"]
    # Segment lengths 5, 5, 2, 1 -> 2 + 2 + 0 + 0 windows: a frame and the 3 rows after it
    # (the default --action-shift 1).
    assert rows == [0, 1, 5, 6]
    fi = b.frame_indices
    for r in rows:  # every window's frames are consecutive ticks
        assert list(fi[r:r + 4]) == list(range(fi[r], fi[r] + 4))
    assert meta["windows"]["frame_index"] == fi[rows].tolist()


@needs_torch  # convert writes a .pt
def test_action_shift_per_frame(tmp_path: Path) -> None:
    b = make_session(tmp_path / "s", (6, 6))
    out = tmp_path / "o.pt"
    convert(ConvertSettings(root=b.root, out=out, seq_len=4, action_shift=3, img_size=8,
                            action_space="raw"))
    import torch

    data = torch.load(out, weights_only=True)
    acts = data["actions"].numpy()
    assert acts.shape == (12 - 4 - 3 + 1, 4, len(LAYOUT) + 4)
    mapped = map_rows(b.actions, b.mouse_deltas, None, LAYOUT, space="raw")
    for m, i in enumerate(data["meta"]["windows"]["row"]):
        np.testing.assert_array_equal(acts[m], mapped[i + 3:i + 7])


def test_resampler_against_hand_computed_timeline() -> None:
    ms = 1_000_000
    events = [
        InputEvent(5 * ms, KEY, "w", 1.0),
        InputEvent(10 * ms, MOTION, "dx", 10.0),
        InputEvent(20 * ms, KEY, "space", 1.0),   # a 1 ms tap inside one 60 Hz step
        InputEvent(20 * ms, MOTION, "dx", 5.0),
        InputEvent(21 * ms, KEY, "space", 0.0),
        InputEvent(30 * ms, MOTION, "dy", -3.0),
        InputEvent(40 * ms, KEY, "w", 0.0),
        InputEvent(60 * ms, BUTTON, "lmb", 1.0),
    ]
    res = GridResampler(iter(events), LAYOUT)
    g0 = P60  # a frame captured at 16.67 ms; grid 16.67, 33.33, 50, 66.67 ms
    rows = res.bin_grid(g0 + np.arange(4) * P60, P60)
    w, a, space, lmb = (LAYOUT.index(k) for k in ("w", "a", "space", "lmb"))
    np.testing.assert_array_equal(rows.actions[:, w], [1, 1, 0, 0])
    np.testing.assert_array_equal(rows.actions[:, space], [0, 1, 0, 0])
    np.testing.assert_array_equal(rows.actions[:, lmb], [0, 0, 0, 1])
    np.testing.assert_array_equal(rows.actions[:, a], [0, 0, 0, 0])
    np.testing.assert_array_equal(rows.mouse_deltas, [[10, 0], [5, -3], [0, 0], [0, 0]])
    # A later, overlapping grid (shift 1 from the next frame at 33.33 ms): w held at its start
    # comes from the state, not from a press inside the grid; the 10 ms motion is not reused.
    rows = res.bin_grid(2 * P60 + P60 + np.arange(2) * P60, P60)  # 50, 66.67 ms
    np.testing.assert_array_equal(rows.actions[:, w], [0, 0])
    np.testing.assert_array_equal(rows.actions[:, lmb], [0, 1])
    np.testing.assert_array_equal(rows.mouse_deltas, [[0, 0], [0, 0]])
    with pytest.raises(ValueError, match="backwards"):
        res.bin_grid(np.array([P60]), P60)


def test_held_state_carries_into_grid() -> None:
    ms = 1_000_000
    events = [InputEvent(1 * ms, KEY, "a", 1.0), InputEvent(500 * ms, KEY, "a", 0.0)]
    res = GridResampler(iter(events), LAYOUT)
    rows = res.bin_grid(np.array([200 * ms, 200 * ms + P60]), P60)
    np.testing.assert_array_equal(rows.actions[:, LAYOUT.index("a")], [1, 1])


@needs_torch  # convert writes a .pt
def test_convert_60hz_matches_fresh_binning_per_window(tmp_path: Path) -> None:
    b = make_session(tmp_path / "s", (10, 10), seed=3)
    out = tmp_path / "o.pt"
    convert(ConvertSettings(root=b.root, out=out, seq_len=5, action_shift=3, action_hz=60,
                            img_size=8, action_space="raw"))
    import torch

    data = torch.load(out, weights_only=True)
    rows = data["meta"]["windows"]["row"]
    assert len(rows) > 0 and data["meta"]["params"]["action_hz"] == 60
    for m, i in enumerate(rows):
        # Reference: a fresh binner over every event, on [g_-1, g_0 .. g_4], first row dropped.
        grid = b.timestamps[i] + (3 + np.arange(-1, 5)) * P60
        ref = bin_events(b.events, grid, LAYOUT)
        want = map_rows(ref.actions[1:], ref.mouse_deltas[1:], None, LAYOUT, space="raw")
        np.testing.assert_array_equal(data["actions"][m].numpy(), want)
