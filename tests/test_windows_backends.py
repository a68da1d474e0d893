"""Windows backends (DXCam capture, Win32 windows) tested through fakes of their OS calls.

The OS calls cannot run on Linux; the logic around them does. The input listeners are in
test_windows_inputs.py; the import and construction checks here cover all four modules.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from nitrogen_capture.capture.base import Region
from nitrogen_capture.errors import (
    CaptureError,
    ConfigError,
    DependencyError,
    PlatformError,
    TargetNotFound,
)

WIN_MODULES = (
    "nitrogen_capture.capture._dxcam",
    "nitrogen_capture.capture._dxcam_api",
    "nitrogen_capture.targets._win32",
    "nitrogen_capture.targets._win32api",
    "nitrogen_capture.inputs._rawinput_win32",
    "nitrogen_capture.inputs._xinput",
)
not_windows = pytest.mark.skipif(sys.platform == "win32", reason="checks the non-Windows errors")


# ---------------------------------------------------------------------------------------------
# imports and construction without Windows
# ---------------------------------------------------------------------------------------------
def test_modules_import_cleanly_without_windows_packages() -> None:
    # A fresh interpreter, with the Windows-only packages made unimportable.
    code = (
        "import sys\n"
        "for blocked in ('dxcam', 'comtypes', 'win32gui', 'win32api', 'pynput'):\n"
        "    sys.modules[blocked] = None\n"
        f"for name in {WIN_MODULES!r}:\n"
        "    module = __import__(name, fromlist=['__all__'])\n"
        "    assert module.__all__, name\n"
        "loaded = [m for m in ('cv2', 'psutil', 'ctypes.wintypes') if m in sys.modules]\n"
        "print('ok', loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok []"  # heavy or OS-specific modules load only when used


@not_windows
def test_construction_off_windows_raises_platform_error() -> None:
    from nitrogen_capture.capture import get_capture_backend
    from nitrogen_capture.inputs._rawinput_win32 import RawInputMotion
    from nitrogen_capture.inputs._xinput import XInputGamepad
    from nitrogen_capture.targets._win32 import Win32WindowBackend

    with pytest.raises(PlatformError, match="mss"):
        get_capture_backend("dxcam", region=Region(0, 0, 64, 48))
    with pytest.raises(PlatformError, match="Windows"):
        Win32WindowBackend()
    with pytest.raises(PlatformError, match="Windows"):
        RawInputMotion()
    with pytest.raises(PlatformError, match="SDL2"):
        XInputGamepad()


def test_missing_dxcam_names_the_windows_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from nitrogen_capture.capture._dxcam import DxcamSource

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "dxcam", None)
    with pytest.raises(DependencyError, match=r"nitrogen-capture\[windows\]") as info:
        DxcamSource(Region(0, 0, 64, 48))
    assert "dxcam" in str(info.value)


def test_dxcam_import_time_com_error_becomes_capture_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from nitrogen_capture.capture._dxcam import DxcamSource

    # dxcam <= 0.1 enumerates the adapters when imported; over RDP that raises a COM error.
    (tmp_path / "dxcam.py").write_text(
        "class COMError(Exception):\n    hresult = -2005270524\n"  # 0x887A0004 unsupported
        "raise COMError('DuplicateOutput')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "dxcam", raising=False)
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(CaptureError, match=r"DXGI_ERROR_UNSUPPORTED.*--capture-backend mss"):
        DxcamSource(Region(0, 0, 64, 48))
    monkeypatch.delitem(sys.modules, "dxcam", raising=False)


# ---------------------------------------------------------------------------------------------
# DXCam: region maths, error classification, the source with a fake camera
# ---------------------------------------------------------------------------------------------
from nitrogen_capture.capture import _dxcam as dx  # noqa: E402

PRIMARY = Region(0, 0, 1920, 1080)
LEFT = Region(-1280, 0, 0, 1024)  # a monitor left of the primary: negative desktop x
RIGHT = Region(1920, -200, 4480, 1240)  # a taller monitor right of it, starting above it


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


class FakeCOMError(Exception):
    def __init__(self, hresult: int, text: str = "com") -> None:
        super().__init__(hresult, text)
        self.hresult = hresult


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


def test_dxcam_output_position_from_public_output_info_and_the_monitors() -> None:
    from nitrogen_capture.capture import _dxcam_api as api

    info = ("Device[0] Output[0]: Res:(1920, 1080) Rot:0 Primary:True\n"
            "Device[0] Output[1]: Res:(1280, 1024) Rot:90 Primary:False\n"
            "Device[0] Output[2]: Res:(2560, 1440) Rot:0 Primary:False\n"
            "Device[1] Output[0]: Res:(800, 600) Rot:0 Primary:False\n")
    outputs = api.parse_outputs(info)
    assert outputs == {0: (1920, 1080, True), 1: (1280, 1024, False), 2: (2560, 1440, False)}
    monitors = [LEFT, PRIMARY, RIGHT]  # as Windows lists them: any order
    assert [api.match_output(outputs[i], monitors) for i in range(3)] == [PRIMARY, LEFT, RIGHT]
    twins = [PRIMARY, Region(1920, 0, 4480, 1440), Region(-2560, 0, 0, 1440)]
    assert api.match_output(outputs[2], twins) is None  # two candidates: ambiguous
    assert api.match_output(api.OutputFacts(800, 600, True), monitors) is None


class FakeDesc:
    """DXCam's private DXGI_OUTPUT_DESC.DesktopCoordinates, for the ambiguous case."""

    def __init__(self, rect: Region) -> None:
        self.left, self.top, self.right, self.bottom = rect.to_list()


class FakeDxcamModule:
    """The public face of the ``dxcam`` package: output_info() and create()."""

    def __init__(self, info: str, create: Any = None) -> None:
        self.info, self.create = info, create

    def output_info(self) -> str:
        return self.info


@pytest.fixture
def real_api_with(monkeypatch: pytest.MonkeyPatch) -> Any:
    from nitrogen_capture.capture import _dxcam_api, _mss

    def build(module: FakeDxcamModule, monitors: list[Region]) -> Any:
        monkeypatch.setattr(sys, "platform", "win32")
        monkeypatch.setitem(sys.modules, "dxcam", module)
        monkeypatch.setattr(_mss, "monitor_regions", lambda: [Region(-9, -9, 9, 9), *monitors])
        return _dxcam_api.RealDxcamApi()

    return build


def test_real_dxcam_api_reads_the_position_through_public_facts(real_api_with: Any) -> None:
    info = ("Device[0] Output[0]: Res:(1920, 1080) Rot:0 Primary:True\n"
            "Device[0] Output[1]: Res:(2560, 1440) Rot:0 Primary:False\n"
            "Device[0] Output[2]: Res:(2560, 1440) Rot:0 Primary:False\n")
    twin_a, twin_b = Region(1920, 0, 4480, 1440), Region(-2560, 0, 0, 1440)
    api = real_api_with(FakeDxcamModule(info), [twin_b, PRIMARY, twin_a])
    assert api.output_count() == 3
    # Public facts suffice: the camera (and its private attributes) is never looked at.
    assert api.output_rect(object(), 0) == PRIMARY
    # Two secondary monitors of one size: only DXCam's own descriptor can tell them apart.
    camera = type("Cam", (), {})()
    camera._output = type("Out", (), {"desc": type("D", (), {})()})()
    camera._output.desc.DesktopCoordinates = FakeDesc(twin_b)
    assert api.output_rect(camera, 2) == twin_b
    with pytest.raises(CaptureError, match=r"does not expose its output position"):
        api.output_rect(object(), 1)


def test_real_dxcam_api_logs_the_com_clean_up_errors_of_a_failed_open(
        real_api_with: Any) -> None:
    class HalfBuilt:
        def __del__(self) -> None:  # comtypes releasing a NULL pointer, as under Wine 8
            raise OSError("exception: access violation writing 0x0000000000000000")

    def create(**_kw: Any) -> Any:
        half = HalfBuilt()  # noqa: F841 - freed with this frame, after the raise
        raise FakeCOMError(-2147467263, "Not implemented.")

    printed: list[Any] = []
    previous, sys.unraisablehook = sys.unraisablehook, printed.append
    try:
        api = real_api_with(FakeDxcamModule("", create), [PRIMARY])
        with pytest.raises(CaptureError, match=r"E_NOTIMPL") as info:
            api.open_output(0)
        assert isinstance(info.value.__cause__, FakeCOMError)
        assert sys.unraisablehook == printed.append  # restored
        del info
        gc.collect()  # whatever the error still held would be freed (and printed) here
    finally:
        sys.unraisablehook = previous
    assert printed == []  # logged at debug level, not printed as "Exception ignored"


def test_wine_e_notimpl_is_classified_with_a_short_reason() -> None:
    error = dx.classify_dxgi_error(FakeCOMError(-2147467263, "Not implemented."), "open output 0")
    assert "E_NOTIMPL (0x80004001)" in str(error) and "--capture-backend mss" in str(error)
    assert error.short == "could not open output 0: E_NOTIMPL (0x80004001)"


class FakeSource:
    """A frame source whose open or grab fails as scripted."""

    made: list[FakeSource] = []

    def __init__(self, name: str, fail_at: str | None) -> None:
        self.name, self.fail_at = name, fail_at
        self.calls: list[str] = []
        FakeSource.made.append(self)

    def open(self) -> None:
        self.calls.append("open")
        if self.fail_at == "open":
            raise dx.classify_dxgi_error(FakeCOMError(-2147467263), "open output 0")

    def grab(self) -> Any:
        self.calls.append("grab")
        if self.fail_at == "grab":
            raise dx.classify_dxgi_error(FakeCOMError(-2005270490), "grab")
        return np.zeros((4, 4, 3), np.uint8)

    def close(self) -> None:
        self.calls.append("close")


@pytest.mark.parametrize("fail_at", [None, "open", "grab"])
def test_auto_capture_tries_dxcam_then_falls_back_to_mss_with_one_line(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        fail_at: str | None) -> None:
    import nitrogen_capture.capture as capture

    FakeSource.made = []
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.delenv(capture.ENV_VAR, raising=False)
    monkeypatch.setattr(capture, "_make", lambda name, region, options: FakeSource(
        name, fail_at if name == "dxcam" else None))
    with caplog.at_level("DEBUG", logger="nitrogen_capture.capture"):
        source = capture.get_capture_backend("auto", region=Region(0, 0, 4, 4))
    tried = FakeSource.made[0]
    assert tried.name == "dxcam" and tried.calls[-1] == "close"  # the tried one is closed
    assert source is FakeSource.made[1] and source.calls == []  # a fresh, unopened source
    lines = [r.getMessage() for r in caplog.records]
    if fail_at is None:
        assert source.name == "dxcam" and lines == []
        return
    assert source.name == "mss"
    reason = "open output 0: E_NOTIMPL (0x80004001)" if fail_at == "open" else "grab: DXGI_ERR"
    assert len(lines) == 1
    assert lines[0].startswith(f"capture: dxcam unavailable (could not {reason}")
    assert lines[0].endswith("; using mss (GDI)")


# ---------------------------------------------------------------------------------------------
# Win32 window backend with a fake user32
# ---------------------------------------------------------------------------------------------
from nitrogen_capture.targets import _win32 as w32  # noqa: E402


class FakeUser32:
    def __init__(self) -> None:
        # hwnd -> (visible, iconic, title, pid, client (x, y, w, h))
        self.windows: dict[int, tuple[bool, bool, str, int | None, Any]] = {
            0x10: (True, False, "Game Window", 100, (-1500, 40, 1280, 720)),
            0x20: (False, False, "Hidden", 101, (0, 0, 10, 10)),
            0x30: (True, False, "", 102, (0, 0, 10, 10)),
            0x40: (True, True, "Minimised App", 103, (-32000, -32000, 160, 28)),
            0x50: (True, False, "Editor", 104, (0, 0, 0, 0)),
        }
        self.fg: int | None = 0x10
        self.dpi = [False, True, True]
        self.dpi_calls: list[str] = []
        self.cloaked: set[int] = set()
        self.awareness: int | None = 0  # DPI_AWARENESS_UNAWARE until a set_* call succeeds
        self.images: dict[int, str] = {}

    def enum_windows(self) -> list[int]:
        return list(self.windows)

    def is_window(self, hwnd: int) -> bool:
        return hwnd in self.windows

    def is_visible(self, hwnd: int) -> bool:
        return self.windows[hwnd][0]

    def is_iconic(self, hwnd: int) -> bool:
        return self.windows[hwnd][1]

    def title(self, hwnd: int) -> str:
        return self.windows[hwnd][2]

    def pid(self, hwnd: int) -> int | None:
        return self.windows[hwnd][3]

    def is_cloaked(self, hwnd: int) -> bool:
        return hwnd in self.cloaked

    def process_image(self, pid: int) -> str | None:
        return self.images.get(pid)

    def dpi_awareness(self) -> int | None:
        return self.awareness

    def client_rect(self, hwnd: int) -> tuple[int, int, int, int] | None:
        rect: tuple[int, int, int, int] | None = self.windows[hwnd][4]
        return rect

    def foreground(self) -> int | None:
        return self.fg

    def set_dpi_awareness_context(self) -> bool:
        self.dpi_calls.append("ctx")
        if self.dpi[0]:
            self.awareness = 2
        return self.dpi[0]

    def set_process_dpi_awareness(self) -> bool:
        self.dpi_calls.append("shcore")
        if self.dpi[1]:
            self.awareness = 2
        return self.dpi[1]

    def set_process_dpi_aware(self) -> bool:
        self.dpi_calls.append("legacy")
        if self.dpi[2]:
            self.awareness = 1
        return self.dpi[2]


@pytest.fixture
def fresh_dpi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(w32, "_dpi_done", False)


def test_win32_list_windows(fresh_dpi: None) -> None:
    api = FakeUser32()
    names = {100: "Game.exe", 103: "app.exe", 104: "editor.exe"}
    backend = w32.Win32WindowBackend(api, proc_name=names.get)
    wins = {w.window_id: w for w in backend.list_windows()}
    assert sorted(wins) == [0x10, 0x40, 0x50]  # hidden and untitled are left out
    game = wins[0x10]
    assert game.title == "Game Window" and game.pid == 100 and game.process == "Game.exe"
    assert game.region == Region(-1500, 40, -220, 760) and game.focused
    assert wins[0x40].region is None and not wins[0x40].focused  # minimised
    assert wins[0x50].region is None  # empty client area


def test_win32_geometry_and_focus(fresh_dpi: None) -> None:
    api = FakeUser32()
    backend = w32.Win32WindowBackend(api, proc_name=lambda pid: None)
    assert backend.geometry(0x10) == Region(-1500, 40, -220, 760)
    assert backend.geometry(0x40) is None  # minimised
    assert backend.geometry(0x999) is None and not backend.exists(0x999)  # gone
    assert backend.focused_window() == 0x10
    api.fg = None
    assert backend.focused_window() is None


def test_win32_dpi_awareness_fallback_and_once(fresh_dpi: None) -> None:
    api = FakeUser32()
    first = w32.Win32WindowBackend(api, proc_name=lambda pid: None)
    assert first.dpi_awareness == "per-monitor" and api.dpi_calls == ["ctx", "shcore"]
    second = w32.Win32WindowBackend(api, proc_name=lambda pid: None)
    assert second.dpi_awareness == "already set" and api.dpi_calls == ["ctx", "shcore"]
    api.dpi, api.awareness = [False, False, False], 0
    assert w32.enable_dpi_awareness(api) == "unchanged"
    api.dpi_calls.clear()
    api.awareness = 2  # per-monitor from the start (a manifest; every process under Wine 8)
    assert w32.enable_dpi_awareness(api) == "per-monitor (already set)" and api.dpi_calls == []


def test_win32_client_region_and_process_name() -> None:
    assert w32.client_region((-1920, -10, 100, 50)) == Region(-1920, -10, -1820, 40)
    assert w32.client_region(None) is None and w32.client_region((5, 5, 0, 10)) is None
    assert w32.process_name(os.getpid()) is not None
    assert w32.process_name(2**22 + 12345) is None  # above Linux's pid_max


def test_win32_process_name_from_the_os_layer_then_the_fallback(fresh_dpi: None) -> None:
    api = FakeUser32()
    api.images = {100: "NOTEPAD.EXE"}
    fallback: list[int] = []

    def psutil_like(pid: int) -> str | None:
        fallback.append(pid)
        return "fallback.exe" if pid == 104 else None

    backend = w32.Win32WindowBackend(api, proc_name=psutil_like)
    wins = {w.window_id: w for w in backend.list_windows()}
    assert wins[0x10].process == "NOTEPAD.EXE"  # QueryFullProcessImageNameW answered
    assert wins[0x50].process == "fallback.exe" and wins[0x40].process is None
    assert 100 not in fallback and sorted(fallback) == [103, 104]


def test_win32_cloaked_windows_are_neither_listed_nor_targetable(fresh_dpi: None) -> None:
    from nitrogen_capture.config import TargetSpec
    from nitrogen_capture.targets import resolve_target

    api = FakeUser32()
    api.cloaked = {0x10}  # e.g. a suspended UWP app: "visible" to user32, not on screen
    backend = w32.Win32WindowBackend(api, proc_name={100: "Game.exe"}.get)
    assert 0x10 not in {w.window_id for w in backend.list_windows()}
    with pytest.raises(TargetNotFound):
        resolve_target(TargetSpec(process_name="Game.exe"), wait_s=0, backend=backend)
    api.cloaked = set()  # uncloaked (brought to this virtual desktop): targetable again
    target = resolve_target(TargetSpec(process_name="Game.exe"), wait_s=0, backend=backend)
    assert target.region() == Region(-1500, 40, -220, 760)
