"""Latency calibration, tier 0: statistics, the offset estimate, the measurement's matching, the
profile file, the SendInput injector against a fake, and the CLI's bad input.

The real calibration under Xvfb is tests/calibrate/test_calibrate_x11.py; the offset's use by
record and the exporters is tests/calibrate/test_latency_offset.py.
"""

from __future__ import annotations

import ctypes
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.calibrate import LatencyProfile, best_offset, delay_stats
from nitrogen_capture.calibrate._sendinput_win32 import (
    INPUT,
    INPUT_KEYBOARD,
    INPUT_MOUSE,
    KEYEVENTF_KEYUP,
    InputSpec,
    SendInputInjector,
    pack_inputs,
)
from nitrogen_capture.calibrate.measure import _press_times, match_presses
from nitrogen_capture.calibrate.profile import aligned_count, offset_run
from nitrogen_capture.calibrate.runner import CalibrationOptions
from nitrogen_capture.capture.base import Region
from nitrogen_capture.errors import ConfigError, InputError
from nitrogen_capture.events import BUTTON, HELD, KEY, InputEvent, events_to_array
from nitrogen_capture.targets.base import FixedRegionTarget

P = 33_333_333  # 30 fps


def simulate(pipeline_ns: list[int], seed: int = 0, period: int = P
             ) -> tuple[list[int], list[int], list[int], list[int]]:
    """Events at random phases on a frame grid, each shown ``pipeline`` after it.

    Returns the event times, frame times, and per event the truth ``(lower, delay)`` from the
    definitions (first frame at or after ``e + pipeline``), worked out here by brute force.
    """
    rng = random.Random(seed)
    frames = [k * period for k in range(8 * len(pipeline_ns) + 20)]
    events, lower, delay = [], [], []
    t = 3 * period
    for d in pipeline_ns:
        t += 5 * period + rng.randrange(period)
        j = next(k for k, f in enumerate(frames) if f >= t + d)
        events.append(t)
        lower.append(frames[j - 1] - t)
        delay.append(frames[j] - t)
    return events, frames, lower, delay


def test_delay_stats_are_the_percentiles_in_ms_and_frames() -> None:
    delays = [i * 1_000_000 for i in range(1, 101)]  # 1..100 ms
    st = delay_stats(delays, fps=50)
    assert st.p50_ms == pytest.approx(np.median(np.arange(1, 101)))
    assert st.p90_ms == pytest.approx(90.1)  # numpy's linear interpolation between 90 and 91
    assert st.max_ms == 100
    assert st.frames(st.max_ms) == pytest.approx(5.0)  # 100 ms at 50 fps
    assert st.to_json()["p50_frames"] == pytest.approx(round(50.5 * 50 / 1000, 3))
    with pytest.raises(ValueError):
        delay_stats([], 30)


@pytest.mark.parametrize("pipeline_ms", [0.5, 7.0, 25.0, 51.0])
def test_best_offset_recovers_a_constant_pipeline_latency(pipeline_ms: float) -> None:
    d = round(pipeline_ms * 1e6)
    _, _, lower, delay = simulate([d] * 60, seed=int(pipeline_ms))
    offset = best_offset(lower, delay)
    assert abs(offset - d) < 2_000_000  # random phases pin it within ~P/60
    assert aligned_count(lower, delay, offset) == 60
    lo, hi = offset_run(lower, delay)
    assert lo < d <= hi and hi - lo < P / 10  # every offset in the run aligns all 60
    # The raw delays include the wait for the next tick: their median is ~half a frame more.
    assert np.median(delay) - d > P / 4
    if d > 2_000_000:
        assert aligned_count(lower, delay, 0) < 60  # no offset misplaces some of them


def test_best_offset_with_jitter_aligns_most_events() -> None:
    rng = random.Random(5)
    pipe = [round(rng.gauss(20e6, 3e6)) for _ in range(200)]
    _, _, lower, delay = simulate(pipe, seed=9)
    offset = best_offset(lower, delay)
    assert 14e6 < offset < 26e6
    assert aligned_count(lower, delay, offset) >= aligned_count(lower, delay, 0)
    assert aligned_count(lower, delay, offset) >= 0.8 * len(pipe)
    with pytest.raises(ValueError):
        best_offset([5], [5])


def test_match_presses_finds_the_first_showing_frame_and_skips_misreads() -> None:
    pipe = [4_000_000, 12_000_000, 30_000_000, 45_000_000]
    events, frames, lower, delay = simulate(pipe, seed=2)
    counters = [sum(1 for e, d in zip(events, pipe, strict=True) if e + d <= f) for f in frames]
    counters = [c + 7 for c in counters]  # the window had counted 7 before the recording
    # A torn grab: the frame that first shows press 3 misreads, so the next frame is the first.
    j3 = frames.index(events[2] + delay[2])
    counters[j3] = -1
    m = match_presses(events, frames, counters)
    assert m.problems == []
    assert (m.logged, m.seen, m.window_presses, m.unreadable) == (4, 4, 4, 1)
    assert m.delays_ns[:2] == delay[:2] and m.delays_ns[3] == delay[3]
    assert m.delays_ns[2] == delay[2] + P  # the misread frame is skipped, not guessed
    assert m.lower_ns[0] == lower[0]
    rows = [int(np.searchsorted(frames, e)) for e in events]
    assert m.row_lags[0] == frames.index(events[0] + delay[0]) - rows[0]


def test_match_presses_reports_unseen_and_uncounted_presses() -> None:
    frames = [k * P for k in range(30)]
    counters = [0] * 10 + [1] * 20
    m = match_presses([5 * P + 1, 20 * P + 1], frames, counters)  # the 2nd never shows
    assert m.seen == 1
    assert any("never showed" in p for p in m.problems)
    assert any("the window counted 1 presses" in p for p in m.problems)
    counters3 = [0] * 10 + [1] * 10 + [2] * 10 + [3] * 10
    frames3 = [k * P for k in range(40)]
    # The first press stamped by a listener that ran 5 ms late: a negative sample, no problem.
    late_stamp = match_presses([10 * P + 5_000_000, 20 * P - 4_000_000, 30 * P - 3_000_000],
                               frames3, counters3)
    assert late_stamp.problems == []
    assert late_stamp.delays_ns == [-5_000_000, 4_000_000, 3_000_000]
    assert late_stamp.stamped_late == 1
    # One press the window saw but the recorder did not, one the other way round: the counts
    # agree, but every press after the slip pairs with the next counter value, seen before it.
    slipped = match_presses([15 * P + 1, 25 * P + 1, 35 * P + 1], frames3, counters3)
    assert any("paired different presses" in p for p in slipped.problems)
    blank = match_presses([P], frames, [-1] * 30)
    assert blank.seen == 0 and "no frame" in blank.problems[0]


def test_a_key_already_held_is_not_a_logged_press() -> None:
    # Space held when the calibration recording started (or resumed) is entered as a synthetic
    # HELD press: the window never counted it, so it is no press to match.
    events = events_to_array([InputEvent(5, KEY, "space", HELD), InputEvent(9, KEY, "space", 0),
                              InputEvent(10, KEY, "space", 1), InputEvent(20, BUTTON, "lmb", 1),
                              InputEvent(30, BUTTON, "lmb", HELD), InputEvent(31, KEY, "w", 1)])
    assert _press_times(events, ("space", "lmb")) == [10, 20]


def _profile(seed: int = 1) -> LatencyProfile:
    _, _, lower, delay = simulate([9_000_000] * 20, seed=seed)
    return LatencyProfile(fps=30, method="xtest", injected=20, logged=20,
                          delays_ns=tuple(delay), lower_ns=tuple(lower),
                          row_lags=tuple([0] * 20), offset_ns=best_offset(lower, delay),
                          capture_backend="mss", input_backend="pynput",
                          platform={"system": "Linux"}, created="2026-11-29T15:00:00+00:00")


def test_profile_file_round_trip(tmp_path: Path) -> None:
    prof = _profile()
    path = tmp_path / "lat.json"
    prof.save(path)
    back = LatencyProfile.load(path)
    assert back == prof
    doc = json.loads(path.read_text())
    assert doc["events"] == {"injected": 20, "logged": 20, "seen": 20}
    assert doc["delay"]["p50_ms"] == pytest.approx(prof.stats.p50_ms, abs=1e-3)
    assert doc["aligned"]["offset"] == 20


@pytest.mark.parametrize(("content", "needle"), [
    (None, "not found"),
    ("{not json", "not valid JSON"),
    ("[]", "not a JSON object"),
    ('{"format": "something-else"}', "not a calibrate --save file"),
    ("PATCH:format_version=9", "upgrade nitrogen-capture"),
    ("PATCH:fps=0", "'fps'"),
    ("PATCH:offset_ns=5000000000", "'offset_ns'"),
    ("PATCH:samples.delay_ns=[1, 2]", "same length"),
    ('PATCH:samples.lower_ns="x"', "samples.lower_ns"),
])
def test_bad_profile_files_are_one_config_error(tmp_path: Path, content: str | None,
                                                needle: str) -> None:
    path = tmp_path / "lat.json"
    if content is not None and content.startswith("PATCH:"):
        doc = _profile().to_json()
        key, value = content[6:].split("=", 1)
        parent = doc
        *outer, last = key.split(".")
        for k in outer:
            parent = parent[k]
        parent[last] = json.loads(value)
        path.write_text(json.dumps(doc))
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as exc:
        LatencyProfile.load(path)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


class FakeInputApi:
    """Records the OS calls; ``accept`` is how many events SendInput inserts (None: all)."""

    def __init__(self, accept: int | None = None, foreground: bool = True) -> None:
        self.sent: list[InputSpec] = []
        self.cursor: tuple[int, int] | None = None
        self.focused: int | None = None
        self.raised: int | None = None
        self.accept = accept
        self.foreground = foreground

    def send_input(self, inputs: list[InputSpec]) -> int:
        self.sent += inputs
        return len(inputs) if self.accept is None else self.accept

    def set_cursor_pos(self, x: int, y: int) -> bool:
        self.cursor = (x, y)
        return True

    def bring_window_to_top(self, hwnd: int) -> bool:
        self.raised = hwnd
        return True

    def set_foreground_window(self, hwnd: int) -> bool:
        self.focused = hwnd
        return self.foreground


class _Window(FixedRegionTarget):
    window_id = 0x1234


def test_sendinput_injector_builds_the_events_and_focuses_the_window() -> None:
    api = FakeInputApi()
    inj = SendInputInjector(api)
    inj.prepare(_Window(Region(100, 50, 580, 250)))
    assert api.cursor == (340, 150) and api.focused == 0x1234 and api.raised == 0x1234
    for key in ("space", "lmb"):
        inj.press(key, True)
        inj.press(key, False)
    assert api.sent == [InputSpec(INPUT_KEYBOARD, 0x20, 0, 0x39),
                        InputSpec(INPUT_KEYBOARD, 0x20, KEYEVENTF_KEYUP, 0x39),
                        InputSpec(INPUT_MOUSE, 0, 0x0002), InputSpec(INPUT_MOUSE, 0, 0x0004)]
    with pytest.raises(InputError, match="cannot press 'f13'"):
        inj.press("f13", True)


def test_sendinput_failures_name_the_fix() -> None:
    with pytest.raises(InputError, match="higher integrity level"):
        SendInputInjector(FakeInputApi(accept=0)).press("space", True)
    with pytest.raises(InputError, match="--manual"):
        SendInputInjector(FakeInputApi(foreground=False)).prepare(
            _Window(Region(0, 0, 10, 10)))


def test_input_struct_has_the_windows_layout() -> None:
    if ctypes.sizeof(ctypes.c_void_p) == 8:
        assert ctypes.sizeof(INPUT) == 40  # sizeof(INPUT) on 64-bit Windows
    arr = pack_inputs([InputSpec(INPUT_KEYBOARD, 0x20, KEYEVENTF_KEYUP, 0x39),
                       InputSpec(INPUT_MOUSE, 0, 0x0004)])
    assert (arr[0].type, arr[0].u.ki.wVk, arr[0].u.ki.wScan, arr[0].u.ki.dwFlags) == (
        1, 0x20, 0x39, KEYEVENTF_KEYUP)
    assert (arr[1].type, arr[1].u.mi.dwFlags) == (0, 0x0004)


@pytest.mark.parametrize(("kw", "needle"), [
    ({"fps": 0}, "--fps"), ({"count": 0}, "--count"), ({"count": 10**6}, "--count"),
    ({"input_backend": "scripted"}, "live backend"),
    ({"capture_backend": "synthetic"}, "captures no window"),
])
def test_calibration_options_are_checked(kw: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        CalibrationOptions(**kw)  # type: ignore[arg-type]


def test_calibrate_cli_bad_values_are_one_line(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    run_cli(capsys, "calibrate", "--count", "0").one_line_error(2, "--count")
    run_cli(capsys, "calibrate", "--fps", "nan").one_line_error(2, "--fps")
    run_cli(capsys, "calibrate", "--save", "/nonexistent-dir/x.json").one_line_error(
        2, "does not exist")
    if sys.platform.startswith("linux"):
        for var in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
            monkeypatch.delenv(var, raising=False)
        run_cli(capsys, "calibrate", "--count", "3").one_line_error(1, "no X display")
