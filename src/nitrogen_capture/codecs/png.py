"""Lossless PNG encoding of BGR frames: fpng when installed, OpenCV otherwise.

Measured on the 2-core build machine at 720p (docs/architecture.md section 6): OpenCV's PNG at
level 1 costs ~45 ms a frame and cannot hold 30 fps on one core; ``fpng`` (PyPI) costs ~3-5 ms and
writes ordinary PNGs that OpenCV, PIL and browsers open. Both are bit-exact (lossless). Files are
written to a temporary name and renamed, so a PNG that exists on disk is always whole, which
crash recovery relies on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from ..atomic import atomic_write
from ..errors import ConfigError, EncodeError
from .jobs import READY, FrameDone, FrameTask

__all__ = ["PNG_ENCODERS", "PngEncode", "get_png_encoder", "png_worker", "write_atomic"]

log = logging.getLogger(__name__)

PNG_ENCODERS: tuple[str, ...] = ("auto", "fpng", "opencv")
PngEncode = Callable[[npt.NDArray[np.uint8]], bytes]


def _fpng_encoder() -> PngEncode:
    import fpng

    def encode(frame_bgr: npt.NDArray[np.uint8]) -> bytes:
        # fpng takes RGB; cvtColor is ~0.1 ms at 720p (channel slicing would be ~4 ms).
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        return bytes(fpng.from_ndarray(rgb))

    return encode


def _opencv_encoder(level: int = 1) -> PngEncode:
    params = [cv2.IMWRITE_PNG_COMPRESSION, level]

    def encode(frame_bgr: npt.NDArray[np.uint8]) -> bytes:
        ok, buf = cv2.imencode(".png", frame_bgr, params)
        if not ok:
            raise EncodeError("OpenCV could not encode the frame as PNG")
        return buf.tobytes()

    return encode


def get_png_encoder(name: str = "auto") -> tuple[str, PngEncode]:
    """Return ``(resolved name, encode function)`` for ``name`` in :data:`PNG_ENCODERS`."""
    if name not in PNG_ENCODERS:
        raise ConfigError(f"unknown PNG encoder '{name}': choose one of {', '.join(PNG_ENCODERS)}")
    if name in ("auto", "fpng"):
        try:
            return "fpng", _fpng_encoder()
        except ImportError:
            if name == "fpng":
                raise ConfigError("the fpng PNG encoder is not installed: pip install fpng") \
                    from None
            log.warning("fpng is not installed: falling back to OpenCV PNG (about 10x slower)")
    return "opencv", _opencv_encoder()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (atomic.py).

    No fsync: a frame is one of thousands, and crash repair checks every PNG it keeps; a partial
    file never looks like a frame (it keeps its ``.NAME.partial`` name until whole).
    """
    atomic_write(path, data, fsync=False)


def png_worker(tasks: Any, results: Any, encoder_name: str) -> None:
    """Encoder process: encode frames from shared memory and write one PNG each.

    Any number of these run side by side (a frame's file does not depend on the others), so
    results come back in any order. ``tasks`` is the pool's
    :class:`~nitrogen_capture.encoderpool.worker.SlotReader`; tasks and results are the
    messages of :mod:`.jobs`.
    """
    _, encode = get_png_encoder(encoder_name)
    results.put(READY)
    while True:
        task = tasks.get()
        if task is None:
            break
        if not isinstance(task, FrameTask):  # a flush: nothing is held open here
            continue
        t0 = time.perf_counter()
        try:
            frame = tasks.frame(task.slot, task.ref, task.shape)
            data = encode(frame)
            del frame
            write_atomic(Path(task.path), data)
            results.put(FrameDone(task.slot, task.path, task.tag,
                                  (time.perf_counter() - t0) * 1e3, len(data), None))
        except Exception as exc:  # reported to the owner, who decides (e.g. disk full -> stop)
            results.put(FrameDone(task.slot, task.path, task.tag,
                                  (time.perf_counter() - t0) * 1e3, 0,
                                  f"{type(exc).__name__}: {exc}"))
