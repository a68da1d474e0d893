"""Windows: the bundled WAVs through :mod:`winsound` (imported lazily, on the worker thread).

``PlaySound`` is called synchronously on the cue worker thread (never on the capture thread) with
``SND_NODEFAULT``, so a machine without an audio device raises, which is logged at debug level,
instead of playing the system's default sound.
"""

from __future__ import annotations

import sys

from .base import CueBackend, cue_sound

__all__ = ["WinsoundCue"]


class WinsoundCue(CueBackend):
    """Plays ``data/cue_*.wav`` with ``winsound.PlaySound``."""

    name = "winsound"

    def _emit(self, event: str) -> None:
        if sys.platform != "win32":  # the factory picks this backend on Windows only
            return
        import winsound

        path = cue_sound(event)
        if path is None:
            return
        winsound.PlaySound(str(path), winsound.SND_FILENAME | winsound.SND_NODEFAULT)
