"""A fake ``windows_capture`` module (windows-capture 2.0.1's Python API) over a fake desktop.

Built from the real package's sources (``windows_capture/__init__.py`` and the Rust
``windows-capture-python/src/lib.rs``), not copied: ``WindowsCapture`` takes the same keyword
arguments and refuses two targets with the same message, picks its handlers by function name
(``event``), and ``start_free_threaded`` returns a ``CaptureControl`` whose ``stop`` joins the
capture thread. Frames reach ``on_frame_arrived`` on that thread as ``Frame(frame_buffer,
width, height, timespan)``: ``frame_buffer`` a BGRA view with rows padded to a row pitch (as
the mapped texture is), valid only during the callback (the fake scribbles over it afterwards,
as an unmapped texture would be gone), ``timespan`` the fake QPC time in 100-ns units
(SystemRelativeTime). A toggle the fake build lacks fails the start with the library's message.

Tests drive the thread: :meth:`FakeDesktop.deliver` makes WGC deliver one frame of the target
and waits until the callback returned; :meth:`FakeDesktop.close_window` fires ``on_closed``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nitrogen_capture.capture import _wgc
from nitrogen_capture.capture._qpc import QpcClock
from nitrogen_capture.capture._wgc_api import RealWgcApi
from nitrogen_capture.capture.base import Region
from nitrogen_capture.clock import now_ns

TITLE_BAR = 31  # rows of title bar in a fake window frame
BORDER = 1  # its side and bottom borders
QPC_OFFSET_NS = 5_000_000_000  # the fake QPC's 0 is the recording clock's 5 s
START_ERROR = "Capture session threw an exception: Graphics capture error: {}"
UNSUPPORTED = "The Graphics Capture API is not supported on this platform."
CURSOR_UNSUPPORTED = ("Toggling cursor capture is not supported by the Graphics Capture API on "
                      "this platform.")
BORDER_UNSUPPORTED = ("Toggling the capture border is not supported by the Graphics Capture API "
                      "on this platform.")


@dataclass
class FakeWindow:
    """A top-level window: its client area (desktop pixels) and what it shows."""

    client: Region
    level: int = 10  # the client area's pixel value (B, G, R all this); frames add their number
    occluded: bool = False  # another window covers it on screen (WGC does not care)
    closed: bool = False

    @property
    def bounds(self) -> Region:
        """The window's visible bounds (DWM extended frame bounds): what a WGC frame shows."""
        c = self.client
        return Region(c.left - BORDER, c.top - TITLE_BAR, c.right + BORDER, c.bottom + BORDER)

    def move_to(self, left: int, top: int) -> None:
        self.client = Region.from_xywh(left, top, self.client.width, self.client.height)

    def resize(self, width: int, height: int) -> None:
        self.client = Region.from_xywh(self.client.left, self.client.top, width, height)


@dataclass
class FakeDesktop:
    """Monitors, windows, the Windows build and the fake QPC (100-ns units)."""

    monitors: list[Region] = field(default_factory=lambda: [Region(0, 0, 1280, 800)])
    windows: dict[int, FakeWindow] = field(default_factory=dict)
    build: int = 26100
    qpc_100ns: int = 10_000_000
    start_error: str | None = None  # the start fails with START_ERROR of this text
    realtime: bool = False  # QPC follows clock.now_ns (a recording's OS times then hold)
    captures: list[FakeWindowsCapture] = field(default_factory=list)
    frames_made: int = 0

    def clock(self) -> QpcClock:
        """The QPC rule of this desktop: its QPC 0 is the recording clock's QPC_OFFSET_NS."""
        return QpcClock(frequency=10_000_000, offset_ns=QPC_OFFSET_NS)

    def image(self, capture: FakeWindowsCapture) -> np.ndarray:
        """BGRA of what WGC shows for ``capture``'s target now."""
        self.frames_made += 1
        if capture.window_hwnd is not None:
            win = self.windows[capture.window_hwnd]
            b = win.bounds
            img = np.full((b.height, b.width, 4), 200, np.uint8)  # borders
            img[:TITLE_BAR, :, :3] = 90  # title bar
            c = win.client
            y, x = c.top - b.top, c.left - b.left
            img[y:y + c.height, x:x + c.width, :3] = (win.level + self.frames_made) % 256
            return img
        rect = self.monitors[capture.monitor_index - 1]
        img = np.zeros((rect.height, rect.width, 4), np.uint8)
        # Each pixel shows its desktop x (mod 256) in B, its y in G and the frame number in R.
        img[:, :, 0] = (np.arange(rect.left, rect.right) % 256)[None, :]
        img[:, :, 1] = (np.arange(rect.top, rect.bottom) % 256)[:, None]
        img[:, :, 2] = self.frames_made % 256
        return img

    def deliver(self, capture_index: int = -1, advance_100ns: int = 166_667) -> None:
        """WGC delivers one frame (QPC advances first); returns once the callback has run."""
        if not self.realtime:  # else the frame takes the QPC time of its making
            self.qpc_100ns += advance_100ns
        self.captures[capture_index].run_on_thread("frame")

    def close_window(self, capture_index: int = -1) -> None:
        """The captured window closes: WGC's Closed event (``on_closed``) on its thread."""
        capture = self.captures[capture_index]
        if capture.window_hwnd is not None:
            self.windows[capture.window_hwnd].closed = True
        capture.run_on_thread("close")

    @contextlib.contextmanager
    def pumping(self, period_s: float) -> Iterator[None]:
        """WGC delivers a frame of the newest capture every ``period_s`` (a compositor)."""
        stop = threading.Event()

        def pump() -> None:
            while not stop.wait(period_s):
                live = [c for c in self.captures if not c.stopped]
                if live:
                    live[-1].run_on_thread("frame", wait=False)

        thread = threading.Thread(target=pump, name="fake-compositor", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(10)

    def api(self) -> RealWgcApi:
        """The real API layer over the fake module, with this desktop's rects and clock."""
        api = RealWgcApi(module=fake_module(self), build=self.build)
        api.window_rect = lambda hwnd: (  # type: ignore[method-assign]
            self.windows[hwnd].bounds if hwnd in self.windows else None)
        api.monitors = lambda: list(self.monitors)  # type: ignore[method-assign]
        api.clock = self.clock  # type: ignore[method-assign]
        return api


class Frame:
    """windows_capture.Frame: the callback's frame."""

    def __init__(self, frame_buffer: np.ndarray, width: int, height: int, timespan: int) -> None:
        self.frame_buffer, self.width, self.height, self.timespan = (
            frame_buffer, width, height, timespan)


class InternalCaptureControl:
    """windows_capture.InternalCaptureControl: ``stop`` from inside the callback."""

    def __init__(self, stop_list: list[bool]) -> None:
        self._stop_list = stop_list

    def stop(self) -> None:
        self._stop_list[0] = True


class CaptureControl:
    """windows_capture.CaptureControl over the fake capture thread."""

    def __init__(self, capture: FakeWindowsCapture) -> None:
        self._capture = capture

    def is_finished(self) -> bool:
        return not self._capture.thread.is_alive()

    def wait(self) -> None:
        self._capture.thread.join()

    def stop(self) -> None:
        self._capture.commands.put(("stop", None))
        self._capture.thread.join()
        self._capture.stopped = True


class FakeWindowsCapture:
    """windows_capture.WindowsCapture with the real signature, over a :class:`FakeDesktop`."""

    def __init__(self, desktop: FakeDesktop, cursor_capture: bool | None = True,
                 draw_border: bool | None = None, secondary_window: bool | None = None,
                 minimum_update_interval: int | None = None, dirty_region: bool | None = None,
                 monitor_index: int | None = None, window_name: str | None = None,
                 window_hwnd: int | None = None) -> None:
        if sum(x is not None for x in (monitor_index, window_name, window_hwnd)) > 1:
            raise Exception("You can only specify one of: monitor_index, window_name, "
                            "or window_hwnd")
        if window_hwnd is None and window_name is None and monitor_index is None:
            monitor_index = 1
        self.desktop = desktop
        self.cursor_capture, self.draw_border = cursor_capture, draw_border
        self.minimum_update_interval = minimum_update_interval
        self.monitor_index, self.window_hwnd = monitor_index, window_hwnd
        self.frame_handler: Any = None
        self.closed_handler: Any = None
        self.commands: queue.Queue[tuple[str, threading.Event | None]] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="fake-wgc", daemon=True)
        self.callback_threads: set[int] = set()
        self.stopped = False
        self._buffer: np.ndarray | None = None

    def event(self, handler: Any) -> Any:
        if handler.__name__ == "on_frame_arrived":
            self.frame_handler = handler
        elif handler.__name__ == "on_closed":
            self.closed_handler = handler
        else:
            raise ValueError("Invalid Event Handler Use on_frame_arrived Or on_closed")
        return handler

    def start_free_threaded(self) -> CaptureControl:
        if self.frame_handler is None or self.closed_handler is None:
            raise RuntimeError("on_frame_arrived Event Handler Is Not Set")
        d = self.desktop
        if d.start_error is not None:
            raise Exception(START_ERROR.format(d.start_error))
        if self.cursor_capture is not None and d.build < 19041:
            raise Exception(START_ERROR.format(CURSOR_UNSUPPORTED))
        if self.draw_border is not None and d.build < 20348:
            raise Exception(START_ERROR.format(BORDER_UNSUPPORTED))
        if self.window_hwnd is not None and (self.window_hwnd not in d.windows
                                             or d.windows[self.window_hwnd].closed):
            raise Exception(START_ERROR.format("Failed to convert item to "
                                               "`GraphicsCaptureItem`"))
        d.captures.append(self)
        self.thread.start()
        return CaptureControl(self)

    def run_on_thread(self, command: str, wait: bool = True) -> None:
        done = threading.Event()
        self.commands.put((command, done))
        if wait:
            assert done.wait(10), f"the fake WGC thread did not run {command!r}"

    def _run(self) -> None:
        while True:
            command, done = self.commands.get()
            if command == "stop":
                return
            self.callback_threads.add(threading.get_ident())
            if command == "close":
                self.closed_handler()
            else:
                self._frame()
            assert done is not None
            done.set()

    def _frame(self) -> None:
        img = self.desktop.image(self)
        h, w = img.shape[:2]
        pitch = w * 4 + 64  # padded rows, as a mapped texture's RowPitch
        raw = np.zeros((h, pitch), np.uint8)
        raw[:, :w * 4] = img.reshape(h, w * 4)
        view = raw[:, :w * 4].reshape(h, w, 4)
        if self.desktop.realtime:
            self.desktop.qpc_100ns = (now_ns() - QPC_OFFSET_NS) // 100
        self.frame_handler(Frame(view, w, h, self.desktop.qpc_100ns),
                           InternalCaptureControl([False]))
        raw[:] = 0xEE  # the texture is unmapped: a kept view would now show garbage


def fake_module(desktop: FakeDesktop) -> types.ModuleType:
    """A ``windows_capture`` module whose WindowsCapture captures ``desktop``."""
    module = types.ModuleType("windows_capture")

    def windows_capture(**kwargs: Any) -> FakeWindowsCapture:
        return FakeWindowsCapture(desktop, **kwargs)

    module.WindowsCapture = windows_capture  # type: ignore[attr-defined]
    module.Frame = Frame  # type: ignore[attr-defined]
    module.CaptureControl = CaptureControl  # type: ignore[attr-defined]
    return module


def fake_backend(desktop: FakeDesktop, **source_kwargs: Any) -> type[_wgc.WgcSource]:
    """A WgcSource class whose API layer is the real one over ``desktop``'s fake module.

    Register it through the factory (``register_capture_backend(name, lambda: cls)``, or put
    it in ``REGISTRY["wgc"]`` with monkeypatch) to run the chain or a recording on it.
    """
    class FakeWgcSource(_wgc.WgcSource):
        @classmethod
        def from_target(cls, target: Any, config: Any) -> _wgc.WgcSource:
            cfg = config if isinstance(config, _wgc.WgcConfig) else _wgc.WgcConfig()
            return cls(target, cfg, api=desktop.api(), **source_kwargs)

    return FakeWgcSource
