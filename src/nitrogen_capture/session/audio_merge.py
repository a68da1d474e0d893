"""Merge's audio step: recover what a crash left open, render the session's ``audio.flac``.

Runs inside :func:`~nitrogen_capture.session.merge.merge_session`, under its lock, after the
frames are merged: the open chunk's ``.part`` pair a ``kill -9`` left becomes a finished chunk
(:func:`~.audio_store.recover_audio_parts`), every chunk is read and checked, and the timeline
(:mod:`nitrogen_capture.audio.timeline`) renders one file whose sample ``n`` is at ``n / rate``
s after ``clock.t0_ns``, as long as the frames (to the last frame's period end). ``meta.json``
``audio`` gets the runs' fits and ``merged``; ``stats.lost_s`` becomes the fits' steps (sound
the server dropped, as the stored stamps show it), and after a crash ``stats.recorded_s`` is
recounted from the chunks (the recorder never wrote its final figures).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
import numpy.typing as npt

from ..audio.timeline import render
from ..errors import SessionFormatError
from .audio_store import (
    AUDIO_MERGED,
    audio_chunks,
    open_parts,
    read_audio_chunk,
    recover_audio_parts,
    write_flac,
)
from .meta import SessionMeta
from .paths import SessionPaths

__all__ = ["merge_audio"]

log = logging.getLogger(__name__)


def merge_audio(paths: SessionPaths, meta: SessionMeta, timestamps: npt.NDArray[np.int64],
                *, skip_bad: bool = False) -> str | None:
    """Write ``audio.flac`` and update ``meta.audio``; returns the file's name (None: no audio).

    Raises:
        SessionFormatError: a chunk's audio is unreadable (unless ``skip_bad``: then it is left
            out, with a warning, and its time is silent).
    """
    info = meta.audio
    if info is None:
        if open_parts(paths) or audio_chunks(paths):
            log.warning("%s: audio chunk files without meta.json 'audio': left alone",
                        paths.root)
        return None
    recovered = recover_audio_parts(paths, info.rate, info.channels)
    chunks = []
    for c in audio_chunks(paths):
        try:
            chunks.append(read_audio_chunk(paths, c))
        except SessionFormatError as exc:
            if not skip_bad:
                raise SessionFormatError(f"{exc}; merge stopped: rerun with --skip-bad to leave "
                                         f"chunk {c}'s audio out", chunk=c) from exc
            log.warning("skipping the audio of chunk %d: %s", c, exc)
    period = 1e9 / meta.fps_target if meta.fps_target else 0.0
    end_ns = int(timestamps[-1] + period) if len(timestamps) else None
    samples, fits = render(chunks, info.rate, info.channels, end_ns=end_ns)
    write_flac(paths.root / AUDIO_MERGED, samples, info.rate)
    stats: dict[str, Any] = dict(info.stats)
    stored = sum(len(c.samples) for c in chunks)
    if recovered or "recorded_s" not in stats:
        stats["recorded_s"] = round(stored / info.rate, 3)
    stats["chunks"] = [c.chunk for c in chunks]  # (after a crash the recorder's list is short)
    if recovered:
        stats["recovered_chunks"] = recovered
    # The clock fit's steps are the measure of sound the server dropped (the recorder's live
    # figure was its first estimate): the number stated agrees with the stored stamps.
    stats["lost_s"] = round(sum(f.lost_ns for f in fits.values()) / 1e9, 3)
    meta.audio = dataclasses.replace(
        info, runs=tuple(f.to_json() for f in fits.values()), stats=stats,
        merged={"file": AUDIO_MERGED, "samples": len(samples),
                "seconds": round(len(samples) / info.rate, 3), "chunks": [c.chunk for c in chunks]})
    return AUDIO_MERGED
