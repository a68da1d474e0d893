"""Turn a time-ordered event stream into per-frame rows (docs/architecture.md section 3).

For frame ``i`` captured at ``t_i`` (previous frame at ``t_{i-1}``):

* ``actions[i, k] = 1`` if key ``k`` was held at ``t_i`` **or pressed at any moment in
  (t_{i-1}, t_i]**, so a tap shorter than one frame is never lost. Wheel steps are taps of the
  ``wheel_*`` pseudo-keys.
* ``mouse_deltas[i]`` is the sum of raw relative motion in ``(t_{i-1}, t_i]``.
* ``gamepad[i]`` holds the 17 dataset buttons (held at ``t_i`` or pressed in the interval) and the
  stick axes as last reported at or before ``t_i``.

The same :class:`ActionBinner` runs live in the recorder, in crash recovery and in exporters that
re-bin the stored events onto another grid (e.g. NitroGen's 60 Hz), so all of them agree.
Events exactly at ``t_i`` belong to frame ``i``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from .events import BUTTON, KEY, MOTION, PAD_AXIS, PAD_BUTTON, WHEEL, InputEvent
from .keylayout import KeyLayout
from .rows import GAMEPAD_WIDTH, PAD_AXES, PAD_BUTTONS

__all__ = ["GAMEPAD_WIDTH", "ActionBinner", "BinnedRows", "bin_events"]

_PAD_INDEX = {name: i for i, name in enumerate(PAD_BUTTONS)}
_AXIS_INDEX = {name: i for i, name in enumerate(PAD_AXES)}
_WHEEL_KEY = {("dy", True): "wheel_up", ("dy", False): "wheel_down",
              ("dx", True): "wheel_right", ("dx", False): "wheel_left"}


class BinnedRows:
    """Per-frame arrays produced by :func:`bin_events`."""

    def __init__(self, actions: npt.NDArray[np.int8], mouse_deltas: npt.NDArray[np.float32],
                 gamepad: npt.NDArray[np.float32],
                 held_before: npt.NDArray[np.int8] | None = None) -> None:
        self.actions = actions
        self.mouse_deltas = mouse_deltas
        self.gamepad = gamepad
        # The layout's keys held when each row's interval opens (at t_{i-1}): what was held
        # going into the row, without what the row itself adds (LeRobot's --state held-keys).
        self.held_before = (held_before if held_before is not None
                            else np.zeros_like(actions))

    def __len__(self) -> int:
        return int(self.actions.shape[0])


class ActionBinner:
    """Streaming binner: :meth:`feed` events in time order, :meth:`close_frame` at each ``t_i``.

    The binner keeps the held state across frames (and across chunks), so a key held over a chunk
    boundary stays 1 on both sides.
    """

    def __init__(self, layout: KeyLayout) -> None:
        self.layout = layout
        k = len(layout)
        self._held = np.zeros(k, dtype=bool)
        self._latched = np.zeros(k, dtype=bool)
        self._mouse = np.zeros(2, dtype=np.float64)
        self._pad_held = np.zeros(len(PAD_BUTTONS), dtype=bool)
        self._pad_latched = np.zeros(len(PAD_BUTTONS), dtype=bool)
        self._axes = np.zeros(len(PAD_AXES), dtype=np.float32)

    @property
    def held_keys(self) -> list[str]:
        """Names of the layout keys held right now."""
        return [self.layout.keys[i] for i in np.flatnonzero(self._held)]

    @property
    def held_mask(self) -> npt.NDArray[np.bool_]:
        """The layout keys held right now, one bool per key (a copy)."""
        return self._held.copy()

    def feed(self, event: InputEvent) -> None:
        """Apply one event (events must arrive in time order)."""
        dev = event.device
        if dev in (KEY, BUTTON):
            col = self.layout.get(event.code)
            if col is not None:
                pressed = event.value > 0
                self._held[col] = pressed
                if pressed:
                    self._latched[col] = True
        elif dev == MOTION:
            if event.code == "dx":
                self._mouse[0] += event.value
            elif event.code == "dy":
                self._mouse[1] += event.value
        elif dev == WHEEL:
            if event.value != 0:
                name = _WHEEL_KEY.get((event.code, event.value > 0))
                col = self.layout.get(name) if name else None
                if col is not None:
                    self._latched[col] = True
        elif dev == PAD_BUTTON:
            idx = _PAD_INDEX.get(event.code)
            if idx is not None:
                pressed = event.value > 0
                self._pad_held[idx] = pressed
                if pressed:
                    self._pad_latched[idx] = True
        elif dev == PAD_AXIS:
            ax = _AXIS_INDEX.get(event.code)
            if ax is not None:
                self._axes[ax] = float(np.clip(event.value, -1.0, 1.0))

    def close_frame(self) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32],
                                   npt.NDArray[np.float32]]:
        """Return (actions row, mouse delta, gamepad row) and start the next interval."""
        actions = (self._held | self._latched).astype(np.int8)
        mouse = self._mouse.astype(np.float32)
        pad = np.concatenate([(self._pad_held | self._pad_latched).astype(np.float32),
                              self._axes.copy()])
        self._latched[:] = False
        self._pad_latched[:] = False
        self._mouse[:] = 0.0
        return actions, mouse, pad

    def copy(self) -> ActionBinner:
        """An independent binner with the same state (held keys, latches, sums, axes).

        Exporters that re-bin onto overlapping grids advance one binner through time and fork a
        copy for each grid.
        """
        new = ActionBinner(self.layout)
        for name in ("_held", "_latched", "_mouse", "_pad_held", "_pad_latched", "_axes"):
            getattr(new, name)[:] = getattr(self, name)
        return new


def bin_events(
    events: Iterable[InputEvent],
    frame_t_ns: npt.ArrayLike,
    layout: KeyLayout,
    binner: ActionBinner | None = None,
) -> BinnedRows:
    """Bin time-ordered ``events`` onto frames captured at ``frame_t_ns`` (sorted).

    Events after the last frame time are ignored. Pass a ``binner`` to continue from the state
    an earlier call left (e.g. across chunks).
    """
    times = np.asarray(frame_t_ns, dtype=np.int64)
    b = binner or ActionBinner(layout)
    n = len(times)
    actions = np.zeros((n, len(layout)), dtype=np.int8)
    mouse = np.zeros((n, 2), dtype=np.float32)
    pad = np.zeros((n, GAMEPAD_WIDTH), dtype=np.float32)
    held = np.zeros((n, len(layout)), dtype=np.int8)
    it = iter(events)
    pending = next(it, None)
    for i, t in enumerate(times):
        held[i] = b.held_mask
        while pending is not None and pending.t_ns <= t:
            b.feed(pending)
            pending = next(it, None)
        actions[i], mouse[i], pad[i] = b.close_frame()
    return BinnedRows(actions, mouse, pad, held)
