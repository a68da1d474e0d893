"""Silent emptiness: a session whose input is missing, too sparse, or stops for minutes.

A recording with no input looks like any other until someone trains on it, so these are
warnings in three places, one rule (:func:`input_warnings`): ``merge`` writes them into
``meta.json`` ``input.warnings`` (after the recorder's own), ``validate`` reports them (also for
sessions merged before this check existed) and the report shows validate's findings. The
thresholds (docs/format.md, "Input warnings"):

* ``--gamepad`` was requested (``meta.json`` ``gamepad``) and no gamepad event was recorded:
  no pad was connected, or it was never touched;
* no input event at all in a session with frames;
* fewer than :data:`MIN_EVENTS_PER_MINUTE` input events per minute of recording, for recordings
  of at least :data:`MIN_RATE_SECONDS` (a player moving the mouse makes hundreds a minute);
* a stretch of more than :data:`MAX_SILENCE_SECONDS` of recording with no input (time paused
  does not count: the stretch's pauses are taken out of it).

What counts as input is :mod:`.idle`'s rule (keys, mouse buttons, motion, wheel, gamepad buttons,
a stick past the dead zone; ``control`` events are the recorder's, not the player's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..events import BUTTON, KEY, MOTION, PAD_AXIS, PAD_BUTTON, PRESS, WHEEL
from .idle import AXIS_DEADZONE, idle_stretches
from .meta_parts import Pause

__all__ = ["MAX_SILENCE_SECONDS", "MIN_EVENTS_PER_MINUTE", "MIN_RATE_SECONDS", "PREFIX",
           "input_warnings"]

MIN_EVENTS_PER_MINUTE = 10
MIN_RATE_SECONDS = 60.0
MAX_SILENCE_SECONDS = 120.0
# Every warning here starts with this, so a second merge replaces them instead of adding more.
PREFIX = "input check: "


def _paused_in(pauses: Sequence[Pause], start: int, end: int) -> int:
    """Ns of ``[start, end]`` covered by pauses."""
    return sum(max(0, min(end, p.end_t_ns) - max(start, p.start_t_ns)) for p in pauses)


def _input_mask(ev: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    dev, val = ev["device"], ev["value"]
    mask: npt.NDArray[np.bool_] = ((np.isin(dev, [KEY, BUTTON, PAD_BUTTON]) & (val == PRESS))
            | np.isin(dev, [MOTION, WHEEL])
            | ((dev == PAD_AXIS) & (np.abs(val) > AXIS_DEADZONE)))
    return mask


def input_warnings(events: npt.NDArray[Any], timestamps: npt.NDArray[Any],
                   pauses: Sequence[Pause], *, gamepad: bool) -> list[str]:
    """The warnings of a session's input (module docstring), each starting with :data:`PREFIX`.

    ``events``: the session's EVENT_DTYPE events in time order; ``timestamps``: its frames'
    (session clock); ``gamepad``: the recording asked for a gamepad. No frames: no warning here
    (validate says so on its own).
    """
    if not len(timestamps):
        return []
    t0, t1 = int(timestamps[0]), int(timestamps[-1])
    out: list[str] = []
    if gamepad and not np.isin(events["device"], [PAD_BUTTON, PAD_AXIS]).any():
        out.append("--gamepad was requested but no gamepad event was recorded (no pad "
                   "connected, or it was never touched)")
    recorded_s = max(0, t1 - t0 - _paused_in(pauses, t0, t1)) / 1e9
    n = int(_input_mask(events).sum()) if len(events) else 0
    if n == 0:
        out.append(f"no input event in {recorded_s:.1f} s of recording: the input devices "
                   "delivered nothing (check the input backend, or that the game had the focus)")
        return [PREFIX + w for w in out]
    minutes = recorded_s / 60
    if recorded_s >= MIN_RATE_SECONDS and n / minutes < MIN_EVENTS_PER_MINUTE:
        out.append(f"almost no input: {n} input events in {minutes:.1f} min of recording "
                   f"({n / minutes:.1f} a minute, fewer than {MIN_EVENTS_PER_MINUTE})")
    silences = [(s, (s.end_ns - s.start_ns - _paused_in(pauses, s.start_ns, s.end_ns)) / 1e9)
                for s in idle_stretches([events], t0, t1, MAX_SILENCE_SECONDS)]
    long = [(s, sec) for s, sec in silences if sec > MAX_SILENCE_SECONDS]
    if long:
        s, sec = max(long, key=lambda x: x[1])
        out.append(f"input stopped for {len(long)} stretch(es) of more than "
                   f"{MAX_SILENCE_SECONDS / 60:g} min of recording; the longest {sec / 60:.1f} "
                   f"min from {s.start_ns / 1e9:.1f} s")
    return [PREFIX + w for w in out]
