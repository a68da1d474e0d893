"""Windows backends (DXCam capture, Win32 windows) tested through fakes of their OS calls.

The OS calls cannot run on Linux; the logic around them does. The input listeners are in
test_windows_inputs.py, the DXCam source in test_windows_dxcam.py and auto's chain (dxgi, wgc,
gdi) in test_capture_chain.py; the import and construction checks here cover all the
Windows modules.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

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

    with pytest.raises(ConfigError, match="'dxcam' is Windows-only; here use mss"):
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
    with pytest.raises(CaptureError, match=r"DXGI_ERROR_UNSUPPORTED.*--capture-backend gdi"):
        DxcamSource(Region(0, 0, 64, 48))
    monkeypatch.delitem(sys.modules, "dxcam", raising=False)


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
