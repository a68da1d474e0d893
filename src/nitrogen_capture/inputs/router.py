"""Route raw listener events: hotkeys, privacy filter, focus gating.

Every listener hands its events to :meth:`InputRouter.push` (from the listener's own thread). The
router, still on that thread and at event time:

1. turns hotkeys into ``control`` events and swallows the keys that formed them. The hotkeys are a
   :class:`~nitrogen_capture.keylayout.Hotkeys` (the layout's; by default docs/architecture.md
   5.2: F8 toggle, F6 resume, F7 pause, Ctrl+T resume, Ctrl+P pause);
2. drops keys and buttons that are not in the layout (privacy: they are never queued);
3. drops input while the target window does not have focus, checked *now*, not by a slow poll.
   A release of a key, mouse or pad button whose press was forwarded always passes (and one
   whose press was not never does), so nothing sticks "held"; a press of one already down is
   a repeat and is dropped;
4. appends what is left to a thread-safe queue that the recorder drains each tick.

What is already held when a recording starts or resumes (read from the OS by the sources,
:meth:`~nitrogen_capture.inputs.base.InputSource.held_now`) passes :meth:`InputRouter.admit_held`,
the same filter without the hotkeys: a held hotkey key never acts and is never stored.

When there are chord hotkeys, a Ctrl press is held back for up to :data:`CHORD_HOLD_NS` (keeping
its original timestamp): if a chord's key (T or P by default) follows while Ctrl is down, the
chord is a hotkey and neither key reaches the action stream. The recorder bins with a delay
longer than that hold, so a held-back press still lands in the right frame. Without chord hotkeys
Ctrl is a plain key and is never held back.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable

from ..events import BUTTON, CONTROL, KEY, MOTION, PAD_AXIS, PAD_BUTTON, WHEEL, InputEvent
from ..keylayout import Hotkeys, KeyLayout

__all__ = ["CHORD_HOLD_NS", "InputRouter"]

log = logging.getLogger(__name__)

CHORD_HOLD_NS = 250_000_000
_GATED = (KEY, BUTTON, WHEEL, MOTION, PAD_BUTTON, PAD_AXIS)
_PRESSABLE = (KEY, BUTTON, PAD_BUTTON)  # a release of a forwarded press always passes


class InputRouter:
    """The sink every input source delivers to.

    Args:
        layout: keys to keep.
        is_focused: called at event time; ``False`` drops the event (privacy).
        hotkeys: the recorder hotkeys to recognise; None means the layout's
            (``Hotkeys(toggle=(), resume=(), pause=())``: every key is plain input).
    """

    def __init__(self, layout: KeyLayout, is_focused: Callable[[], bool] = lambda: True,
                 *, hotkeys: Hotkeys | None = None) -> None:
        self.layout = layout
        self.is_focused = is_focused
        self.hotkeys = layout.hotkeys if hotkeys is None else hotkeys
        self._keys = self.hotkeys.keys
        self._chords = self.hotkeys.chords
        self._queue: deque[InputEvent] = deque()
        self._lock = threading.Lock()
        self._forwarded_held: set[tuple[str, str]] = set()
        self._ctrl_down = False
        self._pending_ctrl: InputEvent | None = None
        self._swallowed: set[str] = set()  # keys whose release must be swallowed too
        self.dropped_unfocused = 0
        self.dropped_not_in_layout = 0
        self.hotkeys_seen = 0
        # Called with every event before any filtering (``play``'s takeover gate, which keeps
        # no event: it needs to see the player's input even outside the layout).
        self.taps: list[Callable[[InputEvent], None]] = []

    # -- called from listener threads ---------------------------------------------------------
    def push(self, event: InputEvent) -> None:
        """Route one event (thread-safe)."""
        for tap in self.taps:
            tap(event)
        with self._lock:
            if event.device == KEY and self._hotkey(event):
                return
            self._route(event)

    def _hotkey(self, ev: InputEvent) -> bool:
        """Handle hotkeys and the Ctrl hold-back; True when ``ev`` was consumed."""
        code, pressed = ev.code, ev.value > 0
        if code in self._keys:
            if pressed:
                self._control(self._keys[code], ev.t_ns)
            return True
        if not self._chords:
            return False
        if code in self._swallowed:
            if not pressed:
                self._swallowed.discard(code)
            return True
        if code == "ctrl":
            self._ctrl_down = pressed
            if pressed:
                self._flush_pending()
                if self.is_focused():
                    self._pending_ctrl = ev
                    return True
                return False
            if self._pending_ctrl is not None:  # a plain Ctrl tap: let press and release through
                self._flush_pending()
            return False
        if pressed and self._ctrl_down and code in self._chords:
            if self._pending_ctrl is not None:  # the Ctrl of a chord never reaches the stream
                self._pending_ctrl = None
                self._swallowed.add("ctrl")
            self._swallowed.add(code)
            self._control(self._chords[code], ev.t_ns)
            return True
        self._flush_pending()
        return False

    def _control(self, action: str, t_ns: int) -> None:
        self.hotkeys_seen += 1
        if not self.is_focused():
            log.debug("hotkey %s ignored: target not focused", action)
            return
        self._queue.append(InputEvent(t_ns, CONTROL, action, 1.0))

    def _flush_pending(self) -> None:
        if self._pending_ctrl is not None:
            ev, self._pending_ctrl = self._pending_ctrl, None
            self._route(ev)

    def _route(self, ev: InputEvent) -> None:
        if ev.device in _PRESSABLE:
            if ev.device != PAD_BUTTON and ev.code not in self.layout:
                self.dropped_not_in_layout += 1
                return
            ident = (ev.device, ev.code)
            if ev.value > 0:
                if ident in self._forwarded_held:
                    return  # already down (held at the start): the OS's auto-repeat
                if not self.is_focused():
                    self.dropped_unfocused += 1
                    return
                self._forwarded_held.add(ident)
            elif ident in self._forwarded_held:
                self._forwarded_held.discard(ident)  # releases of forwarded presses always pass
            else:
                return
        elif ev.device in _GATED and not self.is_focused():
            self.dropped_unfocused += 1
            return
        self._queue.append(ev)

    # -- called from the recorder thread --------------------------------------------------------
    def admit_held(self, events: Iterable[InputEvent]) -> list[InputEvent]:
        """Filter a read of what is held now (docs/architecture.md 5.5); return what passes.

        The rules of live input: only layout keys and buttons, nothing while the target does
        not have focus, and never a hotkey key (it neither acts nor is stored). What passes is
        remembered as forwarded, so its release passes later. Nothing here is counted as
        dropped: a read is not input the player made.
        """
        with self._lock:
            if not self.is_focused():
                return []
            out: list[InputEvent] = []
            for ev in events:
                if ev.device == KEY and (ev.code in self._keys or ev.code in self._swallowed):
                    continue
                if ev.device == KEY and ev.code == "ctrl" and self._chords:
                    self._ctrl_down = True  # Ctrl+T pressed later is the chord
                if ev.device in _PRESSABLE:
                    if ev.device != PAD_BUTTON and ev.code not in self.layout:
                        continue
                    self._forwarded_held.add((ev.device, ev.code))
                elif ev.device != PAD_AXIS:
                    continue
                out.append(ev)
            return out

    def flush_due(self, now_ns: int) -> None:
        """Release a held-back Ctrl press once it is older than :data:`CHORD_HOLD_NS`."""
        with self._lock:
            if self._pending_ctrl is not None and now_ns - self._pending_ctrl.t_ns >= CHORD_HOLD_NS:
                self._flush_pending()

    def drain(self) -> list[InputEvent]:
        """Take every queued event (in arrival order)."""
        with self._lock:
            events = list(self._queue)
            self._queue.clear()
        return events
