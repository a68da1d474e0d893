"""DXCam 0.3's started mode, watched: the newest frame with its QPC time, recoveries, failure.

:class:`DxcamFeed` starts a camera (``DXCamera.start``, DXCam's own capture thread filling a
ring buffer) and reads it without ever blocking: ``grab()`` on a started camera is a copy of the
ring's newest frame and ``latest_frame_ticks`` its QPC time. Two reads of the ticks around the
copy pair a frame with its time (the thread may commit a frame in between; then we read again).
Not ``get_latest_frame(with_timestamp=True)``: it waits until a frame newer than the last one it
returned arrives (forever on a static screen) and gives the ticks as float seconds.

DXCam's public API does not say three things we need, so the feed wraps three private methods
**on the camera instance** before starting it (the seams of dxcam/dxcam.py in 0.3.x, which
``pyproject.toml`` pins; tests/dxcam_fakes.py has the same methods):

- ``_grab_into(region, dst) -> (captured, ticks, width, height)``, one acquisition of the capture
  thread. Right after it, on that thread, the duplicator's ``accumulated_frames`` (DXGI's
  ``AccumulatedFrames``) says whether the frame had a present: 0 means only the mouse moved, and
  DXCam then stamps the frame with ``LastMouseUpdateTime`` instead of ``LastPresentTime``; such a
  frame gets no OS time (``present`` False), as DXGI gave none.
- ``_recover_output()``, DXCam's own recovery after ``DXGI_ERROR_ACCESS_LOST`` and other system
  transitions (dxcam/core/display_recovery.py): it retries without end while the error is a
  transient one, so the feed times it and counts the recoveries that finished.
- ``_capture_loop(target_fps, video_mode)``, the thread's body: a non-transient error ends it
  (DXCam logs the traceback and re-raises it on that thread); the feed keeps the exception for
  :meth:`DxcamFeed.poll` to raise as :class:`~._dxcam_api.DxgiUnavailable`, and DXCam's
  traceback record is dropped from the log (the failure is reported once, as one line).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._dxcam_api import DxcamCamera, classify_dxgi_error, unavailable
from .base import Frame

__all__ = ["ACCESS_LOST_BOUND_S", "DxcamFeed", "FeedFrame"]

log = logging.getLogger(__name__)

ACCESS_LOST_BOUND_S = 5.0
"""How long DXCam may spend winning the screen back before the source gives up (a grab raises).

DXCam's recovery retries every 0.25 s for its first 20 tries (5 s), then every 2 s, forever
(Microsoft's Desktop Duplication sample's waits). A full-screen switch or a display mode change
recovers within the first second or two; what is still lost after 5 s is a locked screen, a UAC
prompt or a GPU gone, where an ``auto`` recording does better on the next backend than frozen."""
_PAIR_TRIES = 5
_LOOP_FAILED = "Unhandled exception in capture loop."


@dataclass(frozen=True)
class FeedFrame:
    """The ring's newest frame and what DXGI said of it.

    Attributes:
        frame: the frame (the caller's copy), BGR, of the region the thread captured then.
        ticks: its QPC time as DXCam stamped it (LastPresentTime, else LastMouseUpdateTime).
        present: ``ticks`` is a LastPresentTime (False: only the mouse moved, or no time).
        seq: the feed's frame number; the same as the previous poll's when no new frame came.
    """

    frame: Frame
    ticks: int
    present: bool
    seq: int


class _DropLoopTraceback(logging.Filter):
    """Drops DXCam's traceback of a failed capture loop: :meth:`DxcamFeed.poll` reports it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _LOOP_FAILED:
            log.debug("DXCam's capture loop failed: %r", record.exc_info and record.exc_info[1])
            return False
        return True


_DROP_LOOP_TRACEBACK = _DropLoopTraceback()


class DxcamFeed:
    """A started DXCam camera read without blocking.

    Args:
        camera: a DXCam camera, not started (:meth:`~._dxcam_api.RealDxcamApi.open_output`).
        region: the output-relative region to capture.
        target_fps: DXCam's polling rate (its capture thread's timer).
        clock: seconds, for the recovery bound (tests pass a fake).
        bound_s: how long a recovery may take (:data:`ACCESS_LOST_BOUND_S`).
    """

    def __init__(self, camera: DxcamCamera, region: tuple[int, int, int, int], *,
                 target_fps: int, clock: Callable[[], float] = time.monotonic,
                 bound_s: float = ACCESS_LOST_BOUND_S) -> None:
        self._camera = camera
        self._clock = clock
        self._bound_s = bound_s
        self._lock = threading.Lock()
        self._kinds: dict[int, bool] = {}  # ticks -> had a present (the last few frames)
        self._recovering_since: float | None = None
        self._failure: BaseException | None = None
        self._ended = threading.Event()
        self._recoveries = 0
        self._seq = 0
        self._last: tuple[int, bool] | None = None  # (ticks, present) of the current seq
        self._region = region
        logging.getLogger("dxcam.dxcam").addFilter(_DROP_LOOP_TRACEBACK)
        self._wrap(camera)
        try:
            camera.start(region=region, target_fps=target_fps, video_mode=False)
        except Exception as exc:
            raise classify_dxgi_error(exc, f"start capturing region {list(region)}") from exc

    @property
    def recoveries(self) -> int:
        """How many times DXCam recovered the duplication (access lost, mode change...)."""
        with self._lock:
            return self._recoveries

    def set_region(self, region: tuple[int, int, int, int]) -> None:
        """Capture ``region`` (output-relative) from the thread's next acquisition on."""
        if region != self._region:
            self._region = region
            self._camera.region = region  # read by DXCam's thread on every iteration

    def poll(self) -> FeedFrame | None:
        """The newest frame (None: none yet); never waits for one.

        Raises:
            DxgiUnavailable: the capture thread ended on an error, or a recovery has lasted
                longer than the bound.
        """
        self._check()
        try:
            frame, ticks = self._read()
        except Exception as exc:
            self._check()  # the thread ended between the check and the read: its own error
            raise classify_dxgi_error(exc, "read the newest frame") from exc
        if not self._camera.is_capturing:
            # Ended meanwhile: a stopped camera's grab() is a one-shot grab on this thread.
            self._check()
        if frame is None or ticks is None:
            return None
        if self._last is None or ticks != self._last[0]:
            with self._lock:
                present = self._kinds.get(ticks, False) and ticks > 0
            self._seq += 1
            self._last = (ticks, present)
        return FeedFrame(frame, ticks, self._last[1], self._seq)

    def close(self) -> None:
        """Stop the thread and release the camera; a camera stuck recovering is left behind.

        DXCam's ``stop`` waits up to 10 s for its thread, which does not look at the stop flag
        while it retries a recovery, and then raises: that camera is released on a daemon
        thread instead, so a failover does not freeze the recording.
        """
        with self._lock:
            stuck = self._recovering_since is not None and self._failure is None
        if stuck:
            log.debug("DXCam is still recovering: releasing it in the background")
            threading.Thread(target=self._release_quietly, name="dxcam-release",
                             daemon=True).start()
            return
        try:
            self._camera.release()
        except Exception as exc:
            raise classify_dxgi_error(exc, "release the camera") from exc

    # -- internals -----------------------------------------------------------------------------
    def _read(self) -> tuple[Frame | None, int | None]:
        camera = self._camera
        ticks = camera.latest_frame_ticks
        frame: Frame | None = None
        for _ in range(_PAIR_TRIES):
            frame = camera.grab()
            after = camera.latest_frame_ticks
            if after == ticks:
                break
            ticks = after  # a frame came in between: read again (one per DXCam period at most)
        return frame, ticks

    def _check(self) -> None:
        with self._lock:
            failure, since = self._failure, self._recovering_since
        if failure is None and not self._camera.is_capturing:
            self._ended.wait(1.0)  # the thread is ending: its failure is being recorded
            with self._lock:
                failure = self._failure
            if failure is None:
                raise unavailable("DXCam's capture thread stopped", "keep capturing")
        if failure is not None:
            raise classify_dxgi_error(failure, "keep capturing") from failure
        if since is not None and self._clock() - since > self._bound_s:
            raise unavailable(
                f"access lost: DXCam did not win the screen back within {self._bound_s:g} s "
                "(locked screen, UAC prompt or a display change?)", "keep capturing")

    def _release_quietly(self) -> None:
        try:
            self._camera.release()
        except Exception as exc:  # a stuck thread: DXCam's stop() gives up and says so
            log.debug("releasing a DXCam camera stuck in recovery: %r", exc)

    def _wrap(self, camera: Any) -> None:
        grab_into, recover, loop = camera._grab_into, camera._recover_output, camera._capture_loop

        def watched_grab_into(region: Any, dst: Any) -> Any:
            result = grab_into(region, dst)
            captured, ticks, width, height = result
            if captured or (width > 0 and height > 0):  # a frame goes into the ring
                present = int(getattr(camera._duplicator, "accumulated_frames", 0)) > 0
                with self._lock:
                    self._kinds[int(ticks)] = present
                    while len(self._kinds) > 32:
                        del self._kinds[next(iter(self._kinds))]
            return result

        def watched_recover() -> None:
            with self._lock:
                self._recovering_since = self._clock()
            recover()
            with self._lock:
                self._recoveries += 1
                self._recovering_since = None

        def watched_loop(*args: Any, **kwargs: Any) -> None:
            try:
                loop(*args, **kwargs)
            except BaseException as exc:  # the thread's end: poll() raises it, once per grab
                with self._lock:
                    self._failure = exc
            finally:
                self._ended.set()

        camera._grab_into = watched_grab_into
        camera._recover_output = watched_recover
        camera._capture_loop = watched_loop
