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
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
from collections import deque
from typing import Any

from ..binning import ActionBinner
from ..clock import now_ns
from ..events import HeldKeys, InputEvent
from ..session.meta import Pause
from ..session.writer import SessionWriter

__all__ = ["BIN_DELAY_NS", "WriterThread"]

log = logging.getLogger(__name__)

BIN_DELAY_NS = 400_000_000
# Journal flush (with fsync) interval. What a kill -9 can lose is about this plus the encoder's
# latency; 0.5 s keeps the measured worst case under the 1 s promised in docs/reliability.md.
_JOURNAL_FLUSH_NS = 500_000_000


class WriterThread(threading.Thread):
    """Consumes the capture thread's messages; see the module docstring.

    Messages (tuples, first item the kind): ``("events", [InputEvent])`` with session-relative
    times, ``("frame", chunk, tick, t_rel, region, size)``, ``("encoded", chunk, ms, nbytes,
    error)``, ``("closed", chunk, nbytes, error)`` (video: the chunk's file is finished),
    ``("pause", t_rel, tick, reason)``, ``("resume", t_rel, tick)``, ``("stop",)``.
    """

    def __init__(self, writer: SessionWriter, binner: ActionBinner, t0_ns: int) -> None:
        super().__init__(name="session-writer", daemon=True)
        self.writer = writer
        self.binner = binner
        self.t0_ns = t0_ns
        self.inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._frames: deque[int] = deque()  # t_rel of frames waiting to be binned
        self._events: list[tuple[int, int, InputEvent]] = []  # heap by time
        self._seq = itertools.count()
        self._last_binned_t = -(1 << 62)
        self._storing = True
        self._physical = HeldKeys()  # layout keys physically held (also while paused)
        self._open_pause: tuple[int, int, str] | None = None  # start tick, start t, reason
        self.events_stored = 0
        self.events_late = 0
        self.error: BaseException | None = None

    def post(self, *message: Any) -> None:
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
                if msg[0] == "stop":
                    stopping = True
                else:
                    self._dispatch(msg)
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
    # Not `_handle`: CPython 3.13's Thread keeps its _ThreadHandle in self._handle, which would
    # shadow the method ("'_thread._ThreadHandle' object is not callable").
    def _dispatch(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "events":
            self._on_events(msg[1])
        elif kind == "frame":
            _, chunk, tick, t_rel, region, size = msg
            self._frames.append(t_rel)
            self.writer.on_frame(chunk, tick, t_rel, region, size)
        elif kind == "encoded":
            _, chunk, ms, nbytes, error = msg
            self.writer.on_encoded(chunk, ms, nbytes, error)
        elif kind == "closed":
            _, chunk, nbytes, error = msg
            self.writer.on_file_closed(chunk, nbytes, error)
        elif kind == "pause":
            self._on_pause(*msg[1:])
        elif kind == "resume":
            self._on_resume(*msg[1:])
        else:  # a programming error, not user input
            raise ValueError(f"unknown writer message {kind!r}")

    def _on_events(self, events: list[InputEvent]) -> None:
        stored: list[InputEvent] = []
        for ev in events:
            self._physical.apply(ev)
            if not self._storing:
                continue
            if ev.t_ns <= self._last_binned_t:
                self.events_late += 1
                ev = InputEvent(self._last_binned_t + 1, ev.device, ev.code, ev.value)
            stored.append(ev)
        self._store(stored)

    def _store(self, events: list[InputEvent]) -> None:
        for ev in events:
            heapq.heappush(self._events, (ev.t_ns, next(self._seq), ev))
        self.events_stored += len(events)
        self.writer.on_events(events)

    def _on_pause(self, t_rel: int, tick: int, reason: str) -> None:
        if not self._storing:
            return
        # Keys held when the pause starts are released at the pause time (self-consistent stream).
        t = max(t_rel, self._last_binned_t + 1)
        self._store([InputEvent(t, dev, code, 0.0) for code, dev in self.writer.held])
        self._storing = False
        self._open_pause = (tick, t_rel, reason)
        self.writer.on_control({"kind": "pause", "start_t": t_rel, "start_tick": tick,
                                "reason": reason})

    def _on_resume(self, t_rel: int, tick: int) -> None:
        if self._storing:
            return
        self._storing = True
        t = max(t_rel, self._last_binned_t + 1)
        self._store([InputEvent(t, dev, code, 1.0) for code, dev in sorted(self._physical.items())])
        self._end_pause(tick, t_rel)
        self.writer.on_control({"kind": "resume", "end_t": t_rel, "end_tick": tick})

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
            self._last_binned_t = t_frame
            self.writer.on_row(actions, mouse, pad, interval)
