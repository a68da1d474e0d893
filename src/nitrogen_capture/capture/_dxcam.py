"""Screen capture through DXCam (DXGI Desktop Duplication) on Windows.

Desktop Duplication hands out the composed image of one **output** (monitor) of one adapter,
so DXCam's region is ``(left, top, right, bottom)`` *relative to that output*, while our
:class:`Region` is in desktop pixels (the primary monitor's top-left is 0, 0; a monitor left of
it has negative x). :func:`output_relative_region` maps one to the other; :func:`pick_output`
chooses the output that holds the region when no ``--monitor`` is given.

``output`` is DXCam's 0-based output index on adapter 0 (DXGI enumeration order, which is not
always the Windows display number). ``None`` probes the outputs and keeps the one whose desktop
rectangle contains the region, so a window on a second monitor needs no flag.

Desktop Duplication only delivers a frame when the screen changed: ``grab`` returns ``None`` on
a static screen. The recorder needs one frame per tick (the frame stream is a fixed-rate clock),
and an unchanged screen *is* the previous image, so we return a copy of the previous frame and
count it in ``details["repeated_frames"]``. When the region changed size and no fresh frame comes
within :data:`FRESH_FRAME_TIMEOUT_S`, the previous frame is resized (``details["stale_frames"]``);
a window that only moved shows the same client-area pixels, so a same-size copy is exact.

Failures are translated: a missing package names the ``windows`` extra; DXGI refusing to
duplicate (remote desktop, a locked screen or UAC prompt, a GPU/driver without duplication
support, ``DXGI_ERROR_ACCESS_LOST``) becomes a :class:`CaptureError` that says to use
``--capture-backend mss`` (GDI, slower but works everywhere).

The calls into the ``dxcam`` package (and the output position, which DXCam has no public
accessor for) are in ``_dxcam_api.py``.

DXCam calls ``SetProcessDpiAwareness(2)`` itself, so its coordinates are physical pixels, the
same as the Win32 window backend's (see ``targets/_win32.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import CaptureError, ConfigError
from ._dxcam_api import (
    MSS_ADVICE,
    DxcamApi,
    DxcamCamera,
    RealDxcamApi,
    classify_dxgi_error,
    count_outputs,
)
from .base import BackendConfig, CaptureSettings, CaptureTarget, Frame, FrameSource, Region

__all__ = [
    "FRESH_FRAME_TIMEOUT_S",
    "DxcamConfig",
    "DxcamSource",
    "classify_dxgi_error",
    "count_outputs",
    "output_relative_region",
    "pick_output",
]

log = logging.getLogger(__name__)

FRESH_FRAME_TIMEOUT_S = 1.0
"""How long to wait for a first frame (or one of a new size) before giving up or resizing."""
_POLL_S = 0.005
_MSS_ADVICE = MSS_ADVICE


def output_relative_region(region: Region, output_rect: Region,
                           output: int) -> tuple[int, int, int, int]:
    """Map a desktop-pixel region to DXCam's region tuple relative to output ``output``.

    Raises:
        ConfigError: the region is not entirely inside the output (both are named).
    """
    if not region.within(output_rect):
        raise ConfigError(
            f"capture region {region.to_list()} is not inside DXCam output {output} at "
            f"{output_rect.to_list()} (desktop pixels): move the window onto one monitor, pick "
            f"the output that holds it with --monitor, or {_MSS_ADVICE}"
        )
    return (region.left - output_rect.left, region.top - output_rect.top,
            region.right - output_rect.left, region.bottom - output_rect.top)


def pick_output(region: Region, outputs: Sequence[tuple[int, Region]]) -> int:
    """Return the index of the first output whose desktop rectangle contains ``region``.

    Raises:
        ConfigError: no output contains it (the message lists every output's rectangle).
    """
    for index, rect in outputs:
        if region.within(rect):
            return index
    seen = ", ".join(f"{i}: {r.to_list()}" for i, r in outputs) or "none"
    raise ConfigError(
        f"capture region {region.to_list()} is not inside any single DXCam output ({seen}): "
        f"move the window onto one monitor or {_MSS_ADVICE}"
    )


@dataclass(frozen=True)
class DxcamConfig(BackendConfig):
    """DXCam's options: ``output``, the 0-based DXGI output; None finds the region's output."""

    output: int | None = None

    @classmethod
    def from_settings(cls, settings: CaptureSettings) -> DxcamConfig:
        """``--monitor`` follows mss numbering (1 = first monitor); DXCam outputs count from 0."""
        monitor = settings.monitor
        return cls(output=None if not monitor else int(monitor) - 1)


class DxcamSource(FrameSource):
    """Frames of a desktop region through DXCam (Desktop Duplication).

    Args:
        region: desktop-pixel region (a window's client area).
        output: DXCam output index (0-based); ``None`` picks the output that holds the region.
        api: the DXCam layer (tests pass a fake); default imports ``dxcam``.
        sleep: sleep function used while waiting for a fresh frame.

    Raises:
        PlatformError: not Windows.
        DependencyError: ``dxcam`` is not installed.
        CaptureError: DXGI cannot enumerate the adapters.
    """

    name = "dxcam"
    config_type = DxcamConfig

    @classmethod
    def from_target(cls, target: CaptureTarget, config: BackendConfig) -> DxcamSource:
        """A source of the target region on ``config.output``."""
        output = config.output if isinstance(config, DxcamConfig) else None
        return cls(target.region, output=output)

    def __init__(self, region: Region, output: int | None = None, *,
                 api: DxcamApi | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(region)
        if output is not None and output < 0:
            raise ConfigError(f"DXCam output index must be >= 0, got {output}")
        self._api: DxcamApi = api if api is not None else RealDxcamApi()
        self._want_output = output
        self._sleep = sleep
        self._camera: DxcamCamera | None = None
        self._output = -1
        self._output_rect: Region | None = None
        self._last: Frame | None = None
        self.details = {"output": output, "repeated_frames": 0, "stale_frames": 0}

    # -- FrameSource hooks ---------------------------------------------------------------------
    def _open(self) -> None:
        self._select_output(self.region)

    def _grab(self) -> Frame:
        region = self.region
        assert self._output_rect is not None
        if not region.within(self._output_rect) and self._want_output is None:
            self._select_output(region)  # the window moved to another monitor
        assert self._output_rect is not None
        rel = output_relative_region(region, self._output_rect, self._output)
        frame = self._grab_once(rel)
        if frame is not None:
            return self._keep(frame)
        last = self._last
        if last is not None and last.shape[:2] == (region.height, region.width):
            # Static screen (or a window that only moved): the previous pixels are current.
            self.details["repeated_frames"] += 1
            return last.copy()
        return self._wait_fresh(rel, region)

    def _close(self) -> None:
        self._release_camera()
        self._last = None

    # -- helpers -------------------------------------------------------------------------------
    def _grab_once(self, rel: tuple[int, int, int, int]) -> Frame | None:
        assert self._camera is not None
        try:
            return self._camera.grab(region=rel)
        except CaptureError:
            raise
        except Exception as exc:  # comtypes.COMError and friends, translated with advice
            raise classify_dxgi_error(exc, f"grab region {list(rel)} of output {self._output}") \
                from exc

    def _wait_fresh(self, rel: tuple[int, int, int, int], region: Region) -> Frame:
        # Counted polls rather than a clock deadline: the sleep is injectable in tests.
        for _ in range(round(FRESH_FRAME_TIMEOUT_S / _POLL_S)):
            self._sleep(_POLL_S)
            frame = self._grab_once(rel)
            if frame is not None:
                return self._keep(frame)
        if self._last is None:
            raise CaptureError(
                f"Desktop Duplication delivered no frame of output {self._output} in "
                f"{FRESH_FRAME_TIMEOUT_S:.0f} s; {_MSS_ADVICE}"
            )
        import cv2

        # Resized but unchanged content: better than a black frame, and counted in meta.json.
        self.details["stale_frames"] += 1
        log.warning("no fresh frame after a resize to %dx%d: reusing the previous one",
                    region.width, region.height)
        resized = cv2.resize(self._last, (region.width, region.height),
                             interpolation=cv2.INTER_AREA)
        return np.asarray(resized, dtype=np.uint8)

    def _keep(self, frame: Frame) -> Frame:
        # The caller owns the returned array; we only keep a reference to copy from later.
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise CaptureError(f"DXCam returned a frame of shape {frame.shape}, expected (H, W, 3)"
                               ": install dxcam 0.0.5 - 0.3.0")
        self._last = frame
        return frame

    def _select_output(self, region: Region) -> None:
        self._release_camera()
        if self._want_output is not None:
            count = self._api.output_count()
            if self._want_output >= count:
                raise ConfigError(
                    f"DXCam output {self._want_output} does not exist: this adapter has "
                    f"{count} output(s), 0..{count - 1}"
                )
            camera = self._api.open_output(self._want_output)
            rect = self._api.output_rect(camera, self._want_output)
            try:
                output_relative_region(region, rect, self._want_output)
            except ConfigError:
                camera.release()
                raise
            self._set_camera(camera, self._want_output, rect)
            return
        seen: list[tuple[int, Region]] = []
        for index in range(self._api.output_count()):
            camera = self._api.open_output(index)
            rect = self._api.output_rect(camera, index)
            if region.within(rect):
                self._set_camera(camera, index, rect)
                return
            camera.release()
            seen.append((index, rect))
        pick_output(region, seen)  # raises ConfigError naming every output

    def _set_camera(self, camera: DxcamCamera, index: int, rect: Region) -> None:
        self._camera, self._output, self._output_rect = camera, index, rect
        self._last = None
        self.details.update(output=index, output_rect=rect.to_list())
        log.debug("dxcam output %d at %s", index, rect.to_list())

    def _release_camera(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.release()
            except Exception as exc:
                raise classify_dxgi_error(exc, "release the camera") from exc
