"""Timed media streams beside the frames: the seam an audio stream will use (docs/format.md).

A session today has one timed media stream, ``frames``: one item per row, stored by the frame
store, stamped by ``timestamps_chunk_NNN.npy``. A second stream (audio, later) is declared here
as a :class:`StreamKind` and stored chunk by chunk beside the rows, on the same clock:

* ``<name>_chunk_NNN.npy``            the stream's items of the chunk (e.g. ``(n, channels)``
  int16 samples), in the dtype and trailing shape the kind declares;
* ``<name>_timestamps_chunk_NNN.npy`` ``(n,)`` int64: when each item (a block of samples)
  *started*, in ns since meta ``clock.t0_ns``, like frame timestamps.

An item belongs to the row whose interval ``(t_{i-1}, t_i]`` holds its timestamp, the binner's
rule for events (:func:`rows_of`). The chunk of an item is the chunk of that row, so a chunk's
stream files cover the same time span as its rows and crash safety works per chunk as it does
for frames. Nothing records a second stream yet: this module declares the vocabulary, the file
names, and the write/read/align helpers a backend and the readers share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SessionFormatError
from ..rows import ROW_ARRAYS
from .io import atomic_save_npy
from .paths import SessionPaths

__all__ = [
    "FRAMES",
    "STREAM_KINDS",
    "StreamKind",
    "read_stream_chunk",
    "register_stream_kind",
    "rows_of",
    "stream_files",
    "unregister_stream_kind",
    "write_stream_chunk",
]

_RESERVED = frozenset({"frames", "events", "journal", "meta"}) | frozenset(ROW_ARRAYS)


@dataclass(frozen=True)
class StreamKind:
    """A kind of timed media stream.

    Attributes:
        name: the stream's name and file stem (``audio``).
        media: what it carries (``video``, ``audio``...), for readers and ``meta.json``.
        dtype: the items' dtype.
        tail: trailing shape of one item (``(2,)`` for stereo samples).
        rate: nominal items per second (sample rate; 0 when irregular).
        details: fixed facts for ``meta.json`` (codec, channel names...).
    """

    name: str
    media: str
    dtype: np.dtype[Any]
    tail: tuple[int, ...] = ()
    rate: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stream's entry in ``meta.json`` ``streams`` (docs/format.md)."""
        return {"name": self.name, "media": self.media, "dtype": self.dtype.str,
                "shape": list(self.tail), "rate": self.rate, "details": dict(self.details)}


#: The built-in stream: the frames, one per row, stored by the frame store (not by this module).
FRAMES = StreamKind("frames", "video", np.dtype(np.uint8), (), 0.0)
STREAM_KINDS: dict[str, StreamKind] = {FRAMES.name: FRAMES}


def register_stream_kind(kind: StreamKind) -> None:
    """Declare a stream beside the frames.

    Raises:
        ValueError: the name is taken (by a stream, a row array or a session file) or is not a
            plain lowercase file stem.
    """
    if (kind.name in STREAM_KINDS or kind.name in _RESERVED
            or not kind.name.isidentifier() or kind.name != kind.name.lower()):
        raise ValueError(f"stream name '{kind.name}' is taken or not a lowercase file stem")
    STREAM_KINDS[kind.name] = kind


def unregister_stream_kind(name: str) -> None:
    """Forget a stream added by :func:`register_stream_kind` (``frames`` stays)."""
    if name != FRAMES.name:
        STREAM_KINDS.pop(name, None)


def _kind(name: str) -> StreamKind:
    kind = STREAM_KINDS.get(name)
    if kind is None or kind is FRAMES:
        raise ValueError(f"'{name}' is not a declared stream beside the frames")
    return kind


def stream_files(paths: SessionPaths, name: str, chunk: int) -> tuple[Path, Path]:
    """``(<name>_chunk_NNN.npy, <name>_timestamps_chunk_NNN.npy)`` of ``chunk``."""
    _kind(name)
    return paths.chunk_array(name, chunk), paths.chunk_array(f"{name}_timestamps", chunk)


def write_stream_chunk(paths: SessionPaths, name: str, chunk: int,
                       items: npt.NDArray[Any], t_ns: npt.NDArray[np.int64]) -> None:
    """Store one chunk of stream ``name`` (each file written atomically).

    Raises:
        ValueError: items of another dtype or shape than declared, or times not increasing.
    """
    kind = _kind(name)
    items = np.asarray(items)
    t_ns = np.asarray(t_ns)
    if items.dtype != kind.dtype or items.shape[1:] != kind.tail or len(items) != len(t_ns):
        raise ValueError(f"stream '{name}': {items.dtype}{list(items.shape)} with {len(t_ns)} "
                         f"times, declared {kind.dtype}[n, {', '.join(map(str, kind.tail))}]")
    if t_ns.dtype != np.int64 or np.any(np.diff(t_ns) <= 0):
        raise ValueError(f"stream '{name}': timestamps must be increasing int64 ns")
    data, times = stream_files(paths, name, chunk)
    atomic_save_npy(data, items)
    atomic_save_npy(times, t_ns)


def read_stream_chunk(paths: SessionPaths, name: str, chunk: int,
                      ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """Load one chunk of stream ``name``, checked against its declaration.

    Raises:
        SessionFormatError: a file is missing or holds another dtype or shape.
    """
    kind = _kind(name)
    data, times = stream_files(paths, name, chunk)
    try:
        items = np.load(data, allow_pickle=False)
        t_ns = np.load(times, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SessionFormatError(f"stream '{name}' chunk {chunk}: {exc}", chunk=chunk) from exc
    if (items.dtype != kind.dtype or items.shape[1:] != kind.tail or t_ns.dtype != np.int64
            or t_ns.shape != (len(items),)):
        raise SessionFormatError(
            f"stream '{name}' chunk {chunk}: {items.dtype}{list(items.shape)} with "
            f"{t_ns.dtype}{list(t_ns.shape)} times, declared {kind.dtype}", chunk=chunk)
    return items, t_ns


def rows_of(item_t_ns: npt.NDArray[np.int64],
            frame_t_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The row each item belongs to: the first ``i`` with ``item_t <= t_i`` (``(t_{i-1}, t_i]``).

    Items after the last frame get ``len(frame_t_ns)`` (they belong to the next chunk's rows).
    """
    return np.searchsorted(frame_t_ns, item_t_ns, side="left").astype(np.int64)
