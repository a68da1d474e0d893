"""An indicator for tests: remembers what it was shown, draws nothing."""

from __future__ import annotations

import threading

from ..capture.base import Region
from .base import Indicator, IndicatorState

__all__ = ["FakeIndicator"]


class FakeIndicator(Indicator):
    """Records each :meth:`show` in :attr:`states` and each :meth:`avoid` in :attr:`regions`."""

    name = "fake"

    def __init__(self) -> None:
        self.states: list[IndicatorState] = []
        self.regions: list[Region | None] = []
        self.closed = False
        self._lock = threading.Lock()

    def show(self, state: IndicatorState) -> None:
        """Remember ``state``."""
        with self._lock:
            self.states.append(state)

    def avoid(self, region: Region | None) -> None:
        """Remember ``region``."""
        with self._lock:
            self.regions.append(region)

    def close(self) -> None:
        """Remember that the indicator was closed."""
        self.closed = True
