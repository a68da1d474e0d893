"""H.264 writing shared by every encoder of the package: one stream set-up, one odd-size rule.

Three writers use :class:`H264Writer`: the video frame store's chunk files
(:mod:`.video`, ``frames/chunk_NNN.mkv``), the ``video.mp4`` of ``--format nitrogen-dataset``
(:mod:`nitrogen_capture.export.dataset_tree`) and ``preview.mp4``
(:mod:`nitrogen_capture.preview.video`).

Odd sizes (docs/format.md, "Video frame storage"): libx264's ``yuv420p`` subsamples chroma 2x2,
so it needs an even width and height. An odd dimension is padded by one replicated pixel at the
right/bottom edge (:func:`pad_to_even`); nothing is scaled or dropped. The real size is kept
beside the file (a chunk's ``size`` in ``meta.json``, ``original_video.resolution`` of the
dataset's ``metadata.json``, the preview's ``HudLayout``) and readers crop back to it with
:func:`crop_to`.

Colour: frames are converted with OpenCV's BGR->I420 (BT.601 limited range, ~0.5 ms at 720p),
which is what FFmpeg assumes when it decodes an untagged stream back to BGR.

Importing this module costs nothing: PyAV and OpenCV are imported when a writer is opened.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import missing_dependency

__all__ = ["H264Writer", "crop_to", "even_size", "load_av", "pad_to_even"]

log = logging.getLogger(__name__)


def load_av(purpose: str) -> Any:
    """Import PyAV; when it is missing raise a DependencyError naming the ``video`` extra."""
    try:
        import av
    except ImportError as exc:
        raise missing_dependency("av", "video", purpose) from exc
    return av


def even_size(width: int, height: int) -> tuple[int, int]:
    """The encoded size: each dimension rounded up to even."""
    return width + (width & 1), height + (height & 1)


def pad_to_even(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """``frame`` with an odd width/height padded by one replicated column/row (right/bottom)."""
    h, w = frame.shape[:2]
    ew, eh = even_size(w, h)
    if (ew, eh) == (w, h):
        return frame
    import cv2

    return np.asarray(cv2.copyMakeBorder(frame, 0, eh - h, 0, ew - w, cv2.BORDER_REPLICATE),
                      dtype=np.uint8)


def crop_to(frame: npt.NDArray[np.uint8], size: tuple[int, int] | None,
            ) -> npt.NDArray[np.uint8]:
    """A decoded frame cropped back to its real ``size`` (w, h); None keeps it as decoded."""
    if size is None:
        return frame
    w, h = size
    if frame.shape[1] == w and frame.shape[0] == h:
        return frame
    # Contiguous: OpenCV calls downstream want whole rows.
    return np.ascontiguousarray(frame[:h, :w])


class H264Writer:
    """One video stream (libx264 ``yuv420p`` by default) in a new container file, frames as BGR.

    ``encoder`` picks another encoder of :data:`.encoders.ENCODERS` (``--video-encoder``: NVENC,
    QSV, AMF, SVT-AV1); ``crf`` / ``preset`` are mapped onto its own options there, and the
    odd-size rule and ``max_b_frames`` hold for all of them.

    Args:
        path: the file to create (replaced if it exists).
        size: the real frame size (w, h); an odd one is padded (see the module docstring).
        rate: frames per second; ``pts`` of frame ``k`` is ``k`` in time base ``1/rate``.
        crf, preset, threads: quality, speed preset (libx264's names) and threads (0 = one per
            core).
        max_b_frames: None keeps the preset's; 0 makes packet order equal frame order (the
            frame store's crash recovery copies a prefix of packets).
        container_format: FFmpeg muxer name; None guesses it from the file name.
        container_options: muxer options (e.g. Matroska's ``cluster_time_limit``).
        purpose: what needs PyAV, for the missing-dependency message.
        encoder: the FFmpeg encoder (default libx264).
        gop: keyframe interval in frames (FFmpeg's ``g``); None keeps the encoder's.
        metadata: container tags (e.g. marks.video_metadata: what wrote the file).
    """

    def __init__(self, path: Path, size: tuple[int, int], rate: Fraction | float, *,
                 crf: int = 18, preset: str = "ultrafast", threads: int = 0,
                 max_b_frames: int | None = None, container_format: str | None = None,
                 container_options: Mapping[str, str] | None = None,
                 purpose: str = "H.264 video", encoder: str = "libx264",
                 gop: int | None = None, metadata: Mapping[str, str] | None = None) -> None:
        from .encoders import ENCODERS, quiet_native_logs

        av = load_av(purpose)
        spec = ENCODERS[encoder]
        self.encoder = spec.name
        self._pix_fmt = spec.pix_fmt
        quiet_native_logs()
        self._av = av
        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        self.encoded_size = even_size(*self.size)
        self.frames = 0
        self._closed = False
        fps = Fraction(rate).limit_denominator(1001)
        self._container: Any = av.open(str(self.path), "w", format=container_format,
                                       container_options=dict(container_options or {}))
        try:
            self._container.metadata.update(dict(metadata or {}))
            stream: Any = self._container.add_stream(spec.name, rate=fps)
            stream.width, stream.height = self.encoded_size
            stream.pix_fmt = spec.pix_fmt
            stream.time_base = 1 / fps
            stream.codec_context.thread_count = threads
            if max_b_frames is not None and spec.b_frames:
                stream.codec_context.max_b_frames = max_b_frames
            stream.options = spec.options(crf, preset)
            if gop is not None:
                stream.codec_context.gop_size = gop
        except BaseException:
            self._container.close()
            raise
        self._stream = stream
        # A fresh I420 array per frame is wrapped without a copy (PyAV keeps it alive with
        # the frame); from_ndarray copies its 1.4 MB (720p) once more.
        wrap = getattr(self._av.VideoFrame, "from_numpy_buffer", None)
        self._wrap = wrap if wrap is not None else self._av.VideoFrame.from_ndarray

    @property
    def container(self) -> Any:
        """The open PyAV container.

        A second stream (the preview's sound) is added to it before the first frame is
        written, and drained before :meth:`close`.
        """
        return self._container

    def write(self, frame_bgr: npt.NDArray[np.uint8]) -> int:
        """Encode the next frame; return the bytes muxed by this call (x264 holds some back)."""
        import cv2

        h, w = frame_bgr.shape[:2]
        if (w, h) != self.size:
            raise ValueError(f"frame is {w}x{h}, {self.path.name} is "
                             f"{self.size[0]}x{self.size[1]}")
        # cvtColor copies: the caller may reuse its buffer (a shared-memory slot) at once.
        i420: Any = cv2.cvtColor(pad_to_even(frame_bgr), cv2.COLOR_BGR2YUV_I420)
        vf = self._wrap(i420, format="yuv420p")
        if (vf.width, vf.height) != self.encoded_size:
            # PyAV 18's from_numpy_buffer gets the height wrong for yuv420p when it is not a
            # multiple of 4 (242 -> 240): copy those instead.
            vf = self._av.VideoFrame.from_ndarray(i420, format="yuv420p")
        if self._pix_fmt != "yuv420p":  # QSV / AMF take NV12 (same samples, UV interleaved)
            vf = vf.reformat(format=self._pix_fmt)
        vf.pts = self.frames
        self.frames += 1
        return self._mux(self._stream.encode(vf))

    def _mux(self, packets: Iterable[Any]) -> int:
        nbytes = 0
        for pkt in packets:
            nbytes += int(pkt.size)
            self._container.mux(pkt)
        return nbytes

    def close(self) -> int:
        """Flush the encoder, write the index and close; return the bytes muxed by the flush.

        Idempotent: a second call returns 0.
        """
        if self._closed:
            return 0
        self._closed = True
        try:
            return self._mux(self._stream.encode(None))
        finally:
            self._container.close()

    def abort(self) -> None:
        """Close without muxing more, after an error; never raises (the first error counts).

        The encoder is still told that the stream ended (what it gives back is dropped):
        SVT-AV1 prints an error line on stderr when it is closed without that.
        """
        if self._closed:
            return
        self._closed = True
        try:
            with contextlib.suppress(Exception):
                self._stream.encode(None)
            self._container.close()
        except Exception as exc:  # the error that made us abort is the one to report
            log.debug("closing %s after an error: %s", self.path, exc)

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
