"""Windows' QueryPerformanceCounter (QPC) times on the recording's clock.

Windows stamps captured frames with QPC: DXGI Desktop Duplication's ``LastPresentTime`` is a raw
QPC value (ticks of ``QueryPerformanceFrequency``), and Windows Graphics Capture's
``SystemRelativeTime`` is the same QPC timeline in 100-nanosecond units. The recording's clock is
:func:`nitrogen_capture.clock.now_ns` (on Windows CPython's ``time.perf_counter_ns``, itself QPC;
see clock.py for why not ``time.monotonic_ns`` before Python 3.13).

**The one rule** (docs/windows.md, "OS frame times"): a QPC time maps to the recording's clock as

    ns = ticks * 1e9 / frequency + offset_ns

where ``offset_ns`` is *measured* once when a source opens, not assumed to be 0: the clock and QPC
are read in bracketed pairs (clock, QPC, clock) and the pair with the narrowest bracket gives the
offset, within half that bracket. CPython converts QPC the same way with no base today, so the
offset measures ~0; measuring it keeps the rule true if a runtime ever subtracts a base, and the
bracket says how well it is known. A 100-ns time maps as ``t * 100 + offset_ns``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from ..clock import now_ns
from ..errors import PlatformError

__all__ = ["QpcClock", "read_qpc"]

_NS_PER_S = 1_000_000_000
_PAIRS = 16


@dataclass(frozen=True)
class QpcClock:
    """QPC ticks (or 100-ns units) -> nanoseconds on the recording's clock.

    Attributes:
        frequency: QPC ticks per second (``QueryPerformanceFrequency``; 10 MHz on Windows 10+).
        offset_ns: the recording clock minus QPC-in-nanoseconds, measured by :meth:`measure`.
        uncertainty_ns: half the bracket of the pair the offset came from.
    """

    frequency: int
    offset_ns: int = 0
    uncertainty_ns: int = 0

    def __post_init__(self) -> None:
        if self.frequency <= 0:
            raise ValueError(f"QPC frequency must be positive, not {self.frequency}")

    def qpc_ns(self, ticks: int) -> int:
        """QPC ticks as nanoseconds since QPC's zero (integer arithmetic: no float rounding)."""
        seconds, rest = divmod(ticks, self.frequency)
        return seconds * _NS_PER_S + rest * _NS_PER_S // self.frequency

    def ticks_to_ns(self, ticks: int) -> int:
        """A raw QPC value (DXGI ``LastPresentTime``) on the recording's clock."""
        return self.qpc_ns(ticks) + self.offset_ns

    def hundred_ns_to_ns(self, units: int) -> int:
        """A QPC time in 100-ns units (WGC ``SystemRelativeTime``) on the recording's clock."""
        return units * 100 + self.offset_ns

    @classmethod
    def measure(cls, *, counter: Callable[[], int] | None = None, frequency: int | None = None,
                clock: Callable[[], int] = now_ns, pairs: int = _PAIRS) -> QpcClock:
        """Measure the offset from ``pairs`` bracketed reads; the narrowest bracket wins.

        Args:
            counter: reads QPC (default: the real ``QueryPerformanceCounter``; Windows only).
            frequency: ticks per second (default: the real ``QueryPerformanceFrequency``).
            clock: the recording's clock (default :func:`~nitrogen_capture.clock.now_ns`).
            pairs: how many brackets to take.

        Raises:
            PlatformError: the real counter was asked for off Windows.
        """
        if counter is None or frequency is None:
            real_counter, real_frequency = read_qpc()
            counter = counter or real_counter
            frequency = frequency or real_frequency
        probe = cls(frequency)
        best: tuple[int, int] | None = None  # (bracket width, offset)
        for _ in range(max(1, pairs)):
            before = clock()
            ticks = counter()
            after = clock()
            width = after - before
            offset = (before + after) // 2 - probe.qpc_ns(ticks)
            if best is None or width < best[0]:
                best = (width, offset)
        assert best is not None
        return cls(frequency, offset_ns=best[1], uncertainty_ns=(best[0] + 1) // 2)


def read_qpc() -> tuple[Callable[[], int], int]:
    """``(read QueryPerformanceCounter, QueryPerformanceFrequency)`` through kernel32.

    Raises:
        PlatformError: not on Windows.
    """
    if sys.platform != "win32":
        raise PlatformError("QueryPerformanceCounter is Windows-only")
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32")
    value = ctypes.c_int64()
    kernel32.QueryPerformanceFrequency(ctypes.byref(value))
    frequency = int(value.value)

    def counter() -> int:
        ticks = ctypes.c_int64()  # one per call: sources read it from their own threads
        kernel32.QueryPerformanceCounter(ctypes.byref(ticks))
        return int(ticks.value)

    return counter, frequency
