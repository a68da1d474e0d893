"""Random access to stored frames, for the streaming loaders (:mod:`.stream`).

``convert`` reads every frame once, in order (:mod:`.decode`); a training loader asks for any
frame in any order. The pixels must be the ones ``convert`` gets, so each path here ends in the
same calls as :mod:`.decode`'s: :func:`~.decode.read_png_rgb` for a PNG, and for video
``frame.to_ndarray(format="bgr24")`` cropped back to the real size
(:func:`~nitrogen_capture.codecs.h264.crop_to`), then the export's own transform.

Video (:class:`VideoCursor`): one open decoder per file, kept where it stopped. A frame at or
a little after that point is decoded forward; an earlier one or one far ahead is reached by
seeking to the keyframe before it, found through the file's presentation times (read once from
its packets, no decoding). A seek whose landing frame cannot be placed, or lands after the
frame, falls back to decoding from the start, so a file without usable timestamps is still read
right, only slower. Decoding from a keyframe gives the same pixels as decoding from the start
(H.264 keyframes written by libx264 are IDR frames); tests/export/test_stream_loader.py checks it.
Frames decoded on the way can be handed to a ``keep`` callback (the loader caches the ones it
will need).

Fork: a child forked while a decoder exists in the parent (a DataLoader starting its workers
after the main process read a window) hangs when it decodes or frees it (FFmpeg's decoder
threads are not in the child), so just before any fork (``os.register_at_fork``) every open
video file is closed and the decoders are freed (a garbage collection when a file was opened
since the last fork); the parent reopens a file, with a seek, when it next reads.
"""

from __future__ import annotations

import bisect
import gc
import os
import weakref
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from ..errors import SessionFormatError
from .decode import FrameTransform, read_png_rgb

if TYPE_CHECKING:
    from ..session.meta import ChunkEntry
    from ..session.reader import SessionReader

__all__ = ["SEEK_AHEAD", "SessionFrames", "VideoCursor"]

T = TypeVar("T")
Image = npt.NDArray[np.uint8]
Keep = Callable[[int, Callable[[], Image]], None]
# Forward jumps up to this many frames are decoded through (the frames on the way may be
# kept); longer ones seek. ~half a second at 60 fps: about what a seek plus a GOP costs.
SEEK_AHEAD = 32
OPEN_FILES = 4  # video decoders kept open per process (each holds a few decoded frames)
_LIVE: weakref.WeakSet[VideoCursor] = weakref.WeakSet()  # cursors with an open file
_OPENED: list[bool] = []  # non-empty once a file was opened since the last fork


def _close_before_fork() -> None:
    """Close every open video file and free its decoder here, in the parent.

    A decoder freed in the child instead (its object still waiting for the garbage collector,
    even after ``close()``) waits forever for FFmpeg threads the child does not have.
    """
    if not _LIVE and not _OPENED:
        return
    for cursor in list(_LIVE):
        cursor.close()
    _OPENED.clear()
    gc.collect()


if hasattr(os, "register_at_fork"):  # POSIX; Windows only spawns
    os.register_at_fork(before=_close_before_fork)


class VideoCursor:
    """Frame ``k`` (BGR, cropped to ``size``) of one video file of ``num_frames`` frames."""

    def __init__(self, path: Path, num_frames: int, size: tuple[int, int] | None,
                 purpose: str = "reading video frame storage") -> None:
        self.path, self.num_frames, self.size, self.purpose = path, num_frames, size, purpose
        self._container: Any = None
        self._frames: Any = None
        self._next = 0  # index of the frame the decoder gives next
        self._pts: list[int] | None = None  # presentation times in frame order, once read
        self.seeks = self.restarts = 0

    def close(self) -> None:
        """Close the file (a later read opens it again)."""
        if self._container is not None:
            self._container.close()
        self._container = self._frames = None
        _LIVE.discard(self)

    def _av(self) -> Any:
        from ..codecs.h264 import load_av

        av = load_av(self.purpose)
        if self.path.is_symlink():
            raise SessionFormatError(f"{self.path} is a symbolic link (frames are never read "
                                     "through one)")
        if not self.path.is_file():
            raise SessionFormatError(f"{self.path} is missing")
        return av

    def _restart(self) -> None:
        self.close()
        av = self._av()
        try:
            self._container = av.open(str(self.path))
        except av.error.FFmpegError as exc:
            raise SessionFormatError(f"{self.path.name} cannot be opened: {exc}") from exc
        _LIVE.add(self)
        _OPENED[:] = [True]
        self._frames = self._container.decode(video=0)
        self._next = 0
        self.restarts += 1

    def _presentation_times(self) -> list[int]:
        """Each frame's pts in frame order ([] when a packet has none: no seeking then)."""
        if self._pts is None:
            av = self._av()
            _OPENED[:] = [True]
            pts: list[int] = []
            try:
                with av.open(str(self.path)) as c:
                    for packet in c.demux(video=0):
                        if packet.size == 0:
                            continue  # the flush packet at the end
                        if packet.pts is None:
                            pts = []
                            break
                        pts.append(int(packet.pts))
            except av.error.FFmpegError:
                pts = []
            self._pts = sorted(pts)[:self.num_frames] if len(pts) >= self.num_frames else []
        return self._pts

    def _seek(self, k: int) -> Any:
        """Put the decoder on the keyframe at or before frame ``k``: that frame, or None."""
        pts = self._presentation_times()
        if not pts:
            return None
        if self._container is None:
            self._restart()
        stream = self._container.streams.video[0]
        try:
            self._container.seek(pts[k], stream=stream, backward=True, any_frame=False)
        except Exception:  # av.error.FFmpegError: no index to seek with; decode from the start
            self.close()
            return None
        self._frames = self._container.decode(video=0)
        first = self._decode_next()
        where = bisect.bisect_left(pts, first.pts) if first.pts is not None else len(pts)
        if where >= len(pts) or pts[where] != first.pts or where > k:
            self.close()
            return None
        self._next = where + 1
        self.seeks += 1
        return first

    def _decode_next(self) -> Any:
        try:
            return next(self._frames)
        except StopIteration:
            raise SessionFormatError(f"{self.path} has {self._next} frames, its metadata says "
                                     f"{self.num_frames}") from None
        except Exception as exc:  # av.error.FFmpegError: a torn or damaged file
            raise SessionFormatError(f"{self.path.name} fails to decode after {self._next} "
                                     f"frames: {exc}") from exc

    def _image(self, frame: Any) -> Image:
        from ..codecs.h264 import crop_to

        return crop_to(np.asarray(frame.to_ndarray(format="bgr24"), np.uint8), self.size)

    def read(self, k: int, keep: Keep | None = None) -> Image:
        """Frame ``k``; ``keep(j, image)`` is offered each frame ``j < k`` decoded on the way.

        ``image`` is a function: the BGR conversion is paid only for a frame that is kept.
        """
        if not 0 <= k < self.num_frames:
            raise SessionFormatError(f"{self.path}: no frame {k} (it has {self.num_frames})")
        pending = None
        if self._container is None or k < self._next or k - self._next > SEEK_AHEAD:
            pending = self._seek(k)
            if pending is None:
                self._restart()
        while True:
            if pending is not None:
                frame, pending = pending, None
            else:
                frame = self._decode_next()
                self._next += 1
            j = self._next - 1
            if j == k:
                return self._image(frame)
            if keep is not None:
                keep(j, lambda frame=frame: self._image(frame))  # type: ignore[misc]


class SessionFrames:
    """One session's stored frames by ``(chunk index, chunk row)``, opened lazily.

    Made in the process that reads (a DataLoader worker makes its own): it holds open files.
    """

    def __init__(self, root: Path) -> None:
        from ..session.reader import SessionReader

        self.reader: SessionReader = SessionReader(root)
        # "files", "stream" or "store": the store's access capability (FrameStore.access)
        self.access = self.reader.frame_store.access
        self._chunks: dict[int, ChunkEntry] = {c.index: c for c in self.reader.included_chunks()}
        self._paths: dict[int, list[Path]] = {}
        self._videos: OrderedDict[int, VideoCursor] = OrderedDict()

    def close(self) -> None:
        """Close every open video file."""
        for v in self._videos.values():
            v.close()
        self._videos.clear()

    def video(self, chunk: int) -> VideoCursor:
        """The (kept open, least recently used closed first) decoder of a video chunk."""
        cur = self._videos.pop(chunk, None)
        if cur is None:
            c = self._chunks[chunk]
            self.reader.frame_paths(c)  # checks the chunk first (links, row count)
            cur = VideoCursor(self.reader.frames_path(c), c.num_frames, self.reader.frame_size(c))
            while len(self._videos) >= OPEN_FILES:
                self._videos.popitem(last=False)[1].close()
        self._videos[chunk] = cur
        return cur

    def get(self, chunk: int, row: int, transform: FrameTransform[T],
            keep: Callable[[int, Callable[[], T]], None] | None = None) -> T:
        """``transform`` of the frame at ``row`` of ``chunk``, as ``convert`` computes it.

        ``keep(r, result)`` is offered video frames decoded on the way (rows before ``row``).
        """
        if self.access == "files":
            if chunk not in self._paths:
                self._paths[chunk] = self.reader.frame_paths(self._chunks[chunk])
            return read_png_rgb(self._paths[chunk][row], transform)
        if self.access == "stream":
            on_way = None if keep is None else (
                lambda r, img: keep(r, lambda: transform.bgr(img())))
            return transform.bgr(self.video(chunk).read(row, on_way))
        c = self._chunks[chunk]
        return next(iter(self.reader.map_chunk_frames(c, [row], transform.bgr)))
