"""Frames for a policy: the captured frame as the exporters would have given it to a trainer.

The capture thread hands every recorded frame to :class:`FrameMailbox` (it keeps only the
newest), squashed whole to the policy's size with INTER_AREA and turned RGB, the same bytes as
the ``.pt`` exporter's observation before its channels-first transpose
(:func:`nitrogen_capture.export.nitrogen.obs_transform`), so a policy trained on an export sees
at play time what it saw in training.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FrameMailbox", "PolicyFrame", "policy_frame"]


def policy_frame(raw: npt.NDArray[np.uint8],
                 size: tuple[int, int] | None) -> npt.NDArray[np.uint8]:
    """BGR or BGRA ``raw`` -> ``(h, w, 3)`` RGB at ``size`` (w, h; None keeps the size)."""
    import cv2

    bgr = raw[..., :3]
    if size is not None and (bgr.shape[1], bgr.shape[0]) != size:
        bgr = np.asarray(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), np.uint8)
    return np.ascontiguousarray(bgr[..., ::-1])


@dataclass(frozen=True)
class PolicyFrame:
    """A frame ready for the policy, the time it was grabbed and its number."""

    rgb: npt.NDArray[np.uint8]
    t_grab_ns: int
    seq: int


class FrameMailbox:
    """One slot: the capture thread puts, the inference thread takes the newest it has not had.

    A frame put while the policy is busy replaces the one before: a policy always answers the
    newest frame, never a queue of old ones.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: PolicyFrame | None = None
        self._seq = 0
        self._closed = False

    def put(self, rgb: npt.NDArray[np.uint8], t_grab_ns: int) -> None:
        """Offer a frame (capture thread)."""
        with self._cond:
            self._seq += 1
            self._frame = PolicyFrame(rgb, t_grab_ns, self._seq)
            self._cond.notify_all()

    def take(self, after_seq: int, timeout: float) -> PolicyFrame | None:
        """The newest frame numbered above ``after_seq``; None on timeout or once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or (
                self._frame is not None and self._frame.seq > after_seq), timeout)
            frame = self._frame
            if self._closed or frame is None or frame.seq <= after_seq:
                return None
            return frame

    def close(self) -> None:
        """Wake every taker for good."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
