"""The frame store protocol: where a session's frames live, how they are written and read back.

A :class:`FrameStore` is one variant of meta.json's ``frame_format`` (docs/format.md): it owns
the file names of a chunk's frames, the encoder the recorder runs for them, their decoding,
their checks for ``validate`` and their trimming for crash repair. Everything else in the
package asks the store and never looks at ``frame_format["kind"]``.

Methods take plain values - a chunk number ``n``, the chunk's ``num_frames``, its real frame
size ``(w, h)`` or None - never a meta.json chunk entry, so the store does not depend on how
those entries are modelled. Rows are 0-based within the chunk.

Importing this module loads numpy only: PyAV, OpenCV and :mod:`nitrogen_capture.codecs` are
imported inside the methods that need them; nothing here imports the record settings or
the recorder's encoder pool (tests/test_layers.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from ...errors import SessionFormatError
from ..io import inside
from ..meta_parts import FrameFormat
from ..paths import SessionPaths

if TYPE_CHECKING:
    from ...codecs.jobs import EncoderSpec

__all__ = ["ERROR", "INFO", "WARNING", "EncodeSettings", "Finding", "Frame", "FrameStore", "Size",
           "few"]

ERROR, WARNING, INFO = "error", "warning", "info"
Finding = tuple[str, str]  # (level, message) for validate
Frame = npt.NDArray[np.uint8]  # BGR (h, w, 3)
Size = tuple[int, int] | None  # the real (w, h) of a chunk's frames, None when unknown
T = TypeVar("T")


def few(items: list[str], k: int = 5) -> str:
    """The first ``k`` items, comma separated, and how many more there are."""
    return ", ".join(items[:k]) + (f" (+{len(items) - k} more)" if len(items) > k else "")


@dataclass(frozen=True)
class EncodeSettings:
    """How a new recording asks its frames to be encoded: all a store reads of the settings.

    Built from the record settings (``RecordConfig.encoding``); a store checks the fields it
    uses (:meth:`FrameStore.check_settings`) and ignores the others.

    Attributes:
        kind: the store (``frame_format`` kind) the recording uses.
        fps: the capture rate (a video stream's time base).
        png_encoder: ``auto``, ``fpng`` or ``opencv`` (``--png-encoder``).
        crf / preset: the video quality and speed preset (``--video-crf``, ``--video-preset``).
        video_encoder: ``auto`` or a video encoder's name (``--video-encoder``).
    """

    kind: str
    fps: float
    png_encoder: str = "auto"
    crf: int = 18
    preset: str = "ultrafast"
    video_encoder: str = "auto"


class FrameStore(ABC):
    """One session's frame storage, built from meta.json's ``frame_format``.

    Class attributes:
        kind: the ``frame_format["kind"]`` this store reads and writes.
        single_file: a chunk's frames are one file that the (ordered) encoder holds open until
            the chunk ends; the chunk is complete only once the encoder reports the file closed.
    """

    kind: ClassVar[str]
    default_ext: ClassVar[str]
    single_file: ClassVar[bool] = False

    def __init__(self, root: Path, frame_format: FrameFormat) -> None:
        self.root = Path(root)
        self.paths = SessionPaths(self.root)
        self.format = frame_format
        self.ext = frame_format.ext or self.default_ext  # frames' file extension

    @classmethod  # noqa: B027 - an optional hook: most stores have no settings of their own
    def check_settings(cls, settings: EncodeSettings) -> None:
        """Check this store's own fields of ``settings`` (ConfigError naming the flag).

        Called when the record settings are built, before anything is opened; nothing to check
        here.
        """

    @classmethod
    @abstractmethod
    def new_format(cls, settings: EncodeSettings) -> FrameFormat:
        """The ``frame_format`` of a new recording encoded as ``settings`` asks.

        Checks that the encoder is usable (raising ConfigError / DependencyError naming the
        fix), so a missing package fails before anything is opened.
        """

    @classmethod
    def for_size(cls, frame_format: FrameFormat, settings: EncodeSettings,
                 size: tuple[int, int]) -> FrameFormat:
        """``frame_format`` once the frame ``size`` (w, h) is known, before recording starts.

        A store whose encoder depends on the size (a hardware probe) resolves it here; by
        default the format is kept as it is.
        """
        return frame_format

    # -- write side ------------------------------------------------------------------------------
    def prepare_chunk(self, n: int) -> None:
        """Create what chunk ``n``'s frames are written into (before its first frame)."""
        self.paths.frames_dir.mkdir(parents=True, exist_ok=True)

    @abstractmethod
    def frame_target(self, n: int, row: int) -> Path:
        """The path the encoder pool writes row ``row`` of chunk ``n`` to."""

    @abstractmethod
    def encoder_spec(self, *, workers: int, fps: float) -> EncoderSpec:
        """What the recorder's encoder pool runs (``workers``: processes the user allows)."""

    def encoder_settings(self) -> dict[str, Any]:
        """meta.json's ``encoder.settings``: what the encoder was given (none by default)."""
        return {}

    def relative_location(self, n: int) -> str:
        """Chunk ``n``'s :meth:`location` relative to the session (meta.json ``files.frames``)."""
        return self.location(n).relative_to(self.root).as_posix()

    # -- read side -------------------------------------------------------------------------------
    @abstractmethod
    def location(self, n: int) -> Path:
        """Where chunk ``n``'s frames are (a folder or a file)."""

    @abstractmethod
    def orphans_dir(self, n: int) -> Path:
        """Where crash repair sets aside what it does not keep of chunk ``n``."""

    def unsafe(self, n: int, *, repair: bool = False) -> str | None:
        """Why chunk ``n``'s frames may not be read (or, ``repair``, moved), or None.

        Frames are never read or moved through a symbolic link, nor outside the session
        (docs/format.md): ``frames/`` and the chunk's location must not be links and must
        resolve inside the session; crash repair, which moves files into the orphans folder,
        needs that folder to pass too. Reading a complete chunk never touches its orphans
        folder, so a bad one does not make the chunk unreadable. A store adds its own rules in
        :meth:`_unsafe_entries`. Cheap: a few ``lstat`` calls (and one listing for a folder).
        """
        places = [self.paths.frames_dir, self.location(n)]
        if repair:
            places.append(self.orphans_dir(n))
        for p in places:
            if p.is_symlink():
                return f"{p} is a symbolic link (frames are never read or moved through one)"
            if p.exists() and not inside(p, self.root):
                return f"{p} is outside the session"
        return self._unsafe_entries(n, repair)

    def _unsafe_entries(self, n: int, repair: bool) -> str | None:
        """A store's own reason the chunk's location is unusable (None: it is usable)."""
        return None

    def require_safe(self, n: int, *, repair: bool = False) -> None:
        """Raise SessionFormatError (one line, naming the chunk) when :meth:`unsafe`."""
        why = self.unsafe(n, repair=repair)
        if why is not None:
            raise SessionFormatError(f"chunk {n}: {why}", chunk=n, path=self.location(n))

    @abstractmethod
    def frames_present(self, n: int, num_frames: int) -> npt.NDArray[np.bool_]:
        """Per row: does its frame exist on disk (existence only, nothing is decoded)."""

    @abstractmethod
    def count_on_disk(self, n: int) -> int:
        """How many leading rows of chunk ``n`` have a whole frame on disk (crash repair)."""

    @abstractmethod
    def iter_frames(self, n: int, num_frames: int, size: Size,
                    ) -> Generator[Frame, None, None]:
        """Decode the ``num_frames`` frames of chunk ``n`` in row order at their real ``size``.

        Raises SessionFormatError naming the file when a frame is missing or undecodable.
        """

    def map_frames(self, n: int, num_frames: int, size: Size, rows: Iterable[int],
                   transform: Callable[[Frame], T], *, workers: int = 1) -> Iterator[T]:
        """``transform(frame)`` of each row in ``rows`` (increasing), in order.

        This default decodes the chunk in order and skips unwanted rows; a store whose frames
        decode independently may decode them on ``workers`` threads instead.
        """
        wanted = iter(rows)
        nxt = next(wanted, None)
        if nxt is None:
            return
        frames = self.iter_frames(n, num_frames, size)
        try:
            for row, frame in enumerate(frames):
                while nxt is not None and row == nxt:
                    yield transform(frame)
                    nxt = next(wanted, None)
                if nxt is None:
                    return
        finally:
            frames.close()  # stop decoding (and close the file) when the caller stops early
        raise SessionFormatError(f"{self.location(n)}: no frame for row {nxt}")

    @abstractmethod
    def check(self, n: int, num_frames: int, size: Size, check_frames: bool) -> list[Finding]:
        """Every problem of chunk ``n``'s frames, as ``(level, message)`` (see validate).

        Cheap checks always; with ``check_frames`` the frames are also (partly) decoded.
        """

    @abstractmethod
    def trim(self, n: int, kept: int) -> tuple[str, ...]:
        """Keep rows ``0..kept-1`` of chunk ``n``; set aside the rest in :meth:`orphans_dir`.

        Never deletes and never overwrites. Returns the names of the files set aside.
        """
