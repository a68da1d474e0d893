"""Pause, resume and the hotkeys: the part of :class:`~.recorder.Recorder` that acts on them.

The capture thread drains the input router every tick (:meth:`PauseControl._post_events`): input
events go to the writer thread in order with the hotkey controls around them, and a control
pauses, resumes or (an episode key, episode.py) ends or marks an episode. A pause or a resume is
posted to the writer thread with its tick and time, so ``frame_indices`` show it as a gap that
``meta.json`` ``pauses`` explains; at every resume (and at the start) the sources read what is
held right now, which the writer enters as held (docs/architecture.md 5.5). ``--seconds`` counts
recorded time without the pauses (:meth:`PauseControl.recorded_ns`).

:class:`PauseControl` is a mixin: its state is the recorder's own (declared here, set in
``Recorder.__init__``), since the capture loop reads and changes it every tick.
"""

from __future__ import annotations

import logging

from ..clock import now_ns
from ..config import RecordConfig
from ..cues import CueBackend
from ..events import CONTROL, InputEvent
from ..inputs.base import InputSource
from ..inputs.router import InputRouter
from ..keylayout import EPISODE_ACTIONS
from .episode import EpisodeControl
from .pipeline import Events, Paused, Resumed, WriterThread

__all__ = ["PauseControl"]

log = logging.getLogger(__name__)


class PauseControl:
    """Pause/resume state and the hotkeys' effects, mixed into :class:`~.recorder.Recorder`."""

    config: RecordConfig
    episode: EpisodeControl | None
    inputs: list[InputSource]
    router: InputRouter
    cue: CueBackend
    _cued_start: bool  # the start cue played: later ones are resume cues
    _user_paused: bool  # the player's (or the start's, the reset's) wish
    _pause_reason: str | None  # None: recording
    _paused_ns: int  # paused time of the pauses that ended (ns)
    _paused_since: int  # when the open pause began (monotonic ns)
    _t_start: int
    _writer_thread: WriterThread | None

    def stop(self, reason: str = "stopped") -> None:
        """Ask the capture loop to finish (the recorder's)."""
        raise NotImplementedError

    def _post_events(self, wt: WriterThread, t0: int, tick: int) -> None:
        """Drain the router; apply hotkey controls in order with the events around them."""
        self.router.flush_due(now_ns())
        batch: list[InputEvent] = []
        for ev in self.router.drain():
            if ev.device != CONTROL:
                batch.append(InputEvent(ev.t_ns - t0, ev.device, ev.code, ev.value))
                continue
            if batch:
                wt.post(Events(batch))
                batch = []
            action = ev.code
            if action in EPISODE_ACTIONS:
                self._episode_key(action)
                continue
            if action == "toggle":
                action = "resume" if self._user_paused else "pause"
            log.info("hotkey: %s", action)
            self._user_paused = action == "pause"
            if action == "pause" and self._pause_reason is None:
                self._set_paused("hotkey", tick, ev.t_ns)
        if batch:
            wt.post(Events(batch))

    def _episode_key(self, action: str) -> None:
        """An episode key: it ends this episode, or (in the reset) marks the one before."""
        if self.episode is None:  # not a run: the router does not make these (keylayout.py)
            return
        log.info("episode key: %s", action)
        if self.episode.key(action, in_reset=self._pause_reason in ("reset", "start")):
            self.stop(f"episode key: {action}")

    def _audio_follows(self, t_ns: int) -> None:
        """Tell the audio thread (if any) whether frames are recorded from ``t_ns``."""

    def recorded_ns(self, t_ns: int) -> int:
        """Time recorded up to ``t_ns`` (monotonic): since the start, without the pauses."""
        paused = self._paused_ns
        if self._pause_reason is not None:
            paused += t_ns - self._paused_since
        return t_ns - self._t_start - paused

    def _set_paused(self, reason: str, tick: int, t_ns: int) -> None:
        self._pause_reason = reason
        self._paused_since = t_ns
        self._audio_follows(t_ns)  # the sound is cut where the frames are
        assert self._writer_thread is not None
        self._writer_thread.post(Paused(t_ns - self._t_start, tick, reason))
        if reason == "start":  # say how to leave it: the one pause no player chose
            log.info("paused (start): %s", self.config.layout.hotkeys.start_hint())
        elif reason == "reset" and self.episode is not None:
            log.info("reset: episode %d starts in %g s (%s now)", self.episode.plan.index,
                     self.episode.plan.reset_s, self.config.layout.hotkeys.start_hint())
        else:
            log.info("paused (%s)", reason)
        if reason not in ("start", "reset"):  # pauses no player made: no cue
            self.cue.play("pause")

    def _read_held(self, t0: int) -> list[InputEvent]:
        """What the sources hold now, filtered by the router, in session-relative time.

        A source that cannot read says so in one warning; its keys then show once pressed.
        """
        read: list[InputEvent] = []
        for src in self.inputs:
            try:
                read.extend(src.held_now(self.config.layout.keys))
            except Exception as exc:  # a failed read loses only what is already held
                log.warning("%s: cannot read which keys are held (%s): a key held now shows "
                            "once it is pressed again", src.name, exc)
        return [InputEvent(ev.t_ns - t0, ev.device, ev.code, ev.value)
                for ev in self.router.admit_held(read)]

    def _set_resumed(self, tick: int, t_ns: int) -> None:
        self._paused_ns += max(0, t_ns - self._paused_since)
        self._pause_reason = None
        self._audio_follows(t_ns)
        assert self._writer_thread is not None
        self._writer_thread.post(Resumed(t_ns - self._t_start, tick,
                                         self._read_held(self._t_start)))
        log.info("recording")
        self._cue_recording()

    def _cue_recording(self) -> None:
        self.cue.play("resume" if self._cued_start else "start")
        self._cued_start = True
