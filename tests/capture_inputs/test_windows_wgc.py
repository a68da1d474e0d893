"""The WGC capture source through a fake ``windows_capture`` module (tests/wgc_fakes.py).

WGC cannot run on Linux, nor under Wine 8 (tests_wine/test_win32_wgc.py shows the real package
failing there); the real API layer (``RealWgcApi``) and the source run here over a fake of the
package's Python API whose frames arrive on its own thread, as the library's do.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nitrogen_capture.capture import (
    CaptureTarget,
    register_capture_backend,
    unregister_capture_backend,
)
from nitrogen_capture.capture._wgc import WgcConfig, WgcSource, client_offset
from nitrogen_capture.capture._wgc_api import RealWgcApi, WgcUnavailable, classify_wgc_error
from nitrogen_capture.capture.base import Region
from nitrogen_capture.errors import ConfigError, DependencyError
from nitrogen_capture.record import RecordConfig, build_recorder
from nitrogen_capture.session import validate_session
from nitrogen_capture.session.reader import SessionReader
from nitrogen_capture.targets.base import Target
from wgc_fakes import (
    BORDER,
    QPC_OFFSET_NS,
    TITLE_BAR,
    UNSUPPORTED,
    FakeDesktop,
    FakeWindow,
    fake_backend,
)

HWND = 0x2A04
CLIENT = Region(100, 120, 420, 360)  # 320 x 240


def _window_source(desktop: FakeDesktop, fps: float = 60.0, **kwargs: Any) -> WgcSource:
    return WgcSource(CaptureTarget.of_window(HWND, desktop.windows[HWND].client),
                     WgcConfig(fps=fps), api=desktop.api(), **kwargs)


@pytest.fixture
def desktop() -> FakeDesktop:
    return FakeDesktop(windows={HWND: FakeWindow(CLIENT)})


def _client_value(desktop: FakeDesktop, hwnd: int = HWND) -> int:
    return (desktop.windows[hwnd].level + desktop.frames_made) % 256


def test_a_window_is_captured_by_its_handle_and_cropped_to_its_client_area(
        desktop: FakeDesktop) -> None:
    with _window_source(desktop) as source:
        desktop.deliver()
        frame = source.grab()
        capture = desktop.captures[-1]
        assert (capture.window_hwnd, capture.monitor_index) == (HWND, None)
        # Build 26100: cursor and border asked off, MinUpdateInterval half a 60 fps tick.
        assert (capture.cursor_capture, capture.draw_border) == (False, False)
        assert capture.minimum_update_interval == 8
        assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
        assert frame.flags.c_contiguous
        # The client area only: no title bar (90) and no border (200) rows or columns.
        assert (frame == _client_value(desktop)).all()
        assert source.details == {
            "window_handle": HWND, "monitor_index": None, "windows_build": 26100,
            "cursor_off": True, "border_off": True, "min_update_interval_ms": 8,
            "resizes": 0, "stale_frames": 0}
    assert capture.stopped and not capture.thread.is_alive()  # close() stopped and joined


def test_frames_arrive_on_the_librarys_thread_and_are_copied_out(
        desktop: FakeDesktop) -> None:
    with _window_source(desktop) as source:
        desktop.deliver()
        first = source.grab()
        desktop.deliver()  # the fake scribbles 0xEE over the previous mapped buffer
        second = source.grab()
    capture = desktop.captures[-1]
    assert threading.get_ident() not in capture.callback_threads
    assert len(capture.callback_threads) == 1
    assert (first == _client_value(desktop) - 1).all()  # a kept view would show 0xEE
    assert (second == _client_value(desktop)).all()


def test_a_tick_without_a_new_frame_repeats_the_last_one_marked_by_its_seq(
        desktop: FakeDesktop) -> None:
    clock = desktop.clock()
    with _window_source(desktop) as source:
        desktop.deliver(advance_100ns=100_000)
        one = source.grab()
        stamp_one = source.last_stamp()
        again = source.grab()  # nothing new: no waiting, the same frame, the same seq
        stamp_again = source.last_stamp()
        desktop.deliver(advance_100ns=166_667)
        two = source.grab()
        stamp_two = source.last_stamp()
    assert source.stamp_source == "wgc-system-relative"
    assert stamp_one is not None and stamp_again is not None and stamp_two is not None
    assert stamp_again == stamp_one and stamp_two.seq == stamp_one.seq + 1
    assert again is not one and (again == one).all()
    assert not (two == one).all()
    # SystemRelativeTime is 100-ns QPC units: 16.6667 ms between the two frames.
    assert stamp_one.os_ns == clock.hundred_ns_to_ns(10_100_000) == 10_100_000 * 100 \
        + QPC_OFFSET_NS
    assert stamp_two.os_ns is not None and stamp_two.os_ns - stamp_one.os_ns == 16_666_700


def test_a_region_is_cropped_from_the_monitor_that_holds_it() -> None:
    desktop = FakeDesktop(monitors=[Region(0, 0, 1280, 800), Region(1280, -100, 3200, 980)])
    region = Region(1400, -50, 1464, -2)
    with WgcSource(CaptureTarget.of_region(region), WgcConfig(fps=30), api=desktop.api()) \
            as source:
        desktop.deliver()
        frame = source.grab()
    assert desktop.captures[-1].monitor_index == 2 and source.details["monitor_index"] == 2
    assert desktop.captures[-1].window_hwnd is None
    assert frame.shape == (48, 64, 3)
    assert frame[:, :, 0].tolist() == [[x % 256 for x in range(1400, 1464)]] * 48
    assert frame[:, 0, 1].tolist() == [y % 256 for y in range(-50, -2)]
    with pytest.raises(ConfigError, match="not inside one monitor"):
        WgcSource(CaptureTarget.of_region(Region(1200, 0, 1300, 50)), api=desktop.api()).open()
    with pytest.raises(ConfigError, match="monitor 3 does not exist"):
        WgcSource(CaptureTarget.of_region(region), WgcConfig(monitor=3),
                  api=desktop.api()).open()


def test_a_moved_or_covered_window_keeps_recording_its_own_pixels(
        desktop: FakeDesktop) -> None:
    window = desktop.windows[HWND]
    with _window_source(desktop) as source:
        desktop.deliver()
        source.grab()
        window.move_to(-200, 700)  # partly off the 1280x800 screen
        window.occluded = True  # and under another window
        source.set_region(window.client)
        desktop.deliver()
        frame = source.grab()
    assert frame.shape == (240, 320, 3)
    assert (frame == _client_value(desktop)).all()  # the window's pixels, not the desktop's
    assert source.details["resizes"] == 0


def test_a_resized_window_follows_the_new_size_or_resizes_the_last_frame(
        desktop: FakeDesktop) -> None:
    window = desktop.windows[HWND]
    with _window_source(desktop, fresh_timeout_s=0.3) as source:
        desktop.deliver()
        source.grab()
        window.resize(400, 300)
        source.set_region(window.client)  # the recorder follows the target first...
        stale = source.grab()  # ...and no frame of the new size came in time
        assert stale.shape == (300, 400, 3) and source.details["stale_frames"] == 1
        assert (stale == _client_value(desktop)).all()  # the previous frame, resized
        desktop.deliver()
        fresh = source.grab()
        assert fresh.shape == (300, 400, 3) and (fresh == _client_value(desktop)).all()
        window.resize(200, 100)  # smaller: the old frame still holds the new client area
        source.set_region(window.client)
        desktop.deliver()
        small = source.grab()
    assert small.shape == (100, 200, 3) and (small == _client_value(desktop)).all()
    assert source.details["resizes"] == 2 and source.details["stale_frames"] == 1


def test_the_window_closing_mid_recording_ends_with_one_line(desktop: FakeDesktop) -> None:
    with _window_source(desktop) as source:
        desktop.deliver()
        source.grab()
        desktop.close_window()
        with pytest.raises(WgcUnavailable) as info:
            source.grab()
    assert info.value.short == "the window closed" and info.value.target_ended
    assert str(info.value) == "Windows Graphics Capture of the window ended: the window closed"


def test_no_first_frame_is_refused_in_bounded_time(desktop: FakeDesktop) -> None:
    with _window_source(desktop, first_timeout_s=0.2) as source, \
            pytest.raises(WgcUnavailable) as info:
        source.grab()
    assert info.value.short == "no frame in 0.2 s"


def test_an_old_windows_build_is_refused_with_its_number() -> None:
    with pytest.raises(WgcUnavailable) as info:
        FakeDesktop(build=17763).api()
    assert info.value.short == ("Windows Graphics Capture needs Windows 10 1903 or later "
                                "(this is build 17763)")


def test_toggles_a_build_lacks_are_not_asked_for() -> None:
    """1903: no cursor, border or interval switch (asking would fail the whole start)."""
    desktop = FakeDesktop(windows={HWND: FakeWindow(CLIENT)}, build=18362)
    with _window_source(desktop) as source:
        desktop.deliver()
        source.grab()
    capture = desktop.captures[-1]
    assert (capture.cursor_capture, capture.draw_border) == (None, None)
    assert capture.minimum_update_interval is None
    assert source.details["cursor_off"] is False and source.details["border_off"] is False
    assert source.details["min_update_interval_ms"] is None
    win11 = FakeDesktop(windows={HWND: FakeWindow(CLIENT)}, build=22631)
    with _window_source(win11, fps=144) as source:
        win11.deliver()
        source.grab()
    assert (win11.captures[-1].cursor_capture, win11.captures[-1].draw_border) == (False, False)
    assert win11.captures[-1].minimum_update_interval is None  # before 24H2: no such property


def test_start_failures_become_one_line(desktop: FakeDesktop) -> None:
    desktop.start_error = UNSUPPORTED
    with pytest.raises(WgcUnavailable) as info:
        _window_source(desktop).open()
    assert info.value.short == "Windows Graphics Capture is not supported here"
    desktop.start_error = None
    desktop.windows[HWND].closed = True
    with pytest.raises(WgcUnavailable) as info:
        _window_source(desktop).open()
    assert info.value.short.startswith("Windows Graphics Capture refused the window")
    other = classify_wgc_error(OSError("[WinError 126] The specified module could not be "
                                       "found\nmore"), "load windows-capture")
    assert other.short == ("Windows Graphics Capture could not load windows-capture: "
                           "[WinError 126] The specified module could not be found")


def test_a_missing_package_names_the_windows_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "windows_capture", None)
    with pytest.raises(DependencyError) as info:
        RealWgcApi(build=22631)
    assert "pip install 'nitrogen-capture[windows]'" in str(info.value)
    assert "windows-capture" in str(info.value)


def test_client_offset_from_the_window_bounds_or_its_borders() -> None:
    bounds = Region(99, 89, 421, 361)
    assert client_offset((322, 272), CLIENT, bounds) == (1, 31)
    assert client_offset((322, 272), CLIENT, None) == (BORDER, TITLE_BAR)
    assert client_offset((500, 400), CLIENT, bounds) == (90, 70)  # a resize in flight


class _Window(Target):
    """The recorder's target: the fake window, followed as it is."""

    def __init__(self, window: FakeWindow) -> None:
        self.window = window

    def region(self) -> Region:
        return self.window.client

    def refresh(self) -> Region | None:
        return None if self.window.closed else self.window.client

    def capture_target(self) -> CaptureTarget:
        return CaptureTarget.of_window(HWND, self.window.client)

    def describe(self) -> dict[str, Any]:
        return {"kind": "window", "window_id": HWND, "region": self.window.client.to_list()}


@pytest.fixture
def wgc_fake_backend(desktop: FakeDesktop) -> Iterator[str]:
    desktop.realtime = True
    register_capture_backend("wgcfake", lambda: fake_backend(desktop))
    try:
        yield "wgcfake"
    finally:
        unregister_capture_backend("wgcfake")


def test_a_recording_through_the_factory_stores_wgc_frame_times(
        tmp_path: Path, desktop: FakeDesktop, wgc_fake_backend: str) -> None:
    out = tmp_path / "s"
    cfg = RecordConfig(out=out, capture_backend=wgc_fake_backend, input_backend="scripted",
                       fps=30.0, max_frames=30, chunk_size=10, start_immediately=True,
                       encoder_workers=1, status_interval=0, cue="none")
    rec = build_recorder(cfg, target=_Window(desktop.windows[HWND]))
    assert isinstance(rec.source, WgcSource)
    # A compositor slower than the ticks: some ticks find nothing new (repeats).
    with desktop.pumping(0.05):
        result = rec.run()
    assert result.frames == 30
    meta = json.loads((out / "meta.json").read_text())
    cap = meta["capture"]
    assert cap["backend"] == "wgc" and cap["frame_time_source"] == "wgc-system-relative"
    assert cap["details"]["window_handle"] == HWND
    assert cap["details"]["min_update_interval_ms"] == 16  # half a 30 fps tick
    assert 0 < cap["repeated_frames"] < 30 and cap["frames_without_os_time"] == 0
    arrays = SessionReader(out).concat_arrays()
    ts, os_ts = arrays["timestamps"], arrays["os_timestamps"]
    assert (os_ts <= ts).all() and (np.diff(os_ts) >= 0).all()
    report = validate_session(out)
    assert report.ok, report.errors
    times = report.stats["frame_times"]
    assert times["source"] == "wgc-system-relative" and times["repeated_frames"] == \
        cap["repeated_frames"]
    assert times["latency_frames"] == 30 - cap["repeated_frames"]
    assert 0 <= times["latency_ms"]["p50"] <= times["latency_ms"]["max"] < 1000
    print(json.dumps({"capture": cap, "frame_times": times}))  # the closing note's example
