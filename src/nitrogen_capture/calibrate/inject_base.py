"""The injector base class: what the calibration needs of a platform's injector.

Its own module so that the backends (:mod:`._sendinput_win32`, and the XTEST one in
:mod:`.inject`) import it without importing :mod:`.inject`, which picks among them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ..targets.base import Target

__all__ = ["Injector"]


class Injector(ABC):
    """Presses and releases keys and mouse buttons for the calibration."""

    name = "injector"

    @abstractmethod
    def prepare(self, target: Target) -> None:
        """Move the pointer into the target window and give it the keyboard focus."""

    @abstractmethod
    def press(self, key: str, down: bool) -> None:
        """Press (``down``) or release ``key``: a canonical key name or ``lmb``/``rmb``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the injector holds."""
