"""The frame-source base class, the capture region and the capture target.

A backend only opens, grabs and closes (the python-mss split): timing, stats, chunking and the
status line belong to the recorder. :meth:`FrameSource.grab` returns a contiguous ``(H, W, 3)``
uint8 **BGR** array (OpenCV order; convert BGRA with ``cv2.cvtColor``, never channel slicing)
that the caller may keep: a backend must not reuse its buffer for the next grab.

What a backend grabs is a :class:`CaptureTarget`: a desktop region (every backend today), a
window by its OS handle (Windows Graphics Capture by HWND) or a stream the OS hands out (a
PipeWire/portal node on Wayland). A backend says which kinds it takes in
:attr:`FrameSource.targets`; its options are one small frozen :class:`BackendConfig` subclass
built from the shared :class:`CaptureSettings` (docs/extending.md "A capture backend").
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from numbers import Integral
from types import TracebackType
from typing import Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt

from ..bounds import INT32_MAX, INT32_MIN
from ..errors import CaptureError, ConfigError

__all__ = [
    "MAX_REGION_SIDE",
    "TARGET_KINDS",
    "BackendConfig",
    "CaptureSettings",
    "CaptureTarget",
    "Frame",
    "FrameSource",
    "FrameStamp",
    "Region",
    "TargetKind",
]

Frame = npt.NDArray[np.uint8]
# The largest side of a region to capture (``--region``): 16384 px, past every single display
# (8K is 7680) and every capture API's texture limit. A Region itself (a window's, a virtual
# desktop's) only needs coordinates that fit in int32, the OS APIs' type.
MAX_REGION_SIDE = 16384


@dataclass(frozen=True)
class Region:
    """A screen rectangle in desktop pixels: ``left, top`` inclusive, ``right, bottom`` exclusive.

    This is the original tool's ``--region L T R B`` (and DXCam's region) convention.
    """

    left: int
    top: int
    right: int
    bottom: int

    def __post_init__(self) -> None:
        corners = (self.left, self.top, self.right, self.bottom)
        if not all(isinstance(c, Integral) and INT32_MIN <= c <= INT32_MAX for c in corners):
            raise ConfigError(
                f"region {' '.join(map(str, corners))}: each coordinate must be a whole number "
                f"of pixels in {INT32_MIN}..{INT32_MAX} (int32)")
        if self.right <= self.left or self.bottom <= self.top:
            raise ConfigError(
                f"region {self.left} {self.top} {self.right} {self.bottom} is empty or inverted: "
                "give LEFT TOP RIGHT BOTTOM with RIGHT > LEFT and BOTTOM > TOP"
            )

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.right - self.left

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.bottom - self.top

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.width, self.height

    def to_mss(self) -> dict[str, int]:
        """The monitor dict mss grabs."""
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}

    def to_list(self) -> list[int]:
        """[left, top, right, bottom] for meta.json."""
        return [self.left, self.top, self.right, self.bottom]

    def within(self, other: Region) -> bool:
        """True when this region lies entirely inside ``other``."""
        return (self.left >= other.left and self.top >= other.top
                and self.right <= other.right and self.bottom <= other.bottom)

    def overlaps(self, other: Region) -> bool:
        """True when the two regions share at least one pixel."""
        return (self.left < other.right and other.left < self.right
                and self.top < other.bottom and other.top < self.bottom)

    def intersection(self, other: Region) -> Region | None:
        """The part of this region inside ``other``; None when they do not overlap."""
        if not self.overlaps(other):
            return None
        return Region(max(self.left, other.left), max(self.top, other.top),
                      min(self.right, other.right), min(self.bottom, other.bottom))

    @classmethod
    def from_xywh(cls, x: int, y: int, w: int, h: int) -> Region:
        """Build from position and size."""
        return cls(x, y, x + w, y + h)


TargetKind = Literal["region", "window", "stream"]
TARGET_KINDS: tuple[TargetKind, ...] = ("region", "window", "stream")


@dataclass(frozen=True)
class CaptureTarget:
    """What to capture: a desktop region, a window by OS handle, or an OS-provided stream.

    Attributes:
        region: the desktop pixels the frames cover now (a window's client area; for a stream,
            the rectangle it shows). Every target has one: it sizes the frames and goes to
            ``meta.json``, and a region-only backend grabs it when given a window.
        kind: ``region``, ``window`` or ``stream``.
        handle: the window's handle (HWND, X window id) or the stream's id (a PipeWire node);
            None for a region.
    """

    region: Region
    kind: TargetKind = "region"
    handle: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ConfigError(f"capture target kind '{self.kind}': choose one of "
                              f"{', '.join(TARGET_KINDS)}")
        if (self.kind == "region") != (self.handle is None):
            raise ConfigError(f"a {self.kind} capture target "
                              + ("takes no handle" if self.kind == "region" else "needs a handle"))

    @classmethod
    def of_region(cls, region: Region) -> CaptureTarget:
        """A fixed desktop region."""
        return cls(region)

    @classmethod
    def of_window(cls, handle: int, region: Region) -> CaptureTarget:
        """A window by OS handle; ``region`` is its client area now."""
        return cls(region, "window", int(handle))

    @classmethod
    def of_stream(cls, handle: int, region: Region) -> CaptureTarget:
        """A stream the OS handed out (e.g. a portal's PipeWire node) showing ``region``."""
        return cls(region, "stream", int(handle))


@dataclass(frozen=True)
class FrameStamp:
    """The OS's facts about one grabbed frame.

    Attributes:
        os_ns: when the OS made the frame (composed or copied it), on the recording's clock
            (:func:`nitrogen_capture.clock.now_ns`: CLOCK_MONOTONIC, QPC on Windows); None when
            the source does not say.
        seq: the source's frame sequence number; a repeat has the seq of the previous grab.
    """

    os_ns: int | None
    seq: int | None


@dataclass(frozen=True)
class CaptureSettings:
    """The capture settings a recording has, whichever backend it ends up with.

    Attributes:
        seed: ``--seed`` (the synthetic pattern's texture).
        synthetic_repeat: ``--synthetic-repeat``: every Nth synthetic frame repeats the one
            before (0: none).
        monitor: ``--monitor``, numbered as in mss (1 is the first monitor; None or 0: none).
        portal_reset: ``--portal-reset``: ignore the Wayland portal's stored restore token (the
            picker shows again) and replace it.
        fps: the recording's target frame rate (``--fps``), for backends that pace themselves
            (WGC's minimum update interval); None when unknown.
    """

    seed: int = 0
    synthetic_repeat: int = 0
    monitor: int | None = None
    portal_reset: bool = False
    fps: float | None = None


@dataclass(frozen=True)
class BackendConfig:
    """A backend's typed options; each backend subclasses it (frozen) with its own fields."""

    @classmethod
    def from_settings(cls, settings: CaptureSettings) -> Self:
        """The backend's options from the shared settings (default: none of them)."""
        del settings
        return cls()


class FrameSource(ABC):
    """A source of frames of one target. Use as a context manager; :meth:`close` is idempotent.

    Attributes:
        name: backend name stored in ``meta.json`` (``mss``, ``dxcam``, ``synthetic``...).
        targets: the :class:`CaptureTarget` kinds the backend grabs itself (class attribute).
        config_type: the backend's :class:`BackendConfig` subclass (class attribute).
        stamp_source: what :meth:`last_stamp` times frames by (``pipewire-pts``), or None.
        details: backend facts for ``meta.json`` (e.g. ``{"xshm": False}`` on the slow path).
        target: what the source grabs; ``region`` is ``target.region``.
    """

    name: str = "base"
    targets: ClassVar[frozenset[TargetKind]] = frozenset({"region"})
    config_type: ClassVar[type[BackendConfig]] = BackendConfig
    stamp_source: ClassVar[str | None] = None

    def __init__(self, region: Region | CaptureTarget) -> None:
        self.target = region if isinstance(region, CaptureTarget) else CaptureTarget(region)
        self.region = self.target.region
        self.details: dict[str, Any] = {}
        self._opened = False
        self._closed = False

    def open(self) -> FrameSource:
        """Acquire OS resources. Called once by the thread that will grab."""
        if not self._opened:
            self._open()
            self._opened = True
        return self

    def grab(self) -> Frame:
        """Return the current content of the region as (H, W, 3) uint8 BGR."""
        self._ready()
        return self._grab()

    def grab_raw(self) -> Frame:
        """The region as (H, W, 3) BGR or (H, W, 4) BGRA (4th byte unused), as the OS gave it.

        For a caller that copies the frame on at once (the recorder into the encoder pool,
        which converts while it copies): it saves a pass over the pixels, about 0.6 ms of the
        capture thread's 3 ms per frame at 720p60 (docs/architecture.md). The frame is
        still the caller's to keep.
        """
        self._ready()
        return self._grab_raw()

    def _ready(self) -> None:
        """Open on first use; refuse once closed."""
        if not self._opened:
            self.open()
        if self._closed:
            raise CaptureError(f"{self.name} capture is closed")

    def last_stamp(self) -> FrameStamp | None:
        """The OS's stamp of the frame the last grab returned (None: the source gives none)."""
        return None

    def warm_up(self) -> None:
        """Grab once and throw the frame away, before the clock starts.

        First-use costs (XShm segments, buffers, lazy library set-up) would otherwise make the
        first frame late and skew the achieved-fps figure.
        """
        self.grab()

    @classmethod
    def from_target(cls, target: CaptureTarget, config: BackendConfig) -> FrameSource:
        """Build an unopened source of ``target`` (one of :attr:`targets`) with ``config``.

        The default fits a region backend without options: ``cls(target.region)``. A backend
        with options, or one that grabs windows or streams, overrides it.
        """
        del config
        return cls(target.region)

    def set_region(self, region: Region) -> None:
        """Follow a moved or resized window; the next grab uses the new region."""
        self.region = region
        self.target = dataclasses.replace(self.target, region=region)

    def close(self) -> None:
        """Release OS resources; safe to call twice."""
        if self._opened and not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> FrameSource:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.close()
        except CaptureError:
            if exc is None:
                raise

    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _grab(self) -> Frame: ...

    def _grab_raw(self) -> Frame:
        """BGR or BGRA (default: :meth:`_grab`); backends that get BGRA override it."""
        return self._grab()

    def _close(self) -> None:  # noqa: B027 - optional hook
        """Release OS resources (default: nothing)."""
