"""Decode and resize an export's frames in parallel, in order, with bounded memory.

``convert`` spends nearly all its time turning stored frames into observations: PNG decoding
(inflate + unfilter, ~15 ms a 720p frame with OpenCV's libpng), video colour conversion and the
INTER_AREA resize. :func:`iter_session_frames` runs that work on ``workers`` threads through
:class:`OrderedPool`: the work releases the GIL (zlib/ISA-L inflate, numpy, OpenCV, PyAV's
swscale and decoder threads), results come back in row order, and at most ``window`` frames are
in flight at any time, so memory does not grow with the session.

Per store:

* PNG folders: each job reads one file and decodes it with :func:`decode_png_rgb`, which inflates
  the PNG's pixels with ISA-L (``isal``, when installed; stdlib zlib otherwise) and undoes the
  ``None``/``Up`` row filters in numpy. Those are the only filters fpng writes (the recorder's
  default encoder), so the fast path covers every fpng frame; any other PNG (adaptive filters,
  palette, 16-bit, interlaced, a bad CRC) is decoded by OpenCV as before. Pixels are identical
  either way (PNG is lossless); with ISA-L the fast path is ~2x faster than libpng on fpng
  frames (with zlib about as fast).
* Video chunks: one thread demuxes and decodes (FFmpeg's own decoder threads), jobs convert each
  wanted frame to BGR (swscale, as the store's reader does), crop the odd-size padding and
  transform it.
* Any other store: its own :meth:`~nitrogen_capture.session.frames.base.FrameStore.map_frames`.

Reduced decoding (``cv2.IMREAD_REDUCED_COLOR_2``) was measured and is not used: for PNG it saves
nothing (the whole stream is inflated anyway) and changes pixels (docs/export.md, "Speed").
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import numpy as np
import numpy.typing as npt

from ..errors import SessionFormatError

if TYPE_CHECKING:
    from ..session.reader import Chunk, SessionReader

__all__ = ["FrameTransform", "OrderedPool", "crc32", "decode_png_rgb", "inflate", "inflater",
           "iter_session_frames", "read_png_rgb"]

T = TypeVar("T")
Image = npt.NDArray[np.uint8]

_SIG = b"\x89PNG\r\n\x1a\n"
_MAX_BYTES = 1 << 28  # 256 MB of pixels: beyond 8K x 8K RGB


Inflate = Callable[[Any, int, int], bytes]  # (data, wbits, bufsize), as zlib.decompress
_CODEC: list[tuple[Inflate, Callable[[Any, int], int]]] = []


def inflater() -> tuple[str, Inflate, Callable[[Any, int], int]]:
    """``(name, decompress, crc32)``: ISA-L's when ``isal`` is installed, else zlib's.

    Both release the GIL; ISA-L is ~2x faster on fpng's streams and its CRC ~5x
    (docs/export.md, "Speed").
    """
    try:
        from isal import isal_zlib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return "zlib", zlib.decompress, zlib.crc32
    return ("isal", cast(Inflate, isal_zlib.decompress),
            cast(Callable[[Any, int], int], isal_zlib.crc32))


def _codec() -> tuple[Inflate, Callable[[Any, int], int]]:
    if not _CODEC:
        _CODEC.append(inflater()[1:])
    return _CODEC[0]


def inflate(data: Any, size: int = 16384) -> bytes:
    """Decompress a zlib stream (bytes or a buffer) with :func:`inflater`'s choice.

    ``size``: the expected output size (one allocation instead of a growing buffer).
    """
    return _codec()[0](data, zlib.MAX_WBITS, size)


def crc32(data: Any, value: int = 0) -> int:
    """CRC-32 of a buffer, continuing from ``value``, with :func:`inflater`'s choice."""
    return _codec()[1](data, value)


class FrameTransform(Generic[T]):
    """What an export does to each frame: ``bgr(frame)``, and optionally ``rgb(frame)``.

    ``rgb`` must give exactly what ``bgr`` gives for the same picture in RGB order; decoders
    that produce RGB (the PNG fast path) then skip a colour conversion.
    """

    def __init__(self, bgr: Callable[[Image], T], rgb: Callable[[Image], T] | None = None,
                 ) -> None:
        self.bgr, self._rgb = bgr, rgb

    def __call__(self, img: Image) -> T:
        """The transform of a BGR frame (a FrameTransform is also a plain transform)."""
        return self.bgr(img)

    def rgb(self, img: Image) -> T:
        """The transform of an RGB frame."""
        if self._rgb is not None:
            return self._rgb(img)
        import cv2

        return self.bgr(np.asarray(cv2.cvtColor(img, cv2.COLOR_RGB2BGR), np.uint8))


class OrderedPool:
    """Run jobs on ``workers`` threads; results in submission order, ``window`` in flight at most.

    A job is in flight from its submission until the consumer has taken its result, so at most
    ``window`` inputs, frames being decoded and decoded results exist at any time whatever the
    length of the stream. :attr:`peak` records the most ever in flight (for tests).
    """

    def __init__(self, workers: int, window: int | None = None) -> None:
        self.workers = max(1, int(workers))
        self.window = max(1, int(window if window is not None else 2 * self.workers + 2))
        self.in_flight = 0
        self.peak = 0
        self._lock = threading.Lock()

    def map(self, jobs: Iterable[Callable[[], T]]) -> Iterator[T]:
        """Run each job of ``jobs`` (pulled lazily) and yield its result, in order."""
        if self.workers == 1:
            for job in jobs:
                self._enter()
                try:
                    yield job()
                finally:
                    self._leave()
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="convert") as pool:
            pending: deque[Future[T]] = deque()
            try:
                for job in jobs:
                    if len(pending) >= self.window:
                        yield self._take(pending)
                    self._enter()
                    pending.append(pool.submit(job))
                while pending:
                    yield self._take(pending)
            finally:
                for f in pending:  # an error or the consumer stopped: drop the rest quickly
                    f.cancel()
                self.in_flight = 0

    def _take(self, pending: deque[Future[T]]) -> T:
        fut = pending.popleft()
        try:
            return fut.result()
        finally:
            self._leave()

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            if self.in_flight > self.window:  # the invariant the memory bound rests on
                raise AssertionError(f"{self.in_flight} jobs in flight, window {self.window}")

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def decode_png_rgb(data: bytes) -> Image | None:
    """RGB pixels of an 8-bit RGB, non-interlaced PNG whose rows use only the None/Up filters.

    That is every PNG fpng writes. Returns None for any other PNG (the caller decodes it with
    OpenCV) and for a damaged one (bad CRC, short data), so OpenCV reports it as before.
    """
    if len(data) < 45 or data[:8] != _SIG:
        return None
    view = memoryview(data)
    pos, idat, header = 8, [], None
    end = len(data)
    while pos + 12 <= end:
        n, kind = struct.unpack_from(">I4s", data, pos)
        body = pos + 8
        if body + n + 4 > end:
            return None
        if kind in (b"IHDR", b"IDAT"):
            if crc32(view[pos + 4:body + n]) != struct.unpack_from(">I", data, body + n)[0]:
                return None
            if kind == b"IHDR":
                header = struct.unpack_from(">IIBBBBB", data, body)
            else:
                idat.append(view[body:body + n])
        elif kind == b"IEND":
            break
        elif kind[0] & 0x20 == 0:  # an unknown critical chunk (PLTE...): not ours
            return None
        pos = body + n + 4
    else:
        return None
    if header is None or not idat:
        return None
    w, h, depth, colour, comp, filt, interlace = header
    if (depth, colour, comp, filt, interlace) != (8, 2, 0, 0, 0) or w == 0 or h == 0:
        return None
    stride = 3 * w + 1
    if h * stride > _MAX_BYTES:  # a damaged header must not allocate gigabytes: OpenCV decides
        return None
    try:
        raw = inflate(idat[0] if len(idat) == 1 else b"".join(idat), h * stride)
    except Exception:  # zlib.error / isal's IsalError: let OpenCV say what is wrong
        return None
    if len(raw) != h * stride:
        return None
    rows = np.frombuffer(raw, np.uint8).reshape(h, stride)
    filters = rows[:, 0]
    if not np.all((filters == 0) | (filters == 2)):
        return None
    out = np.empty((h, 3 * w), np.uint8)
    px = rows[:, 1:]
    out[0] = px[0]  # Up on the first row adds a zero row above it
    dst, src, add = list(out), list(px), np.add  # row views made once: ~25% faster loop
    for y, f in enumerate(filters[1:].tolist(), start=1):
        if f == 2:
            add(dst[y - 1], src[y], out=dst[y])
        else:
            dst[y][:] = src[y]
    return out.reshape(h, w, 3)


def read_png_rgb(path: Path, transform: FrameTransform[T]) -> T:
    """``transform`` of the PNG at ``path``: fast path when it applies, else OpenCV (BGR)."""
    import cv2

    if path.is_symlink():
        raise SessionFormatError(f"{path} is a symbolic link (frames are never read through one)")
    try:
        data = path.read_bytes()
    except OSError:
        raise SessionFormatError(f"{path} is missing or cannot be decoded") from None
    rgb = decode_png_rgb(data)
    if rgb is not None:
        return transform.rgb(rgb)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise SessionFormatError(f"{path} is missing or cannot be decoded")
    return transform.bgr(np.asarray(img, dtype=np.uint8))


def _png_jobs(reader: SessionReader, c: Chunk, rows: Iterable[int],
              transform: FrameTransform[T]) -> Iterator[Callable[[], T]]:
    paths = reader.frame_paths(c)  # checks the chunk first (links, row count)
    for r in rows:
        path = paths[r]
        yield lambda path=path: read_png_rgb(path, transform)  # type: ignore[misc]


def _video_jobs(reader: SessionReader, c: Chunk, rows: Iterable[int],
                transform: FrameTransform[T]) -> Iterator[Callable[[], T]]:
    from ..codecs.h264 import crop_to, load_av

    reader.frame_paths(c)  # checks the chunk first (links, row count)
    path = reader.frames_path(c)
    av = load_av("reading video frame storage")
    if path.is_symlink():
        raise SessionFormatError(f"{path} is a symbolic link (frames are never read through one)")
    if not path.is_file():
        raise SessionFormatError(f"{path} is missing")
    size = reader.frame_size(c)
    wanted = iter(rows)
    nxt = next(wanted, None)
    got = 0

    def job(frame: Any) -> T:
        return transform.bgr(crop_to(np.asarray(frame.to_ndarray(format="bgr24"), np.uint8),
                                     size))

    if nxt is None:
        return
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                if got == c.num_frames:
                    break
                while nxt is not None and got == nxt:
                    yield lambda frame=frame: job(frame)  # type: ignore[misc]
                    nxt = next(wanted, None)
                got += 1
                if nxt is None:
                    return
    except av.error.FFmpegError as exc:
        raise SessionFormatError(f"{path.name} fails to decode after {got} frames: {exc}",
                                 ) from exc
    if got < c.num_frames:
        raise SessionFormatError(f"{path} has {got} frames, meta.json says {c.num_frames}")
    raise SessionFormatError(f"{path}: no frame for row {nxt}")


def _store_jobs(reader: SessionReader, c: Chunk, rows: Iterable[int],
                transform: FrameTransform[T]) -> Iterator[Callable[[], T]]:
    for img in reader.map_chunk_frames(c, rows, lambda x: x):
        yield lambda img=img: transform.bgr(img)  # type: ignore[misc]


def iter_session_frames(reader: SessionReader, chunks: list[Chunk],
                        rows: Iterable[tuple[int, int]], transform: FrameTransform[T], *,
                        workers: int, pool: OrderedPool | None = None) -> Iterator[T]:
    """The transform of each ``(chunk index, chunk row)`` in ``rows`` (increasing), in order.

    ``pool`` (default: ``OrderedPool(workers)``) runs the jobs; pass one to read its counters.
    """
    # The store's access capability picks the fast path (one file per frame decoded in
    # parallel, or one video per chunk decoded in order); nothing here knows the kinds.
    make = {"files": _png_jobs, "stream": _video_jobs}.get(reader.frame_store.access,
                                                           _store_jobs)
    by_index = {c.index: c for c in chunks}

    def jobs() -> Iterator[Callable[[], T]]:
        for idx, group in groupby(rows, key=lambda x: x[0]):
            yield from make(reader, by_index[idx], (r for _, r in group), transform)

    pool = pool or OrderedPool(workers)
    return _cv2_serial(pool.map(jobs())) if pool.workers > 1 else pool.map(jobs())


def _cv2_serial(results: Iterator[T]) -> Iterator[T]:
    """``results`` with OpenCV's own thread pool off while they run (restored after).

    Our workers already keep the cores busy; OpenCV splitting each resize over its threads on
    top of that costs more than it gains (measured: 227 -> 380 frames/s on 720p video, 2 cores).
    """
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield from results
    finally:
        cv2.setNumThreads(before)
