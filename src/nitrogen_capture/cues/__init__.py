"""Start/pause/stop cues: tell a full-screen player that a hotkey did something.

``get_cue_backend(name)`` picks the backend (``record --cue``, :data:`CUE_BACKENDS`) through the
registry :data:`CUE_FACTORIES`:

- ``sound`` (default): Windows plays the bundled WAVs (``data/cue_*.wav``, made by
  :mod:`.tones`) through ``winsound``; elsewhere the first of ``paplay``, ``pw-play``, ``aplay``
  (Linux) or ``afplay`` (macOS) found on ``PATH`` plays them (:mod:`._command`);
- ``notify``: a desktop notification through ``notify-send`` where it is installed;
- ``none``: nothing.

A ``sound`` choice with no player on this machine says so once per process, in one warning
(the on-screen indicator, :mod:`~nitrogen_capture.indicator`, is then the visible sign); a
missing ``notify-send`` is a no-op logged at debug level, and so is a player that fails for want
of an audio device. ``fake`` (tests) remembers
the events. Every backend's :meth:`~.base.CueBackend.play` returns at once (docs in
:mod:`.base`): the recorder calls it from the capture thread on start, pause, resume and stop.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable

from ..errors import ConfigError
from .base import CUE_EVENTS, CueBackend, NullCue

__all__ = ["CUE_BACKENDS", "CUE_EVENTS", "CUE_FACTORIES", "CueBackend", "CueFactory", "NullCue",
           "get_cue_backend"]

log = logging.getLogger(__name__)
_told: set[str] = set()  # what was already said once in this process

# The choices of RecordConfig.cue / `record --cue` (``fake`` is for tests, not a choice).
CUE_BACKENDS: tuple[str, ...] = ("sound", "notify", "none")

# name -> factory(say_missing): the one registry of cue backends (docs/extending.md, "A cue
# backend"). A factory imports its platform module itself and may return NullCue when nothing on
# this machine can play.
CueFactory = Callable[[bool], CueBackend]


def get_cue_backend(name: str = "sound", *, say_missing: bool = True) -> CueBackend:
    """The cue backend ``name`` (one of :data:`CUE_BACKENDS`, or ``fake`` for tests).

    ``say_missing`` False keeps a missing player at debug level (a synthetic recording: nobody
    plays, so nobody needs to hear).
    """
    factory = CUE_FACTORIES.get(name)
    if factory is None:
        raise ConfigError(f"--cue must be one of {', '.join(CUE_BACKENDS)}, got {name}",
                          setting="cue")
    return factory(say_missing)


def _fake(say_missing: bool) -> CueBackend:
    from ._fake import FakeCue

    return FakeCue()


def _sound(say_missing: bool) -> CueBackend:
    if sys.platform == "win32":
        from ._winsound import WinsoundCue

        return WinsoundCue()
    from ._command import PLAYERS, CommandCue, find_player

    player = find_player()
    if player is not None:
        return CommandCue("sound", player)
    if say_missing:
        _once("no-player", "no sound cues: none of %s is installed; the on-screen "
              "indicator (--indicator) and the status line show the recording state",
              ", ".join(PLAYERS))
    else:
        log.debug("no sound cues: none of %s is installed", ", ".join(PLAYERS))
    return NullCue()


def _notify(say_missing: bool) -> CueBackend:
    from ._command import NOTIFY, CommandCue

    program = shutil.which(NOTIFY)
    if program is not None:
        return CommandCue("notify", program)
    log.debug("no notification cues: %s is not installed", NOTIFY)
    return NullCue()


CUE_FACTORIES: dict[str, CueFactory] = {
    "sound": _sound,
    "notify": _notify,
    "none": lambda say_missing: NullCue(),
    "fake": _fake,
}


def _once(key: str, message: str, *args: object) -> None:
    """Log ``message`` as a warning the first time ``key`` comes up in this process."""
    if key not in _told:
        _told.add(key)
        log.warning(message, *args)
