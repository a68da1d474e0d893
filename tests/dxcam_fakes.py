"""Monitors and a COM error shared by the DXCam unit tests (no Windows needed)."""

from __future__ import annotations

from nitrogen_capture.capture.base import Region

PRIMARY = Region(0, 0, 1920, 1080)
LEFT = Region(-1280, 0, 0, 1024)  # a monitor left of the primary: negative desktop x
RIGHT = Region(1920, -200, 4480, 1240)  # a taller monitor right of it, starting above it


class FakeCOMError(Exception):
    """comtypes' COMError as DXCam raises it: an ``hresult`` attribute."""

    def __init__(self, hresult: int, text: str = "com") -> None:
        super().__init__(hresult, text)
        self.hresult = hresult
