"""Raw relative mouse motion on Windows through Raw Input (``WM_INPUT``).

Why raw input: games that lock or re-centre the cursor make cursor-position differences useless
(docs/architecture.md 5.3). Raw Input reports the device's own counts before pointer acceleration.

How: a thread creates a message-only window (class ``STATIC``, parent ``HWND_MESSAGE``, so no
window procedure of ours is needed), registers the mouse (usage page 1, usage 2) with
``RIDEV_INPUTSINK`` so input arrives even when our console is not in the foreground, and runs a
``GetMessageW`` loop. For each ``WM_INPUT`` it reads the ``RAWINPUT`` with ``GetRawInputData``,
stamps it with :func:`~nitrogen_capture.clock.now_ns` and emits ``motion`` ``dx``/``dy`` events
(+x right, +y down). ``DispatchMessageW`` then lets the default window procedure free the input.
:meth:`RawInputMotion.stop` posts ``WM_QUIT`` to the thread.

Absolute devices (pen tablets, touch, remote desktop and most VMs) set ``MOUSE_MOVE_ABSOLUTE``:
``lLastX``/``lLastY`` are then positions normalised to 0..65535 over the primary monitor (or the
virtual desktop with ``MOUSE_VIRTUAL_DESKTOP``). :class:`MotionDecoder` converts them to deltas
from the previous absolute position, in **pixels** (not device counts); the first absolute sample
only sets the reference. ``meta.json`` should say so through :attr:`RawInputMotion.absolute_seen`.

Limits: one ``WM_INPUT`` per report; at 4-8 kHz polling rates ``GetRawInputBuffer`` would be
cheaper. The screen size for absolute devices is read once at start.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..clock import now_ns
from ..errors import InputError, PlatformError
from ..events import MOTION, InputEvent
from .base import InputSource

__all__ = [
    "MOUSE_MOVE_ABSOLUTE",
    "MOUSE_VIRTUAL_DESKTOP",
    "RAWINPUTHEADER",
    "RAWMOUSE",
    "MotionDecoder",
    "RawInputMotion",
    "RawMouse",
    "decode_rawinput",
]

log = logging.getLogger(__name__)

RIM_TYPEMOUSE = 0
MOUSE_MOVE_ABSOLUTE = 0x01
MOUSE_VIRTUAL_DESKTOP = 0x02
WM_INPUT = 0x00FF
_ABS_RANGE = 65535.0


class RAWINPUTHEADER(ctypes.Structure):
    """``RAWINPUTHEADER``: DWORD type, DWORD size, HANDLE device, WPARAM wParam."""

    _fields_ = [
        ("dwType", ctypes.c_uint32),
        ("dwSize", ctypes.c_uint32),
        ("hDevice", ctypes.c_void_p),
        ("wParam", ctypes.c_size_t),
    ]


class RAWMOUSE(ctypes.Structure):
    """``RAWMOUSE``; ``ulButtons`` is the union of usButtonFlags (low) and usButtonData (high)."""

    _fields_ = [
        ("usFlags", ctypes.c_uint16),
        ("ulButtons", ctypes.c_uint32),  # aligned to offset 4, as in the C union
        ("ulRawButtons", ctypes.c_uint32),
        ("lLastX", ctypes.c_int32),
        ("lLastY", ctypes.c_int32),
        ("ulExtraInformation", ctypes.c_uint32),
    ]


@dataclass(frozen=True)
class RawMouse:
    """The motion part of one ``RAWMOUSE`` report."""

    flags: int
    x: int
    y: int

    @property
    def absolute(self) -> bool:
        """True for ``MOUSE_MOVE_ABSOLUTE`` reports (positions, not deltas)."""
        return bool(self.flags & MOUSE_MOVE_ABSOLUTE)


def decode_rawinput(buf: bytes) -> RawMouse | None:
    """Decode a ``RAWINPUT`` buffer from ``GetRawInputData``; None for non-mouse input."""
    head_size = ctypes.sizeof(RAWINPUTHEADER)
    if len(buf) < head_size:
        raise InputError(f"RAWINPUT buffer of {len(buf)} bytes is shorter than its header")
    header = RAWINPUTHEADER.from_buffer_copy(buf)
    if header.dwType != RIM_TYPEMOUSE:
        return None
    if len(buf) < head_size + ctypes.sizeof(RAWMOUSE):
        raise InputError(f"RAWINPUT buffer of {len(buf)} bytes is too short for a mouse report")
    mouse = RAWMOUSE.from_buffer_copy(buf, head_size)
    return RawMouse(flags=int(mouse.usFlags), x=int(mouse.lLastX), y=int(mouse.lLastY))


class MotionDecoder:
    """Turn RAWMOUSE reports into (dx, dy): relative as is, absolute as position differences.

    Args:
        primary_size: primary monitor (width, height) in pixels, for absolute reports.
        virtual_size: virtual desktop (width, height), for ``MOUSE_VIRTUAL_DESKTOP`` reports.
    """

    def __init__(self, primary_size: tuple[int, int], virtual_size: tuple[int, int]) -> None:
        self.primary_size = primary_size
        self.virtual_size = virtual_size
        self._last_abs: tuple[float, float] | None = None
        self.absolute_seen = False

    def feed(self, sample: RawMouse) -> tuple[float, float]:
        """The motion of ``sample`` (+x right, +y down); (0, 0) for the first absolute one."""
        if not sample.absolute:
            self._last_abs = None  # a relative device in between: restart absolute tracking
            return float(sample.x), float(sample.y)
        self.absolute_seen = True
        w, h = self.virtual_size if sample.flags & MOUSE_VIRTUAL_DESKTOP else self.primary_size
        pos = (sample.x * w / _ABS_RANGE, sample.y * h / _ABS_RANGE)
        prev, self._last_abs = self._last_abs, pos
        if prev is None:
            return 0.0, 0.0
        return pos[0] - prev[0], pos[1] - prev[1]


class RawInputApi(Protocol):
    """The Win32 calls of the listener thread; tests replace it with a fake."""

    def open(self) -> None:
        """Create the message-only window and register the mouse (on the listener thread)."""

    def screen_sizes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(primary width, height), (virtual desktop width, height)."""

    def next_message(self) -> tuple[int, int] | None:
        """Block for the next message: (message, lParam); None on WM_QUIT."""

    def read_input(self, lparam: int) -> bytes:
        """``GetRawInputData(RID_INPUT)`` of the HRAWINPUT in ``lparam``."""

    def dispatch(self) -> None:
        """Dispatch the last message (the default procedure frees WM_INPUT data)."""

    def quit(self) -> None:
        """Make :meth:`next_message` return None (callable from any thread)."""

    def close(self) -> None:
        """Unregister the device and destroy the window (on the listener thread)."""


class _Win32RawInputApi:
    """The real calls through ctypes (Windows only)."""

    # Declared here: mypy on Linux sees the body after the platform check as unreachable.
    _wt: Any
    _user32: Any
    _kernel32: Any
    _hwnd: Any
    _thread_id: int
    _registered: bool
    _msg: Any
    _device_t: Any
    _last_error: Callable[[], int]

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise PlatformError("Raw Input mouse motion needs Windows; on X11 XInput2 is used")
        import ctypes.wintypes as wt

        self._wt = wt
        self._last_error = ctypes.get_last_error
        self._user32 = ctypes.WinDLL("user32", use_last_error=True)
        self._kernel32 = ctypes.WinDLL("kernel32")
        self._user32.CreateWindowExW.restype = wt.HWND
        self._hwnd = None
        self._registered = False
        self._thread_id = 0
        self._msg = wt.MSG()

        class RAWINPUTDEVICE(ctypes.Structure):
            _fields_ = [("usUsagePage", wt.USHORT), ("usUsage", wt.USHORT),
                        ("dwFlags", wt.DWORD), ("hwndTarget", wt.HWND)]

        self._device_t = RAWINPUTDEVICE

    def open(self) -> None:
        self._thread_id = int(self._kernel32.GetCurrentThreadId())
        hwnd_message = self._wt.HWND(-3)
        self._hwnd = self._user32.CreateWindowExW(0, "STATIC", "nitrogen-rawinput", 0, 0, 0, 0,
                                                  0, hwnd_message, None, None, None)
        if not self._hwnd:
            raise InputError(f"CreateWindowExW failed: Windows error {self._last_error()}")
        self._register(0x00000100, self._hwnd)  # RIDEV_INPUTSINK
        self._registered = True

    def _register(self, flags: int, hwnd: Any) -> None:
        dev = self._device_t(1, 2, flags, hwnd)  # generic desktop page, mouse usage
        if not self._user32.RegisterRawInputDevices(ctypes.byref(dev), 1, ctypes.sizeof(dev)):
            raise InputError(
                f"RegisterRawInputDevices failed: Windows error {self._last_error()}"
            )

    def screen_sizes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        m = self._user32.GetSystemMetrics
        return (int(m(0)), int(m(1))), (int(m(78)), int(m(79)))  # SM_CX/CYSCREEN, *VIRTUALSCREEN

    def next_message(self) -> tuple[int, int] | None:
        got = int(self._user32.GetMessageW(ctypes.byref(self._msg), None, 0, 0))
        if got == -1:
            raise InputError(f"GetMessageW failed: Windows error {self._last_error()}")
        if got == 0:
            return None
        return int(self._msg.message), int(self._msg.lParam or 0)

    def read_input(self, lparam: int) -> bytes:
        size = self._wt.UINT(0)
        head = ctypes.sizeof(RAWINPUTHEADER)
        handle = self._wt.HANDLE(lparam)
        self._user32.GetRawInputData(handle, 0x10000003, None, ctypes.byref(size), head)
        buf = ctypes.create_string_buffer(size.value)
        got = self._user32.GetRawInputData(handle, 0x10000003, buf, ctypes.byref(size), head)
        if got == 0xFFFFFFFF or got < 0:
            raise InputError(f"GetRawInputData failed: Windows error {self._last_error()}")
        return buf.raw[:got]

    def dispatch(self) -> None:
        self._user32.DispatchMessageW(ctypes.byref(self._msg))

    def quit(self) -> None:
        if self._thread_id:
            self._user32.PostThreadMessageW(self._thread_id, 0x0012, 0, 0)  # WM_QUIT

    def close(self) -> None:
        try:
            if self._registered:
                self._registered = False
                self._register(0x00000001, None)  # RIDEV_REMOVE
        finally:
            if self._hwnd:
                self._user32.DestroyWindow(self._wt.HWND(self._hwnd))
                self._hwnd = None


class RawInputMotion(InputSource):
    """Raw relative mouse motion from Raw Input, on its own thread with a message loop.

    Args:
        api: the Win32 layer (tests pass a fake); default is the real one (Windows only).
        clock: the nanosecond clock used to stamp events.

    Raises:
        PlatformError: not on Windows.
    """

    name = "rawinput"
    raw_motion = True

    def __init__(self, api: RawInputApi | None = None,
                 clock: Callable[[], int] = now_ns) -> None:
        super().__init__()
        self._api: RawInputApi = api if api is not None else _Win32RawInputApi()
        self._clock = clock
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.decoder: MotionDecoder | None = None

    @property
    def absolute_seen(self) -> bool:
        """Whether an absolute device reported (deltas then are pixels, not device counts)."""
        return self.decoder is not None and self.decoder.absolute_seen

    def _start(self) -> None:
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="rawinput-motion", daemon=True)
        self._thread.start()
        # Wait until the window exists so that stop() can always post WM_QUIT to a queue.
        if not self._ready.wait(timeout=5.0):
            raise InputError("the Raw Input thread did not start within 5 s")
        self.check()

    def _run(self) -> None:
        try:
            self._api.open()
            primary, virtual = self._api.screen_sizes()
            self.decoder = MotionDecoder(primary, virtual)
            self._ready.set()
            self._loop(self.decoder)
        except Exception as exc:  # handed to the owner through check()/stop()
            self._fail(exc)
        finally:
            self._ready.set()
            try:
                self._api.close()  # on this thread: the window belongs to it
            except Exception as exc:
                self._fail(exc)

    def _loop(self, decoder: MotionDecoder) -> None:
        while (msg := self._api.next_message()) is not None:
            message, lparam = msg
            if message == WM_INPUT:
                t = self._clock()  # stamp first: decoding must not delay the timestamp
                sample = decode_rawinput(self._api.read_input(lparam))
                if sample is not None:
                    dx, dy = decoder.feed(sample)
                    if dx:
                        self._emit(InputEvent(t, MOTION, "dx", dx))
                    if dy:
                        self._emit(InputEvent(t, MOTION, "dy", dy))
            self._api.dispatch()

    def _stop(self) -> None:
        self._api.quit()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            if self._thread.is_alive():
                log.warning("the Raw Input thread did not stop within 2 s")
            self._thread = None
