"""The recorder: the capture loop on one thread, everything else handed off.

Per tick the capture thread (the caller of :meth:`Recorder.run`):

1. sleeps to the tick's absolute deadline (:class:`~nitrogen_capture.clock.FramePacer`);
2. drains the input router (events and hotkey controls, already stamped at event time) and
   applies pause/resume;
3. grabs, stamps ``t_i`` right after the grab returns, and copies the frame into a free slot of
   the encoder pool (a full pool drops the frame and counts it: the clock never waits on disk);
4. posts small messages to the writer thread, which bins, journals and finalises chunks.

Pausing keeps the tick grid running without grabbing, so ``frame_indices`` show the pause as a
gap that ``meta.json`` ``pauses`` explains. At the start of a recording (the first tick without a
pause) and at every resume the sources read what is held right now, the router filters the read
like live input, and the writer thread enters it as held (docs/architecture.md 5.5).

Pause, resume and the hotkeys are in pausing.py (a mixin of :class:`Recorder`), the final
``meta.json`` and the error of an unfinished session in finish.py.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass

from ..binning import ActionBinner
from ..capture.base import FrameSource, FrameStamp
from ..clock import FramePacer, clock_pair, now_ns
from ..config import RecordConfig
from ..cues import get_cue_backend
from ..encoderpool.pool import EncodeResult, EncoderPool
from ..encoderpool.priority import encoder_nice
from ..errors import DisplayLostError, EncodeError, TargetError
from ..inputs.base import InputSource
from ..inputs.router import InputRouter
from ..rows import OS_TIME_NONE
from ..session.frames import open_frame_store
from ..session.lock import SessionLock
from ..session.meta import Counters, EncoderInfo, SessionMeta
from ..session.meta_parts import ClockPair, wall_iso
from ..session.paths import SessionPaths
from ..session.writer import SessionWriter
from ..targets.base import Target
from .audio import AudioRecorder
from .episode import EpisodeControl
from .finish import finish_meta, input_losses, note_capture_details, raise_unfinished
from .pausing import PauseControl
from .pipeline import (
    Encoded,
    FileClosed,
    FrameQueued,
    Started,
    Stop,
    WriterThread,
)
from .playhooks import PlayHooks
from .rates import LossAlarm, RecentRates
from .stopping import run_steps

__all__ = ["RecordResult", "RecordStats", "Recorder"]

log = logging.getLogger(__name__)

_REFRESH_NS = 500_000_000  # how often the target window's geometry is re-read


@dataclass(frozen=True)
class RecordStats:
    """A snapshot for the status line."""

    frames: int
    ticks: int
    elapsed_s: float
    fps: float  # over the last seconds of recording (rates.py)
    missed_share: float  # periods that got no frame over those seconds, 0..1
    dropped_ticks: int
    late_frames: int
    queue_full_drops: int
    queue_depth: int
    chunk: int
    paused: bool
    focused: bool
    pause_reason: str | None
    # starting (the encoder processes and the source opening), recording, or stopping (the
    # frames still queued being encoded): a starved start or end is not a stalled recording.
    phase: str = "recording"
    # Frames recorded that repeat the one before (the source said so); None: it cannot say.
    repeated: int | None = None
    # auto's failovers so far, "dxgi->wgc" (capture/_chain.py); None: none.
    switched: str | None = None
    # --audio: "ok" (seconds stored), "LOST" (the device went away: reopening); None: no audio.
    audio: str | None = None


@dataclass(frozen=True)
class RecordResult:
    """What a finished recording produced."""

    out: str
    frames: int
    chunks: int
    achieved_fps: float
    stop_reason: str
    meta: SessionMeta


class Recorder(PauseControl):
    """Records ``source`` frames of ``target`` with ``inputs`` into ``config.out``."""

    def __init__(self, config: RecordConfig, source: FrameSource, target: Target,
                 inputs: list[InputSource], meta: SessionMeta,
                 episode: EpisodeControl | None = None, play: PlayHooks | None = None,
                 audio: AudioRecorder | None = None) -> None:
        self.config = config
        self.audio = audio  # --audio: the game's sound, on its own thread (audio.py)
        self._audio_on = False
        self.play: PlayHooks | None = None  # `play`: a policy drives the game (attach_play)
        self.episode = episode  # record --episodes: this episode's plan and keys (episode.py)
        self.source = source
        self.target = target
        self.inputs = inputs
        self.paths = SessionPaths(config.out)
        self.frame_store = open_frame_store(self.paths.root, meta.frame_format)
        self.router = InputRouter(config.layout, target.is_focused,
                                  hotkeys=config.layout.hotkeys)
        if play is not None:
            self.attach_play(play)
        # Start/pause/resume/stop cues: play() hands off and returns at once (cues/base.py).
        # A missing player is said once, unless nobody plays (the synthetic source).
        cue = config.cue
        if config.audio is not None and cue == "sound":
            # A tone played to the output the game plays to would be recorded with the game.
            log.info("--audio: no sound cues (they would be recorded with the game's sound); "
                     "the on-screen indicator and --cue notify still say what happens")
            cue = "none"
        self.cue = get_cue_backend(cue, say_missing=config.capture_backend != "synthetic")
        self._cued_start = False
        self.meta = meta
        # A source that stamps its frames fills os_timestamps and repeated (docs/format.md).
        self._stamps = source.stamp_source is not None
        if meta.capture is not None:
            meta.capture = dataclasses.replace(meta.capture,
                                               frame_time_source=source.stamp_source)
        self.repeated = 0  # recorded frames that repeat the frame recorded before them
        self._last_stamp: FrameStamp | None = None
        self._stop = threading.Event()
        self.stop_reason = "stopped"
        self.frames = 0
        self.ticks = 0
        self.queue_full_drops = 0
        self.skipped_recording = 0  # periods the pacer skipped while not paused
        self.chunk = 0
        self._rows_in_chunk = 0
        self._chunk_size: tuple[int, int] | None = None
        # An episode after the first starts in its reset; the first waits for the start key
        # (unless --start-immediately), as any recording does.
        self._first_pause = ("reset" if episode is not None and episode.plan.reset_s > 0
                             else "start")
        self._user_paused = self._first_pause == "reset" or not config.start_immediately
        self._pause_reason: str | None = None
        self._recorded_ticks = 0  # periods recorded (pauses excluded), for --episode-seconds
        # Paused time so far (ns; the open pause from _paused_since): --seconds counts without it.
        self._paused_ns = 0
        self._paused_since = 0
        self._focused = True
        self._t_start = 0
        self._t_stop = 0
        self._tick = 0  # the last tick the loop reached
        self._phase = "starting"
        self._pacer = FramePacer(config.fps, skip_late=config.skip_late)
        self._rates = RecentRates()
        self._loss_alarm = LossAlarm()
        self._pool: EncoderPool | None = None
        self._writer_thread: WriterThread | None = None

    def attach_play(self, hooks: PlayHooks) -> None:
        """Let ``play``'s policy drive the game while this records (before :meth:`run`)."""
        self.play = hooks
        self.router.taps.append(hooks.on_event)

    # -- control ------------------------------------------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """Ask the capture loop to finish (thread- and signal-safe)."""
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    @property
    def recording_now(self) -> bool:
        """Whether frames are being recorded now (started, not paused, not stopping)."""
        return self._phase == "recording" and self._pause_reason is None

    def _missed(self) -> int:
        """Periods of recording that got no frame: skipped late, or dropped at a full queue."""
        return self.skipped_recording + self.queue_full_drops

    def stats(self) -> RecordStats:
        """A consistent-enough snapshot for the status line (read from another thread)."""
        end = self._t_stop or now_ns()
        elapsed = max((end - self._t_start) / 1e9, 1e-9) if self._t_start else 0.0
        recent = self._rates.recent()
        return RecordStats(
            frames=self.frames, ticks=self.ticks, elapsed_s=elapsed, fps=recent.fps,
            missed_share=recent.missed_share,
            dropped_ticks=self._missed(),
            late_frames=self._pacer.late_ticks, queue_full_drops=self.queue_full_drops,
            queue_depth=self._pool.depth if self._pool else 0, chunk=self.chunk,
            paused=self._pause_reason is not None, focused=self._focused,
            pause_reason=self._pause_reason, phase=self._phase,
            repeated=self.repeated if self._stamps else None, switched=self._switched(),
            audio=self._audio_state())

    def _audio_state(self) -> str | None:
        if self.audio is None:
            return None
        state = self.audio.state
        if state == "ok":
            return f"{self.audio.recorded / self.audio.rate:.1f} s"
        return "LOST (reopening)" if state == "lost" else "FAILED"

    def _switched(self) -> str | None:
        """``auto``'s failovers as ``dxgi->wgc`` (None: none, or a backend named)."""
        switches = getattr(self.source, "switches", None)
        if not switches:
            return None
        return "->".join([switches[0]["from"], *(s["to"] for s in switches)])

    # -- run ------------------------------------------------------------------------------------
    def run(self) -> RecordResult:
        """Record until max frames/seconds, :meth:`stop`, or the target window closes.

        The session lock (docs/format.md, "Lock") is taken before anything is written and
        released on every exit path, so merge, repair and convert refuse the session while it is
        being recorded; ``record``'s own merge runs after it is released.

        Raises:
            SessionLockedError: another process holds the session's lock.
        """
        self.paths.root.mkdir(parents=True, exist_ok=True)
        with SessionLock.acquire(self.paths, "record"):
            return self._run()

    def _run(self) -> RecordResult:
        cfg = self.config
        writer = SessionWriter(self.paths, self.meta, gamepad=cfg.gamepad)
        if self.play is not None:
            writer.play_progress = self.play.progress
        inbox: list[WriterThread] = []

        def on_result(res: EncodeResult) -> None:
            if res.kind == "closed":  # a one-file store: the chunk's file is finished
                inbox[0].post(FileClosed(res.tag, res.nbytes, res.error))
            else:
                inbox[0].post(Encoded(res.tag, res.ms, res.nbytes, res.error))
            if res.error is not None:
                self.stop("error: " + res.error)

        # Start the encoder processes first: their imports take a second, which would
        # otherwise make the first ticks late.
        spec = self.frame_store.encoder_spec(workers=cfg.encoder_workers, fps=cfg.fps)
        # The priority policy (encoderpool/priority.py): by default the encoder threads together
        # weigh on a busy CPU what the original design's one encoding thread weighed.
        spec = dataclasses.replace(
            spec, nice=encoder_nice(cfg.encoder_priority, spec.workers * spec.threads))
        self._pool = EncoderPool(spec, cfg.queue_frames, on_result)
        w, h = self.source.region.size
        self._pool.preallocate(w * h * 3)
        try:
            if not self._pool.wait_ready():
                raise EncodeError("the frame encoder processes did not start")
            # Open the source on this (the grabbing) thread and start the listeners before the
            # clock starts, so the first tick is not late by their set-up time.
            self.source.open()
            self.source.warm_up()
            if self.audio is not None:  # no sound server, no such device: one line, no session
                self.audio.open()
            for src in self.inputs:
                src.start(self.router.push)
        except BaseException:
            run_steps((("the input listeners", self._stop_inputs),
                       ("the audio source", self._stop_audio),
                       ("the capture source", self.source.close),
                       ("the encoder processes", self._pool.close)))
            raise
        t0 = self._pacer.start()
        mono, wall = clock_pair()  # right after: t0_wall is the wall time of t0 itself
        self._note_capture_details()  # what the backend learnt opening (the portal's node)
        self._t_start = t0
        self.meta.clock = dataclasses.replace(
            self.meta.clock, t0_ns=t0, t0_wall=wall_iso(wall - (mono - t0)),
            pairs=(ClockPair("start", mono, wall),))
        self.meta.encoder = EncoderInfo(self.meta.frame_format.encoder, spec.workers,
                                        cfg.queue_frames,
                                        settings=self.frame_store.encoder_settings(),
                                        priority=cfg.encoder_priority, nice=spec.nice)
        if self.play is not None:
            self.play.on_start(t0)
        if self.audio is not None:  # in the first meta.json: a crash still says what it was
            self.meta.audio = self.audio.info()
            self.audio.start(t0)
        wt = self._writer_thread = WriterThread(writer, ActionBinner(cfg.layout), t0,
                                                self.play.rows if self.play else None)
        inbox.append(wt)
        began = False  # the first meta.json is written: from then on the session ends whole
        try:
            writer.start()
            began = True
            wt.start()
            if self._user_paused:
                self._set_paused(self._first_pause, 0, t0)
            else:
                self._cue_recording()
                self._post_events(wt, t0, 0)  # what came before stays at its own time
                if self._pause_reason is None:  # (unless a hotkey in it paused already)
                    t_read = now_ns()
                    wt.post(Started(t_read - t0, self._read_held(t0)))
            self._audio_follows(t0)  # recording from the start (paused: nothing until resumed)
            # Only now: a recording that starts paused never shows as recording before it.
            self._phase = "recording"
            self._loop(wt, t0)
        except Exception as exc:
            if began and isinstance(exc, DisplayLostError):  # Xvfb killed, the X session ended:
                self.stop("display lost")  # what was recorded is finished like any stop's
            if not began or not self._stop.is_set():
                self.stop(f"error: {exc or type(exc).__name__}")
                raise
            # The stop came first: what failed after it (the display going with a killed
            # demo) ends nothing that was not ending; the recording is finished as stopped.
            log.warning("stopping (%s): %s", self.stop_reason, exc or type(exc).__name__)
        finally:
            self._shut_down(writer, wt, t0, began)
        self._raise_unfinished(writer, wt)
        return RecordResult(str(cfg.out), self.frames, len(self.meta.chunks),
                            self.meta.fps_achieved or 0.0, self.stop_reason, self.meta)

    def _shut_down(self, writer: SessionWriter, wt: WriterThread, t0: int, began: bool) -> None:
        """Stop every part and finish the session; a part that fails to close stops nothing else.

        The writer always gets its stop (it finishes the open chunk) and ``meta.json`` its final
        status, whatever moment the stop came at and whatever failed with it (stopping.py).
        """
        self._t_stop, self._phase = now_ns(), "stopping"
        if self.play is not None:  # the policy lets go while the listeners still record
            run_steps((("the policy", self.play.on_stopping),))
        pool = self._pool
        assert pool is not None

        def stop_cue() -> None:
            self.cue.play("stop")
            self.cue.close()

        def stop_writer() -> None:
            # An ordered (video) encoder also closes the open chunk file; its "closed"
            # message is posted before "stop".
            try:
                pool.flush(timeout=120)
            finally:
                if wt.ident is not None:  # started
                    wt.post(Stop())
                    wt.join()

        run_steps((("the stop cue", stop_cue),
                   ("the input listeners", self._stop_inputs),
                   ("the capture source", self.source.close),
                   ("the audio", self._stop_audio),
                   ("the last input events", lambda: self._post_events(wt, t0, self._tick)),
                   ("the session writer", stop_writer),
                   ("the encoder processes", pool.close),
                   ("the target", self.target.close)))
        if began:
            wt.close_open_pause(self._tick + 1, now_ns() - t0)
            self._finish_meta(writer, wt)

    def _stop_audio(self) -> None:
        """Cut the sound where the frames stop, store the open chunk, close the source."""
        if self.audio is not None:
            self.audio.stop(self._t_stop or now_ns())

    def _audio_follows(self, t_ns: int) -> None:
        """Tell the audio thread when frames are recorded (not paused, window focused).

        Focus is checked even with --no-focus-pause: unfocused sound is never recorded, as
        unfocused input is not (privacy; docs/audio.md).
        """
        on = self._pause_reason is None and self._focused
        if self.audio is not None and on != self._audio_on:
            self._audio_on = on
            self.audio.set_recording(t_ns, on)

    def _stop_inputs(self) -> None:
        for src in self.inputs:
            try:
                src.stop()
            except DisplayLostError as exc:  # said once by the stop reason: no traceback
                log.info("input listener %s: %s", src.name, exc)
            except Exception:
                log.exception("input listener %s failed", src.name)

    def _loop(self, wt: WriterThread, t0: int) -> None:
        cfg = self.config
        next_refresh = t0 + _REFRESH_NS
        store = self.frame_store
        while not self._stop.is_set():
            tick = self._pacer.wait()
            self._tick = tick.index
            self.ticks += 1
            if self._pause_reason is None:
                # Periods the pacer skipped while recording got no frame (a pause covers those
                # it skips while paused: the pause ends at this tick).
                self.skipped_recording += tick.skipped
                self._recorded_ticks += tick.skipped
            self._post_events(wt, t0, tick.index)
            if tick.woke_ns >= next_refresh:
                next_refresh = tick.woke_ns + _REFRESH_NS
                if not self._refresh_target():
                    break
            focused = self.target.is_focused()
            self._focused = focused
            if (self._pause_reason == "reset" and self.episode is not None
                    and self.episode.reset_over(tick.woke_ns - t0)):
                self._user_paused = False  # the reset ran its time: the episode starts
            desired: str | None = None
            if self._user_paused:
                desired = self._pause_reason or "hotkey"
            elif cfg.focus_pause and not focused:
                desired = "focus"
            if desired is None and self._pause_reason is not None:
                self._set_resumed(tick.index, tick.woke_ns)
            elif desired is not None and self._pause_reason is None:
                self._set_paused(desired, tick.index, tick.woke_ns)
            self._audio_follows(tick.woke_ns)
            for src in self.inputs:
                src.check()
            self._rates.tick(tick.woke_ns, self.frames, self._missed(),
                             recording=self._pause_reason is None)
            if self._pause_reason is None:
                self._warn_if_losing(tick.woke_ns)
                self._recorded_ticks += 1
                if self.episode is not None and self.episode.episode_over(
                        self._recorded_ticks / cfg.fps):
                    self.stop("episode time")
            # --wall-seconds counts from the start, paused or not: a session paused when it runs
            # out (focus lost, hotkey, never started) stops too.
            if cfg.max_wall_seconds and tick.woke_ns - t0 >= cfg.max_wall_seconds * 1e9:
                self.stop("max wall seconds")
            if self._pause_reason is not None:
                continue
            if self._pool is not None and not self._pool.has_room:
                # Every slot is still being encoded: this period's frame would be dropped at
                # submit anyway, so it is not grabbed (the grab and its copy would take CPU
                # from the encoders and the game just when they are short of it).
                self._drop(tick.index)
                continue
            frame = self.source.grab_raw()  # BGR or BGRA: the pool converts as it copies
            t_frame = now_ns()  # stamped right after the grab returned
            if self.play is not None:  # the policy sees what is recorded, as it is grabbed
                self.play.on_frame(frame, t_frame)
            size = (int(frame.shape[1]), int(frame.shape[0]))
            if size != self._chunk_size or self._rows_in_chunk >= cfg.chunk_size:
                self.chunk += 1
                self._rows_in_chunk = 0
                self._chunk_size = size
                store.prepare_chunk(self.chunk)
                if self.audio is not None:
                    self.audio.set_chunk(self.chunk, t_frame)
            # A PNG per row, or (video) the chunk's one file, which the worker keeps open.
            path = store.frame_target(self.chunk, self._rows_in_chunk)
            if not self._pool or not self._pool.submit(frame, path, tag=self.chunk):
                self._drop(tick.index)
                continue
            os_rel, repeated = self._frame_time(t0)
            wt.post(FrameQueued(self.chunk, tick.index, t_frame - t0,
                                self.source.region.to_list(), size, os_rel, repeated))
            self._rows_in_chunk += 1
            self.frames += 1
            if cfg.max_frames and self.frames >= cfg.max_frames:
                self.stop("max frames")
            elif cfg.max_seconds and self.recorded_ns(t_frame) >= cfg.max_seconds * 1e9:
                self.stop("max seconds")
            if wt.error is not None:
                self.stop("writer error")

    def _frame_time(self, t0: int) -> tuple[int | None, bool]:
        """The recorded frame's OS time (session-relative) and whether it repeats the last one.

        ``(None, False)`` when the source stamps no frames; an OS time the source did not give
        is :data:`~nitrogen_capture.rows.OS_TIME_NONE`. A repeat has the same sequence number
        as the frame recorded before it (a source without numbers: the same OS time).
        """
        if not self._stamps:
            return None, False
        stamp, last = self.source.last_stamp(), self._last_stamp
        self._last_stamp = stamp
        repeated = False
        if stamp is not None and last is not None:
            if stamp.seq is not None:
                repeated = stamp.seq == last.seq
            else:
                repeated = stamp.os_ns is not None and stamp.os_ns == last.os_ns
        self.repeated += repeated
        if stamp is None or stamp.os_ns is None:
            return OS_TIME_NONE, repeated
        return stamp.os_ns - t0, repeated

    def _drop(self, tick_index: int) -> None:
        """Count the period of ``tick_index`` as dropped: the encoders had no room for it."""
        self.queue_full_drops += 1
        log.debug("encoder queue full: frame at tick %d dropped", tick_index)

    def _warn_if_losing(self, t_ns: int) -> None:
        """Cue the player (and log) when the recording starts losing frames (rates.py)."""
        recent = self._rates.recent()
        if self._loss_alarm.update(recent, t_ns):
            log.warning("losing frames: %.0f%% of the periods of the last %.0f s got no frame "
                        "(the machine is too busy for this size, rate and format; "
                        "`record --check` suggests one that holds)",
                        100 * recent.missed_share, recent.seconds)
            self.cue.play("losing")

    def _refresh_target(self) -> bool:
        """Follow the window; False when it is gone (the recording then stops)."""
        try:
            region = self.target.refresh()
        except TargetError as exc:
            log.warning("target lookup failed: %s", exc)
            return True
        if region is None:
            self.stop("target window closed")
            return False
        if region != self.source.region:
            log.info("target moved/resized to %s", region.to_list())
            self.source.set_region(region)
        return True

    def _note_capture_details(self) -> None:
        """Copy the backend's ``details`` into meta.json's ``capture`` (finish.py)."""
        note_capture_details(self.meta, self.source)

    def _finish_meta(self, writer: SessionWriter, wt: WriterThread) -> None:
        """Write the final meta.json with this recording's counters (finish.py)."""
        self._note_capture_details()  # and its counts (pipewire's repeated frames)
        counters = Counters(
            frames=self.meta.frames_listed, frames_captured=self.frames, ticks=self.ticks,
            dropped_ticks=self._missed(), skipped_ticks=self.skipped_recording,
            late_frames=self._pacer.late_ticks,
            queue_full_drops=self.queue_full_drops, events=wt.events_stored,
            events_dropped_unfocused=self.router.dropped_unfocused,
            events_dropped_not_in_layout=self.router.dropped_not_in_layout,
            events_late=wt.events_late, hotkeys=self.router.hotkeys_seen)
        if self.play is not None:
            self.play.on_finish(self.meta)
        if self.audio is not None:
            self.meta.audio = dataclasses.replace(self.audio.info(),
                                                  runs=self.audio.fitted_runs())
        finish_meta(self.meta, writer, self.paths, stop_reason=self.stop_reason,
                    lost=input_losses(self.inputs), counters=counters)

    def _raise_unfinished(self, writer: SessionWriter, wt: WriterThread) -> None:
        """Raise one clear error when the session could not be completed (finish.py)."""
        raise_unfinished(self.meta, writer, wt, self.paths, self.config.out)
