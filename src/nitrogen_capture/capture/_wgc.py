"""Screen capture through Windows Graphics Capture (WGC), by window handle, on Windows.

WGC captures a *window* by its HWND (``CaptureTarget.handle``): the window's own pixels, so a
window that is moved, partly off-screen or covered by another keeps recording, and it works on
hybrid-GPU laptops where Desktop Duplication refuses the discrete GPU. A region target grabs
the monitor that holds the region (``monitor_index``) and crops it. The calls into the
``windows-capture`` package are in ``_wgc_api.py``.

Frames arrive on windows-capture's own thread (``start_free_threaded``): the callback copies
the newest one out of the library's mapped texture (BGRA -> BGR, one pass) and keeps it with its
sequence number and OS time. Each tick takes the newest without blocking; when none came since
the last grab, the previous frame is returned again with the same ``seq`` (a repeat, counted
by the recorder). Only the first grab waits, up to :data:`FIRST_FRAME_TIMEOUT_S`.

A WGC window frame is the window's visible bounds (title bar and borders included); we crop it
to the client area the target names (``region``), at the client's offset inside the window
(DWM's extended frame bounds, or, when Windows does not say, side borders equal to the bottom
one). A resized window is handled as the DXGI path does (``_dxcam.py``): the recorder follows
the new client size (a new chunk); until a frame of the new size arrives (up to
:data:`FRESH_FRAME_TIMEOUT_S`) the previous frame is resized (``details["stale_frames"]``).
``details["resizes"]`` counts the frame-size changes WGC delivered.

OS frame times (``stamp_source = "wgc-system-relative"``): each frame's ``SystemRelativeTime``
(100-ns units of QPC) mapped onto the recording's clock (``clock.now_ns``, QPC itself on
Windows) by capture/_qpc.py's one rule, measured when the source opens.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import cv2
import numpy as np

from ..errors import ConfigError
from ._qpc import QpcClock
from ._wgc_api import GDI_ADVICE, RealWgcApi, WgcApi, WgcRequest, WgcSession, WgcUnavailable
from .base import (
    BackendConfig,
    CaptureSettings,
    CaptureTarget,
    Frame,
    FrameSource,
    FrameStamp,
    Region,
)

__all__ = ["FIRST_FRAME_TIMEOUT_S", "FRESH_FRAME_TIMEOUT_S", "WgcConfig", "WgcSource",
           "client_offset", "min_update_interval_ms"]

log = logging.getLogger(__name__)

FIRST_FRAME_TIMEOUT_S = 2.0
"""How long the first grab waits for WGC's first frame."""
FRESH_FRAME_TIMEOUT_S = 1.0
"""How long a grab after a resize waits for a frame of the new size before resizing the old."""


def min_update_interval_ms(fps: float | None) -> int:
    """WGC's ``MinUpdateInterval`` for a recording at ``fps``: half a tick, at least 1 ms.

    Why set it at all: with the default (0) Windows 11 24H2 caps WGC near 60 fps (robmikh/
    Win32CaptureSample issues 82 and 92; OBS, Sunshine and DXCam's
    ``DXCAM_WINRT_MIN_UPDATE_INTERVAL_MS`` set it). Any value under 1 ms behaves like 0 there,
    and an interval of exactly one tick delivers fewer frames than ticks (windows-capture issue
    190: 16.6 ms gave ~45 fps on a 60 Hz screen), so half a tick: WGC never caps us.
    """
    if not fps or fps <= 0:
        return 1
    return max(1, int(500.0 / fps))


def client_offset(frame_size: tuple[int, int], region: Region,
                  window: Region | None) -> tuple[int, int]:
    """Where the client area ``region`` starts inside a WGC window frame of ``frame_size``.

    ``window`` is the window's visible bounds now (the frame's desktop rectangle); when it is
    unknown or of another size than the frame (a resize in flight), the side borders are taken
    equal and as wide as the bottom one, the rest of the height being title bar and menu.
    """
    width, height = frame_size
    if window is not None and window.size == frame_size:
        return region.left - window.left, region.top - window.top
    side = max(0, (width - region.width) // 2)
    return side, max(0, height - region.height - side)


@dataclass(frozen=True)
class WgcConfig(BackendConfig):
    """WGC's options: the recording's ``fps`` (for MinUpdateInterval) and ``--monitor``."""

    fps: float | None = None
    monitor: int | None = None

    @classmethod
    def from_settings(cls, settings: CaptureSettings) -> WgcConfig:
        """The target fps and the monitor (mss numbering: 1 is the first monitor)."""
        return cls(fps=settings.fps, monitor=settings.monitor or None)


class WgcSource(FrameSource):
    """Frames of a window (by HWND) or of a region of one monitor, through WGC.

    Args:
        target: a window (captured by handle) or a region (its monitor, cropped).
        config: :class:`WgcConfig`.
        api: the windows-capture layer (tests pass one over a fake ``windows_capture``).
        first_timeout_s, fresh_timeout_s: the waits of the first grab and after a resize.
    """

    name = "wgc"
    targets = frozenset({"window", "region"})
    config_type = WgcConfig
    stamp_source = "wgc-system-relative"
    api_factory: ClassVar[Any] = RealWgcApi
    """Builds the API layer for :meth:`from_target` (a test's fake backend replaces it)."""

    @classmethod
    def from_target(cls, target: CaptureTarget, config: BackendConfig) -> WgcSource:
        """A source of ``target``; the API layer is built (and checked) now."""
        return cls(target, config if isinstance(config, WgcConfig) else WgcConfig(),
                   api=cls.api_factory())

    def __init__(self, target: Region | CaptureTarget, config: WgcConfig | None = None, *,
                 api: WgcApi | None = None, first_timeout_s: float = FIRST_FRAME_TIMEOUT_S,
                 fresh_timeout_s: float = FRESH_FRAME_TIMEOUT_S) -> None:
        super().__init__(target)
        self.config = config or WgcConfig()
        self._api: WgcApi = api if api is not None else RealWgcApi()
        self._first_timeout_s, self._fresh_timeout_s = first_timeout_s, fresh_timeout_s
        self._cond = threading.Condition()
        self._latest: tuple[Frame, int, int | None] | None = None  # BGR, seq, os_ns (ours)
        self._seq = 0
        self._ended: str | None = None  # why frames stopped (window closed, callback error)
        self._target_ended = False  # the window or monitor itself went (not WGC failing)
        self._session: WgcSession | None = None
        self._clock: QpcClock | None = None
        self._monitor: Region | None = None
        self._window: Region | None = None
        self._frame_size: tuple[int, int] | None = None
        self._last: tuple[Frame, int, int | None] | None = None  # what the last grab returned
        self._stamp: FrameStamp | None = None
        features = self._api.features
        interval = min_update_interval_ms(self.config.fps)
        self._request = WgcRequest(
            window_hwnd=self.target.handle if self.target.kind == "window" else None,
            monitor_index=None,
            cursor_capture=False if features.cursor_toggle else None,
            draw_border=False if features.border_toggle else None,
            minimum_update_interval_ms=interval if features.min_update_interval else None)
        self.details = {
            "window_handle": self._request.window_hwnd, "monitor_index": None,
            "windows_build": features.build,
            # False: this build cannot switch it (drawn); True: asked off (Windows may still
            # draw the border for a user who refused borderless capture).
            "cursor_off": features.cursor_toggle, "border_off": features.border_toggle,
            "min_update_interval_ms": self._request.minimum_update_interval_ms,
            "resizes": 0, "stale_frames": 0}

    # -- FrameSource hooks ---------------------------------------------------------------------
    def _open(self) -> None:
        request = self._request
        if self.target.kind == "region":
            index, self._monitor = self._pick_monitor(self.region)
            request = WgcRequest(None, index, request.cursor_capture, request.draw_border,
                                 request.minimum_update_interval_ms)
            self.details["monitor_index"] = index
        else:
            assert request.window_hwnd is not None
            self._window = self._api.window_rect(request.window_hwnd)
        self._clock = self._api.clock()
        self._session = self._api.start(request, self._on_frame, self._on_closed)

    def last_stamp(self) -> FrameStamp | None:
        """WGC's SystemRelativeTime (on the recording's clock) and the seq of the last grab."""
        return self._stamp

    def set_region(self, region: Region) -> None:
        """Follow the moved or resized window; its bounds are read again for the crop."""
        super().set_region(region)
        if self.target.kind == "window" and self._opened and not self._closed:
            assert self.target.handle is not None
            self._window = self._api.window_rect(self.target.handle)

    def _grab(self) -> Frame:
        with self._cond:
            if self._latest is None:
                self._cond.wait_for(lambda: self._latest is not None or self._ended is not None,
                                    self._first_timeout_s)
            self._raise_if_ended()
            latest = self._latest
        if latest is None:
            raise WgcUnavailable(
                f"Windows Graphics Capture delivered no frame in {self._first_timeout_s:g} s; "
                f"{GDI_ADVICE}", f"no frame in {self._first_timeout_s:g} s")
        last = self._last
        if last is not None and latest[1] == last[1] and last[0].shape[:2] == self._hw():
            self._stamp = FrameStamp(last[2], last[1])  # nothing new: the same frame again
            return last[0].copy()
        frame = self._crop(latest)
        if frame is None:
            frame, latest = self._wait_fresh()
        self._last = (frame, latest[1], latest[2])
        self._stamp = FrameStamp(latest[2], latest[1])
        return frame.copy() if frame is latest[0] else frame

    def _close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.stop()  # joins windows-capture's thread
            except Exception as exc:  # the thread's own end (a closed window) is reported here
                log.debug("stopping Windows Graphics Capture: %s", exc)
        with self._cond:
            self._latest = self._last = None

    # -- windows-capture's thread --------------------------------------------------------------
    def _on_frame(self, bgra: Frame, timespan: int) -> None:
        """Keep a BGR copy of the new frame; never raises (that would stop the capture)."""
        try:
            bgr = cast(Frame, cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR))  # a new array: ours
            clock = self._clock
            os_ns = clock.hundred_ns_to_ns(int(timespan)) if timespan and clock else None
            size = (int(bgr.shape[1]), int(bgr.shape[0]))
            with self._cond:
                if self._frame_size is not None and size != self._frame_size:
                    self.details["resizes"] += 1
                self._frame_size = size
                self._seq += 1
                self._latest = (bgr, self._seq, os_ns)
                self._cond.notify_all()
        except Exception as exc:
            with self._cond:
                self._ended = f"a frame could not be read: {exc!r}"
                self._cond.notify_all()

    def _on_closed(self) -> None:
        with self._cond:
            self._ended = "the window closed" if self.target.kind == "window" else \
                "the monitor was disconnected"
            self._target_ended = True
            self._cond.notify_all()

    # -- helpers -------------------------------------------------------------------------------
    def _raise_if_ended(self) -> None:
        if self._ended is not None:
            what = "window" if self.target.kind == "window" else "monitor"
            raise WgcUnavailable(f"Windows Graphics Capture of the {what} ended: {self._ended}",
                                 self._ended, target_ended=self._target_ended)

    def _newer_than(self, seq: int) -> bool:
        """A frame after ``seq`` came, or the capture ended (call with the lock held)."""
        return (self._latest is not None and self._latest[1] != seq) or self._ended is not None

    def _hw(self) -> tuple[int, int]:
        return self.region.height, self.region.width

    def _crop(self, item: tuple[Frame, int, int | None]) -> Frame | None:
        """The target's pixels out of a WGC frame; None when the frame does not hold them."""
        full = item[0]
        height, width = full.shape[:2]
        region = self.region
        if self._monitor is not None:
            x, y = region.left - self._monitor.left, region.top - self._monitor.top
        else:
            x, y = client_offset((width, height), region, self._window)
        if x < 0 or y < 0 or x + region.width > width or y + region.height > height:
            return None
        if (x, y, region.width, region.height) == (0, 0, width, height):
            return full
        return np.ascontiguousarray(full[y:y + region.height, x:x + region.width])

    def _wait_fresh(self) -> tuple[Frame, tuple[Frame, int, int | None]]:
        """After a resize: wait for a frame that holds the new size, else resize the last."""
        deadline = time.monotonic() + self._fresh_timeout_s
        with self._cond:
            seen = self._latest[1] if self._latest is not None else 0
            while (left := deadline - time.monotonic()) > 0 and self._cond.wait_for(
                    functools.partial(self._newer_than, seen), left):
                self._raise_if_ended()
                assert self._latest is not None
                seen = self._latest[1]
                frame = self._crop(self._latest)
                if frame is not None:
                    return frame, self._latest
            latest = self._latest
        assert latest is not None
        previous = self._last[0] if self._last is not None else latest[0]
        self.details["stale_frames"] += 1
        log.warning("no WGC frame of the new size %dx%d after %g s: reusing the previous one",
                    self.region.width, self.region.height, self._fresh_timeout_s)
        resized = cv2.resize(previous, (self.region.width, self.region.height),
                             interpolation=cv2.INTER_AREA)
        stale = self._last if self._last is not None else latest
        return np.asarray(resized, dtype=np.uint8), stale

    def _pick_monitor(self, region: Region) -> tuple[int, Region]:
        """The 1-based monitor holding ``region`` (``--monitor`` when given) and its rectangle."""
        monitors = self._api.monitors()
        wanted = self.config.monitor
        if wanted is not None:
            if not 1 <= wanted <= len(monitors):
                raise ConfigError(f"monitor {wanted} does not exist: this desktop has "
                                  f"{len(monitors)} monitor(s), 1..{len(monitors)}")
            candidates = [(wanted, monitors[wanted - 1])]
        else:
            candidates = list(enumerate(monitors, start=1))
        for index, rect in candidates:
            if region.within(rect):
                return index, rect
        seen = ", ".join(f"{i}: {r.to_list()}" for i, r in candidates) or "none"
        raise ConfigError(f"capture region {region.to_list()} is not inside one monitor "
                          f"({seen}): capture the window itself, or {GDI_ADVICE}")
