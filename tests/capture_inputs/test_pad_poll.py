"""The one pad poll loop (``PadSource``), driven by a fake state reader.

The XInput and SDL readers only implement ``_read_state``; pacing, diffing, stamping, the thread
and error hand-over are ``PadSource``'s and are checked here once, with a fake clock where timing
matters and with the real thread where threading does.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import pytest

from nitrogen_capture.errors import ConfigError, InputError
from nitrogen_capture.events import HELD, PAD_AXIS, PAD_BUTTON, InputEvent
from nitrogen_capture.inputs import _pad_state
from nitrogen_capture.inputs._pad_state import NEUTRAL, PadSource, PadState

MS = 1_000_000
T0 = 1_000 * MS


class FakePad(PadSource):
    """Returns the states it is given, one per poll (the last one repeats)."""

    name = "fake_pad"
    thread_name = "fake-pad"

    def __init__(self, states: list[PadState], rate_hz: float = 100.0, *,
                 clock: Callable[[], int] = lambda: 0,
                 on_read: Callable[[int], None] | None = None) -> None:
        super().__init__(rate_hz, clock=clock)
        self.states = list(states)
        self.reads = 0
        self.on_read = on_read
        self.threads: dict[str, str] = {}

    def _read_state(self) -> PadState:
        if self.on_read is not None:
            self.on_read(self.reads)
        self.reads += 1
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def _open(self) -> None:
        self.threads["open"] = threading.current_thread().name

    def _close(self) -> None:
        self.threads["close"] = threading.current_thread().name


SOUTH = PadState(frozenset({"south"}))
SOUTH_LEFT = PadState(frozenset({"south"}), (-1.0, 0.0, 0.0, 0.0))


def test_poll_emits_the_difference_stamped_after_the_read() -> None:
    now = [5]
    pad = FakePad([NEUTRAL, SOUTH, SOUTH, SOUTH_LEFT, NEUTRAL], clock=lambda: now[0],
                  on_read=lambda _: now.__setitem__(0, now[0] + 1))
    got: list[InputEvent] = []
    pad._sink = got.append  # poll() synchronously, without the thread
    assert pad.poll() == [] and pad.state == NEUTRAL
    assert pad.poll() == [InputEvent(7, PAD_BUTTON, "south", 1.0)]
    assert pad.poll() == []  # unchanged: nothing
    assert pad.poll() == [InputEvent(9, PAD_AXIS, "lx", -1.0)]
    assert pad.poll() == [InputEvent(10, PAD_BUTTON, "south", 0.0),
                          InputEvent(10, PAD_AXIS, "lx", 0.0)]
    assert got == [InputEvent(7, PAD_BUTTON, "south", 1.0), InputEvent(9, PAD_AXIS, "lx", -1.0),
                   InputEvent(10, PAD_BUTTON, "south", 0.0), InputEvent(10, PAD_AXIS, "lx", 0.0)]


class FakeTime:
    """The monotonic clock and the stop event's wait, both simulated."""

    def __init__(self, stop_after: int) -> None:
        self.now = T0
        self.waits: list[int] = []
        self.stop_after = stop_after

    def clock(self) -> int:
        return self.now

    def wait(self, timeout: float) -> bool:
        self.waits.append(round(timeout * 1e9))
        self.now += round(timeout * 1e9)
        return len(self.waits) >= self.stop_after


def run_loop(monkeypatch: pytest.MonkeyPatch, read_ms: dict[int, int],
             polls: int) -> list[int]:
    """Run the loop at 100 Hz for ``polls`` polls; return when each poll started (ms from T0).

    Each read takes 1 ms of simulated time, or ``read_ms[k]`` for poll ``k``.
    """
    fake = FakeTime(stop_after=polls)
    starts: list[int] = []

    def on_read(k: int) -> None:
        starts.append((fake.now - T0) // MS)
        fake.now += read_ms.get(k, 1) * MS

    monkeypatch.setattr(_pad_state, "now_ns", fake.clock)
    pad = FakePad([NEUTRAL], rate_hz=100, clock=fake.clock, on_read=on_read)
    monkeypatch.setattr(pad, "_stop_event", fake)
    pad._loop()
    assert len(starts) == polls and all(w >= 0 for w in fake.waits)
    return starts


def test_loop_sleeps_to_absolute_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    # Reads of varying length do not shift the grid: each poll starts on t0 + k * 10 ms.
    assert run_loop(monkeypatch, {1: 3, 2: 7, 4: 9}, 6) == [0, 10, 20, 30, 40, 50]


def test_loop_late_poll_keeps_the_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    # Poll 3 overruns by 5 ms (less than a period): the next poll runs at once, then the grid.
    assert run_loop(monkeypatch, {3: 15}, 7) == [0, 10, 20, 30, 45, 50, 60]


def test_loop_stall_skips_periods_without_a_burst(monkeypatch: pytest.MonkeyPatch) -> None:
    # Poll 3 stalls 35 ms (3.5 periods): no catch-up burst of polls at 40, 50, 60 ms; the loop
    # waits for the next grid point after the stall and carries on.
    assert run_loop(monkeypatch, {3: 35}, 7) == [0, 10, 20, 30, 70, 80, 90]


def test_thread_delivers_events_and_opens_and_closes_on_itself() -> None:
    pad = FakePad([NEUTRAL, NEUTRAL, SOUTH, SOUTH, NEUTRAL], rate_hz=500)
    got: queue.Queue[InputEvent] = queue.Queue()
    with pad:
        pad.start(got.put)
        assert pad.threads == {"open": "fake-pad"}  # opened before start() returned
        pressed, released = got.get(timeout=5), got.get(timeout=5)
        assert [(e.code, e.value) for e in (pressed, released)] == [("south", 1.0), ("south", 0.0)]
    assert pad.threads == {"open": "fake-pad", "close": "fake-pad"}
    reads = pad.reads
    threading.Event().wait(0.05)
    assert pad.reads == reads  # stopped polling
    assert got.empty()


def test_read_error_reaches_the_owner_and_the_pad_is_closed() -> None:
    def boom(k: int) -> None:
        if k == 3:
            raise OSError("device I/O error")

    pad = FakePad([NEUTRAL], rate_hz=500, on_read=boom)
    pad.start(lambda _: None)
    for _ in range(500):
        if "close" in pad.threads:
            break
        threading.Event().wait(0.01)
    assert pad.threads.get("close") == "fake-pad"  # closed on its thread after the error
    with pytest.raises(InputError, match="fake_pad listener failed: device I/O error"):
        pad.check()
    pad.stop()  # the error was reported once


def test_open_error_is_raised_by_start() -> None:
    class NoDevice(FakePad):
        def _open(self) -> None:
            raise InputError("no joystick subsystem")

    pad = NoDevice([NEUTRAL])
    with pytest.raises(InputError, match="no joystick subsystem"):
        pad.start(lambda _: None)
    assert pad.reads == 0


@pytest.mark.parametrize("rate", [0, -1, 2001])
def test_bad_rate(rate: float) -> None:
    with pytest.raises(ConfigError, match=rf"polling rate must be in \(0, 2000\] Hz, got {rate}"):
        FakePad([NEUTRAL], rate_hz=rate)


def test_the_state_before_the_start_is_held_not_pressed() -> None:
    # The pad is already at SOUTH_LEFT when the reader starts: the first read is that state,
    # done before start() returns; it is no press (nobody pressed then) and held_now says it.
    pad = FakePad([SOUTH_LEFT, SOUTH_LEFT, SOUTH, NEUTRAL], rate_hz=500)
    got: queue.Queue[InputEvent] = queue.Queue()
    with pad:
        pad.start(got.put)
        assert pad.reads >= 1 and pad.state == SOUTH_LEFT
        assert [(e.device, e.code, e.value) for e in pad.held_now(())] == [
            (PAD_BUTTON, "south", HELD), (PAD_AXIS, "lx", -1.0), (PAD_AXIS, "ly", 0.0),
            (PAD_AXIS, "rx", 0.0), (PAD_AXIS, "ry", 0.0)]
        changes = [got.get(timeout=5) for _ in range(2)]
    assert [(e.code, e.value) for e in changes] == [("lx", 0.0), ("south", 0.0)]
    assert got.empty()
