"""The calls into the ``windows-capture`` package (Windows Graphics Capture), and its failures.

:class:`RealWgcApi` is the thin layer the WGC source (``_wgc.py``) talks to: it checks the
Windows build, imports ``windows_capture`` lazily, starts a capture on the library's own thread
(``WindowsCapture.start_free_threaded``) and translates every failure into
:class:`WgcUnavailable`, whose ``short`` is the one-line reason the ``auto`` chain prints.

Facts from windows-capture 2.0.1's sources (Python wrapper ``windows_capture/__init__.py``,
Rust ``windows-capture-python/src/lib.rs``, ``src/graphics_capture_api.rs``, ``src/frame.rs``):

* ``Frame.timespan`` is ``Direct3D11CaptureFrame.SystemRelativeTime().Duration``: a TimeSpan,
  in **100-ns units of the QPC timeline** ("the QPC time at which the compositor rendered the
  frame"); :meth:`QpcClock.hundred_ns_to_ns` maps it onto the recording's clock.
* ``Frame.frame_buffer`` is a zero-copy view of a mapped D3D staging texture (BGRA, rows padded
  to the row pitch): it must be copied before the callback returns.
* Setting ``cursor_capture``/``draw_border``/``minimum_update_interval`` to anything but None on a
  build whose ``GraphicsCaptureSession`` lacks the property does not degrade: the whole start
  fails ("Toggling the capture border is not supported by the Graphics Capture API on this
  platform."). So we ask only for what the build has (:func:`wgc_features`) and pass None
  otherwise; ``details`` records what was asked.
* Start-up errors come back synchronously from ``start_free_threaded`` as a plain ``Exception``
  ("Capture session threw an exception: ..."); an exception raised inside our frame callback
  stops the capture thread, so the callback never raises (``_wgc.py``).
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import CaptureError, PlatformError, missing_dependency
from .base import Frame, Region

if TYPE_CHECKING:
    from ._qpc import QpcClock

__all__ = [
    "BORDER_BUILD",
    "CURSOR_BUILD",
    "MIN_BUILD",
    "MIN_UPDATE_INTERVAL_BUILD",
    "RealWgcApi",
    "WgcApi",
    "WgcFeatures",
    "WgcRequest",
    "WgcSession",
    "WgcUnavailable",
    "classify_wgc_error",
    "wgc_features",
]

log = logging.getLogger(__name__)

GDI_ADVICE = "use --capture-backend gdi (slower, works everywhere)"
# Windows builds that brought each part (Microsoft's API pages, "Windows requirements"):
MIN_BUILD = 18362  # 1903: UniversalApiContract 8, CreateForWindow/CreateForMonitor (HWND)
CURSOR_BUILD = 19041  # 2004: GraphicsCaptureSession.IsCursorCaptureEnabled
BORDER_BUILD = 20348  # 2104 (Server 2022 / Windows 11): IsBorderRequired
MIN_UPDATE_INTERVAL_BUILD = 26100  # 24H2: MinUpdateInterval
_DWMWA_EXTENDED_FRAME_BOUNDS = 9
_SHORTS = (  # windows-capture's messages -> our one line
    ("not supported on this platform", "Windows Graphics Capture is not supported here"),
    ("Failed to create dispatcher queue", "Windows Graphics Capture could not start its "
                                          "dispatcher queue"),
    ("Failed to convert item", "Windows Graphics Capture refused the window (closed, "
                               "minimised or not capturable)"),
    ("DirectX error", "Windows Graphics Capture could not create its Direct3D device"),
)


class WgcUnavailable(CaptureError):
    """Windows Graphics Capture failed; ``short`` is the one-line reason (for the auto chain).

    ``target_ended``: the window closed or the monitor went, so no other backend can take over
    (the auto chain ends the recording instead of switching; capture/_chain.py).
    """

    def __init__(self, message: str, short: str, *, target_ended: bool = False) -> None:
        super().__init__(message)
        self.short = short
        self.target_ended = target_ended


def classify_wgc_error(exc: BaseException, action: str) -> WgcUnavailable:
    """Translate an exception of windows-capture into :class:`WgcUnavailable` with advice."""
    text = str(exc) or type(exc).__name__
    short = next((line for needle, line in _SHORTS if needle in text),
                 f"Windows Graphics Capture could not {action}: {text.splitlines()[0][:160]}")
    return WgcUnavailable(f"{short} ({text.strip()}); {GDI_ADVICE}", short)


@dataclass(frozen=True)
class WgcFeatures:
    """What this Windows build's ``GraphicsCaptureSession`` lets us switch."""

    build: int
    cursor_toggle: bool
    border_toggle: bool
    min_update_interval: bool


def wgc_features(build: int) -> WgcFeatures:
    """The features of Windows build ``build``.

    Raises:
        WgcUnavailable: WGC by window handle needs build 18362 (Windows 10 1903).
    """
    if build < MIN_BUILD:
        short = (f"Windows Graphics Capture needs Windows 10 1903 or later "
                 f"(this is build {build})")
        raise WgcUnavailable(f"{short}; {GDI_ADVICE}", short)
    return WgcFeatures(build, build >= CURSOR_BUILD, build >= BORDER_BUILD,
                       build >= MIN_UPDATE_INTERVAL_BUILD)


@dataclass(frozen=True)
class WgcRequest:
    """One capture to start: a window by handle or a monitor (1-based, EnumDisplayMonitors order).

    ``cursor_capture``, ``draw_border`` and ``minimum_update_interval_ms`` are passed to
    ``WindowsCapture`` as they are: None leaves Windows' default.
    """

    window_hwnd: int | None
    monitor_index: int | None
    cursor_capture: bool | None
    draw_border: bool | None
    minimum_update_interval_ms: int | None


class WgcSession(Protocol):
    """A running capture (windows-capture's ``CaptureControl``)."""

    def stop(self) -> None:
        """Stop the capture thread and join it."""


OnFrame = Callable[[Frame, int], None]
"""Called on the library's thread with the BGRA view and ``timespan`` of each new frame."""


class WgcApi(Protocol):
    """The calls into windows-capture and Win32 the WGC source makes; tests pass a fake."""

    features: WgcFeatures

    def start(self, request: WgcRequest, on_frame: OnFrame,
              on_closed: Callable[[], None]) -> WgcSession:
        """Start capturing on the library's thread; frames go to ``on_frame``."""

    def window_rect(self, hwnd: int) -> Region | None:
        """The window's visible bounds (what WGC frames show), in desktop pixels."""

    def monitors(self) -> list[Region]:
        """The monitors' rectangles, in EnumDisplayMonitors order (index 0 is monitor 1)."""

    def clock(self) -> QpcClock:
        """The QPC-to-recording-clock rule (capture/_qpc.py), measured now."""


class RealWgcApi:
    """Thin layer over ``windows_capture`` (2.0.x); the parts a test replaces are arguments.

    Args:
        module: the ``windows_capture`` module (default: imported here).
        build: the Windows build (default: ``sys.getwindowsversion().build``).

    Raises:
        PlatformError: not Windows.
        WgcUnavailable: the build is too old, or the package would not load.
        DependencyError: ``windows-capture`` is not installed.
    """

    def __init__(self, module: Any = None, build: int | None = None) -> None:
        if build is None:
            if sys.platform != "win32":
                raise PlatformError("the wgc capture backend (Windows Graphics Capture) needs "
                                    "Windows: use --capture-backend mss")
            build = int(sys.getwindowsversion().build)
        self.features = wgc_features(build)
        if module is None:
            module = _import_windows_capture()
        self._wc: Any = module

    def start(self, request: WgcRequest, on_frame: OnFrame,
              on_closed: Callable[[], None]) -> WgcSession:
        """Build a ``WindowsCapture`` for ``request`` and start it on its own thread."""
        what = (f"capture window {request.window_hwnd:#x}" if request.window_hwnd is not None
                else f"capture monitor {request.monitor_index}")
        try:
            capture = self._wc.WindowsCapture(
                cursor_capture=request.cursor_capture, draw_border=request.draw_border,
                minimum_update_interval=request.minimum_update_interval_ms,
                monitor_index=request.monitor_index, window_hwnd=request.window_hwnd)

            # windows-capture picks the handlers by their function names.
            def on_frame_arrived(frame: Any, control: Any) -> None:
                del control
                on_frame(frame.frame_buffer, int(frame.timespan))

            def on_closed_handler() -> None:
                on_closed()

            on_closed_handler.__name__ = "on_closed"
            capture.event(on_frame_arrived)
            capture.event(on_closed_handler)
            session: WgcSession = capture.start_free_threaded()
        except Exception as exc:
            raise classify_wgc_error(exc, what) from exc
        return session

    def window_rect(self, hwnd: int) -> Region | None:
        """``DwmGetWindowAttribute(DWMWA_EXTENDED_FRAME_BOUNDS)``, else ``GetWindowRect``."""
        return _window_rect(hwnd)

    def monitors(self) -> list[Region]:
        """The monitors as mss lists them: EnumDisplayMonitors order, as ``monitor_index``."""
        from ._mss import monitor_regions

        return monitor_regions()[1:]

    def clock(self) -> QpcClock:
        """:meth:`QpcClock.measure` (capture/_qpc.py)."""
        from ._qpc import QpcClock

        return QpcClock.measure()


def _import_windows_capture() -> Any:
    try:
        import windows_capture
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name in ("windows_capture", None):
            raise missing_dependency("windows-capture", "windows",
                                     "Windows Graphics Capture") from exc
        # The package is there but its native part (or cv2) would not load.
        raise classify_wgc_error(exc, "load windows-capture") from exc
    except Exception as exc:
        raise classify_wgc_error(exc, "load windows-capture") from exc
    return windows_capture


def _window_rect(hwnd: int) -> Region | None:  # pragma: no cover - Windows only
    if sys.platform != "win32":
        return None
    import ctypes.wintypes as wt

    rect = wt.RECT()
    try:
        dwm = ctypes.WinDLL("dwmapi")
        ok = int(dwm.DwmGetWindowAttribute(wt.HWND(hwnd), _DWMWA_EXTENDED_FRAME_BOUNDS,
                                           ctypes.byref(rect), ctypes.sizeof(rect))) == 0
    except OSError:
        ok = False
    if not ok and not ctypes.WinDLL("user32").GetWindowRect(wt.HWND(hwnd), ctypes.byref(rect)):
        return None
    if rect.right <= rect.left or rect.bottom <= rect.top:
        return None
    return Region(int(rect.left), int(rect.top), int(rect.right), int(rect.bottom))
