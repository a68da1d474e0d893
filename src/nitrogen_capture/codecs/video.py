"""H.264 frame storage: one Matroska file per chunk, encoded by one worker process (PyAV).

``--frame-format video`` stores chunk ``c`` as ``frames/chunk_NNN.mkv``; frame ``k`` of the file
is row ``k`` of the chunk's arrays (``pts = k``, time base ``1/fps``). Frames of one chunk must
reach the encoder in row order, so video uses a *single* encoder process fed through the same
shared-memory slots as the PNG workers (:class:`~nitrogen_capture.codecs.pool.EncoderPool` with
``video=...``); libx264 runs its own threads inside it, so one process still uses both cores.

Cost (docs/architecture.md 6): libx264 ``ultrafast`` at crf 18 is ~6 ms a frame at 720p and ~13 ms
at 1080p on one core, ~50-80 KiB a frame. Colour: the frame is converted with OpenCV's BGR->I420
(BT.601 limited range, ~0.5 ms at 720p), which is what FFmpeg assumes when it decodes an untagged
stream back to BGR.

Crash safety: Matroska is written cluster by cluster. FFmpeg keeps the open cluster in memory and
writes it when it ends, so the cluster length is capped at :data:`CLUSTER_MS` (the journal is
flushed about as often): after ``kill -9`` the file holds every finished cluster and decodes
without its index (cues). Recovery then keeps the decodable prefix and rewrites it whole with
:func:`remux_prefix`.

Odd sizes: yuv420p needs an even width and height. An odd dimension is padded by one replicated
pixel at the right/bottom edge; the chunk's ``size`` in ``meta.json`` keeps the real size and the
reader crops decoded frames back to it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError, missing_dependency

__all__ = ["CLUSTER_MS", "X264_PRESETS", "VideoSettings", "check_video_support",
           "even_size", "remux_prefix", "video_worker"]

log = logging.getLogger(__name__)

X264_PRESETS: tuple[str, ...] = ("ultrafast", "superfast", "veryfast", "faster", "fast",
                                 "medium", "slow", "slower", "veryslow")
CLUSTER_MS = 1000  # longest Matroska cluster: what a kill -9 can lose beyond x264's delay


@dataclass(frozen=True)
class VideoSettings:
    """libx264 settings of ``--frame-format video`` (checked when built)."""

    fps: float
    crf: int = 18
    preset: str = "ultrafast"
    threads: int = 0  # 0 = libx264 picks (one per core)

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"--video-crf must be in 0..51 (lower = better), got {self.crf}")
        if self.preset not in X264_PRESETS:
            raise ConfigError(f"--video-preset must be one of {', '.join(X264_PRESETS)}, "
                              f"got {self.preset}")
        if self.fps <= 0:
            raise ConfigError(f"video fps must be > 0, got {self.fps:g}")

    def meta(self) -> dict[str, Any]:
        """The ``frame_format`` entry of meta.json."""
        return {"kind": "video", "codec": "h264", "encoder": "libx264", "crf": self.crf,
                "preset": self.preset, "pix_fmt": "yuv420p", "container": "mkv", "ext": "mkv",
                "odd_size": "padded by one replicated pixel; chunk size is the real size"}


def check_video_support() -> str:
    """Fail early, in the parent, when PyAV or its libx264 encoder is missing; return av version."""
    try:
        import av
    except ImportError as exc:
        raise missing_dependency("av", "video", "Video frame storage") from exc
    try:
        av.codec.Codec("libx264", "w")
    except Exception as exc:  # av raises its own UnknownCodecError / ValueError by version
        raise ConfigError("--frame-format video needs PyAV built with libx264 (the PyPI wheels "
                          f"are): {exc}") from exc
    return str(av.__version__)


def even_size(width: int, height: int) -> tuple[int, int]:
    """The encoded size: each dimension rounded up to even."""
    return width + (width & 1), height + (height & 1)


class _ChunkFile:
    """One open Matroska output of one chunk."""

    def __init__(self, path: Path, width: int, height: int, settings: VideoSettings) -> None:
        import av

        self.path = path
        self.size = (width, height)
        self.enc_w, self.enc_h = even_size(width, height)
        rate = Fraction(settings.fps).limit_denominator(1001)
        # flush_packets: hand each finished cluster to the OS at once (not when PyAV's 256 KiB
        # buffer fills), so a killed process leaves it in the file.
        options = {"cluster_time_limit": str(CLUSTER_MS), "flush_packets": "1"}
        self.container: Any = av.open(str(path), "w", format="matroska",
                                      container_options=options)
        try:
            stream: Any = self.container.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = self.enc_w, self.enc_h, "yuv420p"
            stream.time_base = 1 / rate
            stream.codec_context.thread_count = settings.threads
            # No B-frames with any preset: packet order = row order, which crash recovery's
            # stream copy of the first N packets relies on.
            stream.codec_context.max_b_frames = 0
            stream.options = {"crf": str(settings.crf), "preset": settings.preset}
        except BaseException:
            self.container.close()
            raise
        self.stream = stream
        self.rows = 0

    def encode(self, frame_bgr: npt.NDArray[np.uint8]) -> int:
        """Encode the next row; return the bytes muxed by this call (x264 may hold frames back)."""
        import av
        import cv2

        h, w = frame_bgr.shape[:2]
        if (w, h) != self.size:
            raise ValueError(f"frame is {w}x{h}, chunk file {self.path.name} is "
                             f"{self.size[0]}x{self.size[1]}")
        src: Any = frame_bgr
        if (w, h) != (self.enc_w, self.enc_h):
            src = cv2.copyMakeBorder(src, 0, self.enc_h - h, 0, self.enc_w - w,
                                     cv2.BORDER_REPLICATE)
        i420: Any = cv2.cvtColor(src, cv2.COLOR_BGR2YUV_I420)  # copies out of the slot
        vf = av.VideoFrame.from_ndarray(i420, format="yuv420p")
        vf.pts = self.rows
        self.rows += 1
        return self._mux(self.stream.encode(vf))

    def _mux(self, packets: Any) -> int:
        nbytes = 0
        for pkt in packets:
            nbytes += pkt.size
            self.container.mux(pkt)
        return nbytes

    def close(self) -> int:
        """Flush the encoder, write the index and close; return the file size."""
        try:
            self._mux(self.stream.encode(None))
        finally:
            self.container.close()
        return os.path.getsize(self.path)


def video_worker(tasks: Any, results: Any, settings: VideoSettings) -> None:
    """Encoder process: frames arrive in row order; one open file at a time.

    Tasks: ``(slot, shm_name, shape, path, tag)`` frames, ``("flush",)`` to close the open file,
    ``None`` to stop (closes too). Results (see :mod:`.pool`): ``(slot, path, tag, ms, nbytes,
    error, kind)`` with kind ``frame`` once the frame is handed to the encoder (its slot is then
    free; the bytes may reach the file later) and kind ``closed`` (slot -1) once the chunk's file
    is flushed and closed, which is when the chunk may be marked complete; ``"flushed"`` answers
    a flush.
    """
    from multiprocessing import shared_memory

    check_video_support()
    results.put("ready")
    attached: dict[str, shared_memory.SharedMemory] = {}
    cur: _ChunkFile | None = None
    cur_tag: Any = None
    cur_path = ""
    cur_error: str | None = None
    done_paths: set[str] = set()

    def finish() -> None:
        nonlocal cur, cur_tag, cur_error
        if cur_tag is None:
            return
        t0 = time.perf_counter()
        size, error = 0, cur_error
        if cur is not None:
            try:
                size = cur.close()
            except Exception as exc:
                error = error or f"closing {cur_path}: {type(exc).__name__}: {exc}"
        results.put((-1, cur_path, cur_tag, (time.perf_counter() - t0) * 1e3, size, error,
                     "closed"))
        done_paths.add(cur_path)
        cur, cur_tag, cur_error = None, None, None

    while True:
        task = tasks.get()
        if task is None or task == ("flush",):
            finish()
            if task is None:
                break
            results.put("flushed")
            continue
        slot, shm_name, shape, path, tag = task
        t0 = time.perf_counter()
        nbytes, error = 0, None
        try:
            if path != cur_path or cur_tag is None:
                finish()
                cur_tag, cur_path = tag, path
                if path in done_paths:  # reopening would overwrite the finished chunk
                    raise RuntimeError(f"{path} was already closed")
                cur = _ChunkFile(Path(path), int(shape[1]), int(shape[0]), settings)
            if cur_error is not None or cur is None:
                # An earlier frame of this chunk failed: later frames would land on the wrong
                # rows, so the rest of the chunk is refused and recovery keeps the prefix.
                raise RuntimeError(f"an earlier frame of {Path(path).name} failed: {cur_error}")
            shm = attached.get(shm_name)
            if shm is None:
                shm = attached[shm_name] = shared_memory.SharedMemory(name=shm_name)
            frame = np.ndarray(shape, dtype=np.uint8, buffer=shm.buf)
            nbytes = cur.encode(frame)
            del frame
        except Exception as exc:  # reported to the owner, who stops the recording
            error = f"{type(exc).__name__}: {exc}"
            if cur_error is None:
                cur_error = error
        results.put((slot, path, tag, (time.perf_counter() - t0) * 1e3, nbytes, error, "frame"))
    for shm in attached.values():
        shm.close()


def remux_prefix(src: Path, dst: Path, frames: int) -> int:
    """Copy the first ``frames`` video packets of ``src`` into a new, whole file ``dst``.

    No re-encoding (stream copy). Used by crash recovery: the file of a killed recorder may end
    in a torn cluster and lacks its index; the copy ends cleanly. Our files have no B-frames
    (``max_b_frames = 0``), so packet order is frame order. Returns the packets written.
    """
    try:
        import av
    except ImportError as exc:
        raise missing_dependency("av", "video", "recovering a video chunk") from exc
    written = 0
    inp: Any
    out: Any
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="matroska") as out:
        in_stream = inp.streams.video[0]
        if hasattr(out, "add_stream_from_template"):
            out_stream = out.add_stream_from_template(in_stream)
        else:  # PyAV < 14
            out_stream = out.add_stream(template=in_stream)
        try:
            for pkt in inp.demux(in_stream):
                if written >= frames:
                    break
                if pkt.dts is None and pkt.size == 0:
                    continue  # the demuxer's end-of-stream marker
                pkt.stream = out_stream
                out.mux(pkt)
                written += 1
        except av.error.FFmpegError as exc:
            log.info("%s: torn tail after %d packets (%s)", src.name, written, exc)
    return written
