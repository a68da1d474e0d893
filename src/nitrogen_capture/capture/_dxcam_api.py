"""The calls into the ``dxcam`` package, and the translation of its failures.

:class:`RealDxcamApi` is the thin layer the DXCam source (``_dxcam.py``) talks to; tests replace
it with a fake of :class:`DxcamApi`.

Output position: DXCam (0.0.5 - 0.3.x) has no public accessor for an output's place on the
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
    "DXGI_REASONS",
    "GDI_ADVICE",
    "DxcamApi",
    "DxcamCamera",
    "DxgiUnavailable",
    "OutputFacts",
    "RealDxcamApi",
    "classify_dxgi_error",
    "count_outputs",
    "dxgi_reason",
    "match_output",
    "parse_outputs",
    "unavailable",
]

log = logging.getLogger(__name__)

GDI_ADVICE = ("use --capture-backend gdi (GDI capture, slower but works over remote desktop) "
              "or wgc")

#: HRESULT (unsigned 32-bit) -> (name, the one-line reason a player can act on). The codes are
#: the ones DXCam 0.3 treats as expected (dxcam/core/dxgi_errors.py, after Microsoft's Desktop
#: Duplication sample) plus two it passes through: NOT_CURRENTLY_AVAILABLE (too many
#: duplications of one output) and E_NOTIMPL (Wine 8's IDXGIOutput1::DuplicateOutput).
DXGI_REASONS: dict[int, tuple[str, str]] = {
    0x887A0004: ("DXGI_ERROR_UNSUPPORTED",
                 "this GPU cannot duplicate the screen (a hybrid-GPU laptop's discrete GPU?)"),
    0x887A0026: ("DXGI_ERROR_ACCESS_LOST",
                 "the screen changed hands (full-screen switch, UAC prompt or mode change)"),
    0x887A0028: ("DXGI_ERROR_SESSION_DISCONNECTED",
                 "the session is disconnected or remote (remote desktop?)"),
    0x887A0022: ("DXGI_ERROR_NOT_CURRENTLY_AVAILABLE",
                 "too many programs duplicate this screen (another recorder or overlay?)"),
    0x887A0005: ("DXGI_ERROR_DEVICE_REMOVED",
                 "the GPU was reset or its driver changed"),
    0x887A0002: ("DXGI_ERROR_NOT_FOUND",
                 "the monitor is gone (unplugged, switched off or disabled?)"),
    0x80070005: ("E_ACCESSDENIED",
                 "the secure desktop is showing (locked screen or UAC prompt?)"),
    0x00000080: ("WAIT_ABANDONED",
                 "the desktop switched while DXCam waited for it (a system transition)"),
    0x80004001: ("E_NOTIMPL",
                 "this system has no Desktop Duplication (Wine?)"),
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def dxgi_reason(exc: BaseException) -> str:
    """The one-line reason of a DXCam/DXGI failure: ``NAME: why`` for a known HRESULT."""
    code = _hresult(exc)
    if code is not None and code in DXGI_REASONS:
        name, why = DXGI_REASONS[code]
        return f"{name}: {why}"
    if code is not None and hasattr(exc, "hresult"):
        return f"HRESULT 0x{code:08X}: {_first_line(exc)}"
    return _first_line(exc)


def unavailable(short: str, action: str) -> DxgiUnavailable:
    """A :class:`DxgiUnavailable` whose message says what was being done and what to do."""
    return DxgiUnavailable(f"Desktop Duplication could not {action}: {short}; {GDI_ADVICE}",
                           short)


def classify_dxgi_error(exc: BaseException, action: str) -> DxgiUnavailable:
    """Translate an exception from DXCam/comtypes into a :class:`DxgiUnavailable` with advice.

    ``short`` is :func:`dxgi_reason` (one line, no advice); the message adds the action, the
    HRESULT in hex and :data:`GDI_ADVICE`.
    """
    short = dxgi_reason(exc)
    code = _hresult(exc)
    if code is not None and code in DXGI_REASONS:
        name, why = DXGI_REASONS[code]
        detail = f"{name} (0x{code:08X}): {why}"
    else:
        detail = short
    return DxgiUnavailable(f"Desktop Duplication could not {action}: {detail}; {GDI_ADVICE}",
                           short)


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
    """The part of DXCam 0.3's ``dxcam.DXCamera`` we use (dxcam/dxcam.py).

    Started mode: :meth:`start` runs DXCam's own capture thread into a ring buffer; while it
    runs, :meth:`grab` returns a copy of the newest buffered frame without touching DXGI (never
    blocking) and :attr:`latest_frame_ticks` is that frame's QPC time. ``region`` is read by the
    capture thread on every iteration. The private seams :mod:`._dxcam_feed` wraps are listed
    there.
    """

    region: tuple[int, int, int, int]
    is_capturing: bool

    def grab(self, region: tuple[int, int, int, int] | None = None, copy: bool = True,
             new_frame_only: bool = True) -> Frame | None:
        """The newest frame (started: the ring's newest, a copy), or None when there is none."""

    def start(self, region: tuple[int, int, int, int] | None = None, target_fps: int = 60,
              video_mode: bool = False, delay: int = 0) -> None:
        """Start the capture thread on ``region`` (output-relative), paced at ``target_fps``."""

    def stop(self) -> None:
        """Stop and join the capture thread (up to 10 s) and clear the ring buffer."""

    @property
    def latest_frame_ticks(self) -> int | None:
        """The QPC time of the ring's newest frame (LastPresentTime, else the mouse's time)."""

    def release(self) -> None:
        """Stop, then free the duplication and staging surfaces (the instance is done)."""


class DxcamApi(Protocol):
    """The calls into DXCam; tests replace it with a fake."""

    def output_count(self) -> int:
        """Number of outputs of adapter 0."""

    def open_output(self, index: int) -> DxcamCamera:
        """A BGR Desktop Duplication camera on output ``index`` (not started)."""

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
    """Thin layer over the ``dxcam`` package (0.3.x: ``pyproject.toml`` pins ``>=0.3.0,<0.4``)."""

    def __init__(self, module: Any = None) -> None:
        """``module``: a stand-in for the ``dxcam`` package (tests); default imports it."""
        if module is not None:
            self._dxcam: Any = module
            return
        if sys.platform != "win32":
            raise PlatformError(
                "the dxgi capture backend needs Windows (DXGI Desktop Duplication): "
                "use --capture-backend mss"
            )
        try:
            import dxcam
        except ImportError as exc:
            raise missing_dependency("dxcam", "windows", "Desktop Duplication capture") from exc
        except Exception as exc:  # dxcam enumerates the adapters when imported (DXFactory())
            raise classify_dxgi_error(exc, "enumerate the display adapters") from exc
        self._dxcam = dxcam

    def output_count(self) -> int:
        try:
            return count_outputs(str(self._dxcam.output_info()))
        except Exception as exc:
            raise classify_dxgi_error(exc, "list the outputs") from exc

    def open_output(self, index: int) -> DxcamCamera:
        with _quiet_com_cleanup():
            try:
                # max_buffer_len 2 (DXCam's least): we only ever read the newest frame.
                camera: DxcamCamera = self._dxcam.create(
                    output_idx=index, output_color="BGR", backend="dxgi", max_buffer_len=2)
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
        # Ambiguous: DXCam's own DXGI_OUTPUT_DESC, kept as ``_output.desc`` (0.0.5 to 0.3.x).
        log.debug("output %d (%s) matches no single monitor: reading DXCam's descriptor",
                  index, facts)
        try:
            desc = camera._output.desc.DesktopCoordinates  # type: ignore[attr-defined]
            return Region(int(desc.left), int(desc.top), int(desc.right), int(desc.bottom))
        except AttributeError as exc:
            raise CaptureError(
                f"this dxcam version does not expose its output position ({exc}): "
                f"install dxcam 0.3.x or {GDI_ADVICE}"
            ) from exc
