"""The video files of a LeRobot dataset: many episodes per MP4, one after the other.

Encoding follows LeRobot's defaults (docs/export.md, "LeRobot"): AV1 when this FFmpeg build can
encode it (``av1_nvenc``, then SVT-AV1), else the H.264 encoder the recorder's ``auto`` picks
(hardware, then libx264, :mod:`nitrogen_capture.codecs.encoders`); ``yuv420p``, a keyframe every
2 frames (``g=2``), crf 30. Frame ``k`` of a file has pts ``k / fps`` exactly (time base
``1/fps``), so an episode starting at file frame ``s`` spans ``[s / fps, (s + n) / fps)``: the
``from_timestamp`` / ``to_timestamp`` of the episodes table.

Like the data files (:class:`~.tables.RollingFiles`) a video file is written under its final
name in the folder the dataset is built in; a file holding about :data:`~.info.VIDEO_FILE_MB` is
closed and the next episode starts the next file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .info import VIDEO_CRF, VIDEO_FILE_MB, VIDEO_G, VIDEO_KEY, VIDEO_PATH, next_file, rel_path
from .tables import RollingFiles

__all__ = ["AV1_ORDER", "VideoFiles", "choose_encoder"]

log = logging.getLogger(__name__)
AV1_ORDER: tuple[str, ...] = ("av1_nvenc", "libsvtav1")
PRESET = "ultrafast"  # SVT-AV1 preset 10 (LeRobot's default is 12, its fastest)


def choose_encoder(size: tuple[int, int]) -> tuple[str, str]:
    """``(encoder, codec)``: the first AV1 encoder that opens at ``size``, else ``auto``'s H.264.

    Each candidate is probed for real (a frame encoded at this size: a codec name in the build
    says nothing about a GPU or a size the encoder accepts); a fallback is logged.
    """
    from ...codecs.encoders import ENCODERS, choose, probe

    reasons = []
    for name in AV1_ORDER:
        why = probe(name, *size, crf=VIDEO_CRF, preset=PRESET)
        if why is None:
            return name, ENCODERS[name].codec
        reasons.append(f"{name}: {why}")
    picked = choose("auto", *size, crf=VIDEO_CRF, preset=PRESET).spec
    log.info("no AV1 encoder here (%s); the videos are %s (%s)", "; ".join(reasons),
             picked.codec, picked.name)
    return picked.name, picked.codec


class VideoFiles(RollingFiles):
    """The video files of one video key written by one conversion."""

    def __init__(self, root: Path, size: tuple[int, int], fps: int, encoder: str,
                 start: tuple[int, int], key: str = VIDEO_KEY) -> None:
        super().__init__(root)
        self.size, self.fps, self.encoder, self.key = size, fps, encoder, key
        self.chunk, self.file = start
        self.frames = 0  # frames in the current file
        self.bytes = 0
        self._ep_start = 0

    def begin_episode(self) -> None:
        """Open the current file if needed and note where the episode starts."""
        if self._writer is None:
            from ...codecs.h264 import H264Writer

            path = self._new_file(self.root / rel_path(VIDEO_PATH, self.chunk, self.file,
                                                        self.key))
            self._writer = H264Writer(path, self.size, self.fps, crf=VIDEO_CRF, preset=PRESET,
                                      max_b_frames=0, encoder=self.encoder, gop=VIDEO_G,
                                      purpose="the videos of --format lerobot")
            self.frames, self.bytes = 0, 0
        self._ep_start = self.frames

    def write(self, bgr: npt.NDArray[np.uint8]) -> None:
        """Append one frame (BGR, the dataset's size)."""
        self.bytes += self._writer.write(bgr)
        self.frames += 1

    def end_episode(self) -> dict[str, Any]:
        """The episode's columns of the episodes table; rolls to a new file when this is full."""
        cols = {f"videos/{self.key}/chunk_index": self.chunk,
                f"videos/{self.key}/file_index": self.file,
                f"videos/{self.key}/from_timestamp": self._ep_start / self.fps,
                f"videos/{self.key}/to_timestamp": self.frames / self.fps}
        if self.bytes >= VIDEO_FILE_MB * (1 << 20):
            self.close()
            self.chunk, self.file = next_file(self.chunk, self.file)
        return cols

    def abort(self) -> None:
        """After an error: close without flushing (the file is removed anyway)."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.abort()
