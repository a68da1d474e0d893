"""The driver: the policy on one thread, its actions on another, the game never waiting.

Threads (the recording's capture thread only hands frames over, :meth:`PolicyDriver.on_frame`):

* **inference**: takes the newest frame from the :class:`~.frames.FrameMailbox`, asks the policy,
  keeps the answer (an :class:`~.action.ActionChunk`) stamped with the frame's grab time and its
  arrival. One question at a time; a slow policy answers fewer frames, it never queues them.
* **actuator**: ticks at the action rate on absolute deadlines. At each tick, while the policy has
  control (:class:`~.takeover.TakeoverGate`) and the recording is live and focused, it applies the
  step of the newest answer that covers the tick: step ``k`` of an answer that arrived at ``a``
  covers ``[a + k*s, a + (k+1)*s)``. Each step is applied once (motion and wheel steps add up).
  A new answer's first step goes out as soon as it arrives (not before half a period after the
  previous action: a game reads its input once a frame), outside the grid.
  A tick after the answer's last step keeps that step held; it is *late* when it comes more than
  :data:`TICK_GRACE` of a step after the answer ran out, or before any answer came (the policy
  had nothing for that moment), and counted.

What it measures (``meta.json`` ``play.stats``, docs/play.md): the latency of each answer from its
frame's grab to its first applied action, the share of ticks with a step ready, late ticks,
answers never applied (a newer one came first), and errors.

Every way out releases what the output holds: the end of the recording, Ctrl+C and SIGTERM (the
recorder's stop), the panic key, a policy error, the player taking over, focus lost or a pause.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..clock import now_ns
from ..errors import NitrogenCaptureError
from ..events import InputEvent
from .action import ActionChunk
from .frames import FrameMailbox, policy_frame
from .output.base import ActionOutput
from .policy_base import Policy
from .rollout import RolloutLog
from .takeover import TakeoverGate

if TYPE_CHECKING:
    from ..targets.base import Target

__all__ = ["TICK_GRACE", "DriverSettings", "DriverStats", "PolicyDriver"]

log = logging.getLogger(__name__)

TICK_GRACE = 0.5  # of a step: how late a tick may wake and still use the step it was meant for
_FOCUS_GRACE_NS = 250_000_000  # focusing the window moves the pointer: not the player


@dataclass(frozen=True)
class DriverSettings:
    """The driver's rate and control rules (``play`` flags)."""

    action_hz: float = 30.0
    quiet_s: float = 2.0
    takeover_key: str | None = "f10"
    panic_key: str | None = "f12"


@dataclass
class DriverStats:
    """What the driver counted (live; :meth:`PolicyDriver.summary` turns it into JSON)."""

    answers: int = 0
    answers_unused: int = 0
    ticks_ready: int = 0
    ticks_late: int = 0
    steps_applied: int = 0
    events_sent: int = 0
    errors: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    presses_sent: dict[str, int] = field(default_factory=dict)  # key/button -> presses


def _percentiles(values: list[int]) -> dict[str, float] | None:
    if not values:
        return None
    ms = np.asarray(values, dtype=np.float64) / 1e6
    return {"p50": round(float(np.percentile(ms, 50)), 3),
            "p99": round(float(np.percentile(ms, 99)), 3), "max": round(float(ms.max()), 3)}


@dataclass
class _Answer:
    chunk: ActionChunk
    t_grab: int
    t_arrived: int
    applied: int = -1  # the last step index applied


class PolicyDriver:
    """Runs ``policy`` against the game through ``output`` (see the module docstring).

    Args:
        is_live: True while the recording records (not paused) and the target has focus.
        on_end: called once, from a driver thread, with the reason when the driver ends the
            run itself (``panic``, ``policy error: ...``); ``play`` stops the recording there.
    """

    def __init__(self, policy: Policy, output: ActionOutput, gate: TakeoverGate,
                 rollout: RolloutLog, settings: DriverSettings,
                 is_live: Callable[[], bool], on_end: Callable[[str], None]) -> None:
        self.policy = policy
        self.output = output
        self.gate = gate
        self.rollout = rollout
        self.settings = settings
        self.is_live = is_live
        self.on_end = on_end
        self.stats = DriverStats()
        self.ended: str | None = None
        self.error: str | None = None
        self._mailbox = FrameMailbox()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._answer: _Answer | None = None
        self._threads: list[threading.Thread] = []
        self._released = False
        self._fresh = threading.Event()  # a new answer waits to be applied
        self._last_apply = 0

    # -- the capture thread ---------------------------------------------------------------------
    def on_frame(self, raw: npt.NDArray[np.uint8], t_grab_ns: int) -> None:
        """A recorded frame: offer it to the policy while the policy drives (cheap otherwise)."""
        if self._stop.is_set() or self.rollout.player_in_control():
            return
        self._mailbox.put(policy_frame(raw, self.policy.frame_size), t_grab_ns)

    # -- lifecycle ------------------------------------------------------------------------------
    def prepare(self, target: Target) -> None:
        """Focus the game for the output, before the recording's clock starts.

        The pointer warp focusing may make is neither the player's input nor data.
        """
        self.policy.reset()  # a new episode (NitroGen's server forgets its context)
        self.output.prepare(target)
        self.gate.ignore_until(now_ns() + _FOCUS_GRACE_NS)

    def start(self) -> None:
        """Start both threads."""
        for name, body in (("play-inference", self._infer), ("play-actuator", self._actuate)):
            thread = threading.Thread(target=self._guard(body), name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self, reason: str = "stopped") -> None:
        """End both threads, release everything held, close policy and output (idempotent)."""
        if self.ended is None:
            self.ended = reason
        self._stop.set()
        self._fresh.set()
        self._mailbox.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=10)
        self._release()
        for what, close in (("output", self.output.close), ("policy", self.policy.close)):
            try:
                close()
            except Exception:  # closing must not hide the run's end
                log.warning("play: closing the %s failed", what, exc_info=True)

    def summary(self) -> dict[str, Any]:
        """``play.stats`` of meta.json."""
        s = self.stats
        ticks = s.ticks_ready + s.ticks_late
        return {"answers": s.answers, "answers_unused": s.answers_unused,
                "latency_ms": _percentiles(s.latencies_ns),
                "ticks": ticks, "late_ticks": s.ticks_late,
                "ready_share": round(s.ticks_ready / ticks, 4) if ticks else None,
                "steps_applied": s.steps_applied, "events_sent": s.events_sent,
                "presses_sent": dict(sorted(s.presses_sent.items())),
                "errors": s.errors, "policy_rows": self.rollout.rows[1],
                "human_rows": self.rollout.rows[0], "player_events": self.gate.player_events}

    # -- threads --------------------------------------------------------------------------------
    def _guard(self, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except Exception as exc:  # one line for the user, the run ends whole
                self.stats.errors += 1
                known = isinstance(exc, NitrogenCaptureError)
                self.error = str(exc) if known else f"{type(exc).__name__}: {exc}"
                if not known:
                    log.debug("play: the policy loop failed", exc_info=True)
                self._end(f"policy error: {self.error}")
        return run

    def _end(self, reason: str) -> None:
        with self._lock:
            if self.ended is not None:
                return
            self.ended = reason
        self._stop.set()
        self._fresh.set()
        self._release()
        self.on_end(reason)

    def _infer(self) -> None:
        seq = 0
        while not self._stop.is_set():
            frame = self._mailbox.take(seq, timeout=0.25)
            if frame is None:
                continue
            seq = frame.seq
            if self.rollout.player_in_control() or not self.is_live():
                continue
            chunk = self.policy.act(frame.rgb)
            with self._lock:
                if self._answer is not None and self._answer.applied < 0:
                    self.stats.answers_unused += 1
                self._answer = _Answer(chunk, frame.t_grab_ns, now_ns())
                self.stats.answers += 1
            self._fresh.set()

    def _actuate(self) -> None:
        period = int(1e9 / self.settings.action_hz)
        # A game reads its input about once a frame: a release and a press closer together than
        # that can reach it as nothing. So a fresh answer goes out at once, but never sooner
        # than half a period after the action before it.
        half = period // 2
        grid = now_ns() + period
        while not self._stop.is_set():
            now = now_ns()
            fresh = self._fresh.is_set()
            if fresh and now >= self._last_apply + half:
                self._fresh.clear()
                self._tick(counted=False)
                continue
            wake = min(grid, self._last_apply + half) if fresh else grid
            if wake > now:  # a fresh answer (or the stop) wakes the wait early
                (self._stop if fresh else self._fresh).wait((wake - now) / 1e9)
                continue
            if now - grid > period:  # the thread woke more than a period late (a busy CPU):
                missed = (now - grid) // period  # the ticks it slept through had nothing new
                self.stats.ticks_late += int(missed)
                grid += missed * period
            grid += period
            self._tick(counted=True)

    def _tick(self, *, counted: bool) -> None:
        """Apply the step due now; ``counted``: a tick of the action grid (ready or late)."""
        if self.gate.panic.is_set():
            self._end("panic")
            return
        in_control = self.gate.poll()
        if not in_control or not self.is_live():
            with self._lock:
                self._answer = None  # back in control, the policy starts from a new frame
            self._release()
            return
        self._released = False
        now = now_ns()
        with self._lock:
            answer = self._answer
        if answer is None:
            self.stats.ticks_late += counted
            return
        steps = answer.chunk.steps
        elapsed = max(0, now - answer.t_arrived) / 1e9 / answer.chunk.step_s
        k = max(int(elapsed), answer.applied + 1)  # the step for now; each applied once
        if k >= len(steps):
            # Nothing new: the last step stays held. Still on time just after the answer's
            # end (a wake-up a little late, the next answer about to arrive); late after that.
            if counted:
                on_time = elapsed < len(steps) + TICK_GRACE
                self.stats.ticks_ready += on_time
                self.stats.ticks_late += not on_time
            return
        self._send(self.output.apply(steps[k]))
        self._last_apply = now_ns()
        if answer.applied < 0:
            self.stats.latencies_ns.append(self._last_apply - answer.t_grab)
        answer.applied = k
        self.stats.ticks_ready += counted
        self.stats.steps_applied += 1

    def _send(self, events: list[InputEvent]) -> None:
        if events:
            self.gate.sent(events)
            self.rollout.proposed(events)
            self.stats.events_sent += len(events)
            for ev in events:
                if ev.is_press:
                    self.stats.presses_sent[ev.code] = self.stats.presses_sent.get(ev.code, 0) + 1

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        self._send(self.output.release_all())
