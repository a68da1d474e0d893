"""The DXCam layer through fakes: an output's position, Wine's E_NOTIMPL and its short reason.

:class:`RealDxcamApi` reads an output's position from DXCam's public facts; its refusals carry
the one-line ``short`` that ``auto``'s line quotes (the chain itself: test_capture_chain.py).
Both are exercised for real under Wine in tests_wine/test_win32_capture.py.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import pytest

from dxcam_fakes import LEFT, PRIMARY, RIGHT, FakeCOMError
from nitrogen_capture.capture import _dxcam as dx
from nitrogen_capture.capture.base import Region
from nitrogen_capture.errors import CaptureError


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
    assert "E_NOTIMPL (0x80004001)" in str(error) and "--capture-backend gdi" in str(error)
    assert error.short == "E_NOTIMPL: this system has no Desktop Duplication (Wine?)"
