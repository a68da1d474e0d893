"""The player stays in charge: tell the player's input from the policy's own and hand over.

Every event the recording's listeners see reaches :meth:`TakeoverGate.observe` (a tap on the
input router, on the listener's thread) - including the policy's own input, which XTEST and
``SendInput`` make look exactly like a device's. So the gate matches each observed event against
what the output reported sending (:meth:`TakeoverGate.sent`):

* a key, button, wheel step or pad button that matches an unexplained sent event of the same
  code and direction is the policy's; a press of a key already down is the OS's auto-repeat;
* pointer motion is the policy's up to the counts the output sent (a motion budget), plus
  :data:`MOTION_SLACK`; a pad axis is the policy's near a value it set, noise inside
  :data:`AXIS_DEADZONE`;
* anything else is the player's. Because the output reports a send just *after* making it,
  an unexplained event waits :data:`GRACE_NS` before it counts (the report may still come).

The first input of the player opens a takeover (dated at that input, so the rows before it stay
the policy's); the driver stops sending and releases what it held. Control returns after
``quiet_s`` with no player input and no player key held, or at the takeover hotkey (which also
takes control when pressed while the policy drives: that takeover lasts until the hotkey again).
The panic key sets :attr:`TakeoverGate.panic`; ``play`` then releases everything and stops.

Privacy: the gate looks at input only while the target has focus and keeps nothing of it but
times and counts.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from ..clock import now_ns
from ..events import BUTTON, CONTROL, KEY, MOTION, PAD_AXIS, PAD_BUTTON, InputEvent
from .rollout import RolloutLog

__all__ = ["AXIS_DEADZONE", "GRACE_NS", "MOTION_SLACK", "TakeoverGate"]

GRACE_NS = 80_000_000  # an observed event waits this long for the output's report of a send
_FORGET_NS = 2_000_000_000  # a sent event not seen back within this is forgotten
MOTION_SLACK = 3  # counts the listener may see beyond what was sent (rounding, acceleration)
AXIS_DEADZONE = 0.25  # a real pad's resting sticks wander inside this
_AXIS_MATCH = 0.05
_PRESSABLE = (KEY, BUTTON, PAD_BUTTON)


class TakeoverGate:
    """See the module docstring. Thread-safe: listeners observe, the driver sends and polls."""

    def __init__(self, log: RolloutLog, *, quiet_s: float = 2.0,
                 takeover_key: str | None = "f10", panic_key: str | None = "f12",
                 is_focused: Callable[[], bool] = lambda: True,
                 ignored_keys: frozenset[str] = frozenset()) -> None:
        self.log = log
        self.ignored_keys = ignored_keys  # the recorder's hotkeys: driving it is not playing
        self.quiet_ns = int(quiet_s * 1e9)
        self.takeover_key = takeover_key
        self.panic_key = panic_key
        self.is_focused = is_focused
        self.panic = threading.Event()
        self._lock = threading.Lock()
        self._expected: deque[tuple[int, str, str, bool]] = deque()  # t, device, code, down
        self._axes: dict[str, tuple[int, float]] = {}  # pad axis -> (t, value set)
        self._budget: deque[tuple[int, float]] = deque()  # (t, counts) of motion sent
        self._pending: deque[InputEvent] = deque()  # unexplained, waiting out the grace
        self._down: set[tuple[str, str]] = set()  # observed down (repeats are not input)
        self._player_down: set[tuple[str, str]] = set()  # of those, pressed by the player
        self._ignore_before = 0
        self._last_player_ns = 0
        self._sticky = False  # the hotkey took control: only the hotkey gives it back
        self.player_events = 0

    # -- the output's side ----------------------------------------------------------------------
    def ignore_until(self, t_ns: int) -> None:
        """Input stamped before ``t_ns`` is not the player's (the output focusing the window)."""
        with self._lock:
            self._ignore_before = max(self._ignore_before, t_ns)

    def sent(self, events: list[InputEvent]) -> None:
        """The output sent ``events`` (as :meth:`ActionOutput.apply` returns them)."""
        with self._lock:
            for ev in events:
                if ev.device == MOTION:
                    self._budget.append((ev.t_ns, abs(ev.value)))
                elif ev.device == PAD_AXIS:
                    self._axes[ev.code] = (ev.t_ns, ev.value)
                else:
                    self._expected.append((ev.t_ns, ev.device, ev.code, ev.value > 0))
            for ev in list(self._pending):  # seen before the report came: the policy's after all
                if ev.device != MOTION and self._match(ev):
                    self._pending.remove(ev)

    # -- the listeners' side --------------------------------------------------------------------
    def observe(self, ev: InputEvent) -> None:
        """Look at one event as a listener delivered it (before any recording filter)."""
        if ev.device == CONTROL:
            return
        pressed = ev.device in _PRESSABLE and ev.value > 0
        if ev.device == KEY and pressed and ev.code == self.panic_key:
            self.panic.set()
            return
        if ev.device == KEY and ev.code == self.takeover_key:
            if pressed:
                self._hotkey(ev.t_ns)
            return
        if (ev.device == KEY and ev.code in self.ignored_keys) or not self.is_focused():
            return
        with self._lock:
            if ev.t_ns < self._ignore_before:
                return
            if ev.device in _PRESSABLE:
                ident = (ev.device, ev.code)
                if pressed and ident in self._down:
                    return  # auto-repeat
                (self._down.add if pressed else self._down.discard)(ident)
                if not pressed and ident in self._player_down:
                    self._player_down.discard(ident)
                    self._player(ev.t_ns)
                    return
            if ev.device == PAD_AXIS:
                if self._axis_is_policy(ev) or abs(ev.value) < AXIS_DEADZONE:
                    return
                self._pending.append(ev)
                return
            if ev.device == MOTION or not self._match(ev):
                self._pending.append(ev)

    # -- the driver's side ----------------------------------------------------------------------
    def poll(self, now: int | None = None) -> bool:
        """Decide what waited out its grace; return True while the policy has control."""
        now = now_ns() if now is None else now
        with self._lock:
            while self._expected and now - self._expected[0][0] > _FORGET_NS:
                self._expected.popleft()
            while self._budget and now - self._budget[0][0] > _FORGET_NS:
                self._budget.popleft()
            while self._pending and now - self._pending[0].t_ns >= GRACE_NS:
                ev = self._pending.popleft()
                if ev.device == MOTION and self._spend(abs(ev.value)):
                    continue
                if ev.device in _PRESSABLE:  # a tap's release may wait here with its press
                    ident = (ev.device, ev.code)
                    (self._player_down.add if ev.value > 0 else self._player_down.discard)(ident)
                self._player(ev.t_ns)
            in_control = self.log.player_in_control()
            if (in_control and not self._sticky and not self._player_down
                    and now - self._last_player_ns >= self.quiet_ns):
                self.log.takeover_ended(now)
                in_control = False
            return not in_control

    # -- helpers (called with the lock held) ----------------------------------------------------
    def _match(self, ev: InputEvent) -> bool:
        down = ev.value > 0  # a press, or a wheel step's direction
        for item in self._expected:
            if item[1] == ev.device and item[2] == ev.code and item[3] == down:
                self._expected.remove(item)
                return True
        return False

    def _axis_is_policy(self, ev: InputEvent) -> bool:
        sent = self._axes.get(ev.code)
        return sent is not None and abs(sent[1] - ev.value) <= _AXIS_MATCH

    def _spend(self, counts: float) -> bool:
        """Take ``counts`` of motion from what the output sent; False: more than it sent."""
        while counts > 0 and self._budget:
            t, have = self._budget[0]
            used = min(have, counts)
            counts -= used
            if have - used > 0:
                self._budget[0] = (t, have - used)
            else:
                self._budget.popleft()
        return counts <= MOTION_SLACK

    def _player(self, t_ns: int) -> None:
        self.player_events += 1
        self._last_player_ns = max(self._last_player_ns, t_ns)
        self.log.takeover_started(t_ns, "input")

    def _hotkey(self, t_ns: int) -> None:
        with self._lock:
            if self.log.player_in_control():
                self._sticky = False
                self.log.takeover_ended(t_ns)
            else:
                self._sticky = True
                self._last_player_ns = t_ns
                self.log.takeover_started(t_ns, "hotkey")
