"""A fake ``dxcam`` 0.3 package for the DXCam unit tests (no Windows needed).

Built from DXCam 0.3.0's source (dxcam/__init__.py, dxcam/dxcam.py, dxcam/core/): the same
public names, signatures and return shapes (``create``, ``output_info``, ``DXCamera.grab/start/
stop/release/latest_frame_ticks/is_capturing/region``) and the private seams the source's feed
wraps (``_capture_loop``, ``_grab_into`` with its ``(captured, ticks, width, height)``,
``_recover_output``, ``_duplicator.accumulated_frames``). What DXGI would do is scripted on a
:class:`FakeDesktop`: frames with their ``LastPresentTime``/``LastMouseUpdateTime``, access
lost, COM errors. The capture thread is real but runs one iteration per :meth:`FakeDesktop.step`,
so tests are deterministic without sleeps.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nitrogen_capture.capture.base import Region

PRIMARY = Region(0, 0, 1920, 1080)
LEFT = Region(-1280, 0, 0, 1024)  # a monitor left of the primary: negative desktop x
RIGHT = Region(1920, -200, 4480, 1240)  # a taller monitor right of it, starting above it
_WAIT_S = 10.0  # generous: a busy two-core machine


class FakeCOMError(Exception):
    """comtypes' COMError as DXCam raises it: an ``hresult`` attribute (signed or not)."""

    def __init__(self, hresult: int, text: str = "com") -> None:
        super().__init__(hresult, text, None)
        self.hresult = hresult


@dataclass
class Event:
    """What the next AcquireNextFrame gives: a frame, access lost, or an error."""

    kind: str  # "frame", "lost" or "error"
    present: int = 0  # LastPresentTime (QPC ticks); 0: the desktop image did not change
    mouse: int = 0  # LastMouseUpdateTime
    error: BaseException | None = None


@dataclass
class FakeOutput:
    """One monitor: its desktop rectangle, primary flag and current pixels."""

    rect: Region
    primary: bool
    image: np.ndarray = field(init=False)
    events: deque[Event] = field(default_factory=deque)

    def __post_init__(self) -> None:
        h, w = self.rect.height, self.rect.width
        self.image = (np.arange(h * w * 3, dtype=np.uint32).reshape(h, w, 3) % 251).astype(
            np.uint8)


class FakeDesktop:
    """The scripted DXGI side shared by the fake module's cameras."""

    def __init__(self, rects: list[Region]) -> None:
        self.outputs = [FakeOutput(r, r.left == 0 and r.top == 0) for r in rects]
        self.cameras: list[FakeDXCamera] = []
        self.create_errors: dict[int, BaseException] = {}
        self.recover_gate: threading.Event | None = None  # set: recoveries block until set
        self.recover_error: BaseException | None = None
        self.recovering = threading.Event()  # set when a recovery begins
        self.first_frame = True  # DXGI hands out the current image after DuplicateOutput
        self.free_run = False  # True: capture threads run at their target_fps, unstepped
        self.qpc_now: Callable[[], int] | None = None  # a real QPC-like clock for the ticks
        self.lock = threading.Lock()  # a present is atomic to the capture threads' copies
        self.ticks = 1_000_000  # the QPC time of the newest present
        self._qpc = self.ticks  # the newest event's (a present or a mouse move)

    def show(self, output: int, *, value: int | None = None, mouse_only: bool = False) -> int:
        """Queue a new frame on ``output`` (new pixels unless ``mouse_only``); its QPC ticks."""
        self._qpc = self.qpc_now() if self.qpc_now is not None else self._qpc + 166_667
        ticks = self._qpc  # (60 Hz at 10 MHz when scripted)
        out = self.outputs[output]
        with self.lock:
            if mouse_only:
                out.events.append(Event("frame", present=0, mouse=ticks))
            else:
                self.ticks = ticks
                if value is not None:
                    out.image[:] = value
                out.events.append(Event("frame", present=ticks))
        return ticks

    def lose_access(self, output: int) -> None:
        """The next AcquireNextFrame reports DXGI_ERROR_ACCESS_LOST (DXCam recovers)."""
        self.outputs[output].events.append(Event("lost"))

    def fail(self, output: int, error: BaseException) -> None:
        """The next AcquireNextFrame raises ``error`` (not transient: the thread ends)."""
        self.outputs[output].events.append(Event("error", error=error))

    def step(self, wait: bool = True) -> None:
        """Run one capture-loop iteration on every started camera (and wait for it)."""
        for cam in self.cameras:
            if cam.is_capturing:
                cam.step(wait)

    def output_info(self) -> str:
        return "".join(f"Device[0] Output[{i}]: Res:({o.rect.width}, {o.rect.height}) Rot:0 "
                       f"Primary:{o.primary}\n" for i, o in enumerate(self.outputs))


class FakeDuplicator:
    """DXCam 0.3's DXGIDuplicator state after ``update_frame``."""

    def __init__(self, desktop: FakeDesktop, output: FakeOutput) -> None:
        self.output = output
        self.latest_frame_ticks = 0
        self.accumulated_frames = 0
        self.updated = False
        if desktop.first_frame:  # the current image, stamped with the newest present
            if desktop.qpc_now is not None:
                desktop.ticks = desktop.qpc_now()
            output.events.appendleft(Event("frame", present=desktop.ticks))

    def update_frame(self, wait_for_frame: bool = False) -> bool:
        """False on access lost (DXCam then recovers); raises a non-transient error."""
        del wait_for_frame
        event = self.output.events.popleft() if self.output.events else None
        if event is None:  # DXGI_ERROR_WAIT_TIMEOUT
            self.updated, self.accumulated_frames = False, 0
            return True
        if event.kind == "lost":
            self.updated = False
            return False
        if event.kind == "error":
            assert event.error is not None
            raise event.error
        self.accumulated_frames = 1 if event.present > 0 else 0
        if event.present > 0:
            self.latest_frame_ticks = event.present
        elif event.mouse > 0:
            self.latest_frame_ticks = event.mouse
        self.updated = True
        return True


class FakeDXCamera:
    """dxcam.DXCamera 0.3: one-shot grab, the started mode's ring, release."""

    def __init__(self, desktop: FakeDesktop, output_idx: int, region: Any,
                 output_color: str, max_buffer_len: int) -> None:
        self.desktop, self.output_idx = desktop, output_idx
        out = desktop.outputs[output_idx]
        self.width, self.height = out.rect.width, out.rect.height
        self.region = region if region is not None else (0, 0, self.width, self.height)
        self.output_color, self.max_buffer_len = output_color, max(2, max_buffer_len)
        self.is_capturing = False
        self.started: list[dict[str, Any]] = []
        self.recoveries = 0
        self._output = type("Output", (), {"desc": None})()
        self._duplicator = FakeDuplicator(desktop, out)
        self._is_released = False
        self._lock = threading.Lock()
        self._latest: tuple[np.ndarray, int] | None = None
        self._staged: np.ndarray | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._steps = threading.Semaphore(0)
        self._done = threading.Condition()
        self._iterations = 0

    @property
    def is_released(self) -> bool:
        return self._is_released

    # -- public API (dxcam/dxcam.py) -----------------------------------------------------------
    def grab(self, region: tuple[int, int, int, int] | None = None, copy: bool = True,
             new_frame_only: bool = True) -> np.ndarray | None:
        if self._is_released:
            raise RuntimeError("DXCamera has been released and cannot be reused.")
        if self.is_capturing:
            if region is not None and region != self.region:
                raise ValueError("grab(region=...) is not supported while capture is running.")
            with self._lock:
                return None if self._latest is None else self._latest[0].copy()
        raise AssertionError("the source uses the started mode only")

    def start(self, region: tuple[int, int, int, int] | None = None, target_fps: int = 60,
              video_mode: bool = False, delay: int = 0) -> None:
        if self.is_capturing:
            raise RuntimeError("Capture is already running. Call stop() first.")
        if region is not None:
            self.region = region
        left, top, right, bottom = self.region
        if not (self.width >= right > left >= 0 and self.height >= bottom > top >= 0):
            raise ValueError(f"Invalid Region: Region should be in {self.width}x{self.height}")
        self.started.append({"region": self.region, "target_fps": target_fps,
                             "video_mode": video_mode, "delay": delay})
        self.is_capturing = True
        self._thread = threading.Thread(target=self._capture_loop, name="DXCamera",
                                        args=(target_fps, video_mode), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self.is_capturing:
            self._stop.set()
            self._steps.release()
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(timeout=_WAIT_S)
                if self._thread.is_alive():
                    raise RuntimeError("Capture thread did not stop within timeout; refusing "
                                       "to clear frame buffer before join.")
        with self._lock:
            self.is_capturing = False
            self._latest = None
        self._stop.clear()
        self._thread = None

    @property
    def latest_frame_ticks(self) -> int | None:
        with self._lock:
            return None if self._latest is None else self._latest[1]

    def release(self) -> None:
        if self._is_released:
            return
        self._is_released = True
        self.stop()

    # -- the private seams DxcamFeed wraps -----------------------------------------------------
    def _capture_loop(self, target_fps: int = 60, video_mode: bool = False) -> None:
        error: BaseException | None = None
        while not self._stop.is_set():
            if self.desktop.free_run:  # DXCam's waitable timer at target_fps
                self._steps.acquire(timeout=1 / max(1, target_fps))
            else:
                self._steps.acquire()
            if self._stop.is_set():
                break
            try:
                self._run_once()
            except Exception as exc:  # as DXCam: log, stop, re-raise on this thread
                logging.getLogger("dxcam.dxcam").exception("Unhandled exception in capture loop.")
                error = exc
                self._stop.set()
            finally:
                with self._done:
                    self._iterations += 1
                    self._done.notify_all()
        if error is not None:
            with self._lock:
                self.is_capturing = False
                self._latest = None
            self._stop.clear()
            raise error

    def _run_once(self) -> None:
        left, top, right, bottom = self.region
        dst = np.empty((bottom - top, right - left, 3), np.uint8)
        if self._latest is not None:
            dst = np.empty_like(self._latest[0])  # the ring's slots keep the previous shape
        captured, ticks, width, height = self._grab_into(self.region, dst)
        if captured:
            self._commit(dst, ticks)
        elif width > 0 and height > 0:  # a new size: DXCam rebuilds its ring and commits
            assert self._staged is not None
            self._commit(self._staged, ticks)

    def _commit(self, frame: np.ndarray, ticks: int) -> None:
        with self._lock:
            self._latest = (frame, ticks)

    def _grab_into(self, region: tuple[int, int, int, int],
                   dst: np.ndarray) -> tuple[bool, int, int, int]:
        with self.desktop.lock:
            if not self._duplicator.update_frame(wait_for_frame=True):
                lost = True
            else:
                lost = False
                if not self._duplicator.updated:
                    return False, 0, 0, 0
                left, top, right, bottom = region
                image = self.desktop.outputs[self.output_idx].image
                staged = image[top:bottom, left:right].copy()
                ticks = self._duplicator.latest_frame_ticks
        if lost:
            self._recover_output()
            return False, 0, 0, 0
        if staged.shape != dst.shape:
            self._staged = staged
            return False, ticks, right - left, bottom - top
        dst[:] = staged
        return True, ticks, right - left, bottom - top

    def _recover_output(self) -> None:
        self.desktop.recovering.set()
        gate = self.desktop.recover_gate
        if gate is not None:
            gate.wait(_WAIT_S)
        if self.desktop.recover_error is not None:
            raise self.desktop.recover_error
        self._duplicator = FakeDuplicator(self.desktop, self.desktop.outputs[self.output_idx])
        self.recoveries += 1

    # -- test driving --------------------------------------------------------------------------
    def step(self, wait: bool = True) -> None:
        """Let the capture thread run one iteration; wait until it has."""
        with self._done:
            target = self._iterations + 1
        self._steps.release()
        if wait:
            with self._done:
                assert self._done.wait_for(lambda: self._iterations >= target, _WAIT_S)


class FakeDxcamModule:
    """The ``dxcam`` package 0.3: ``create`` (one camera per output until released) and
    ``output_info``."""

    def __init__(self, desktop: FakeDesktop) -> None:
        self.desktop = desktop
        self.created: list[dict[str, Any]] = []
        self._instances: dict[tuple[int, int, str], FakeDXCamera] = {}

    def create(self, device_idx: int = 0, output_idx: int | None = None,
               region: tuple[int, int, int, int] | None = None, output_color: str = "RGB",
               max_buffer_len: int = 8, backend: str = "dxgi",
               processor_backend: str = "cv2") -> FakeDXCamera:
        assert output_idx is not None, "the source always names the output"
        self.created.append({"device_idx": device_idx, "output_idx": output_idx,
                             "output_color": output_color, "max_buffer_len": max_buffer_len,
                             "backend": backend, "processor_backend": processor_backend})
        if output_idx in self.desktop.create_errors:
            raise self.desktop.create_errors[output_idx]
        key = (device_idx, output_idx, backend)
        existing = self._instances.get(key)
        if existing is not None and not existing.is_released:
            return existing
        cam = FakeDXCamera(self.desktop, output_idx, region, output_color, max_buffer_len)
        self._instances[key] = cam
        self.desktop.cameras.append(cam)
        return cam

    def output_info(self) -> str:
        return self.desktop.output_info()
