"""Screen capture through python-mss (X11 XShm, macOS CoreGraphics, Windows GDI).

On Linux, ``mss.MSS()`` (mss >= 10.2) uses XCB with ``XShmGetImage``: the server copies the
region into a shared-memory segment, about 2800 grabs/s at 720p on the build machine. When
MIT-SHM is unusable (a remote display, some hardened servers) mss falls back to ``XGetImage``,
which sends every pixel over the socket and is several times slower; we log a warning and record
``{"xshm": False}`` in ``details`` so ``meta.json`` explains a low achieved fps.

mss objects hold an X connection and are not shared between threads: :meth:`MssSource._open`
must run on the thread that grabs (the recorder's capture thread calls ``open()`` itself).

mss returns BGRA in a fresh ``bytearray`` per grab: :meth:`MssSource._grab_raw` hands it on as
it is (the recorder's encoder pool converts while it copies into shared memory), and
:meth:`MssSource._grab` converts with ``cv2.cvtColor`` into a fresh array (0.3 ms at 720p,
where numpy channel slicing costs ~4 ms and returns a strided view).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, cast

import cv2
import numpy as np

from ..errors import CaptureError, missing_dependency
from ..xdisplay import check_x11_display
from .base import Frame, FrameSource, Region

__all__ = ["MssSource", "check_x11_display", "monitor_regions"]

log = logging.getLogger(__name__)


def _new_mss() -> Any:
    """Create an ``mss.MSS`` (or ``mss.mss()`` before 10.2), translating every failure."""
    check_x11_display()
    try:
        import mss
    except ImportError as exc:
        raise missing_dependency("mss", "x11" if sys.platform != "win32" else "windows",
                                 "Screen capture") from exc
    factory = getattr(mss, "MSS", None) or mss.mss
    try:
        return factory()
    except mss.ScreenShotError as exc:
        raise CaptureError(f"mss could not open the display {os.environ.get('DISPLAY')!r}: "
                           f"{exc}; check that the X server runs and accepts this user") from exc


def monitor_regions() -> list[Region]:
    """Desktop regions of mss's monitors: index 0 is the union of all, 1.. each monitor."""
    sct = _new_mss()
    try:
        return [Region.from_xywh(int(m["left"]), int(m["top"]), int(m["width"]),
                                 int(m["height"])) for m in sct.monitors]
    finally:
        sct.close()


def _xshm_state(sct: Any) -> bool | None:
    """Whether mss grabs through MIT-SHM: True/False once known, None when not applicable.

    mss 10.2 keeps this on its Linux implementation as ``shm_status`` (a ``ShmStatus`` enum:
    UNKNOWN until the first grab, then AVAILABLE or UNAVAILABLE); there is no public attribute,
    so read it defensively and fall back to the public ``performance_status`` notes.
    """
    impl = getattr(sct, "_impl", None)
    status = getattr(impl, "shm_status", None)
    if status is not None:
        name = getattr(status, "name", str(status))
        if name == "AVAILABLE":
            return True
        if name == "UNAVAILABLE":
            return False
        return None
    if sys.platform.startswith("linux"):
        return False  # the plain XGetImage backend (no shm_status at all)
    return None


class MssSource(FrameSource):
    """Grab ``region`` with mss; frames are (H, W, 3) uint8 BGR arrays the caller may keep."""

    name = "mss"

    def __init__(self, region: Region) -> None:
        super().__init__(region)
        self._sct: Any = None
        self._error_type: type[BaseException] = Exception
        self._xshm_checked = False
        self._desktop: Region | None = None

    def _open(self) -> None:
        self._sct = _new_mss()
        import mss

        self._error_type = mss.ScreenShotError
        all_screens = self._sct.monitors[0]
        self._desktop = Region.from_xywh(int(all_screens["left"]), int(all_screens["top"]),
                                         int(all_screens["width"]), int(all_screens["height"]))
        self.details["mss_version"] = getattr(mss, "__version__", "unknown")
        if sys.platform.startswith("linux"):
            self.details["xshm"] = False

    def _grab(self) -> Frame:
        frame = self._grab_raw()
        if frame.shape[2] == 3:
            return frame
        # cvtColor allocates a new contiguous array.
        return cast(Frame, cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR))

    def _grab_raw(self) -> Frame:
        region = self.region
        visible = region.intersection(self._desktop) if self._desktop else region
        if visible != region:
            # A window partly (or wholly) off the screen: grab what is visible and keep the
            # frame at the window's size, the rest black, so the chunk's frame size holds.
            canvas = np.zeros((region.height, region.width, 3), dtype=np.uint8)
            if visible is not None:
                part = self._grab_region(visible)
                x, y = visible.left - region.left, visible.top - region.top
                canvas[y:y + visible.height, x:x + visible.width] = part[:, :, :3]
            return canvas
        return self._grab_region(region)

    def _grab_region(self, region: Region) -> Frame:
        """BGRA of ``region``: a view of mss's new bytearray, so the caller may keep it."""
        try:
            shot = self._sct.grab(region.to_mss())
        except self._error_type as exc:
            raise CaptureError(
                f"mss could not grab region {' '.join(map(str, region.to_list()))}: {exc}; "
                "is the region inside the screen and the display still open?"
            ) from exc
        if not self._xshm_checked:
            self._check_xshm()
        return np.frombuffer(shot.raw, dtype=np.uint8).reshape(shot.height, shot.width, 4)

    def _check_xshm(self) -> None:
        """Record the XShm state once the first grab has settled it; warn on the slow path."""
        state = _xshm_state(self._sct)
        if state is None and sys.platform.startswith("linux"):
            return  # not settled yet (cannot happen after a successful grab, but be safe)
        self._xshm_checked = True
        if state is None:
            return
        self.details["xshm"] = state
        if not state:
            notes = "; ".join(getattr(self._sct, "performance_status", []) or [])
            log.warning("mss is not using MIT-SHM (XShmGetImage): grabs go over the X socket "
                        "and are several times slower%s", f" ({notes})" if notes else "")

    def _close(self) -> None:
        sct, self._sct = self._sct, None
        if sct is not None:
            try:
                sct.close()
            except self._error_type as exc:
                raise CaptureError(f"mss failed to close: {exc}") from exc
