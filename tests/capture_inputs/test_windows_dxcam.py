"""The DXCam capture source through a fake DXCam: region maths, errors, frames and outputs.

Desktop Duplication cannot run on Linux (nor under Wine 8: tests_wine/test_win32_capture.py);
the logic around it does, with a fake camera per output.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dxcam_fakes import LEFT, PRIMARY, RIGHT, FakeCOMError
from nitrogen_capture.capture import _dxcam as dx
from nitrogen_capture.capture.base import Region
from nitrogen_capture.errors import CaptureError, ConfigError


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
    assert "1: [-1280, 0, 0, 1024]" in str(info.value) and "mss" in str(info.value)


def test_count_outputs_parses_output_info() -> None:
    info = ("Device[0] Output[0]: Res:(1920, 1080) Rot:0 Primary:True\n"
            "Device[0] Output[1]: Res:(1280, 1024) Rot:0 Primary:False\n"
            "Device[1] Output[0]: Res:(800, 600) Rot:0 Primary:False\n")
    assert dx.count_outputs(info) == 2
    assert dx.count_outputs(info, device=1) == 1
    assert dx.count_outputs("") == 0


def test_classify_dxgi_errors() -> None:
    lost = dx.classify_dxgi_error(FakeCOMError(-2005270490), "grab")  # 0x887A0026, signed
    assert "DXGI_ERROR_ACCESS_LOST" in str(lost) and "--capture-backend mss" in str(lost)
    denied = dx.classify_dxgi_error(FakeCOMError(0x80070005), "open output 0")
    assert "E_ACCESSDENIED" in str(denied) and "open output 0" in str(denied)
    other = dx.classify_dxgi_error(RuntimeError("boom"), "grab")
    assert "boom" in str(other) and "--capture-backend mss" in str(other)


class FakeCamera:
    def __init__(self, api: FakeDxApi, index: int) -> None:
        self.api, self.index = api, index
        self.frames: list[Any] = []  # queue of frames / None / exceptions; empty -> None
        self.regions: list[tuple[int, int, int, int]] = []
        self.released = False

    def grab(self, region: tuple[int, int, int, int]) -> Any:
        assert not self.released
        self.regions.append(region)
        item = self.frames.pop(0) if self.frames else None
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, str):
            w, h = region[2] - region[0], region[3] - region[1]
            return np.full((h, w, 3), len(self.regions) % 256, np.uint8)
        return item

    def release(self) -> None:
        self.released = True


class FakeDxApi:
    def __init__(self, rects: list[Region]) -> None:
        self.rects = rects
        self.cameras: list[FakeCamera] = []
        self.script: dict[int, list[Any]] = {}

    def output_count(self) -> int:
        return len(self.rects)

    def open_output(self, index: int) -> FakeCamera:
        cam = FakeCamera(self, index)
        cam.frames = list(self.script.get(index, ["auto"] * 100))
        self.cameras.append(cam)
        return cam

    def output_rect(self, camera: Any, index: int) -> Region:
        assert camera.index == index
        rect: Region = self.rects[index]
        return rect


def make_source(region: Region, output: int | None = None, rects: list[Region] | None = None,
                script: dict[int, list[Any]] | None = None) -> tuple[dx.DxcamSource, FakeDxApi,
                                                                     list[float]]:
    api = FakeDxApi(rects or [PRIMARY, LEFT, RIGHT])
    api.script = script or {}
    sleeps: list[float] = []
    return dx.DxcamSource(region, output, api=api, sleep=sleeps.append), api, sleeps


def test_dxcam_auto_output_and_relative_grab() -> None:
    src, api, _ = make_source(Region(-1000, 10, -360, 490))
    with src:
        frame = src.grab()
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous
    cams = api.cameras
    assert [c.index for c in cams] == [0, 1]  # probed the primary, kept the left monitor
    assert cams[0].released and cams[1].released  # the kept one is released by close()
    assert cams[1].regions == [(280, 10, 920, 490)]
    assert src.details["output"] == 1 and src.details["output_rect"] == LEFT.to_list()
    src.close()  # idempotent


def test_dxcam_static_screen_repeats_a_copy_of_the_previous_frame() -> None:
    first = np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3)
    src, _, sleeps = make_source(Region(0, 0, 64, 48), 0, script={0: [first, None, None]})
    with src:
        a, b, c = src.grab(), src.grab(), src.grab()
    assert np.array_equal(a, first) and np.array_equal(b, first) and np.array_equal(c, first)
    assert b is not a and c is not b and not np.shares_memory(b, a)
    assert src.details["repeated_frames"] == 2 and sleeps == []


def test_dxcam_first_frame_is_waited_for_then_times_out() -> None:
    frame = np.zeros((48, 64, 3), np.uint8)
    src, _, sleeps = make_source(Region(0, 0, 64, 48), 0, script={0: [None, None, None, frame]})
    with src:
        assert src.grab().shape == (48, 64, 3)
    assert len(sleeps) == 3
    src, _, sleeps = make_source(Region(0, 0, 64, 48), 0, script={0: []})
    with src, pytest.raises(CaptureError, match=r"no frame.*mss"):
        src.grab()
    assert len(sleeps) == round(dx.FRESH_FRAME_TIMEOUT_S / dx._POLL_S)


def test_dxcam_moved_window_same_size_reuses_resized_window_gets_stale_frame() -> None:
    frame = np.full((48, 64, 3), 7, np.uint8)
    src, api, _ = make_source(Region(0, 0, 64, 48), 0, script={0: [frame]})
    with src:
        src.grab()
        src.set_region(Region(100, 100, 164, 148))  # moved, screen static since
        moved = src.grab()
        assert np.array_equal(moved, frame)
        src.set_region(Region(100, 100, 132, 124))  # resized, and no new frame comes
        small = src.grab()
    assert small.shape == (24, 32, 3) and int(small.mean()) == 7
    assert src.details["stale_frames"] == 1
    assert api.cameras[0].regions[1] == (100, 100, 164, 148)


def test_dxcam_follows_a_window_to_another_monitor() -> None:
    src, api, _ = make_source(Region(10, 10, 74, 58))
    with src:
        src.grab()
        src.set_region(Region(2000, 0, 2064, 48))
        assert src.grab().shape == (48, 64, 3)
    assert api.cameras[0].released
    assert api.cameras[-1].index == 2 and api.cameras[-1].regions == [(80, 200, 144, 248)]


def test_dxcam_explicit_output_errors() -> None:
    src, api, _ = make_source(Region(10, 10, 74, 58), output=1)
    with pytest.raises(ConfigError, match=r"\[10, 10, 74, 58\].*output 1 at \[-1280"):
        src.open()
    assert api.cameras[0].released
    src, _, _ = make_source(Region(10, 10, 74, 58), output=5)
    with pytest.raises(ConfigError, match=r"output 5 does not exist.*3 output"):
        src.open()
    with pytest.raises(ConfigError, match=">= 0"):
        dx.DxcamSource(Region(0, 0, 8, 8), -1, api=FakeDxApi([PRIMARY]))


def test_dxcam_grab_errors_are_classified() -> None:
    src, _, _ = make_source(Region(0, 0, 64, 48), 0,
                            script={0: [FakeCOMError(-2005270490, "lost")]})
    with src, pytest.raises(CaptureError, match=r"ACCESS_LOST.*--capture-backend mss") as info:
        src.grab()
    assert isinstance(info.value.__cause__, FakeCOMError)
