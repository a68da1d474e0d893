"""Screen capture through DXCam 0.3 (DXGI Desktop Duplication) on Windows: backend ``dxgi``.

Desktop Duplication hands out the composed image of one **output** (monitor) of one adapter,
so DXCam's region is ``(left, top, right, bottom)`` *relative to that output*, while our
:class:`Region` is in desktop pixels (the primary monitor's top-left is 0, 0; a monitor left of
it has negative x). :func:`output_relative_region` maps one to the other; :func:`pick_output`
chooses the output that holds the region when no ``--monitor`` is given.

``output`` is DXCam's 0-based output index on adapter 0 (DXGI enumeration order, which is not
always the Windows display number). ``None`` probes the outputs and keeps the one whose desktop
rectangle contains the region, so a window on a second monitor needs no flag.

**Started mode, not one-shot grabs.** The recorder's tick comes at a fixed rate and must never
wait for a new frame. DXCam 0.3 offers a one-shot ``grab(new_frame_only=...)`` on the caller's
thread and a started mode (``start``) with its own capture thread. We start the camera
(:class:`~._dxcam_feed.DxcamFeed`) because DXCam recovers from ``DXGI_ERROR_ACCESS_LOST`` (a
full-screen switch, a UAC prompt, a mode change) *on the thread that called into DXGI*, retrying
without end while the error is transient: in one-shot mode that would be our tick, frozen for as
long as the screen stays lost and with no way to give up. Started, the retrying happens on
DXCam's thread; our tick reads the ring's newest frame (a copy, never blocking), counts the
recoveries in ``details["access_lost_recoveries"]`` and, past
:data:`~._dxcam_feed.ACCESS_LOST_BOUND_S`, raises :class:`DxgiUnavailable` so an ``auto``
recording fails over to the next backend. DXCam's thread polls at twice the recording's rate
(:func:`poll_fps`), so the newest frame is at most half a period older than the tick; it
only copies pixels when DXGI has a new frame. A window that moves or resizes on its output only
changes the camera's ``region``, which the thread reads on every iteration.

**Repeats.** Desktop Duplication only delivers a frame when the screen changed; an unchanged
screen *is* the previous image, so a tick without a new frame returns a copy of the previous one
with the previous :class:`FrameStamp` (the same ``seq``: the recorder marks it ``repeated``) and
counts it in ``details["repeated_frames"]``. After a resize, until a frame of the new size comes,
the previous frame is resized at once (``details["stale_frames"]``; also a repeat). Only the very
first frame is waited for (:data:`FRESH_FRAME_TIMEOUT_S`): DXGI delivers the current image right
after the duplication is made, and this is the chain's one-frame try.

**OS frame times** (``stamp_source = "dxgi-present"``): :meth:`DxcamSource.last_stamp` gives the
frame's ``LastPresentTime`` (QPC ticks) mapped to the recording's clock with the
:class:`~._qpc.QpcClock` measured at open, and a ``seq`` that counts new frames. A frame DXGI gave
no present time (only the mouse moved: ``AccumulatedFrames`` 0) has ``os_ns`` None.

**Failures** become :class:`DxgiUnavailable` whose ``short`` is one line (``_dxcam_api.py``'s
:data:`~._dxcam_api.DXGI_REASONS`); a missing package names the ``windows`` extra.

DXCam calls ``SetProcessDpiAwareness(2)`` itself, so its coordinates are physical pixels, the
same as the Win32 window backend's (see ``targets/_win32.py``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import CaptureError, ConfigError
from ._dxcam_api import (
    GDI_ADVICE,
    DxcamApi,
    DxcamCamera,
    DxgiUnavailable,
    RealDxcamApi,
    classify_dxgi_error,
    count_outputs,
    unavailable,
)
from ._dxcam_feed import DxcamFeed, FeedFrame
from ._qpc import QpcClock
from .base import (
    BackendConfig,
    CaptureSettings,
    CaptureTarget,
    Frame,
    FrameSource,
    FrameStamp,
    Region,
)

__all__ = [
    "DEFAULT_POLL_FPS",
    "FRESH_FRAME_TIMEOUT_S",
    "DxcamConfig",
    "DxcamSource",
    "DxgiUnavailable",
    "classify_dxgi_error",
    "count_outputs",
    "output_relative_region",
    "pick_output",
    "poll_fps",
]

log = logging.getLogger(__name__)

FRESH_FRAME_TIMEOUT_S = 1.0
"""How long to wait for the first frame after the duplication is made (at open only)."""
DEFAULT_POLL_FPS = 120
"""DXCam's polling rate when the recording's fps is not known (60 fps, doubled)."""
_POLL_S = 0.005
_MAX_POLL_FPS = 480


def poll_fps(fps: float | None) -> int:
    """DXCam's polling rate for a recording at ``fps``: twice it, whole, in 1..480."""
    if fps is None or not fps > 0:
        return DEFAULT_POLL_FPS
    return max(1, min(_MAX_POLL_FPS, math.ceil(2 * fps)))


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
            f"the output that holds it with --monitor, or {GDI_ADVICE}"
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
        f"move the window onto one monitor or {GDI_ADVICE}"
    )


@dataclass(frozen=True)
class DxcamConfig(BackendConfig):
    """DXCam's options.

    Attributes:
        output: the 0-based DXGI output; None finds the region's output.
        fps: the recording's target fps (DXCam polls at :func:`poll_fps` of it); None: unknown.
    """

    output: int | None = None
    fps: float | None = None

    @classmethod
    def from_settings(cls, settings: CaptureSettings) -> DxcamConfig:
        """``--monitor`` follows mss numbering (1 = first monitor); DXCam outputs count from 0."""
        monitor = settings.monitor
        return cls(output=None if not monitor else int(monitor) - 1, fps=settings.fps)


class DxcamSource(FrameSource):
    """Frames of a desktop region through DXCam 0.3 (Desktop Duplication), OS-stamped.

    Args:
        region: desktop-pixel region (a window's client area).
        output: DXCam output index (0-based); ``None`` picks the output that holds the region.
        fps: the recording's target fps, for DXCam's polling rate (:func:`poll_fps`).
        api: the DXCam layer (tests pass one over a fake ``dxcam``); default imports ``dxcam``.
        qpc: the QPC mapping (tests pass one); default :meth:`QpcClock.measure` at open.
        clock: seconds, for the access-lost bound (tests pass a fake).
        sleep: sleep function used while waiting for the first frame.

    Raises:
        PlatformError: not Windows.
        DependencyError: ``dxcam`` is not installed.
        DxgiUnavailable: DXGI cannot enumerate the adapters.
    """

    name = "dxgi"
    config_type = DxcamConfig
    stamp_source = "dxgi-present"

    @classmethod
    def from_target(cls, target: CaptureTarget, config: BackendConfig) -> DxcamSource:
        """A source of the target region on ``config.output``."""
        if isinstance(config, DxcamConfig):
            return cls(target.region, output=config.output, fps=config.fps)
        return cls(target.region)

    def __init__(self, region: Region, output: int | None = None, *, fps: float | None = None,
                 api: DxcamApi | None = None, qpc: QpcClock | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(region)
        if output is not None and output < 0:
            raise ConfigError(f"DXCam output index must be >= 0, got {output}")
        self._api: DxcamApi = api if api is not None else RealDxcamApi()
        self._want_output = output
        self._poll_fps = poll_fps(fps)
        self._qpc = qpc
        self._clock = clock
        self._sleep = sleep
        self._feed: DxcamFeed | None = None
        self._rel: tuple[int, int, int, int] | None = None
        self._output = -1
        self._output_rect: Region | None = None
        self._last: Frame | None = None
        self._feed_seq = 0  # the feed's seq of the frame in _last
        self._recovered = 0  # recoveries of feeds already closed (an output switch)
        self._seq = 0
        self._stamp: FrameStamp | None = None
        self.details = {"output": output, "repeated_frames": 0, "stale_frames": 0,
                        "access_lost_recoveries": 0, "poll_fps": self._poll_fps}

    def last_stamp(self) -> FrameStamp | None:
        """The OS stamp of the frame the last grab returned (a repeat keeps the seq)."""
        return self._stamp

    # -- FrameSource hooks ---------------------------------------------------------------------
    def _open(self) -> None:
        if self._qpc is None:
            self._qpc = QpcClock.measure()
        self.details["qpc"] = {"frequency": self._qpc.frequency,
                               "offset_ns": self._qpc.offset_ns,
                               "uncertainty_ns": self._qpc.uncertainty_ns}
        self._select_output(self.region)

    def _grab(self) -> Frame:
        region = self.region
        assert self._output_rect is not None
        if not region.within(self._output_rect) and self._want_output is None:
            self._select_output(region)  # the window moved to another monitor
        assert self._output_rect is not None and self._feed is not None
        rel = output_relative_region(region, self._output_rect, self._output)
        self._feed.set_region(rel)
        feed = self._feed
        try:
            got = feed.poll()
        finally:
            self.details["access_lost_recoveries"] = self._recovered + feed.recoveries
        if got is None and self._last is None:
            got = self._first_frame(feed)
        size = (region.height, region.width)
        if got is not None and got.seq != self._feed_seq and got.frame.shape[:2] == size:
            return self._keep(got)
        # No new frame (a static screen, or one still of the old size): the previous is current.
        assert self._last is not None
        if self._last.shape[:2] == size:
            self.details["repeated_frames"] += 1
            return self._last.copy()
        import cv2

        self.details["stale_frames"] += 1
        resized = cv2.resize(self._last, (region.width, region.height),
                             interpolation=cv2.INTER_AREA)
        return np.asarray(resized, dtype=np.uint8)

    def _close(self) -> None:
        self._close_feed()
        self._last = None

    # -- helpers -------------------------------------------------------------------------------
    def _first_frame(self, feed: DxcamFeed) -> FeedFrame:
        # Counted polls rather than a clock deadline: the sleep is injectable in tests.
        for _ in range(round(FRESH_FRAME_TIMEOUT_S / _POLL_S)):
            self._sleep(_POLL_S)
            got = feed.poll()
            if got is not None:
                return got
        raise unavailable(f"no frame from output {self._output} in "
                          f"{FRESH_FRAME_TIMEOUT_S:g} s", "deliver a first frame")

    def _keep(self, got: FeedFrame) -> Frame:
        frame = np.ascontiguousarray(got.frame, dtype=np.uint8)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise CaptureError(f"DXCam returned a frame of shape {frame.shape}, expected (H, W, 3)"
                               ": install dxcam 0.3.x")
        assert self._qpc is not None
        self._seq += 1
        self._feed_seq = got.seq
        self._stamp = FrameStamp(self._qpc.ticks_to_ns(got.ticks) if got.present else None,
                                 self._seq)
        self._last = frame  # the caller owns the returned array; repeats copy from it
        return frame

    def _select_output(self, region: Region) -> None:
        self._close_feed()
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
            self._start(camera, self._want_output, rect, region)
            return
        seen: list[tuple[int, Region]] = []
        for index in range(self._api.output_count()):
            camera = self._api.open_output(index)
            rect = self._api.output_rect(camera, index)
            if region.within(rect):
                self._start(camera, index, rect, region)
                return
            camera.release()
            seen.append((index, rect))
        pick_output(region, seen)  # raises ConfigError naming every output

    def _start(self, camera: DxcamCamera, index: int, rect: Region, region: Region) -> None:
        rel = output_relative_region(region, rect, index)
        try:
            self._feed = DxcamFeed(camera, rel, target_fps=self._poll_fps, clock=self._clock)
        except DxgiUnavailable:
            camera.release()
            raise
        self._output, self._output_rect, self._feed_seq = index, rect, 0
        self.details.update(output=index, output_rect=rect.to_list())
        log.debug("dxcam output %d at %s, polled at %d fps", index, rect.to_list(),
                  self._poll_fps)

    def _close_feed(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            self._recovered += feed.recoveries
            feed.close()
