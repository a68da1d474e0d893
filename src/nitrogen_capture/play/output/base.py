"""The output seam: turn :class:`~..action.Action` steps into input the game receives.

An :class:`ActionOutput` keeps what it holds and sends only the differences: applying the same
action twice sends nothing, applying :data:`~..action.NOTHING` releases everything. Every event
it sends is returned stamped on the recording's clock (:func:`~nitrogen_capture.clock.now_ns`),
so the takeover gate can tell the policy's own input from the player's (:mod:`..takeover`).

Backends implement the few primitive calls (:meth:`ActionOutput._key`, :meth:`_move`,
:meth:`_wheel`, :meth:`_pad`); :mod:`.__init__` (``get_output``) picks one by name. Kinds:

* ``keyboard``: keys, mouse buttons, wheel and relative motion (XTEST, SendInput);
* ``gamepad``: one virtual pad's buttons and sticks (uinput, ViGEm).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...clock import now_ns
from ...events import BUTTON, KEY, MOTION, PAD_AXIS, PAD_BUTTON, WHEEL, InputEvent
from ...keylayout import DEFAULT_LAYOUT, KeyLayout
from ...rows import MOUSE_BUTTONS, PAD_AXES, PAD_BUTTONS
from ..action import NOTHING, Action

if TYPE_CHECKING:
    from ...targets.base import Target

__all__ = ["KINDS", "ActionOutput", "OutputSettings"]

KINDS = ("keyboard", "gamepad")
_WHEEL_STEP = {"wheel_up": ("dy", 1.0), "wheel_down": ("dy", -1.0),
               "wheel_right": ("dx", 1.0), "wheel_left": ("dx", -1.0)}
# A stick change smaller than this is not sent again (a model's jitter would flood the device).
AXIS_EPSILON = 1.0 / 256


@dataclass(frozen=True)
class OutputSettings:
    """Which output ``play`` drives and where.

    Attributes:
        name: ``auto`` (keyboard: XTEST on X11, SendInput on Windows), ``xtest``, ``sendinput``,
            ``uinput`` (a virtual pad through python-evdev), ``vigem`` (Windows, asked only).
        layout: the keys the output may press (a key outside it is never sent).
        display: the X display (None: ``$DISPLAY``).
    """

    name: str = "auto"
    layout: KeyLayout = DEFAULT_LAYOUT
    display: str | None = None


class ActionOutput(ABC):
    """Sends the differences between the held state and each new action (thread-safe)."""

    name = "output"
    kind = "keyboard"

    def __init__(self, layout: KeyLayout = DEFAULT_LAYOUT) -> None:
        self.layout = layout
        self._allowed = frozenset(layout.keys) | MOUSE_BUTTONS
        self._held: set[str] = set()
        self._pad_state = [0.0] * (len(PAD_BUTTONS) + len(PAD_AXES))
        self._carry = [0.0, 0.0]  # sub-count motion kept for the next step
        self._lock = threading.Lock()

    # -- what the driver calls ------------------------------------------------------------------
    def prepare(self, target: Target) -> None:  # noqa: B027 - optional hook
        """Make the target window receive what is sent (focus it, put the pointer in it)."""

    @property
    def held(self) -> frozenset[str]:
        """The keys and buttons this output holds down now."""
        with self._lock:
            return frozenset(self._held)

    def apply(self, action: Action) -> list[InputEvent]:
        """Send what changes from the held state to ``action``; return the events sent."""
        with self._lock:
            sent: list[InputEvent] = []
            if self.kind == "keyboard":
                # A wheel pseudo-key is a step each time it appears, never a held key.
                want = {k for k in action.keys if k in self._allowed and k not in _WHEEL_STEP}
                for key in sorted(self._held - want):
                    sent.append(self._send_key(key, False))
                for key in sorted(want - self._held):
                    sent.append(self._send_key(key, True))
                for wheel in sorted(k for k in action.keys if k in _WHEEL_STEP
                                    and k in self.layout.keys):
                    axis, steps = _WHEEL_STEP[wheel]
                    self._wheel(axis, steps)
                    sent.append(InputEvent(now_ns(), WHEEL, axis, steps))
                sent.extend(self._send_motion(action.mouse))
            elif action.pad is not None:
                sent.extend(self._send_pad(action.pad))
            return sent

    def release_all(self) -> list[InputEvent]:
        """Release every key, button and stick this output holds (never raises on a dead link)."""
        try:
            return self.apply(NOTHING if self.kind == "keyboard"
                              else Action(pad=(0.0,) * len(self._pad_state)))
        except Exception:  # best effort: a dead link holds nothing any more
            with self._lock:
                self._held.clear()
            return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device or connection (after :meth:`release_all`)."""

    # -- backends -------------------------------------------------------------------------------
    @abstractmethod
    def _key(self, key: str, down: bool) -> None:
        """Press or release one layout key or mouse button (``lmb``...)."""

    def _move(self, dx: int, dy: int) -> None:
        """Move the pointer by whole counts (+y down)."""
        raise NotImplementedError(f"{self.name} cannot move the pointer")

    def _wheel(self, axis: str, steps: float) -> None:
        """Scroll ``steps`` (+1 up/right) along ``dy`` or ``dx``."""
        raise NotImplementedError(f"{self.name} cannot scroll")

    def _pad(self, state: list[float], changed: list[int]) -> None:
        """Set the pad to ``state`` (21 values); ``changed``: the indices that changed."""
        raise NotImplementedError(f"{self.name} is not a gamepad")

    # -- helpers --------------------------------------------------------------------------------
    def _send_key(self, key: str, down: bool) -> InputEvent:
        self._key(key, down)
        if down:
            self._held.add(key)
        else:
            self._held.discard(key)
        return InputEvent(now_ns(), BUTTON if key in MOUSE_BUTTONS else KEY, key,
                          1.0 if down else 0.0)

    def _send_motion(self, mouse: tuple[float, float]) -> list[InputEvent]:
        x = self._carry[0] + mouse[0]
        y = self._carry[1] + mouse[1]
        dx, dy = int(x), int(y)  # towards zero; the rest waits for the next step
        self._carry = [x - dx, y - dy]
        if not dx and not dy:
            return []
        self._move(dx, dy)
        t = now_ns()
        return [InputEvent(t, MOTION, axis, float(v)) for axis, v in (("dx", dx), ("dy", dy)) if v]

    def _send_pad(self, pad: tuple[float, ...]) -> list[InputEvent]:
        nb = len(PAD_BUTTONS)
        state = [1.0 if v >= 0.5 else 0.0 for v in pad[:nb]]
        state += [max(-1.0, min(1.0, float(v))) for v in pad[nb:]]
        changed = [i for i, (old, new) in enumerate(zip(self._pad_state, state, strict=True))
                   if (abs(new - old) >= AXIS_EPSILON if i >= nb else new != old)]
        if not changed:
            return []
        self._pad(state, changed)
        self._pad_state = state
        t = now_ns()
        self._held = {PAD_BUTTONS[i] for i in range(nb) if state[i]}
        return [InputEvent(t, PAD_BUTTON, PAD_BUTTONS[i], state[i]) if i < nb
                else InputEvent(t, PAD_AXIS, PAD_AXES[i - nb], state[i]) for i in changed]
