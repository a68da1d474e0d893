"""SIGINT and SIGTERM handled by one function for the length of a block.

``record`` stops its recorder cleanly on either signal and the demo stops what it started; both
install their handler the same way and restore the previous handlers on the way out, so a
library caller's own handlers come back. Main thread only, like every signal handler.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType

__all__ = ["STOP_SIGNALS", "SignalHandler", "handling_stop_signals"]

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
SignalHandler = Callable[[int, FrameType | None], None]


@contextlib.contextmanager
def handling_stop_signals(handler: SignalHandler) -> Iterator[None]:
    """Handle SIGINT and SIGTERM with ``handler`` inside the block, then restore the old ones."""
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
