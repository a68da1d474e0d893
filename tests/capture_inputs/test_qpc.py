"""The QPC rule (capture/_qpc.py): Windows' frame times onto the recording's clock.

The real counter is exercised under Wine (tests_wine); here the counter and the clock are
scripted so that the measured offset and its bracket are known exactly.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest

from nitrogen_capture import clock
from nitrogen_capture.capture._qpc import QpcClock, read_qpc
from nitrogen_capture.errors import PlatformError


def _script(values: list[int]) -> Iterator[int]:
    yield from values


def test_the_narrowest_bracket_gives_the_offset() -> None:
    # 10 MHz QPC; the clock runs 5 s ahead of QPC. Three brackets of widths 900, 100, 500 ns.
    freq = 10_000_000
    qpc = iter([10_000_000, 20_000_000, 30_000_000])  # 1 s, 2 s, 3 s of QPC
    reads = _script([6_000_000_000 - 450, 6_000_000_000 + 450,      # around QPC 1 s
                     7_000_000_000 - 40, 7_000_000_000 + 60,        # around QPC 2 s, +10 ns
                     8_000_000_000 - 250, 8_000_000_000 + 250])
    measured = QpcClock.measure(counter=lambda: next(qpc), frequency=freq,
                                clock=lambda: next(reads), pairs=3)
    assert measured.offset_ns == 5_000_000_010
    assert measured.uncertainty_ns == 50
    assert measured.ticks_to_ns(40_000_000) == 4_000_000_000 + 5_000_000_010


def test_conversion_is_exact_integer_arithmetic() -> None:
    # An ACPI PM timer frequency, where float seconds would round: 2**62 ticks stays exact.
    odd = QpcClock(frequency=3_579_545, offset_ns=-7)
    ticks = 2**62
    assert odd.ticks_to_ns(ticks) == ticks * 1_000_000_000 // 3_579_545 - 7
    assert odd.ticks_to_ns(3_579_545) == 1_000_000_000 - 7
    # WGC's SystemRelativeTime is the same timeline in 100-ns units.
    ten_mhz = QpcClock(frequency=10_000_000, offset_ns=123)
    assert ten_mhz.hundred_ns_to_ns(37) == ten_mhz.ticks_to_ns(37) == 3_823


def test_a_frequency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        QpcClock(frequency=0)


@pytest.mark.skipif(sys.platform == "win32", reason="off-Windows refusal")
def test_the_real_counter_is_refused_off_windows() -> None:
    with pytest.raises(PlatformError, match="Windows-only"):
        read_qpc()
    with pytest.raises(PlatformError, match="Windows-only"):
        QpcClock.measure()


@pytest.mark.skipif(sys.platform == "win32", reason="Linux clock")
def test_the_recording_clock_off_windows_is_clock_monotonic() -> None:
    before = time.monotonic_ns()
    now = clock.now_ns()
    after = time.monotonic_ns()
    assert before <= now <= after
    assert clock.now_ns is time.monotonic_ns
