"""The calls into the ``dxcam`` package, and the translation of its failures.

:class:`RealDxcamApi` is the thin layer the DXCam source (``_dxcam.py``) talks to; tests replace
it with a fake of :class:`DxcamApi`.

Output position: DXCam (0.0.5 - 0.3.0) has no public accessor for an output's place on the
desktop. Its public :func:`dxcam.output_info` lists each output's size and whether it is the
primary one, and the monitors' desktop rectangles come from Windows (mss's list, from
``EnumDisplayMonitors``). :func:`match_output` pairs them: the primary output is the monitor at
0, 0 (Windows puts the primary monitor there by definition); another output is the one
non-primary monitor of its size. Only when that is ambiguous (two secondary monitors of one
size) do we read the camera's private ``_output.desc.DesktopCoordinates``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, Protocol

from ..errors import CaptureError, PlatformError, missing_dependency
from .base import Frame, Region

__all__ = [
    "MSS_ADVICE",
    "DxcamApi",
    "DxcamCamera",
    "DxgiUnavailable",
    "OutputFacts",
    "RealDxcamApi",
    "classify_dxgi_error",
    "count_outputs",
    "match_output",
    "parse_outputs",
]

log = logging.getLogger(__name__)

MSS_ADVICE = "use --capture-backend mss (GDI capture, slower but works over remote desktop)"
# HRESULTs (as unsigned 32-bit) meaning "this desktop cannot be duplicated here".
_DXGI_UNAVAILABLE: dict[int, str] = {
    0x887A0026: "DXGI_ERROR_ACCESS_LOST",
    0x887A0028: "DXGI_ERROR_SESSION_DISCONNECTED",
    0x887A0004: "DXGI_ERROR_UNSUPPORTED",
    0x887A0022: "DXGI_ERROR_NOT_CURRENTLY_AVAILABLE",
    0x887A0005: "DXGI_ERROR_DEVICE_REMOVED",
    0x887A0002: "DXGI_ERROR_NOT_FOUND",
    0x80070005: "E_ACCESSDENIED",
    0x80004001: "E_NOTIMPL",  # Wine 8's IDXGIOutput1::DuplicateOutput
}


class DxgiUnavailable(CaptureError):
    """DXCam/DXGI failed; ``short`` is the one-line reason (for the fallback message)."""

    def __init__(self, message: str, short: str) -> None:
        super().__init__(message)
        self.short = short


def _hresult(exc: BaseException) -> int | None:
    value = getattr(exc, "hresult", None)  # comtypes.COMError carries it; so does OSError.winerror
    if value is None:
        value = getattr(exc, "winerror", None)
    if value is None and exc.args and isinstance(exc.args[0], int):
        value = exc.args[0]
    return int(value) & 0xFFFFFFFF if isinstance(value, int) else None


def classify_dxgi_error(exc: BaseException, action: str) -> DxgiUnavailable:
    """Translate an exception from DXCam/comtypes into a :class:`CaptureError` with advice."""
    code = _hresult(exc)
    if code is not None and code in _DXGI_UNAVAILABLE:
        short = f"could not {action}: {_DXGI_UNAVAILABLE[code]} (0x{code:08X})"
        return DxgiUnavailable(
            f"Desktop Duplication could not {action}: {_DXGI_UNAVAILABLE[code]} (0x{code:08X}). "
            "The desktop cannot be duplicated here (remote desktop session, locked screen or UAC "
            f"prompt, display mode change, or a GPU/driver without support): {MSS_ADVICE}",
            short)
    return DxgiUnavailable(f"DXCam could not {action}: {exc!r}; {MSS_ADVICE}",
                           f"could not {action}: {exc!r}")


def count_outputs(output_info: str, device: int = 0) -> int:
    """Count the outputs of adapter ``device`` in the text of ``dxcam.output_info()``."""
    return len(re.findall(rf"Device\[{device}\]\s*Output\[\d+\]", output_info))


class OutputFacts(NamedTuple):
    """What ``dxcam.output_info()`` says about one output."""

    width: int
    height: int
    primary: bool


def parse_outputs(output_info: str, device: int = 0) -> dict[int, OutputFacts]:
    """Output index -> size and primary flag, from the text of ``dxcam.output_info()``."""
    pattern = (rf"Device\[{device}\]\s*Output\[(\d+)\]:\s*Res:\((\d+),\s*(\d+)\)"
               r"\s*Rot:\d+\s*Primary:(True|False)")
    return {int(i): OutputFacts(int(w), int(h), p == "True")
            for i, w, h, p in re.findall(pattern, output_info)}


def match_output(facts: OutputFacts, monitors: Sequence[Region]) -> Region | None:
    """The monitor rectangle of an output; None when no single monitor fits."""
    def is_primary(rect: Region) -> bool:
        return (rect.left, rect.top) == (0, 0)

    fits = [m for m in monitors if is_primary(m) == facts.primary
            and m.size == (facts.width, facts.height)]
    return fits[0] if len(fits) == 1 else None


class DxcamCamera(Protocol):
    """The part of ``dxcam.DXCamera`` we use."""

    def grab(self, region: tuple[int, int, int, int]) -> Frame | None:
        """A new frame of ``region`` (output-relative), or None when nothing changed."""

    def release(self) -> None:
        """Free the duplication and staging surfaces."""


class DxcamApi(Protocol):
    """The calls into DXCam; tests replace it with a fake."""

    def output_count(self) -> int:
        """Number of outputs of adapter 0."""

    def open_output(self, index: int) -> DxcamCamera:
        """A BGR camera on output ``index``."""

    def output_rect(self, camera: DxcamCamera, index: int) -> Region:
        """The rectangle of output ``index`` (``camera``'s) in desktop pixels."""


@contextlib.contextmanager
def _quiet_com_cleanup() -> Iterator[None]:
    """Log, instead of printing, the errors of COM pointers freed after a failed create.

    When DuplicateOutput fails (Wine 8), comtypes frees a half-built COM pointer whose
    ``__del__`` fails ("Exception ignored ... access violation writing 0x0"), which Python
    prints to stderr as an unraisable exception, during DXCam's own clean-up or when the
    traceback is freed. Around ``create`` those are expected: they go to the debug log.
    """
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        log.debug("ignored while freeing DXCam's COM objects: %r", unraisable.exc_value)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        gc.collect()
        sys.unraisablehook = previous


class RealDxcamApi:
    """Thin layer over the ``dxcam`` package (0.0.5 - 0.3.0)."""

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise PlatformError(
                "the dxcam capture backend needs Windows (DXGI Desktop Duplication): "
                "use --capture-backend mss"
            )
        try:
            import dxcam
        except ImportError as exc:
            raise missing_dependency("dxcam", "windows", "Desktop Duplication capture") from exc
        except Exception as exc:  # dxcam <= 0.1 enumerates adapters at import time
            raise classify_dxgi_error(exc, "enumerate the display adapters") from exc
        self._dxcam: Any = dxcam

    def output_count(self) -> int:
        try:
            return count_outputs(str(self._dxcam.output_info()))
        except Exception as exc:
            raise classify_dxgi_error(exc, "list the outputs") from exc

    def open_output(self, index: int) -> DxcamCamera:
        with _quiet_com_cleanup():
            try:
                camera: DxcamCamera = self._dxcam.create(output_idx=index, output_color="BGR")
            except Exception as exc:
                error = classify_dxgi_error(exc, f"open output {index}")
                exc.__traceback__ = None  # drop dxcam's frames, and its half-built objects, now
                raise error from exc
        return camera

    def output_rect(self, camera: DxcamCamera, index: int) -> Region:
        from ._mss import monitor_regions

        facts = parse_outputs(str(self._dxcam.output_info())).get(index)
        rect = match_output(facts, monitor_regions()[1:]) if facts is not None else None
        if rect is not None:
            return rect
        # Ambiguous: DXCam's own DXGI_OUTPUT_DESC, kept as ``_output.desc`` from 0.0.5 to 0.3.0.
        log.debug("output %d (%s) matches no single monitor: reading DXCam's descriptor",
                  index, facts)
        try:
            desc = camera._output.desc.DesktopCoordinates  # type: ignore[attr-defined]
            return Region(int(desc.left), int(desc.top), int(desc.right), int(desc.bottom))
        except AttributeError as exc:
            raise CaptureError(
                f"this dxcam version does not expose its output position ({exc}): "
                f"install dxcam 0.0.5 - 0.3.0 or {MSS_ADVICE}"
            ) from exc
