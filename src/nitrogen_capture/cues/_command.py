"""Linux and macOS: cues through a command-line player or ``notify-send``.

The sound backend plays the bundled WAV with the first player found on ``PATH``
(:data:`PLAYERS`: ``paplay`` and ``pw-play`` for PulseAudio/PipeWire, ``aplay`` for ALSA,
``afplay`` on macOS); the notify backend shows a desktop notification with ``notify-send``. The
process is started on the cue worker thread in its own session with no terminal I/O, and waited
for there (at most :data:`TIMEOUT_S`, then killed), so the capture thread never forks or waits and
at most one player runs at a time. A player that fails (no audio device here) is logged at debug.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from .base import CueBackend, cue_sound

__all__ = ["NOTIFY", "PLAYERS", "CommandCue", "find_player"]

log = logging.getLogger(__name__)

PLAYERS: tuple[str, ...] = ("paplay", "pw-play", "aplay", "afplay")
NOTIFY = "notify-send"
TIMEOUT_S = 5.0
_TEXT = {"start": "recording", "resume": "recording (resumed)", "pause": "paused",
         "stop": "stopped", "losing": "LOSING FRAMES (the machine is too busy)"}


def find_player() -> str | None:
    """The first of :data:`PLAYERS` on ``PATH`` (a full path), or None."""
    for name in PLAYERS:
        found = shutil.which(name)
        if found:
            return found
    return None


class CommandCue(CueBackend):
    """Runs ``player <wav>`` (sound) or ``notify-send`` (notify) for each cue."""

    def __init__(self, kind: str, program: str) -> None:
        super().__init__()
        self.kind = kind
        self.program = program
        self.name = f"{kind}:{program}"

    def command(self, event: str) -> list[str] | None:
        """The command line for ``event`` (None: nothing to run)."""
        if self.kind == "notify":
            return [self.program, "--app-name=nitrogen-capture", "--expire-time=1500",
                    "--urgency=low", f"nitrogen-capture: {_TEXT[event]}"]
        path = cue_sound(event)
        if path is None:
            log.debug("cue sound for %s is not installed as a file", event)
            return None
        if Path(self.program).name == "aplay":  # quiet: no "Playing WAVE ..." line
            return [self.program, "-q", str(path)]
        return [self.program, str(path)]

    def _emit(self, event: str) -> None:
        argv = self.command(event)
        if argv is None:
            return
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, timeout=TIMEOUT_S,
                                  start_new_session=True, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.debug("cue %s: %s failed: %s", event, argv[0], exc)
            return
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            log.debug("cue %s: %s exited %d%s", event, argv[0], done.returncode,
                      f" ({err[-1]})" if err else "")
