"""FramePacer: absolute deadlines, late ticks with and without --skip-late (fake clock)."""

from __future__ import annotations

import pytest

from nitrogen_capture.clock import FramePacer, now_ns
from nitrogen_capture.errors import ConfigError


class FakeClock:
    """A clock that advances only when slept on (or when the test adds 'work')."""

    def __init__(self) -> None:
        self.t = 1_000_000_000
        self.sleeps: list[float] = []

    def __call__(self) -> int:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += int(seconds * 1e9)

    def work(self, ms: float) -> None:
        self.t += int(ms * 1e6)


def make(fps: float = 100, skip_late: bool = False) -> tuple[FramePacer, FakeClock]:
    clock = FakeClock()
    return FramePacer(fps, skip_late=skip_late, clock=clock, sleep=clock.sleep), clock


def test_on_time_ticks_hit_absolute_deadlines() -> None:
    pacer, clock = make(100)
    t0 = pacer.start()
    for k in range(50):
        tick = pacer.wait()
        assert tick.index == k
        assert tick.deadline_ns == t0 + k * 10_000_000
        assert tick.woke_ns >= tick.deadline_ns
        clock.work(3)  # work inside the period does not shift the grid
    assert pacer.late_ticks == 0 and pacer.skipped_ticks == 0


def test_slightly_late_tick_keeps_the_grid() -> None:
    pacer, clock = make(100)
    t0 = pacer.start()
    pacer.wait()
    clock.work(14)  # 4 ms past the next deadline, less than a period
    tick = pacer.wait()
    assert tick.index == 1 and not tick.late
    assert tick.woke_ns == t0 + 14_000_000  # captured at once
    tick = pacer.wait()
    assert tick.deadline_ns == t0 + 20_000_000  # grid unchanged, no burst


@pytest.mark.parametrize("skip_late", [False, True])
def test_a_late_tick_is_captured_at_once_and_the_missed_periods_show(skip_late: bool) -> None:
    """Tick k always stands for grid point t0 + k * period: a tick 2.5 periods late is captured
    at once as the tick of the last grid point before it, the 2 periods it missed are a gap in
    the index (never a silent re-anchor), and no burst follows. --skip-late changes nothing."""
    pacer, clock = make(100, skip_late=skip_late)
    t0 = pacer.start()
    pacer.wait()
    clock.work(35)  # woke at 35 ms: tick 1 was due at 10 ms
    late = pacer.wait()
    assert late.late and late.skipped == 2 and late.index == 3
    assert late.deadline_ns == t0 + 30_000_000
    assert late.woke_ns == t0 + 35_000_000  # captured at once
    following = pacer.wait()
    # Next deadline is the next grid point (40 ms), not a burst of the missed ones.
    assert following.index == 4 and not following.late
    assert following.deadline_ns == t0 + 40_000_000 == following.woke_ns
    third = pacer.wait()
    assert third.woke_ns - following.woke_ns == 10_000_000 and third.index == 5
    assert pacer.late_ticks == 1 and pacer.skipped_ticks == 2
    # Every tick's index is its grid point: index * period from t0.
    for tick in (late, following, third):
        assert tick.deadline_ns == t0 + tick.index * 10_000_000


def test_pacer_sleeps_rather_than_spins() -> None:
    pacer, clock = make(50)
    pacer.start()
    for _ in range(10):
        pacer.wait()
    assert 9 <= len(clock.sleeps) <= 30  # a few sleeps per period, no busy loop


@pytest.mark.parametrize("fps", [0, -5, 5000])
def test_invalid_fps(fps: float) -> None:
    with pytest.raises(ConfigError, match="fps"):
        FramePacer(fps)


def test_real_clock_rate() -> None:
    pacer = FramePacer(200)
    t0 = pacer.start()
    for _ in range(100):
        tick = pacer.wait()
    elapsed = now_ns() - t0
    # 100 ticks at 200 fps: tick 99 is due at 495 ms. A busy machine wakes the pacer late and
    # it skips the periods it missed (a later index), so the bound follows the index reached:
    # a pacer that drifted (slept a period from each late wake) would overrun it.
    assert tick.index >= 99
    assert 0.49e9 <= elapsed < (tick.index + 1) * 5e6 + 0.3e9
