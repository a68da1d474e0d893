"""Video frame storage: one Matroska file per chunk, encoded by one worker process (PyAV).

The encoder is libx264 unless ``--video-encoder`` picks another (:mod:`.encoders`: NVENC, QSV,
AMF, SVT-AV1); ``auto`` probes the hardware ones and falls back to libx264 (:func:`choose_encoder`).

The video frame store (``nitrogen_capture.session.frames``, kind ``video``) stores chunk ``c`` as
``frames/chunk_NNN.mkv``; frame ``k`` of the file is row ``k`` of the chunk's arrays (``pts = k``,
time base ``1/fps``). Frames of one chunk must reach the encoder in row order, so the store's
:class:`~nitrogen_capture.codecs.jobs.EncoderSpec` asks for a *single*, ordered encoder process
(:func:`video_worker`) fed through the same shared-memory slots as the PNG workers; libx264 runs
its own threads inside it, so one process still uses both cores.

Cost (docs/architecture.md 6): libx264 ``ultrafast`` at crf 18 is ~6 ms a frame at 720p and
~13 ms at 1080p on one core, ~50-80 KiB a frame. Stream set-up, colour conversion and the
odd-size rule (pad by one replicated pixel, crop back on read) are :mod:`.h264`'s, shared with
the export and preview writers.

Crash safety: Matroska is written cluster by cluster. FFmpeg keeps the open cluster in memory and
writes it when it ends, so the cluster length is capped at :data:`CLUSTER_MS` (the journal is
flushed about as often): after ``kill -9`` the file holds every finished cluster and decodes
without its index (cues). Recovery then keeps the decodable prefix and rewrites it whole with
:func:`remux_prefix`.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .encoders import ENCODER_NAMES, ENCODERS, Choice, choose
from .h264 import H264Writer, load_av
from .jobs import FLUSHED, READY, FileClosed, FrameDone, FrameTask

__all__ = ["CLUSTER_MS", "X264_PRESETS", "VideoSettings", "check_video_encoder",
           "check_video_support", "choose_encoder", "remux_prefix", "video_worker"]

log = logging.getLogger(__name__)

X264_PRESETS: tuple[str, ...] = ("ultrafast", "superfast", "veryfast", "faster", "fast",
                                 "medium", "slow", "slower", "veryslow")
# Longest Matroska cluster: what a kill -9 can lose beyond x264's delay. Half the 1 s loss
# promise (docs/reliability.md), like the journal's flush interval; a cluster costs ~20 bytes.
CLUSTER_MS = 500


@dataclass(frozen=True)
class VideoSettings:
    """Encoder settings of ``--frame-format video`` (checked when built).

    ``encoder`` is a resolved name of :data:`.encoders.ENCODERS` (never ``auto``:
    :func:`choose_encoder` resolves it in the parent, before the worker starts).
    """

    fps: float
    crf: int = 18
    preset: str = "ultrafast"
    threads: int = 0  # 0 = the encoder picks (one per core)
    encoder: str = "libx264"

    def __post_init__(self) -> None:
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"--video-crf must be in 0..51 (lower = better), got {self.crf}")
        if self.preset not in X264_PRESETS:
            raise ConfigError(f"--video-preset must be one of {', '.join(X264_PRESETS)}, "
                              f"got {self.preset}")
        if self.fps <= 0:
            raise ConfigError(f"video fps must be > 0, got {self.fps:g}")
        if self.encoder not in ENCODERS:
            raise ConfigError(f"--video-encoder must be one of {', '.join(ENCODER_NAMES)}, "
                              f"got {self.encoder}", setting="video_encoder")


def check_video_encoder(name: str) -> None:
    """``--video-encoder`` names ``auto`` or a known encoder (no probe: that is at record start)."""
    if name not in ENCODER_NAMES:
        raise ConfigError(f"--video-encoder must be one of {', '.join(ENCODER_NAMES)}, "
                          f"got {name}", setting="video_encoder")


def choose_encoder(requested: str, width: int, height: int, crf: int, preset: str) -> Choice:
    """Resolve ``--video-encoder`` with a real probe; log the one fallback line of ``auto``.

    An explicit encoder that cannot encode here is a ConfigError (:func:`.encoders.choose`).
    """
    choice = choose(requested, width, height, crf=crf, preset=preset)
    if choice.fallback_reason:
        log.warning("%s", choice.fallback_reason)
    return choice


def check_video_support(encoder: str = "libx264") -> str:
    """Fail early, in the parent, when PyAV or its encoder is missing; return av version."""
    av = load_av("Video frame storage")
    try:
        av.codec.Codec(encoder, "w")
    except Exception as exc:  # av raises its own UnknownCodecError / ValueError by version
        raise ConfigError(f"--frame-format video needs PyAV built with {encoder} (the PyPI "
                          f"wheels have libx264): {exc}") from exc
    return str(av.__version__)


def _open_chunk_file(path: Path, width: int, height: int, settings: VideoSettings) -> H264Writer:
    # flush_packets: hand each finished cluster to the OS at once (not when PyAV's 256 KiB
    # buffer fills), so a killed process leaves it in the file. No B-frames with any preset:
    # packet order = row order, which crash recovery's stream copy of the first N packets
    # relies on.
    return H264Writer(path, (width, height), settings.fps, crf=settings.crf,
                      preset=settings.preset, threads=settings.threads, max_b_frames=0,
                      container_format="matroska",
                      container_options={"cluster_time_limit": str(CLUSTER_MS),
                                         "flush_packets": "1"},
                      purpose="Video frame storage", encoder=settings.encoder)


def video_worker(tasks: Any, results: Any, settings: VideoSettings) -> None:
    """Encoder process: frames arrive in row order; one open file at a time.

    Tasks (:mod:`.jobs`): :class:`~.jobs.FrameTask` frames, :data:`~.jobs.FLUSH` to close the
    open file, ``None`` to stop (closes too). Results: a :class:`~.jobs.FrameDone` once the
    frame is handed to the encoder (its slot is then free; ``nbytes`` are the packets muxed so
    far by this frame) and a :class:`~.jobs.FileClosed` once the chunk's file is flushed and
    closed, which is when the chunk may be marked complete; its ``nbytes`` is the rest of the
    file, so a file's results add up to its size. :data:`~.jobs.FLUSHED` answers a flush.
    ``tasks`` is the pool's :class:`~nitrogen_capture.encoderpool.worker.SlotReader`.
    """
    check_video_support(settings.encoder)
    import cv2

    # One colour conversion per frame at a time: OpenCV's own threads would only add
    # hand-over cost here (the encoder already has the other core): ~0.2 ms less CPU a
    # 720p frame, measured.
    cv2.setNumThreads(1)
    results.put(READY)
    cur: H264Writer | None = None
    cur_tag: Any = None
    cur_path = ""
    cur_error: str | None = None
    cur_bytes = 0  # bytes already reported for the open file
    done_paths: set[str] = set()

    def finish() -> None:
        nonlocal cur, cur_tag, cur_error, cur_bytes
        if cur_tag is None:
            return
        t0 = time.perf_counter()
        rest, error = 0, cur_error
        if cur is not None:
            try:
                cur.close()
                rest = max(0, os.path.getsize(cur_path) - cur_bytes)
            except Exception as exc:
                error = error or f"closing {cur_path}: {type(exc).__name__}: {exc}"
        results.put(FileClosed(cur_path, cur_tag, (time.perf_counter() - t0) * 1e3, rest,
                               error))
        done_paths.add(cur_path)
        cur, cur_tag, cur_error, cur_bytes = None, None, None, 0

    while True:
        task = tasks.get()
        if not isinstance(task, FrameTask):  # None (stop) or a flush: close the open file
            finish()
            if task is None:
                break
            results.put(FLUSHED)
            continue
        slot, ref, shape, path, tag = task
        t0 = time.perf_counter()
        nbytes, error = 0, None
        try:
            if path != cur_path or cur_tag is None:
                finish()
                cur_tag, cur_path = tag, path
                if path in done_paths:  # reopening would overwrite the finished chunk
                    raise RuntimeError(f"{path} was already closed")
                cur = _open_chunk_file(Path(path), int(shape[1]), int(shape[0]), settings)
            if cur_error is not None or cur is None:
                # An earlier frame of this chunk failed: later frames would land on the wrong
                # rows, so the rest of the chunk is refused and recovery keeps the prefix.
                raise RuntimeError(f"an earlier frame of {Path(path).name} failed: {cur_error}")
            frame = tasks.frame(slot, ref, shape)
            nbytes = cur.write(frame)
            cur_bytes += nbytes
            del frame
        except Exception as exc:  # reported to the owner, who stops the recording
            error = f"{type(exc).__name__}: {exc}"
            if cur_error is None:
                cur_error = error
        results.put(FrameDone(slot, path, tag, (time.perf_counter() - t0) * 1e3, nbytes, error))


def _stream_copy_of(out: Any, in_stream: Any) -> Any:
    """An output stream for copying ``in_stream``'s packets (no encoder is looked up).

    ``opaque=True`` takes the input's own (decoder) codec: without it PyAV looks up an *encoder*
    by the decoder's name, which fails for AV1 (read by ``libdav1d``, which has no encoder).
    PyAV releases before ``opaque`` existed take the plain call (H.264 only, as before).
    """
    try:
        return out.add_stream_from_template(in_stream, opaque=True)
    except TypeError:
        return out.add_stream_from_template(in_stream)


def remux_prefix(src: Path, dst: Path, frames: int) -> int:
    """Copy the first ``frames`` video packets of ``src`` into a new, whole file ``dst``.

    No re-encoding (stream copy). Used by crash recovery: the file of a killed recorder may end
    in a torn cluster and lacks its index; the copy ends cleanly. Our files have no B-frames
    (``max_b_frames = 0``), so packet order is frame order. Returns the packets written.
    """
    av = load_av("recovering a video chunk")
    written = 0
    inp: Any
    out: Any
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="matroska") as out:
        in_stream = inp.streams.video[0]
        if hasattr(out, "add_stream_from_template"):
            out_stream = _stream_copy_of(out, in_stream)
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
