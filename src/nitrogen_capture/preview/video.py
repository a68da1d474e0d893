"""``preview.mp4``: a span of the session's frames with the input overlay, encoded by PyAV.

Frames are decoded one at a time through :meth:`SessionReader.iter_frames` (PNG or video
sessions alike), drawn by :mod:`.overlay` and handed straight to libx264 through the package's
one H.264 writer (:class:`~nitrogen_capture.codecs.h264.H264Writer`: an odd overlay size is padded
by one replicated pixel, docs/format.md), so memory stays at one frame whatever the span. The
file is written under a temporary name and renamed when complete: an interrupted preview never
leaves a torn ``preview.mp4``, and a full disk is one line (diskspace.py).

Frame rate: the session's target fps divided by ``every`` (so playback runs at real speed),
capped at 60 fps; a session recorded faster than 60 fps plays slowed down.

Sound: a session recorded with ``--audio`` gets an AAC track, the session audio under each frame
shown (:mod:`.sound`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..codecs.h264 import H264Writer, load_av
from ..diskspace import BLOCK, on_disk, said_when_full
from ..errors import ConfigError
from ..marks import video_metadata
from ..session.audio_store import SessionAudio, read_session_audio
from ..session.reader import SessionReader
from .data import SessionSeries, gap_marks
from .overlay import HudLayout, RowInfo, draw_row, hud_layout
from .sound import AudioTrack, SpanSound

__all__ = ["MAX_FPS", "VIDEO_MARK", "VideoSpan", "select_span", "write_video"]

VIDEO_MARK = "preview"  # the MP4's comment tag (marks.py): a later run may replace it

log = logging.getLogger(__name__)

MAX_FPS = 60
FLASH_S = 0.2  # how long the PAUSE/GAP flash stays on screen after the first frame


@dataclass(frozen=True)
class VideoSpan:
    """The rows a preview shows: ``rows`` (merged row numbers, ascending) and the output rate."""

    rows: tuple[int, ...]
    rate: Fraction


def select_span(series: SessionSeries, start_s: float, seconds: float, every: int) -> VideoSpan:
    """Rows with capture time in ``[start_s, start_s + seconds)``, every ``every``-th one."""
    if seconds <= 0:
        raise ConfigError(f"--seconds must be > 0, got {seconds:g}")
    if start_s < 0:
        raise ConfigError(f"--start must be >= 0, got {start_s:g}")
    if every < 1:
        raise ConfigError(f"--every must be >= 1, got {every}")
    t = series.t_s
    if len(t) == 0:
        raise ConfigError("the session has no frames to preview")
    lo = int(np.searchsorted(t, start_s, side="left"))
    hi = int(np.searchsorted(t, start_s + seconds, side="left"))
    if lo >= hi:
        raise ConfigError(f"--start {start_s:g} s --seconds {seconds:g} holds no frame: the "
                          f"session runs from 0 to {t[-1]:.2f} s")
    rate = min(Fraction(series.fps).limit_denominator(1001) / every, Fraction(MAX_FPS))
    return VideoSpan(tuple(range(lo, hi, every)), rate)


def _flash_labels(series: SessionSeries, span: VideoSpan) -> dict[int, str]:
    # A gap row skipped by --every still flashes on the next kept row; the flash then stays for
    # FLASH_S of output so a viewer actually sees it.
    marks = gap_marks(series.arrays["frame_indices"], series.arrays["timestamps"], series.pauses)
    hold = max(1, round(float(span.rate) * FLASH_S))
    out: dict[int, str] = {}
    prev = span.rows[0] - 1
    pending: tuple[str, int] | None = None
    for row in span.rows:
        hit = [marks[r] for r in range(prev + 1, row + 1) if r in marks] if marks else []
        if hit:
            pending = (hit[-1], hold)
        if pending is not None:
            out[row] = pending[0]
            pending = (pending[0], pending[1] - 1) if pending[1] > 1 else None
        prev = row
    return out


def _frames(reader: SessionReader, span: VideoSpan) -> Iterator[tuple[int, Any]]:
    wanted = set(span.rows)
    for row, img in reader.iter_frames(span.rows[0], span.rows[-1] + 1):
        if row in wanted:
            yield row, img


def _span_sound(audio: SessionAudio | None, series: SessionSeries,
                span: VideoSpan) -> SpanSound | None:
    if audio is None or not len(audio.samples):
        return None
    times = np.asarray(series.arrays["timestamps"], dtype=np.int64)[list(span.rows)]
    every = span.rows[1] - span.rows[0] if len(span.rows) > 1 else 1
    return SpanSound(audio, times, span.rate, every / series.fps)


def _encode(reader: SessionReader, series: SessionSeries, span: VideoSpan, tmp: Path,
            scale: tuple[int, float], progress: Callable[[int, int], None] | None,
            tally: list[int], sound: SpanSound | None = None) -> HudLayout | None:
    """Draw and encode the span's frames into ``tmp`` (counted in ``tally[0]``).

    ``scale`` is the output width and the mouse arrow's scale. Returns the overlay geometry
    (None when no frame could be read).
    """
    width, mouse_scale = scale
    arrays = series.arrays
    flash = _flash_labels(series, span)
    pad = arrays.get("gamepad") if reader.has_gamepad else None
    keys = tuple(reader.layout.keys)
    hud: HudLayout | None = None
    with ExitStack() as stack:
        opened: tuple[HudLayout, H264Writer] | None = None
        track: AudioTrack | None = None
        for k, (row, img) in enumerate(_frames(reader, span)):
            if opened is None:  # the geometry follows the first frame's size
                layout = hud_layout(keys, (img.shape[1], img.shape[0]), width, pad is not None)
                opened = (layout, stack.enter_context(H264Writer(
                    tmp, (layout.width, layout.height), span.rate, crf=23,
                    preset="veryfast", purpose="Preview video", container_format="mp4",
                    metadata=video_metadata(VIDEO_MARK))))
                if sound is not None:  # before the first packet: the MP4 header lists both
                    track = AudioTrack(opened[1].container, sound.audio.rate,
                                       sound.audio.channels)
            hud, video = opened
            info = RowInfo(row=row, tick=int(arrays["frame_indices"][row]),
                           t_s=float(arrays["timestamps"][row]) / 1e9,
                           actions=arrays["actions"][row],
                           mouse=(float(arrays["mouse_deltas"][row, 0]),
                                  float(arrays["mouse_deltas"][row, 1])),
                           gamepad=None if pad is None else pad[row], flash=flash.get(row))
            video.write(draw_row(img, hud, info, mouse_scale))
            if track is not None and sound is not None:
                track.write(sound.frame(k))
            tally[0] += 1
            if progress is not None:
                progress(tally[0], len(span.rows))
        if track is not None:
            track.flush()
    return hud


def write_video(reader: SessionReader, series: SessionSeries, span: VideoSpan, path: Path, *,
                width: int = 640, progress: Callable[[int, int], None] | None = None,
                sound: bool = True) -> HudLayout:
    """Encode ``span`` of the session with the overlay into ``path`` (H.264 yuv420p MP4).

    ``progress(done, total)`` is called after each frame written. A session with audio
    (``audio.flac``) gets its sound track (:mod:`.sound`); ``sound=False`` leaves it out.

    Returns the overlay geometry used: the real frame size is ``hud.width`` x ``hud.height``
    (the file's is that rounded up to even, padded).
    """
    load_av("Preview video")  # fail before any frame is decoded
    arrays = series.arrays
    deltas = np.asarray(arrays["mouse_deltas"], dtype=np.float64)[list(span.rows)]
    mag = np.hypot(deltas[:, 0], deltas[:, 1]) if len(deltas) else np.zeros(1)
    # Scale the arrow so the span's 95th-percentile motion reaches the circle's edge.
    mouse_scale = 1.0 / max(float(np.percentile(mag, 95)), 1.0)
    audio = _span_sound(read_session_audio(reader.root), series, span) if sound else None
    tally = [0, 0]  # frames encoded, and the temporary's bytes when a write failed

    def needed() -> int:  # the rate so far, for every row of the span; more than was written
        return on_disk([max(tally[1] * len(span.rows) // max(tally[0], 1), tally[1])]) + BLOCK

    todo = "free some space (or choose another --out) and run preview again"
    # No link followed; nothing left behind on an error; a full disk is one line.
    with said_when_full(path, needed, "the preview video", todo), atomic_path(path) as tmp:
        try:
            hud = _encode(reader, series, span, tmp, (width, mouse_scale), progress, tally,
                          audio)
        except OSError:
            with contextlib.suppress(OSError):
                tally[1] = os.stat(tmp).st_size
            raise
        if hud is None:
            raise ConfigError(f"no frame of rows {span.rows[0]}..{span.rows[-1]} could be read")
    log.info("wrote %s: %d frames %dx%d at %s fps%s", path, tally[0], hud.width, hud.height,
             span.rate, "" if audio is None else f" with sound ({audio.audio.rate} Hz)")
    return hud
