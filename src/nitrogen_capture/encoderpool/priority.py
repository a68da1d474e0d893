"""The encoder processes' CPU priority: a policy, not an accident (docs/architecture.md 4).

A recording competes with the game for the CPU. The original design encoded on one thread of
its own at normal priority; our encoders are processes, possibly several, each with encoder
threads. Three policies (``--encoder-priority``):

- ``fair`` (default): the encoders together weigh on the scheduler what the original design's
  one normal-priority thread weighed. Linux's scheduler shares a busy CPU in proportion to each
  runnable thread's weight (niceness 0 weighs 1024, each step about 1.25 times less), so with
  ``n`` encoder threads each gets the niceness whose weight is nearest ``1024 / n``: one
  thread runs at normal priority, two at niceness 3 (526 each), four at 6. On a quiet machine
  this changes nothing (idle CPU is given to whoever runs); under load the encoders neither
  starve (as with ``low``, where a busy game leaves them a tenth of its own share and the
  recording drops most of its frames) nor take more from the game than the original design did.
- ``normal``: every encoder thread at normal priority (the recording first).
- ``low``: niceness 10 (the game first; the recording loses frames when the machine is busy).

Windows has classes instead of niceness: a niceness of 1 to 9 runs below normal, 10 and more
idle; 0 stays normal.
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["ENCODER_PRIORITIES", "LOW_NICE", "apply_nice", "encoder_nice", "nice_weight"]

ENCODER_PRIORITIES: tuple[str, ...] = ("fair", "normal", "low")
LOW_NICE = 10
# Linux CFS's weight of each niceness 0..19 (kernel/sched/core.c, sched_prio_to_weight).
_WEIGHTS = (1024, 820, 655, 526, 423, 335, 272, 215, 172, 137,
            110, 87, 70, 56, 45, 36, 29, 23, 18, 15)


def nice_weight(nice: int) -> float:
    """The scheduler weight of one thread at ``nice``, in nice-0 threads (10: about 0.11)."""
    return _WEIGHTS[nice] / _WEIGHTS[0]


def encoder_nice(priority: str, threads: int) -> int:
    """The niceness each of ``threads`` encoder threads runs at under ``priority``."""
    if priority == "normal":
        return 0
    if priority == "low":
        return LOW_NICE
    if priority != "fair":
        raise ValueError(f"unknown encoder priority {priority!r}")
    share = 1024 / max(1, threads)
    return min(range(len(_WEIGHTS)), key=lambda n: abs(_WEIGHTS[n] - share))


def apply_nice(nice: int) -> None:
    """Lower the calling process's priority by ``nice`` (threads it starts later inherit it).

    Never raises: a system that refuses leaves the process at normal priority.
    """
    if nice <= 0:
        return
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(nice)
    elif sys.platform == "win32":  # pragma: no cover - Windows only (tests_wine/)
        import ctypes

        below_normal, idle = 0x4000, 0x40
        kernel32 = ctypes.WinDLL("kernel32")
        kernel32.SetPriorityClass(kernel32.GetCurrentProcess(),
                                  idle if nice >= LOW_NICE else below_normal)
