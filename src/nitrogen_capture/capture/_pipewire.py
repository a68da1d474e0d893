"""Screen capture on Wayland: the ScreenCast portal's PipeWire stream through GStreamer.

:meth:`PipeWireSource._open` asks the portal (``_portal.py``) for a stream - the user picks a
screen once; the restore token keeps the choice - and plays::

    pipewiresrc fd=FD path=NODE do-timestamp=true ! videoconvert ! video/x-raw,format=BGRx
        ! appsink max-buffers=1 drop=true sync=false

The appsink keeps only the newest frame, so the compositor's rate (the output's refresh) and
the recorder's locked grid stay independent: each grab returns the **latest** frame; when none
came since the last grab (a static screen, a grid faster than the output) it returns the same
pixels again with the same sequence number (:attr:`PipeWireSource.repeated_grabs` counts them;
the session's ``repeated`` array and ``capture.repeated_frames`` are the recorder's count of
the rows it kept, docs/format.md).

**Stamps** (:meth:`last_stamp`): a buffer's ``pts + base_time`` is the compositor's copy time
on the pipeline clock, which for PipeWire is CLOCK_MONOTONIC, the clock of
``time.monotonic_ns()`` (checked on the first frame: a stamp more than a second away from now
is dropped and ``details["stamp_clock"]`` says so); ``offset`` is PipeWire's gapless sequence
number (a counter where the buffer has none).

**Cropping**: a portal on wlroots (and often elsewhere) casts whole outputs; the frames are
cropped to the target region in the compositor's layout coordinates, minus the output's
position from the portal's stream properties. A region partly outside the stream is black
there, as with mss, so the frame keeps the region's size; a frame size change (a mode change)
needs nothing more. Logical scale 1 is assumed (a scaled output's frames are in physical
pixels). A stream the user **picked** while the target was resolved (``PipeWireConfig.picked``,
``_portalpick.py``: GNOME/KDE without ``--region``) is read whole: its target region is
``(0, 0, w, h)`` and each frame's size goes back to the pick, whose target follows it through
the recorder's resize path.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..errors import CaptureError, DependencyError, missing_dependency
from ._portal import MONITOR, WINDOW, PortalGrant, ScreenCastPortal
from .base import (
    BackendConfig,
    CaptureSettings,
    CaptureTarget,
    Frame,
    FrameSource,
    FrameStamp,
    Region,
)

if TYPE_CHECKING:
    from ._portalpick import PickedStream

__all__ = ["PipeWireConfig", "PipeWireSource", "crop_to_region", "pipeline_description"]

log = logging.getLogger(__name__)

ENDED_POLL_NS = 250_000_000
"""How often a grab asks the portal whether the cast was stopped."""
STAMP_SLACK_NS = 1_000_000_000
"""A first frame stamped further than this from now is not on our clock: stamps are dropped."""
_OFFSET_NONE = 2**64 - 1  # GST_BUFFER_OFFSET_NONE
_CLOCK_NONE = 2**64 - 1  # GST_CLOCK_TIME_NONE
_SOURCE_TYPES = {MONITOR: "monitor", WINDOW: "window"}


@dataclass(frozen=True)
class PipeWireConfig(BackendConfig):
    """The PipeWire backend's options.

    Attributes:
        portal_reset: ignore the stored restore token (the portal's picker shows) and replace
            it (``record --portal-reset``).
        first_frame_timeout_s: how long :meth:`PipeWireSource.warm_up` waits for a frame.
        pick_timeout_s: how long the portal's picker may stay open.
        picked: a portal session already open (:class:`~._portalpick.PickedStream`: the user
            picked while the target was resolved): its stream is read whole, uncropped, and
            the dialog does not show again.
    """

    portal_reset: bool = False
    first_frame_timeout_s: float = 5.0
    pick_timeout_s: float = 300.0
    picked: PickedStream | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: CaptureSettings) -> PipeWireConfig:
        """``--portal-reset`` from the shared settings."""
        return cls(portal_reset=settings.portal_reset)


def pipeline_description(fd: int, node: int) -> str:
    """The GStreamer pipeline of a portal stream (the appsink is named ``sink``)."""
    return (f"pipewiresrc fd={int(fd)} path={int(node)} do-timestamp=true ! videoconvert ! "
            "video/x-raw,format=BGRx ! appsink name=sink max-buffers=1 drop=true sync=false "
            "emit-signals=false")


def crop_to_region(frame: Frame, origin: tuple[int, int], region: Region) -> Frame:
    """The part of ``frame`` (whose top-left sits at ``origin``) under ``region``, as a new array.

    Pixels of the region outside the frame are black, so the result is always region-sized.
    """
    height, width = frame.shape[:2]
    shown = Region.from_xywh(origin[0], origin[1], width, height)
    if region.within(shown):
        x, y = region.left - origin[0], region.top - origin[1]
        return frame[y:y + region.height, x:x + region.width].copy()
    canvas = np.zeros((region.height, region.width, frame.shape[2]), dtype=np.uint8)
    part = region.intersection(shown)
    if part is not None:
        canvas[part.top - region.top:part.bottom - region.top,
               part.left - region.left:part.right - region.left] = \
            frame[part.top - origin[1]:part.bottom - origin[1],
                  part.left - origin[0]:part.right - origin[0]]
    return canvas


def _one_unwinder() -> None:
    """Put libgcc_s in the process's global symbol scope before GStreamer's libraries load.

    PyGObject opens libgstreamer with RTLD_GLOBAL, which brings its dependency libunwind.so.8
    into the global scope, and libunwind exports ``_Unwind_Resume`` and its kin too. A C++
    library that binds one of them for the first time after that (pyarrow, OpenCV, PyAV, all
    loaded RTLD_LOCAL by Python) gets libunwind's, while ``__cxa_throw`` in libstdc++ may already
    be bound to libgcc_s's: the two unwinders meet in one exception and the process aborts
    (SIGABRT) at the next C++ exception, e.g. pyarrow reading a damaged chunk while ``record``
    merges in the same process. With libgcc_s global first, every later lookup finds it first.
    """
    if sys.platform != "linux":
        return
    import ctypes

    with contextlib.suppress(OSError):  # a libc without libgcc_s (musl): nothing to mix
        ctypes.CDLL("libgcc_s.so.1", mode=ctypes.RTLD_GLOBAL)


def _gst() -> Any:
    """GStreamer through PyGObject, initialised; translated when missing."""
    _one_unwinder()
    try:
        import gi
    except ImportError as exc:
        raise missing_dependency("PyGObject", "wayland", "Wayland screen capture") from exc
    try:
        gi.require_version("Gst", "1.0")
        from gi.repository import Gst
    except (ValueError, ImportError) as exc:
        raise DependencyError("Wayland screen capture needs GStreamer's introspection data: "
                              "install gir1.2-gstreamer-1.0 (Debian/Ubuntu) or "
                              "gstreamer1-devel's typelibs") from exc
    if not Gst.is_initialized():
        Gst.init(None)
    return Gst


class PipeWireSource(FrameSource):
    """Frames of a portal's PipeWire stream, cropped to the target region.

    Args:
        target: a region (cropped from the picked monitor) or a stream (the picked monitor
            or window whole).
        config: :class:`PipeWireConfig`.
        portal: builds the portal session from (source types, config) (tests pass a fake).
        pipeline: the pipeline description of (fd, node) (tests play ``videotestsrc``).
    """

    name = "pipewire"
    targets = frozenset({"region", "stream"})
    config_type = PipeWireConfig
    stamp_source = "pipewire-pts"

    @classmethod
    def from_target(cls, target: CaptureTarget, config: BackendConfig) -> PipeWireSource:
        """A source of ``target`` with ``config``."""
        return cls(target, config if isinstance(config, PipeWireConfig) else PipeWireConfig())

    def __init__(self, target: Region | CaptureTarget,
                 config: PipeWireConfig | None = None, *,
                 portal: Callable[[int, PipeWireConfig], Any] | None = None,
                 pipeline: Callable[[int, int], str] = pipeline_description) -> None:
        super().__init__(target)
        self.config = config or PipeWireConfig()
        self._portal_factory = portal or (lambda types, cfg: ScreenCastPortal(
            types, reset=cfg.portal_reset, pick_timeout_s=cfg.pick_timeout_s))
        self._describe = pipeline
        self._portal: Any = None
        self._grant: PortalGrant | None = None
        self._pipeline: Any = None
        self._sink: Any = None
        self._bus: Any = None
        self._gst: Any = None
        self._origin = (0, 0)
        self._full: Frame | None = None  # the newest whole frame (BGRx), ours
        self._stamp: FrameStamp | None = None
        self._counter = 0
        self._stamps_ok: bool | None = None
        self._next_poll = 0
        self.repeated_grabs = 0  # grabs that found no new frame (meta.json counts rows instead)

    # -- FrameSource hooks -----------------------------------------------------------------
    def _open(self) -> None:
        self._gst = gst = _gst()
        if gst.ElementFactory.find("pipewiresrc") is None and self._describe is \
                pipeline_description:
            raise DependencyError("GStreamer has no pipewiresrc element: install "
                                  "gstreamer1.0-pipewire")
        picked = self.config.picked
        if picked is not None:  # the session target resolution opened: no second dialog
            self._portal = picked
        else:
            types = MONITOR if self.target.kind == "region" else MONITOR | WINDOW
            self._portal = self._portal_factory(types, self.config)
        grant = self._grant = self._portal.start()
        try:
            stream = grant.streams[0]
            if picked is not None:  # the whole stream: its region is (0, 0, w, h)
                self._origin = (0, 0)
            elif stream.position is not None:
                self._origin = stream.position
            elif self.target.kind == "stream":  # a window: its frames are the region
                self._origin = (self.region.left, self.region.top)
            self.details.update(
                portal_version=grant.version, node_id=stream.node_id,
                stream_size=list(stream.size) if stream.size else None,
                stream_position=list(stream.position) if stream.position else None,
                source_type=_SOURCE_TYPES.get(stream.source_type or 0),
                restore_token_used=grant.restore_token_used,
                restore_token_stored=grant.restore_token_stored)
            self._start_pipeline(gst, self._describe(grant.fd, stream.node_id))
        except BaseException:
            self._close()
            raise

    def _start_pipeline(self, gst: Any, description: str) -> None:
        try:
            self._pipeline = gst.parse_launch(description)
        except Exception as exc:  # GLib.Error
            raise CaptureError(f"GStreamer could not build the PipeWire pipeline: {exc}") \
                from exc
        self._sink = self._pipeline.get_by_name("sink")
        self._bus = self._pipeline.get_bus()
        if self._pipeline.set_state(gst.State.PLAYING) == gst.StateChangeReturn.FAILURE:
            self._check_bus()
            raise CaptureError("the PipeWire stream would not start (GStreamer refused PLAYING)")

    def warm_up(self) -> None:
        """Wait for the first frame (up to ``first_frame_timeout_s``), then grab once."""
        self._ready()
        if self._full is None:
            self._pull(self.config.first_frame_timeout_s)
        self.grab()
        self.repeated_grabs = 0  # count the recording's grabs only
        self._check_overlap()

    def _check_overlap(self) -> None:
        """Refuse a picked screen that does not show the target (its frames would be black)."""
        if self._full is None or self.target.kind == "stream":
            return
        height, width = self._full.shape[:2]
        shown = Region.from_xywh(self._origin[0], self._origin[1], width, height)
        if not self.region.overlaps(shown):
            raise CaptureError(
                f"the screen picked in the portal's dialog shows {shown.to_list()}, none of the "
                f"target {self.region.to_list()}: run again with --portal-reset and pick the "
                "screen the game is on")
        if not self.region.within(shown):
            log.warning("the picked screen shows %s, part of the target %s: the rest is black",
                        shown.to_list(), self.region.to_list())

    def last_stamp(self) -> FrameStamp | None:
        """Compositor time and PipeWire sequence of the frame the last grab returned."""
        return self._stamp

    def _grab(self) -> Frame:
        import cv2

        return cast(Frame, cv2.cvtColor(self._grab_raw(), cv2.COLOR_BGRA2BGR))

    def _grab_raw(self) -> Frame:
        self._check_bus()
        now = time.monotonic_ns()
        if now >= self._next_poll:
            self._next_poll = now + ENDED_POLL_NS
            why = self._portal.ended() if hasattr(self._portal, "ended") else None
            if why:
                raise CaptureError(f"the PipeWire stream (node {self.details.get('node_id')}) "
                                   f"ended: {why}")
        if not self._pull(0.0 if self._full is not None
                          else self.config.first_frame_timeout_s):
            self.repeated_grabs += 1
        assert self._full is not None
        return crop_to_region(self._full, self._origin, self.region)

    def _close(self) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.set_state(self._gst.State.NULL)
        self._sink = self._bus = None
        portal, self._portal = self._portal, None
        if portal is not None:
            portal.close()
        grant, self._grant = self._grant, None
        if grant is not None:
            import os

            try:
                os.close(grant.fd)
            except OSError as exc:
                log.debug("closing the PipeWire remote fd: %s", exc)
        self._full = None

    # -- helpers ---------------------------------------------------------------------------
    def _pull(self, timeout_s: float) -> bool:
        """Take the newest frame if one came (waiting up to ``timeout_s`` when none is kept).

        Returns whether a new frame came. Raises CaptureError when the first frame never does.
        """
        gst = self._gst
        sample = self._sink.emit("try-pull-sample", int(timeout_s * gst.SECOND))
        if sample is None:
            if self._full is None:
                self._check_bus()
                node = self.details.get("node_id")
                raise CaptureError(f"no frame from PipeWire node {node} in "
                                   f"{timeout_s:g} s: nothing moved on the picked screen or "
                                   "window (wlroots compositors send a frame only when "
                                   "something changes: start the game first), or the "
                                   "compositor stopped casting")
            return False
        buffer = sample.get_buffer()
        caps = sample.get_caps().get_structure(0)
        width, height = int(caps.get_value("width")), int(caps.get_value("height"))
        data = buffer.extract_dup(0, buffer.get_size())
        stride = len(data) // height
        frame = np.frombuffer(data, dtype=np.uint8).reshape(height, stride)
        self._full = frame[:, :width * 4].reshape(height, width, 4)
        if self.config.picked is not None:  # the target's refresh follows a size change
            self.config.picked.size = (width, height)
        self._counter += 1
        seq = int(buffer.offset) if buffer.offset != _OFFSET_NONE else self._counter
        self._stamp = FrameStamp(self._os_ns(buffer), seq)
        return True

    def _os_ns(self, buffer: Any) -> int | None:
        pts = int(buffer.pts)
        if pts == _CLOCK_NONE:
            return None
        os_ns = pts + int(self._pipeline.get_base_time())
        if self._stamps_ok is None:  # the first frame: is this our clock?
            gap = time.monotonic_ns() - os_ns
            self._stamps_ok = abs(gap) < STAMP_SLACK_NS
            self.details["stamp_clock"] = "monotonic" if self._stamps_ok else "unknown"
            if not self._stamps_ok:
                log.warning("PipeWire frame times are %.3f s away from CLOCK_MONOTONIC; not "
                            "storing them", gap / 1e9)
        return os_ns if self._stamps_ok else None

    def _check_bus(self) -> None:
        """Raise the stream's end or error as one line."""
        gst = self._gst
        if self._bus is None:
            return
        msg = self._bus.pop_filtered(gst.MessageType.ERROR | gst.MessageType.EOS)
        if msg is None:
            return
        node = self.details.get("node_id")
        if msg.type == gst.MessageType.EOS:
            raise CaptureError(f"the PipeWire stream (node {node}) ended: the screen cast "
                               "was stopped or the picked window closed")
        err, _debug = msg.parse_error()
        raise CaptureError(f"the PipeWire stream (node {node}) failed: {err.message}; the "
                           "screen cast was stopped or the compositor went away")
