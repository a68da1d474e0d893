"""A cue backend for tests: remembers the events, plays nothing."""

from __future__ import annotations

import threading

from .base import CueBackend

__all__ = ["FakeCue"]


class FakeCue(CueBackend):
    """Records each :meth:`play` call in :attr:`events` (synchronously, thread-safe)."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self._events_lock = threading.Lock()
        self.closed = False

    def play(self, event: str) -> None:
        """Remember ``event``."""
        with self._events_lock:
            self.events.append(event)

    def close(self) -> None:
        """Remember that the backend was closed."""
        self.closed = True

    def _emit(self, event: str) -> None:
        """Not used: :meth:`play` records directly."""
