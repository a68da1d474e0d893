"""The end of a recording: the final ``meta.json`` and the one error for an unfinished session.

:class:`~.recorder.Recorder` calls these once its parts are stopped (``_shut_down``): the
session writer has finished (or journaled) every chunk, so what is on disk is what the final
``meta.json`` describes: the achieved fps of the finished chunks, the status, the counters, the
encoder's figures and the input sources' losses. A session that could not be completed raises
one clear error naming what is intact and how to recover the rest (docs/reliability.md).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

from ..capture._chain import ChainSource
from ..capture.base import FrameSource
from ..clock import clock_pair
from ..diskspace import disk_full_error, is_disk_full
from ..errors import CaptureError, EncodeError
from ..inputs.base import InputSource
from ..session.meta import Counters, SessionMeta
from ..session.meta_parts import ClockPair
from ..session.paths import SessionPaths, run_merge
from ..session.writer import SessionWriter
from .pipeline import WriterThread

__all__ = ["achieved_fps", "finish_meta", "input_losses", "note_capture_details",
           "raise_unfinished"]

log = logging.getLogger(__name__)

_FULL_BYTES = 64 * 2**20  # less free space than this after a failed write: the disk is full


def note_capture_details(meta: SessionMeta, source: FrameSource) -> None:
    """Copy the backend's ``details`` into meta.json's ``capture`` (they change as it runs).

    ``auto``'s chain on Windows adds its ``choice``; after a failover the backend named is the
    one recording now (capture/_chain.py).
    """
    if meta.capture is None:
        return
    if isinstance(source, ChainSource):
        meta.capture = dataclasses.replace(meta.capture, backend=source.name,
                                           details=dict(source.details), choice=source.choice)
    else:
        meta.capture = dataclasses.replace(meta.capture, details=dict(source.details))


def input_losses(inputs: Iterable[InputSource]) -> dict[str, int]:
    """The input sources' non-zero losses, keyed ``source.what`` (meta.json ``input.losses``)."""
    return {f"{src.name}.{what}": n for src in inputs
            for what, n in src.losses().items() if n}


def finish_meta(meta: SessionMeta, writer: SessionWriter, paths: SessionPaths, *,
                stop_reason: str, lost: dict[str, int], counters: Counters) -> None:
    """Fill the final ``meta.json`` of a stopped recording and write it.

    A failed write is only logged: the last ``meta.json`` on disk still lists every finished
    chunk.
    """
    ms = sorted(writer.encode_ms)
    meta.fps_achieved = achieved_fps(paths, meta)
    mono, wall = clock_pair()  # the drift of the wall clock over the session (clock.pairs)
    meta.clock = dataclasses.replace(
        meta.clock, pairs=(*meta.clock.pairs, ClockPair("end", mono, wall)))
    meta.status = "complete" if not writer.open_chunks else "interrupted"
    meta.stop_reason = stop_reason
    if lost:  # a device unplugged, a kernel buffer overflow: events are missing
        meta.input = dataclasses.replace(meta.input, losses=lost)
    if meta.encoder is not None:
        meta.encoder = dataclasses.replace(
            meta.encoder,
            ms_per_frame_mean=round(sum(ms) / len(ms), 3) if ms else None,
            ms_per_frame_p99=round(ms[int(0.99 * (len(ms) - 1))], 3) if ms else None,
            bytes_written=writer.bytes_written, errors=tuple(writer.errors[:5]))
    meta.counters = counters
    try:
        writer.write_meta()
    except OSError as exc:  # the last meta.json on disk still lists every finished chunk
        log.debug("final meta.json not written: %s", exc)


def raise_unfinished(meta: SessionMeta, writer: SessionWriter, wt: WriterThread,
                     paths: SessionPaths, out: str | Path | None) -> None:
    """Raise one clear error when the session could not be completed."""
    done = len(meta.chunks)
    advice = (f"the {done} finished chunk(s) are intact; {run_merge(out)} to "
              "recover the journaled rest")
    err = wt.error
    if isinstance(err, OSError) and _disk_full(err, paths):
        # The one full-disk line of every command (diskspace.py).
        raise disk_full_error(paths.root, 0, "the session", advice) from err
    if isinstance(err, OSError):
        raise EncodeError(f"writing the session failed ({_describe_os_error(err)})"
                          f": {advice}") from err
    if err is not None:
        raise EncodeError(f"writing the session failed ({err}): {advice}") from err
    if writer.errors:
        raise CaptureError(f"{len(writer.errors)} frame(s) could not be written "
                           f"({writer.errors[0]}): {advice}")
    if writer.open_chunks:
        raise CaptureError(f"{len(writer.open_chunks)} chunk(s) could not be completed: "
                           f"{advice}")


def _disk_full(err: OSError, paths: SessionPaths) -> bool:
    """Whether ``err`` is a full disk.

    A failed write without an errno (an encoder's, numpy's) counts when little space is left.
    """
    if is_disk_full(err):
        return True
    return paths.root.exists() and shutil.disk_usage(paths.root).free < _FULL_BYTES


def _describe_os_error(err: OSError) -> str:
    """Name the cause of a failed write that is not a full disk."""
    return f"{err.strerror or err}{': ' + str(err.filename) if err.filename else ''}"


def achieved_fps(paths: SessionPaths, meta: SessionMeta) -> float:
    """The one achieved-fps rule on the finished chunks on disk, with the recorder's pauses."""
    from ..errors import NitrogenCaptureError
    from ..session.reader import SessionReader

    try:
        return SessionReader(paths.root).achieved_fps(meta.pauses)
    except NitrogenCaptureError:  # no meta.json yet (stopped before the first chunk)
        return 0.0
