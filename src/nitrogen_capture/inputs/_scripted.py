"""A deterministic scripted input timeline, delivered through the same interface as real listeners.

Used with the synthetic frame source (``--source synthetic``) and in tests. From a seed it builds,
block by block, a timeline of:

* key holds of varied length: ~30 % taps of 2-8 ms (shorter than any frame interval, which the
  binning must never lose), short holds of 50-300 ms and long holds of 0.3-1.5 s, overlapping
  across keys, sometimes across chunk boundaries;
* bursts of raw relative mouse motion at 500 Hz;
* mouse button clicks and wheel steps;
* with ``gamepad=True``, pad button presses and stick moves.

Each event is stamped with its *scheduled* time on the monotonic clock (start + offset), not the
time the thread got round to delivering it, so the timeline is exact ground truth. ``t`` and
``p`` are left out: with ``ctrl`` they form the pause/resume hotkey chords.

``held`` declares keys, mouse buttons and pad buttons already down before the source starts:
they give no press event (a real listener sees none), :meth:`ScriptedInput.held_now` reports
them until the timeline releases them, as the OS state would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..clock import now_ns
from ..events import BUTTON, HELD, KEY, MOTION, PAD_AXIS, PAD_BUTTON, WHEEL, InputEvent
from ..keylayout import DEFAULT_KEYS
from ..rows import PAD_AXES, PAD_BUTTONS
from .base import InputSettings, InputSource, ThreadedInputSource

__all__ = ["Scheduled", "ScriptedInput", "scheduled_events", "timeline_block"]

BLOCK_NS = 10_000_000_000
_KEYS = tuple(k for k in DEFAULT_KEYS if k not in ("t", "p", "lmb", "rmb"))
_MS = 1_000_000

Scheduled = tuple[int, str, str, float]


def _hold_ns(rng: np.random.Generator) -> int:
    kind = rng.random()
    if kind < 0.3:
        return int(rng.integers(2, 9)) * _MS
    if kind < 0.7:
        return int(rng.integers(50, 301)) * _MS
    return int(rng.integers(300, 1501)) * _MS


def timeline_block(seed: int, block: int, *, gamepad: bool = False) -> list[Scheduled]:
    """Events of block ``block`` (offsets in ns from the timeline start), sorted by time.

    A block is self-contained: every press in it is released inside it, so blocks can be
    generated one at a time for a timeline of any length.
    """
    rng = np.random.default_rng([seed, block])
    base = block * BLOCK_NS
    end = base + BLOCK_NS - 50 * _MS
    out: list[Scheduled] = []
    free_at: dict[str, int] = {}

    def hold(device: str, code: str, start: int, length: int) -> None:
        stop = min(start + length, end)
        if stop <= start or free_at.get(code, 0) > start:
            return
        out.append((start, device, code, 1.0))
        out.append((stop, device, code, 0.0))
        free_at[code] = stop + 1

    t = base + int(rng.integers(20, 200)) * _MS
    while t < end:
        hold(KEY, str(rng.choice(_KEYS)), t, _hold_ns(rng))
        t += int(rng.integers(40, 400)) * _MS
    t = base + int(rng.integers(100, 600)) * _MS
    while t < end:  # mouse motion bursts
        burst_end = min(t + int(rng.integers(200, 800)) * _MS, end)
        vx, vy = rng.integers(-6, 7, size=2)
        while t < burst_end:
            out.append((t, MOTION, "dx", float(vx + rng.integers(-1, 2))))
            out.append((t, MOTION, "dy", float(vy + rng.integers(-1, 2))))
            t += 2 * _MS
        t += int(rng.integers(200, 1500)) * _MS
    t = base + int(rng.integers(300, 900)) * _MS
    while t < end:  # clicks and wheel
        if rng.random() < 0.8:
            hold(BUTTON, "lmb" if rng.random() < 0.7 else "rmb", t,
                 int(rng.integers(4, 200)) * _MS)
        else:
            out.append((t, WHEEL, "dy", float(rng.choice([-1.0, 1.0]))))
        t += int(rng.integers(300, 1200)) * _MS
    if gamepad:
        t = base + int(rng.integers(50, 300)) * _MS
        while t < end:
            hold(PAD_BUTTON, str(rng.choice(PAD_BUTTONS)), t, _hold_ns(rng))
            axis = str(rng.choice(PAD_AXES))
            out.append((t, PAD_AXIS, axis, float(np.round(rng.uniform(-1, 1), 3))))
            t += int(rng.integers(80, 500)) * _MS
        out.extend((end, PAD_AXIS, axis, 0.0) for axis in PAD_AXES)
    out.sort(key=lambda e: e[0])
    return out


def scheduled_events(seed: int, start_ns: int, *, gamepad: bool = False) -> Iterator[InputEvent]:
    """The endless timeline as absolute :class:`InputEvent` values starting at ``start_ns``."""
    block = 0
    while True:
        for off, device, code, value in timeline_block(seed, block, gamepad=gamepad):
            yield InputEvent(start_ns + off, device, code, value)
        block += 1


class ScriptedInput(ThreadedInputSource):
    """Plays :func:`timeline_block` events in real time from its own thread."""

    name = "scripted"
    raw_motion = True
    thread_name = "scripted-input"

    def __init__(self, seed: int = 0, fps: float = 30.0, *, gamepad: bool = False,
                 start_delay_s: float = 0.05, timeline: list[Scheduled] | None = None,
                 held: Iterable[tuple[str, str]] = ()) -> None:
        """Build the source.

        ``timeline`` plays the given (offset_ns, device, code, value) list instead; ``held``
        lists the ``(device, code)`` down before the start (module docstring).
        """
        super().__init__()
        self._down: dict[tuple[str, str], None] = dict.fromkeys(held)
        self._down_lock = threading.Lock()
        self.timeline = sorted(timeline, key=lambda e: e[0]) if timeline is not None else None
        self.seed = seed
        self.fps = fps
        self.gamepad = gamepad
        self.start_delay_ns = int(start_delay_s * 1e9)
        self.start_ns: int | None = None

    def _start(self) -> None:
        self.start_ns = now_ns() + self.start_delay_ns
        super()._start()

    def _run(self) -> None:
        assert self.start_ns is not None
        start = self.start_ns
        events: Iterator[InputEvent] = (
            (InputEvent(start + off, dev, code, val) for off, dev, code, val in self.timeline)
            if self.timeline is not None
            else scheduled_events(self.seed, start, gamepad=self.gamepad))
        try:
            for event in events:
                # Never early: a timed wait may return before its timeout (Windows timers are
                # coarse), and an event delivered before its own timestamp is one no real
                # listener can make.
                while (wait := (event.t_ns - now_ns()) / 1e9) > 0:
                    if self._stop_event.wait(wait):
                        return
                if self._stop_event.is_set():
                    return
                if event.device in (KEY, BUTTON, PAD_BUTTON):
                    with self._down_lock:  # what held_now reads: the state after this event
                        if event.value > 0:
                            self._down[(event.device, event.code)] = None
                        else:
                            self._down.pop((event.device, event.code), None)
                self._emit(event)
        except Exception as exc:  # handed to the owner through check()/stop()
            self._fail(exc)


    def held_now(self, keys: Sequence[str]) -> list[InputEvent]:
        """The declared and scripted keys and buttons down now (``keys`` and pad buttons)."""
        t = now_ns()
        with self._down_lock:
            down = list(self._down)
        return [InputEvent(t, dev, code, HELD) for dev, code in down
                if dev == PAD_BUTTON or code in keys]


@dataclass(frozen=True)
class ScriptedConfig:
    """The scripted backend's options: the timeline's ``seed`` and ``fps``, and ``gamepad``."""

    seed: int = 0
    fps: float = 30.0
    gamepad: bool = False

    @classmethod
    def from_settings(cls, settings: InputSettings) -> ScriptedConfig:
        """The fields of the shared settings this backend reads."""
        return cls(int(settings.seed), float(settings.fps), bool(settings.gamepad))


def scripted_sources(settings: InputSettings) -> list[InputSource]:
    """The ``scripted`` input backend: one :class:`ScriptedInput` of the settings' timeline."""
    config = ScriptedConfig.from_settings(settings)
    return [ScriptedInput(seed=config.seed, fps=config.fps, gamepad=config.gamepad)]
