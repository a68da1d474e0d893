"""``convert --audio-features logmel``: the ``audio_logmel`` tensor of a ``.pt`` (docs/export.md).

One slice a window, for the window's observation frame (its first row): the log-mel of the audio
before that frame's capture time (:mod:`nitrogen_capture.audio.features`), over one frame period
of the session's target fps. A session recorded without ``--audio`` is refused in one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..audio.features import LogMelSpec, logmel_blocks
from ..errors import ExportError
from ..session.audio_store import SessionAudio, read_session_audio
from .source import ExportSource

__all__ = ["AUDIO_KEY", "PtAudio", "pt_audio"]

AUDIO_KEY = "audio_logmel"


@dataclass(frozen=True)
class PtAudio:
    """The session audio and the slice spec of one ``.pt`` export."""

    audio: SessionAudio
    spec: LogMelSpec

    def shape(self, n: int) -> tuple[int, int, int]:
        """The tensor's shape for ``n`` windows."""
        return n, self.spec.n_mels, self.spec.frames

    def slices(self, t_ns: npt.NDArray[np.int64]) -> Iterator[npt.NDArray[np.float32]]:
        """The ``(n_mels, frames)`` slice of each time, in order."""
        return logmel_blocks(self.audio, t_ns, self.spec)

    def meta(self) -> dict[str, Any]:
        """The meta's ``audio_features``."""
        return {"key": AUDIO_KEY, **self.spec.to_json()}


def pt_audio(src: ExportSource) -> PtAudio | None:
    """The audio of ``--audio-features`` (None when not asked).

    Raises:
        ExportError: the session has no merged audio.
    """
    if src.settings.audio_features is None:
        return None
    root = src.settings.root
    audio = read_session_audio(root)
    if audio is None:
        what = ("recorded with --audio but not merged: run nitrogen-capture merge --root "
                f"{root}" if src.reader.meta.audio is not None else "recorded without --audio")
        raise ExportError(f"session {root} has no audio ({what}): leave out --audio-features")
    fps = src.reader.meta.fps_target or 60.0
    return PtAudio(audio, LogMelSpec.make(audio.rate, 1.0 / fps))
