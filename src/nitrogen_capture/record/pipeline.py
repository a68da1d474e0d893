"""The writer thread: bins events onto frames after a fixed delay and drives the session writer.

The capture thread only grabs, stamps, copies the frame into the encoder pool and posts small
messages here; everything else happens on this one thread, so the session state has a single
owner and needs no locks.

Why a binning delay: listener threads deliver events a little after they happen (and the router
holds a Ctrl press back up to 250 ms to recognise hotkey chords). Frame ``i`` is therefore binned
only once ``t_i + BIN_DELAY_NS`` has passed, when every event up to ``t_i`` has arrived, so the
stored arrays are exactly :func:`~nitrogen_capture.binning.bin_events` of the stored events.
An event that still arrives later than that is moved just after the last binned frame and counted
as ``events_late``.

Pauses, the start and resumes are one mechanism (:mod:`.held`): a pause releases what the stored
stream holds; the start of a recording and every resume enter, as synthetic
:data:`~nitrogen_capture.events.HELD` presses, what is held at that instant (what the listeners
saw go down, plus the sources' read of the OS state the recorder sends along). An event stamped
before that instant but delivered after it is stored at the instant, after the held state: its
effect comes later.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from ..binning import ActionBinner
from ..clock import now_ns
from ..events import InputEvent
from ..session.journal import PauseRecord, ResumeRecord
from ..session.meta import Pause
from ..session.rollout_rows import RolloutRow
from ..session.writer import SessionWriter
from .held import HeldState


class RolloutRows(Protocol):
    """Where a `play` session's rollout rows come from (:class:`~..play.rollout.RolloutLog`)."""

    def row(self, t_prev_rel: int, t_rel: int) -> RolloutRow:
        """The rollout row of the interval ``(t_prev_rel, t_rel]`` (session-relative ns)."""


__all__ = [
    "BIN_DELAY_NS",
    "Encoded",
    "Events",
    "FileClosed",
    "FrameQueued",
    "Paused",
    "Resumed",
    "RolloutRows",
    "Started",
    "Stop",
    "WriterMessage",
    "WriterThread",
]

log = logging.getLogger(__name__)

BIN_DELAY_NS = 400_000_000
# Journal flush (with fsync) interval. What a kill -9 can lose is about this plus the encoder's
# latency; 0.5 s keeps the measured worst case under the 1 s promised in docs/reliability.md.
_JOURNAL_FLUSH_NS = 500_000_000


# -- the writer thread's messages (times are session-relative nanoseconds) -----------------------
@dataclass(frozen=True)
class Events:
    """Input events drained from the router, in order."""

    events: list[InputEvent]


@dataclass(frozen=True)
class FrameQueued:
    """A frame was captured into ``chunk`` at ``tick`` and queued for encoding.

    ``os_t_rel`` and ``repeated``: the OS's time of the frame and whether it repeats the frame
    before, when the source stamps frames (``os_t_rel`` None otherwise; docs/format.md).
    """

    chunk: int
    tick: int
    t_rel: int
    region: list[int]
    size: tuple[int, int]
    os_t_rel: int | None = None
    repeated: bool = False


@dataclass(frozen=True)
class Encoded:
    """A frame of ``chunk`` was encoded (``error``: why it was not)."""

    chunk: int
    ms: float
    nbytes: int
    error: str | None


@dataclass(frozen=True)
class FileClosed:
    """A one-file store (video): the chunk's file is finished (``error``: why not)."""

    chunk: int
    nbytes: int
    error: str | None


@dataclass(frozen=True)
class Paused:
    """Recording pauses at ``t_rel`` / ``tick`` (``reason``: what paused it)."""

    t_rel: int
    tick: int
    reason: str


@dataclass(frozen=True)
class Resumed:
    """Recording resumes; ``held`` is the sources' read of what is held then."""

    t_rel: int
    tick: int
    held: list[InputEvent] | None = None


@dataclass(frozen=True)
class Started:
    """A recording that starts without a pause starts here, ``held`` held."""

    t_rel: int
    held: list[InputEvent]


@dataclass(frozen=True)
class Stop:
    """No more messages: bin and write what is left, then end the thread."""


WriterMessage = Events | FrameQueued | Encoded | FileClosed | Paused | Resumed | Started | Stop


class WriterThread(threading.Thread):
    """Consumes the capture thread's messages; see the module docstring.

    Messages are the frozen dataclasses above (:data:`WriterMessage`). ``held`` is the
    sources' read of what is held, already filtered by the router
    (:meth:`InputRouter.admit_held`).
    """

    def __init__(self, writer: SessionWriter, binner: ActionBinner, t0_ns: int,
                 rollout: RolloutRows | None = None) -> None:
        super().__init__(name="session-writer", daemon=True)
        self.writer = writer
        self.binner = binner
        # A `play` session: its rollout rows are read off the driver's log as each row is
        # binned, when every proposal and takeover of the row's interval is known.
        self.rollout = rollout
        self.t0_ns = t0_ns
        self.inbox: queue.SimpleQueue[WriterMessage] = queue.SimpleQueue()
        self._frames: deque[int] = deque()  # t_rel of frames waiting to be binned
        self._events: list[tuple[int, int, InputEvent]] = []  # heap by time
        self._seq = itertools.count()
        self._last_binned_t = -(1 << 62)
        self._storing = True
        self._physical = HeldState()  # what the player holds (also while paused)
        self._stored = HeldState()  # what the stored stream holds
        self._entered_t = -(1 << 62)  # the last start or resume
        self._open_pause: tuple[int, int, str] | None = None  # start tick, start t, reason
        self.events_stored = 0
        self.events_late = 0
        self.error: BaseException | None = None

    def post(self, message: WriterMessage) -> None:
        """Queue a message (thread-safe)."""
        self.inbox.put(message)

    def run(self) -> None:
        """Thread body; an exception is kept in :attr:`error` for the recorder to raise."""
        try:
            self._loop()
        except OSError as exc:  # disk full, permissions: the recorder stops and says so
            self.error = exc
            log.debug("session writer failed", exc_info=True)
        except BaseException as exc:
            self.error = exc
            log.exception("session writer failed")

    def _loop(self) -> None:
        next_flush = now_ns() + _JOURNAL_FLUSH_NS
        stopping = False
        while True:
            try:
                msg = self.inbox.get(timeout=0.02)
            except queue.Empty:
                msg = None
            if msg is not None:
                if isinstance(msg, Stop):
                    stopping = True
                else:
                    self._apply(msg)
            self._bin_due(flush_all=stopping and self.inbox.empty())
            now = now_ns()
            if now >= next_flush:
                self.writer.flush_journal()
                next_flush = now + _JOURNAL_FLUSH_NS
            if stopping and self.inbox.empty() and not self._frames:
                break
        self.writer.close_all()
        self.writer.flush_journal()

    # -- messages ---------------------------------------------------------------------------------
    # Not `_handle`: since Python 3.13 threading.Thread keeps its OS thread handle in
    # `self._handle`, and a method of that name was replaced by it (found under Wine).
    def _apply(self, msg: WriterMessage) -> None:
        if isinstance(msg, Events):
            self._on_events(msg.events)
        elif isinstance(msg, FrameQueued):
            self._frames.append(msg.t_rel)
            self.writer.on_frame(msg.chunk, msg.tick, msg.t_rel, msg.region, msg.size,
                                 msg.os_t_rel, msg.repeated)
        elif isinstance(msg, Encoded):
            self.writer.on_encoded(msg.chunk, msg.ms, msg.nbytes, msg.error)
        elif isinstance(msg, FileClosed):
            self.writer.on_file_closed(msg.chunk, msg.nbytes, msg.error)
        elif isinstance(msg, Paused):
            self._on_pause(msg.t_rel, msg.tick, msg.reason)
        elif isinstance(msg, Resumed):
            self._on_resume(msg.t_rel, msg.tick, msg.held)
        elif isinstance(msg, Started):
            self._enter(msg.t_rel, msg.held)
        else:  # a programming error, not user input
            raise ValueError(f"unknown writer message {msg!r}")

    def _on_events(self, events: list[InputEvent]) -> None:
        stored: list[InputEvent] = []
        for ev in events:
            self._physical.apply(ev)
            if not self._storing:
                continue
            if ev.t_ns < self._entered_t:  # in flight while the held state was read
                ev = InputEvent(self._entered_t, ev.device, ev.code, ev.value)
            if ev.t_ns <= self._last_binned_t:
                self.events_late += 1
                ev = InputEvent(self._last_binned_t + 1, ev.device, ev.code, ev.value)
            stored.append(ev)
        self._store(stored)

    def _store(self, events: list[InputEvent]) -> None:
        for ev in events:
            self._stored.apply(ev)
            heapq.heappush(self._events, (ev.t_ns, next(self._seq), ev))
        self.events_stored += len(events)
        self.writer.on_events(events)

    def _on_pause(self, t_rel: int, tick: int, reason: str) -> None:
        if not self._storing:
            return
        # What is held when the pause starts is released at the pause time (self-consistent
        # stream); the resume enters what is held then.
        t = max(t_rel, self._last_binned_t + 1)
        self._store(self._stored.releases(t))
        self._storing = False
        self._open_pause = (tick, t_rel, reason)
        self.writer.on_control(PauseRecord(t_rel, tick, reason))

    def _on_resume(self, t_rel: int, tick: int, held: list[InputEvent] | None = None) -> None:
        if self._storing:
            return
        self._storing = True
        self._enter(t_rel, held or [])
        self._end_pause(tick, t_rel)
        self.writer.on_control(ResumeRecord(t_rel, tick))

    def _enter(self, t_rel: int, held: list[InputEvent]) -> None:
        """Recording starts or resumes at ``t_rel``: store what is held then as held."""
        if not self._storing:  # paused before the start was entered: the resume enters it
            return
        self._physical.apply_all(held)  # the OS read: keys down before any listener saw them
        t = max(t_rel, self._last_binned_t + 1)
        self._entered_t = t
        self._store(self._stored.entering(self._physical, t))

    def close_open_pause(self, end_tick: int, end_t_rel: int) -> None:
        """Record a pause still open when recording stops (called after the thread ended)."""
        self._end_pause(end_tick, end_t_rel)

    def _end_pause(self, end_tick: int, end_t_rel: int) -> None:
        if self._open_pause is not None:
            self.writer.meta.pauses.append(Pause.closed(*self._open_pause, end_tick, end_t_rel))
            self._open_pause = None

    # -- binning ----------------------------------------------------------------------------------
    def _bin_due(self, *, flush_all: bool) -> None:
        horizon = now_ns() - self.t0_ns - BIN_DELAY_NS
        while self._frames and (flush_all or self._frames[0] <= horizon):
            t_frame = self._frames.popleft()
            interval: list[InputEvent] = []
            while self._events and self._events[0][0] <= t_frame:
                ev = heapq.heappop(self._events)[2]
                self.binner.feed(ev)
                interval.append(ev)
            actions, mouse, pad = self.binner.close_frame()
            rollout = (self.rollout.row(self._last_binned_t, t_frame)
                       if self.rollout is not None else None)
            self._last_binned_t = t_frame
            self.writer.on_row(actions, mouse, pad, interval, rollout)
