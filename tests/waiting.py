"""The one way a test waits for something to happen: :func:`wait_until` polls a condition.

A test never sleeps a fixed time to let something happen (on a busy two-core machine any fixed
time is sometimes too short, and always too long elsewhere): it names the condition and waits for
it, with a timeout that is a margin, not an estimate. What the condition returns, once truthy, is
returned, so a wait can also fetch (``meta = wait_until(lambda: find(...), "the meta.json")``).

A process that the wait depends on can be passed as ``proc``: if it ends first, the wait fails at
once with its exit status instead of running out its timeout. Exceptions named in ``ignore``
count as "not yet" (a file read while it is being written, a process that just went away).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

POLL_S = 0.02  # short beside any timeout here, long enough not to load a busy machine


def wait_until(cond: Callable[[], T], what: str | Callable[[], str], timeout: float = 30.0, *,
               proc: subprocess.Popen[Any] | None = None, interval: float = POLL_S,
               ignore: tuple[type[BaseException], ...] = ()) -> T:
    """Poll ``cond`` until it returns a truthy value, and return that value.

    Fails with an AssertionError naming ``what`` (a string, or a callable for a message built
    at that moment, e.g. the processes still alive) when ``timeout`` seconds pass first, or
    when ``proc`` ends first.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = cond()
        except ignore:
            value = None  # type: ignore[assignment]
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{_text(what)}: the process ended first "
                                 f"(exit {proc.returncode})")
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s: {_text(what)}")
        time.sleep(interval)


def _text(what: str | Callable[[], str]) -> str:
    return what if isinstance(what, str) else what()
