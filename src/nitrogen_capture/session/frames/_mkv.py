"""The Matroska store (``frame_format`` kind ``video``): one H.264 file per chunk.

Chunk ``n`` is ``frames/chunk_NNN.<ext>``; decoded frame ``k`` is row ``k`` (docs/format.md,
"Video frame storage"). One ordered encoder process
(:func:`nitrogen_capture.codecs.video.video_worker`) appends the frames and closes the file when
the chunk ends. An odd size is padded on write and cropped back here to the chunk's real size
(:mod:`nitrogen_capture.codecs.h264`, the one rule for every H.264 writer).

File extension: ``frame_format.ext`` (:class:`~nitrogen_capture.session.meta.FrameFormat`
reads it, or an older session's ``container``), ``mkv`` by default.

Reading, crash repair and validate share one decode loop (:meth:`MkvStore._decode`): a file that
a killed encoder left with a torn tail yields its whole frames, then raises SessionFormatError
saying how many came out.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from ...diskspace import check_free, said_when_full
from ...errors import DependencyError, SessionFormatError
from ..io import is_plain_file, set_aside
from ..meta_parts import FrameFormat
from .base import ERROR, INFO, WARNING, EncodeSettings, Finding, Frame, FrameStore, Size

if TYPE_CHECKING:
    from ...codecs.jobs import EncoderSpec

__all__ = ["MkvStore"]

log = logging.getLogger(__name__)

_DEFAULT_EXT = "mkv"


class MkvStore(FrameStore):
    """One Matroska (H.264) file per chunk (see the module docstring)."""

    kind: ClassVar[str] = "video"
    default_ext: ClassVar[str] = _DEFAULT_EXT
    single_file: ClassVar[bool] = True

    @classmethod
    def check_settings(cls, settings: EncodeSettings) -> None:
        """``--video-crf`` and ``--video-preset`` (libx264's ranges), then ``--video-encoder``."""
        from ...codecs.video import VideoSettings, check_video_encoder

        VideoSettings(settings.fps, settings.crf, settings.preset)  # raises ConfigError
        check_video_encoder(settings.video_encoder)  # a known name; probed at record start

    @classmethod
    def new_format(cls, settings: EncodeSettings) -> FrameFormat:
        """The libx264 settings of ``settings`` (checks PyAV and libx264 first)."""
        from ...codecs.video import VideoSettings, check_video_support

        check_video_support()  # av missing -> DependencyError naming the 'video' extra
        s = VideoSettings(settings.fps, settings.crf, settings.preset)
        return FrameFormat(cls.kind, "libx264", _DEFAULT_EXT, {
            "codec": "h264", "crf": s.crf, "preset": s.preset, "pix_fmt": "yuv420p",
            "container": _DEFAULT_EXT,
            "odd_size": "padded by one replicated pixel; chunk size is the real size"})

    @classmethod
    def for_size(cls, frame_format: FrameFormat, settings: EncodeSettings,
                 size: tuple[int, int]) -> FrameFormat:
        """``frame_format`` with the encoder ``--video-encoder`` resolves to (a probe at ``size``).

        ``auto`` falling back to libx264 logs one warning line, kept as ``encoder_fallback``; an
        explicit encoder that cannot encode here raises ConfigError. The options keep ``crf`` and
        ``preset`` (our settings) and add ``encoder_options`` (what FFmpeg is given).
        """
        from ...codecs.video import choose_encoder

        crf = int(frame_format.options.get("crf", settings.crf))
        preset = str(frame_format.options.get("preset", settings.preset))
        choice = choose_encoder(settings.video_encoder, max(16, size[0]), max(16, size[1]), crf,
                                preset)
        spec = choice.spec
        options = {**frame_format.options, "codec": spec.codec, "pix_fmt": spec.pix_fmt,
                   "encoder_options": spec.options(crf, preset),
                   "requested_encoder": settings.video_encoder}
        if choice.fallback_reason:
            options["encoder_fallback"] = choice.fallback_reason
        return dataclasses.replace(frame_format, encoder=spec.name, options=options)

    # -- write side ------------------------------------------------------------------------------
    def frame_target(self, n: int, row: int) -> Path:
        """Every row of a chunk names the chunk's one file (the worker keeps it open)."""
        return self.location(n)

    def encoder_spec(self, *, workers: int, fps: float) -> EncoderSpec:
        """One ordered encoder process (``workers`` is ignored: the encoder threads inside it).

        The encoder is the one ``--video-encoder`` resolved to at start
        (:meth:`for_size` puts it in the format).
        """
        from ...codecs.jobs import EncoderSpec
        from ...codecs.video import VideoSettings, video_worker

        options = self.format.options
        settings = VideoSettings(fps, int(options.get("crf", 18)),
                                 str(options.get("preset", "ultrafast")),
                                 encoder=self.format.encoder)
        # The encoder's own threads (0: one per core) count for the priority policy.
        threads = settings.threads or os.cpu_count() or 1
        return EncoderSpec(video_worker, settings, 1, ordered=True, name="video",
                           threads=threads)

    def encoder_settings(self) -> dict[str, Any]:
        """The encoder, its codec, pixel format and FFmpeg options, and why ``auto`` fell back."""
        o = self.format.options
        settings: dict[str, Any] = {"encoder": self.format.encoder,
                                    "codec": o.get("codec", "h264"),
                                    "pix_fmt": o.get("pix_fmt", "yuv420p"),
                                    "options": dict(o.get("encoder_options") or {})}
        if o.get("encoder_fallback"):
            settings["fallback"] = o["encoder_fallback"]
        return settings

    # -- read side -------------------------------------------------------------------------------
    def location(self, n: int) -> Path:
        """``frames/chunk_NNN.<ext>``."""
        return self.paths.chunk_video(n, self.ext)

    def orphans_dir(self, n: int) -> Path:
        """``frames/orphans/`` (shared by the chunks: the files keep their chunk names)."""
        return self.paths.frames_dir / "orphans"

    def _unsafe_entries(self, n: int, repair: bool) -> str | None:
        path = self.location(n)
        if path.exists() and not path.is_file():
            return f"{path} is not a regular file"
        return None

    def frames_present(self, n: int, num_frames: int) -> npt.NDArray[np.bool_]:
        """Every row when the chunk's file exists, none otherwise."""
        return np.full(num_frames, self.location(n).is_file(), dtype=bool)

    def _decode(self, path: Path, purpose: str) -> Generator[Any, None, None]:
        """The decode loop: ``av.VideoFrame`` objects of ``path`` in order.

        Raises SessionFormatError when the file is missing or, after the frames decoded so far,
        when it fails (a killed encoder leaves a torn tail); DependencyError without PyAV.
        """
        from ...codecs.h264 import load_av

        av = load_av(purpose)
        if path.is_symlink():
            raise SessionFormatError(f"{path} is a symbolic link (frames are never read through "
                                     "one)")
        if not path.is_file():
            raise SessionFormatError(f"{path} is missing")
        n = 0
        try:
            with av.open(str(path)) as container:
                for frame in container.decode(video=0):
                    yield frame
                    n += 1
        except av.error.FFmpegError as exc:
            raise SessionFormatError(f"{path.name} fails to decode after {n} frames: {exc}",
                                     ) from exc

    def count_on_disk(self, n: int) -> int:
        """Frames that decode from the start of the file (0 when it is missing)."""
        count = 0
        try:
            for _ in self._decode(self.location(n), "recovering a video chunk"):
                count += 1
        except SessionFormatError as exc:  # the frames decoded so far are whole
            log.info("chunk %d: %s", n, exc)
        return count

    def iter_frames(self, n: int, num_frames: int, size: Size,
                    ) -> Generator[Frame, None, None]:
        """Decode the file's first ``num_frames`` frames, cropped back to ``size``."""
        from ...codecs.h264 import crop_to

        path = self.location(n)
        frames = self._decode(path, "reading video frame storage")
        got = 0
        try:
            for frame in frames:
                if got == num_frames:
                    return
                yield crop_to(np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8),
                              size)
                got += 1
        finally:
            frames.close()
        if got < num_frames:
            raise SessionFormatError(f"{path} has {got} frames, meta.json says {num_frames}")

    def check(self, n: int, num_frames: int, size: Size, check_frames: bool) -> list[Finding]:
        """The file exists; with ``check_frames`` and PyAV it decodes to ``num_frames``."""
        from ...codecs.h264 import even_size

        path = self.location(n)
        if not path.is_file():
            return [(ERROR, f"video {path} is missing")]
        out: list[Finding] = []
        if any(self.orphans_dir(n).glob(f"{path.stem}.*")):
            out.append((INFO, "orphans/ holds the original file set aside by crash recovery"))
        if not check_frames:
            return out
        count, coded = 0, None
        try:
            for frame in self._decode(path, "checking video frames"):
                coded = coded or (int(frame.width), int(frame.height))
                count += 1
        except DependencyError:
            return [*out, (WARNING, "PyAV not installed: video frames not checked "
                                    "(pip install 'nitrogen-capture[video]')")]
        except SessionFormatError as exc:
            return [*out, (ERROR, str(exc))]
        if count != num_frames:
            out.append((ERROR, f"{path.name} has {count} frames, meta.json says {num_frames}"))
        if coded is not None and size is not None and coded not in (size, even_size(*size)):
            out.append((WARNING, f"frames are {coded[0]}x{coded[1]}, meta.json says "
                                 f"{size[0]}x{size[1]}"))
        return out

    def trim(self, n: int, kept: int) -> tuple[str, ...]:
        """Rewrite the file as its first ``kept`` frames (stream copy); the original to orphans/.

        Copy first, move after: an interrupted repair still finds the original in place.
        """
        path = self.location(n)
        self.require_safe(n, repair=True)
        if not is_plain_file(path):
            return ()
        tmp = path.with_name(path.stem + ".repair" + path.suffix)
        if kept > 0:
            from ...codecs.video import remux_prefix
            from ..paths import run_merge

            # The copy is written before the original is set aside: it needs up to the
            # original's size free. Say so (one line) instead of failing half-way.
            needed = path.stat().st_size + (1 << 20)
            what = f"a copy of chunk {n}'s frames for its repair"
            todo = f"free some space and {run_merge()} again (nothing was changed)"
            check_free(path, needed, what, todo)
            tmp.unlink(missing_ok=True)
            try:
                with said_when_full(path, needed, what, todo):
                    written = remux_prefix(path, tmp, kept)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            if written < kept:
                log.warning("%s: only %d of %d packets copied", path.name, written, kept)
        set_aside(path, self.orphans_dir(n))
        if kept > 0:
            os.replace(tmp, path)
        return (path.name,)
