"""Start/pause/stop cues: tell a full-screen player that a hotkey did something.

``get_cue_backend(name)`` picks the backend (``record --cue``, :data:`CUE_BACKENDS`):

- ``sound`` (default): Windows plays the bundled WAVs (``data/cue_*.wav``, made by
  :mod:`.tones`) through ``winsound``; elsewhere the first of ``paplay``, ``pw-play``, ``aplay``
  (Linux) or ``afplay`` (macOS) found on ``PATH`` plays them (:mod:`._command`);
- ``notify``: a desktop notification through ``notify-send`` where it is installed;
- ``none``: nothing.

A choice this machine cannot honour (no player, no ``notify-send``) is a silent no-op, logged at
debug level; so is a player that fails for want of an audio device. ``fake`` (tests) remembers
the events. Every backend's :meth:`~.base.CueBackend.play` returns at once (docs in
:mod:`.base`): the recorder calls it from the capture thread on start, pause, resume and stop.
"""

from __future__ import annotations

import logging
import shutil
import sys

from ..errors import ConfigError
from .base import CUE_EVENTS, CueBackend, NullCue

__all__ = ["CUE_BACKENDS", "CUE_EVENTS", "CueBackend", "NullCue", "get_cue_backend"]

log = logging.getLogger(__name__)

# The choices of RecordConfig.cue / `record --cue`.
CUE_BACKENDS: tuple[str, ...] = ("sound", "notify", "none")


def get_cue_backend(name: str = "sound") -> CueBackend:
    """The cue backend ``name`` (one of :data:`CUE_BACKENDS`, or ``fake`` for tests)."""
    if name == "fake":
        from ._fake import FakeCue

        return FakeCue()
    if name not in CUE_BACKENDS:
        raise ConfigError(f"--cue must be one of {', '.join(CUE_BACKENDS)}, got {name}",
                          setting="cue")
    if name == "sound":
        if sys.platform == "win32":
            from ._winsound import WinsoundCue

            return WinsoundCue()
        from ._command import CommandCue, find_player

        player = find_player()
        if player is not None:
            return CommandCue("sound", player)
        log.debug("no sound cues: none of paplay, pw-play, aplay, afplay is installed")
    elif name == "notify":
        from ._command import NOTIFY, CommandCue

        program = shutil.which(NOTIFY)
        if program is not None:
            return CommandCue("notify", program)
        log.debug("no notification cues: %s is not installed", NOTIFY)
    return NullCue()
