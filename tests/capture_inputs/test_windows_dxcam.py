"""The DXGI (DXCam 0.3) capture source through a fake ``dxcam`` package: region maths, frames
with their OS times, repeats, resizes, access lost, and every failure's one line.

Desktop Duplication cannot run on Linux (nor under Wine 8: tests_wine/test_win32_capture.py).
The source runs here through the real :class:`RealDxcamApi` over tests/dxcam_fakes.py, whose
camera has DXCam 0.3's methods and a real capture thread stepped by the test.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from dxcam_fakes import LEFT, PRIMARY, RIGHT, FakeCOMError, FakeDesktop, FakeDxcamModule
from nitrogen_capture.capture import _dxcam as dx
from nitrogen_capture.capture import _dxcam_api, _mss
from nitrogen_capture.capture._dxcam_feed import ACCESS_LOST_BOUND_S
from nitrogen_capture.capture._qpc import QpcClock
from nitrogen_capture.capture.base import CaptureSettings, FrameStamp, Region
from nitrogen_capture.errors import ConfigError

QPC = QpcClock(frequency=10_000_000, offset_ns=-5_000_000_123)  # 10 MHz, as Windows 10+


def test_region_relative_to_output() -> None:
    assert dx.output_relative_region(Region(100, 50, 740, 530), PRIMARY, 0) == (100, 50, 740, 530)
    assert dx.output_relative_region(Region(-1000, 10, -360, 490), LEFT, 1) == (280, 10, 920, 490)
    assert dx.output_relative_region(Region(1920, -200, 4480, 1240), RIGHT, 2) == (
        0, 0, 2560, 1440)
    assert dx.output_relative_region(Region(2000, -100, 2100, 0), RIGHT, 2) == (80, 100, 180, 200)


def test_region_outside_output_names_both() -> None:
    with pytest.raises(ConfigError) as info:
        dx.output_relative_region(Region(1800, 0, 2000, 100), PRIMARY, 0)
    msg = str(info.value)
    assert "[1800, 0, 2000, 100]" in msg and "output 0 at [0, 0, 1920, 1080]" in msg


def test_pick_output() -> None:
    outputs = [(0, PRIMARY), (1, LEFT), (2, RIGHT)]
    assert dx.pick_output(Region(-600, 100, -100, 400), outputs) == 1
    assert dx.pick_output(Region(3000, 1100, 3100, 1200), outputs) == 2
    with pytest.raises(ConfigError) as info:
        dx.pick_output(Region(-10, 0, 10, 10), outputs)  # straddles two monitors
    msg = str(info.value)
    assert "1: [-1280, 0, 0, 1024]" in msg and "--capture-backend gdi" in msg


def test_count_outputs_parses_output_info() -> None:
    info = ("Device[0] Output[0]: Res:(1920, 1080) Rot:0 Primary:True\n"
            "Device[0] Output[1]: Res:(1280, 1024) Rot:0 Primary:False\n"
            "Device[1] Output[0]: Res:(800, 600) Rot:0 Primary:False\n")
    assert dx.count_outputs(info) == 2
    assert dx.count_outputs(info, device=1) == 1
    assert dx.count_outputs("") == 0


def test_poll_rate_is_twice_the_recording_rate() -> None:
    assert [dx.poll_fps(f) for f in (30, 29.97, 60, 0.5, 1000)] == [60, 60, 120, 1, 480]
    assert dx.poll_fps(None) == dx.poll_fps(0) == dx.DEFAULT_POLL_FPS
    config = dx.DxcamConfig.from_settings(CaptureSettings(monitor=2, fps=30.0))
    assert (config.output, config.fps) == (1, 30.0)


# Every failure DXCam 0.3 can hand us, and its one line (``short``), pasted in the report.
ONE_LINES = {
    0x887A0004: "DXGI_ERROR_UNSUPPORTED: this GPU cannot duplicate the screen "
                "(a hybrid-GPU laptop's discrete GPU?)",
    0x887A0026: "DXGI_ERROR_ACCESS_LOST: the screen changed hands "
                "(full-screen switch, UAC prompt or mode change)",
    0x887A0028: "DXGI_ERROR_SESSION_DISCONNECTED: the session is disconnected or remote "
                "(remote desktop?)",
    0x887A0022: "DXGI_ERROR_NOT_CURRENTLY_AVAILABLE: too many programs duplicate this screen "
                "(another recorder or overlay?)",
    0x887A0005: "DXGI_ERROR_DEVICE_REMOVED: the GPU was reset or its driver changed",
    0x887A0002: "DXGI_ERROR_NOT_FOUND: the monitor is gone (unplugged, switched off or "
                "disabled?)",
    0x80070005: "E_ACCESSDENIED: the secure desktop is showing (locked screen or UAC prompt?)",
    0x00000080: "WAIT_ABANDONED: the desktop switched while DXCam waited for it "
                "(a system transition)",
    0x80004001: "E_NOTIMPL: this system has no Desktop Duplication (Wine?)",
}


@pytest.mark.parametrize("code", sorted(ONE_LINES))
def test_each_dxgi_failure_is_one_line(code: int) -> None:
    signed = code - (1 << 32) if code & 0x80000000 else code  # comtypes gives a signed HRESULT
    error = dx.classify_dxgi_error(FakeCOMError(signed, "text"), "open output 0")
    assert set(ONE_LINES) == set(_dxcam_api.DXGI_REASONS)  # no code without its line
    assert error.short == ONE_LINES[code] and "\n" not in error.short
    name, why = ONE_LINES[code].split(": ", 1)
    assert str(error) == (f"Desktop Duplication could not open output 0: {name} (0x{code:08X}): "
                          f"{why}; {_dxcam_api.GDI_ADVICE}")


def test_unknown_failures_are_one_line_too() -> None:
    com = dx.classify_dxgi_error(FakeCOMError(0x887A0001, "Invalid call.\nmore"), "grab")
    assert com.short.startswith("HRESULT 0x887A0001: FakeCOMError: (") and "\n" not in com.short
    other = dx.classify_dxgi_error(RuntimeError("Output is not attached to desktop.\nx"), "grab")
    assert other.short == "RuntimeError: Output is not attached to desktop."
    assert "--capture-backend gdi" in str(other)


@dataclass
class Rig:
    """A DXCam source over the fake package, with the desktop and a settable clock."""

    source: dx.DxcamSource
    desktop: FakeDesktop
    module: FakeDxcamModule
    now: list[float]

    def camera(self, index: int = -1) -> object:
        return self.desktop.cameras[index]


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def build(region: Region, output: int | None = None, *, fps: float | None = 30.0,
              first_frame: bool = True) -> Rig:
        rects = [PRIMARY, LEFT, RIGHT]
        desktop = FakeDesktop(rects)
        desktop.first_frame = first_frame
        module = FakeDxcamModule(desktop)
        monkeypatch.setattr(sys, "platform", "win32")
        monkeypatch.setitem(sys.modules, "dxcam", module)
        monkeypatch.setattr(_mss, "monitor_regions", lambda: [Region(-1280, -200, 4480, 1240),
                                                              *rects])
        now = [100.0]
        source = dx.DxcamSource(region, output, fps=fps, api=_dxcam_api.RealDxcamApi(), qpc=QPC,
                                clock=lambda: now[0], sleep=lambda _s: desktop.step())
        made.append(Rig(source, desktop, module, now))
        return made[-1]

    yield build
    for r in made:
        if r.desktop.recover_gate is not None:
            r.desktop.recover_gate.set()
        r.source.close()


def os_ns(ticks: int) -> int:
    return ticks * 100 - 5_000_000_123  # QPC: 100 ns a tick, then the measured offset


def test_started_on_the_regions_output_relative_region(rig: Callable[..., Rig]) -> None:
    r = rig(Region(-1000, 10, -360, 490))
    with r.source as src:
        frame = src.grab()
        assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous
        left = r.desktop.outputs[1].image
        assert np.array_equal(frame, left[10:490, 280:920])
    assert [c["output_idx"] for c in r.module.created] == [0, 1]  # probed the primary, kept 1
    assert {(c["backend"], c["output_color"], c["max_buffer_len"])
            for c in r.module.created} == {("dxgi", "BGR", 2)}
    probed, kept = r.desktop.cameras
    assert probed.is_released and probed.started == []
    assert kept.started == [{"region": (280, 10, 920, 490), "target_fps": 60,
                             "video_mode": False, "delay": 0}]
    assert kept.is_released and not kept.is_capturing  # close() stopped and released it
    assert r.source.details["output"] == 1 and r.source.details["output_rect"] == LEFT.to_list()
    assert r.source.stamp_source == "dxgi-present" and r.source.name == "dxgi"
    r.source.close()  # idempotent


def test_frame_times_seq_and_marked_repeats(rig: Callable[..., Rig]) -> None:
    r = rig(Region(0, 0, 64, 48), 0)
    d = r.desktop
    with r.source as src:
        src.grab()  # the image DXGI gives right after the duplication is made
        assert src.last_stamp() == FrameStamp(os_ns(d.ticks), 1)
        t2 = d.show(0, value=5)
        d.step()
        two = src.grab()
        assert int(two.mean()) == 5 and src.last_stamp() == FrameStamp(os_ns(t2), 2)
        again = src.grab()  # nothing new: the previous frame, a copy, with its stamp (a repeat)
        assert np.array_equal(again, two) and not np.shares_memory(again, two)
        assert src.last_stamp() == FrameStamp(os_ns(t2), 2)
        d.show(0, mouse_only=True)  # DXGI: AccumulatedFrames 0, LastPresentTime 0
        d.step()
        src.grab()
        assert src.last_stamp() == FrameStamp(None, 3)  # a new frame, but no present time
        t4 = d.show(0, value=9)
        d.step()
        assert int(src.grab().mean()) == 9 and src.last_stamp() == FrameStamp(os_ns(t4), 4)
        assert src.details["repeated_frames"] == 1
        assert src.details["qpc"] == {"frequency": 10_000_000, "offset_ns": -5_000_000_123,
                                      "uncertainty_ns": 0}


def test_first_frame_is_waited_for_at_open_only(rig: Callable[..., Rig]) -> None:
    r = rig(Region(0, 0, 64, 48), 0, first_frame=False)
    with r.source as src, pytest.raises(dx.DxgiUnavailable) as info:
        src.grab()
    assert info.value.short == "no frame from output 0 in 1 s"
    assert r.desktop.cameras[0]._iterations == round(dx.FRESH_FRAME_TIMEOUT_S / dx._POLL_S)


def test_access_lost_recovered_is_counted(rig: Callable[..., Rig]) -> None:
    r = rig(Region(0, 0, 64, 48), 0)
    d = r.desktop
    with r.source as src:
        src.grab()
        d.lose_access(0)
        d.step()  # DXCam recovers on its own thread: a new duplication
        d.step()  # whose first frame is the unchanged image (the same present: no new seq)
        assert src.last_stamp() == FrameStamp(os_ns(d.ticks), 1)
        src.grab()
        assert src.details["access_lost_recoveries"] == 1
        t = d.show(0, value=3)
        d.step()
        assert int(src.grab().mean()) == 3 and src.last_stamp() == FrameStamp(os_ns(t), 2)
    assert r.desktop.cameras[0].recoveries == 1


def test_access_lost_not_recovered_raises_past_the_bound(rig: Callable[..., Rig]) -> None:
    r = rig(Region(0, 0, 64, 48), 0)
    d = r.desktop
    with r.source as src:
        first = src.grab()
        stamp = src.last_stamp()
        d.recover_gate = threading.Event()  # the recovery blocks: a locked screen
        d.lose_access(0)
        d.step(wait=False)
        assert d.recovering.wait(10)
        r.now[0] += ACCESS_LOST_BOUND_S - 0.5  # within the bound: the tick gets a repeat at once
        assert np.array_equal(src.grab(), first) and src.last_stamp() == stamp
        r.now[0] += 1.0
        with pytest.raises(dx.DxgiUnavailable) as info:
            src.grab()
        assert info.value.short == ("access lost: DXCam did not win the screen back within 5 s "
                                    "(locked screen, UAC prompt or a display change?)")
        src.close()  # does not wait for DXCam's stuck thread (its stop() would take 10 s)
        thread = r.desktop.cameras[0]._thread
        assert thread is not None and thread.is_alive() and not d.recover_gate.is_set()
        assert src.details["access_lost_recoveries"] == 0
        d.recover_gate.set()


def test_capture_thread_failure_is_one_line_from_grab(rig: Callable[..., Rig],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    r = rig(Region(0, 0, 64, 48), 0)
    with r.source as src, caplog.at_level("DEBUG"):
        src.grab()
        cause = FakeCOMError(0x887A0004 - (1 << 32), "Unsupported.")
        r.desktop.fail(0, cause)
        r.desktop.step()
        with pytest.raises(dx.DxgiUnavailable) as info:
            src.grab()
    assert info.value.short == ONE_LINES[0x887A0004] and info.value.__cause__ is cause
    # DXCam's traceback record is dropped (the failure is reported once, as that line).
    assert [r.name for r in caplog.records if r.exc_info] == []
    assert any("capture loop failed" in r.getMessage() for r in caplog.records)


def test_open_failure_is_one_line(rig: Callable[..., Rig]) -> None:
    r = rig(Region(0, 0, 64, 48), 0)
    r.desktop.create_errors[0] = FakeCOMError(-2147467263, "Not implemented.")
    with pytest.raises(dx.DxgiUnavailable) as info:
        r.source.open()
    assert info.value.short == "E_NOTIMPL: this system has no Desktop Duplication (Wine?)"


def test_window_moved_then_resized(rig: Callable[..., Rig]) -> None:
    r = rig(Region(0, 0, 64, 48), 0)
    d = r.desktop
    with r.source as src:
        src.grab()
        cam = d.cameras[0]
        src.set_region(Region(100, 100, 164, 148))  # moved; no new frame yet
        moved = src.grab()
        assert moved.shape == (48, 64, 3) and src.last_stamp() == FrameStamp(os_ns(d.ticks), 1)
        assert cam.region == (100, 100, 164, 148)  # the thread's next acquisition takes it
        d.outputs[0].image[100:148, 100:164] = 200
        t = d.show(0)
        d.step()
        assert int(src.grab().mean()) == 200 and src.last_stamp() == FrameStamp(os_ns(t), 2)
        src.set_region(Region(100, 100, 132, 124))  # resized, and no new frame yet
        small = src.grab()
        assert small.shape == (24, 32, 3) and int(small.mean()) == 200  # stale, at once
        assert src.last_stamp() == FrameStamp(os_ns(t), 2) and src.details["stale_frames"] == 1
        t = d.show(0, value=40)
        d.step()  # the ring takes a frame of the new size
        fresh = src.grab()
        assert fresh.shape == (24, 32, 3) and int(fresh.mean()) == 40
        assert src.last_stamp() == FrameStamp(os_ns(t), 3)
        assert [s["region"] for s in cam.started] == [(0, 0, 64, 48)]  # never restarted


def test_follows_a_window_to_another_monitor(rig: Callable[..., Rig]) -> None:
    r = rig(Region(10, 10, 74, 58))
    with r.source as src:
        src.grab()
        src.set_region(Region(2000, 0, 2064, 48))
        assert src.grab().shape == (48, 64, 3)  # the previous frame: the tick does not wait
        r.desktop.step()
        frame = src.grab()
        assert np.array_equal(frame, r.desktop.outputs[2].image[200:248, 80:144])
        assert src.last_stamp() is not None and src.last_stamp().seq == 2
    first, *_, last = r.desktop.cameras
    assert first.is_released and last.output_idx == 2
    assert last.started[0]["region"] == (80, 200, 144, 248)


def test_explicit_output_errors(rig: Callable[..., Rig]) -> None:
    r = rig(Region(10, 10, 74, 58), output=1)
    with pytest.raises(ConfigError, match=r"\[10, 10, 74, 58\].*output 1 at \[-1280"):
        r.source.open()
    assert r.desktop.cameras[0].is_released
    r = rig(Region(10, 10, 74, 58), output=5)
    with pytest.raises(ConfigError, match=r"output 5 does not exist.*3 output"):
        r.source.open()
    with pytest.raises(ConfigError, match=">= 0"):
        dx.DxcamSource(Region(0, 0, 8, 8), -1, api=_dxcam_api.RealDxcamApi())
