"""Per-frame semantics: held at t_i or pressed inside (t_{i-1}, t_i]; raw mouse sums."""

from __future__ import annotations

import numpy as np

from nitrogen_capture.binning import GAMEPAD_WIDTH, ActionBinner, bin_events
from nitrogen_capture.events import BUTTON, KEY, MOTION, PAD_AXIS, PAD_BUTTON, WHEEL
from nitrogen_capture.events import InputEvent as E
from nitrogen_capture.keylayout import DEFAULT_LAYOUT, PAD_BUTTONS, KeyLayout

MS = 1_000_000
FRAMES = np.array([10, 20, 30, 40, 50]) * MS
W = DEFAULT_LAYOUT.index("w")
SPACE = DEFAULT_LAYOUT.index("space")


def test_tap_inside_one_interval_is_not_lost() -> None:
    rows = bin_events([E(12 * MS, KEY, "space", 1), E(14 * MS, KEY, "space", 0)], FRAMES,
                      DEFAULT_LAYOUT)
    assert rows.actions[:, SPACE].tolist() == [0, 1, 0, 0, 0]


def test_hold_spans_frames_and_event_at_t_i_belongs_to_frame_i() -> None:
    events = [E(20 * MS, KEY, "w", 1), E(41 * MS, KEY, "w", 0)]
    rows = bin_events(events, FRAMES, DEFAULT_LAYOUT)
    assert rows.actions[:, W].tolist() == [0, 1, 1, 1, 0]


def test_release_then_press_in_one_interval() -> None:
    events = [E(5 * MS, KEY, "w", 1), E(22 * MS, KEY, "w", 0), E(25 * MS, KEY, "w", 1),
              E(27 * MS, KEY, "w", 0)]
    rows = bin_events(events, FRAMES, DEFAULT_LAYOUT)
    assert rows.actions[:, W].tolist() == [1, 1, 1, 0, 0]


def test_held_before_is_the_state_as_each_interval_opens() -> None:
    # w held from 20 ms to 41 ms, space tapped inside (10, 20]: held_before (LeRobot's
    # --state held-keys) is what was held at t_{i-1}, never a tap nor the row's own press.
    events = [E(12 * MS, KEY, "space", 1), E(14 * MS, KEY, "space", 0),
              E(20 * MS, KEY, "w", 1), E(41 * MS, KEY, "w", 0)]
    rows = bin_events(events, FRAMES, DEFAULT_LAYOUT)
    assert rows.held_before[:, W].tolist() == [0, 0, 1, 1, 1]  # row 4: held at 40 ms
    assert rows.held_before[:, SPACE].tolist() == [0, 0, 0, 0, 0]
    assert rows.actions[:, W].tolist() == [0, 1, 1, 1, 0]
    # A binner carried over from an earlier call starts with what it held.
    binner = ActionBinner(DEFAULT_LAYOUT)
    bin_events([E(15 * MS, KEY, "w", 1)], FRAMES[:2], DEFAULT_LAYOUT, binner)
    assert bin_events([], FRAMES[2:], DEFAULT_LAYOUT, binner).held_before[:, W].tolist() == [
        1, 1, 1]


def test_hold_across_chunk_boundary_with_carried_binner() -> None:
    binner = ActionBinner(DEFAULT_LAYOUT)
    first = bin_events([E(15 * MS, KEY, "w", 1)], FRAMES[:2], DEFAULT_LAYOUT, binner)
    second = bin_events([E(45 * MS, KEY, "w", 0)], FRAMES[2:], DEFAULT_LAYOUT, binner)
    assert first.actions[:, W].tolist() == [0, 1]
    assert second.actions[:, W].tolist() == [1, 1, 0]


def test_mouse_deltas_sum_per_interval_and_total() -> None:
    events = []
    rng = np.random.default_rng(1)
    for t in range(1, 50):
        events.append(E(t * MS, MOTION, "dx", float(rng.integers(-5, 6))))
        events.append(E(t * MS, MOTION, "dy", float(rng.integers(-5, 6))))
    rows = bin_events(events, FRAMES, DEFAULT_LAYOUT)
    dx = sum(e.value for e in events if e.code == "dx")
    dy = sum(e.value for e in events if e.code == "dy")
    assert rows.mouse_deltas.dtype == np.float32
    assert np.allclose(rows.mouse_deltas.sum(axis=0), [dx, dy])
    first = sum(e.value for e in events if e.code == "dx" and e.t_ns <= 10 * MS)
    assert rows.mouse_deltas[0, 0] == first


def test_keys_outside_layout_are_ignored_and_wheel_is_a_tap() -> None:
    layout = KeyLayout(keys=("w", "wheel_up", "wheel_down", "lmb"), name="t")
    events = [E(11 * MS, KEY, "f1", 1), E(12 * MS, WHEEL, "dy", 1.0),
              E(33 * MS, WHEEL, "dy", -2.0), E(34 * MS, BUTTON, "lmb", 1)]
    rows = bin_events(events, FRAMES, layout)
    assert rows.actions.tolist() == [[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0],
                                     [0, 0, 1, 1], [0, 0, 0, 1]]


def test_gamepad_buttons_latch_and_axes_hold_last_value() -> None:
    south = PAD_BUTTONS.index("south")
    events = [E(12 * MS, PAD_BUTTON, "south", 1), E(13 * MS, PAD_BUTTON, "south", 0),
              E(25 * MS, PAD_AXIS, "lx", 0.5), E(26 * MS, PAD_AXIS, "ly", -2.0)]
    rows = bin_events(events, FRAMES, DEFAULT_LAYOUT)
    assert rows.gamepad.shape == (5, GAMEPAD_WIDTH)
    assert rows.gamepad[:, south].tolist() == [0, 1, 0, 0, 0]
    assert rows.gamepad[2, 17:19].tolist() == [0.5, -1.0]  # clipped to [-1, 1]
    assert rows.gamepad[4, 17:19].tolist() == [0.5, -1.0]
