"""The cue backend base class: ``play`` hands off and returns at once; one thread does the rest.

The recorder calls :meth:`CueBackend.play` from its capture thread, so ``play`` only puts the
event in a small bounded queue (microseconds). A daemon worker thread, started on the first cue,
takes events one by one and calls the backend's :meth:`CueBackend._emit`, which may block (start
a player process and wait for it, a synchronous ``winsound`` call). When :data:`MAX_PENDING` cues
are already waiting a new one is dropped and logged at debug level: cues are never worth a
stalled recorder or a pile of player processes. Every failure of a cue (no audio device, the
player missing or failing) is logged at debug level and otherwise ignored.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from importlib import resources
from pathlib import Path

__all__ = ["CUE_EVENTS", "MAX_PENDING", "CueBackend", "NullCue", "cue_sound"]

log = logging.getLogger(__name__)

# What the recorder signals: recording began, paused, resumed after a pause, the recording ended,
# and the recording started losing frames (record/rates.py, LossAlarm).
CUE_EVENTS: tuple[str, ...] = ("start", "pause", "resume", "stop", "losing")
MAX_PENDING = 4
# Event -> bundled sound (data/cue_<sound>.wav): a resume sounds like a start.
_SOUNDS = {"start": "start", "resume": "start", "pause": "pause", "stop": "stop",
           "losing": "losing"}


def cue_sound(event: str) -> Path | None:
    """Path of the bundled WAV for ``event``; None when the package data is not a plain file."""
    ref = resources.files("nitrogen_capture") / "data" / f"cue_{_SOUNDS[event]}.wav"
    path = Path(str(ref))
    return path if path.is_file() else None


class CueBackend:
    """Signals recorder state changes to the player; subclasses implement :meth:`_emit`."""

    name = "base"

    def __init__(self) -> None:
        self._pending: queue.Queue[str | None] = queue.Queue(MAX_PENDING)
        self._closed = False
        # Started here, when the recorder is built, not on the first cue: that one comes from
        # the capture thread, which must only queue it.
        self._thread = threading.Thread(target=self._work, daemon=True, name=f"cue-{self.name}")
        self._thread.start()

    def play(self, event: str) -> None:
        """Signal ``event`` (one of :data:`CUE_EVENTS`) without waiting for it."""
        if self._closed:
            return
        try:
            self._pending.put_nowait(event)
        except queue.Full:
            log.debug("cue %s dropped: %d cues still pending", event, MAX_PENDING)

    def close(self) -> None:
        """Let pending cues finish in the background; later ``play`` calls do nothing."""
        if self._closed:
            return
        self._closed = True
        # A full queue: the worker is a daemon thread, it ends with the process.
        with contextlib.suppress(queue.Full):
            self._pending.put_nowait(None)

    def _work(self) -> None:
        while (event := self._pending.get()) is not None:
            try:
                self._emit(event)
            except Exception as exc:  # a cue never matters more than the recording
                log.debug("cue %s via %s failed: %s", event, self.name, exc)

    def _emit(self, event: str) -> None:
        """Make the cue heard or seen (on the worker thread; may block briefly)."""
        raise NotImplementedError


class NullCue(CueBackend):
    """No cue at all (``--cue none``, or nothing on this machine can play one)."""

    name = "none"

    def __init__(self) -> None:  # no worker thread: there is nothing to play
        self._closed = True

    def play(self, event: str) -> None:
        """Do nothing."""

    def _emit(self, event: str) -> None:
        """Do nothing."""
