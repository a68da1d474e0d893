"""One opened evdev device as the evdev backend sees it: what it is, how its codes are named.

Wraps a python-evdev ``InputDevice`` (or the tests' fake of it): the capability check that makes
it a keyboard and/or a mouse, the names of its key codes, and reads that return what is queued
without blocking. See :mod:`._evdev` for the rules.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ..events import BUTTON, KEY
from ..rows import MOUSE_BUTTONS
from . import _evdev_codes as ec

__all__ = ["MAX_BATCH", "EvdevDevice"]

#: Events taken from one device per wake-up, so a flooding device cannot starve the others.
MAX_BATCH = 4096
_LETTERS = range(ec.KEY_A, ec.KEY_Z + 1)


class EvdevDevice:
    """An opened device: ``is_keyboard`` / ``is_mouse`` from its capabilities.

    Attributes:
        monotonic: its events are stamped with ``CLOCK_MONOTONIC`` (``EVIOCSCLOCKID`` took).
        dropping: between a ``SYN_DROPPED`` and the next ``SYN_REPORT``.
    """

    def __init__(self, device: Any, *, keyboard: bool, mouse: bool) -> None:
        self.device = device
        self.path = str(device.path)
        self.label = str(getattr(device, "name", "") or "?")
        self.is_keyboard = keyboard
        self.is_mouse = mouse
        self.monotonic = False
        self.dropping = False

    @classmethod
    def classify(cls, device: Any) -> EvdevDevice | None:
        """Wrap ``device`` when it is a keyboard or a mouse (module docstring), else None.

        A keyboard has ``EV_KEY`` with KEY_A, KEY_Z and KEY_SPACE (power buttons and
        headset keys have none); a mouse has ``EV_REL`` X and Y and ``BTN_LEFT``.
        """
        caps = device.capabilities(absinfo=False)
        keys = set(caps.get(ec.EV_KEY, ()))
        rel = set(caps.get(ec.EV_REL, ()))
        keyboard = {ec.KEY_A, ec.KEY_Z, ec.KEY_SPACE} <= keys
        mouse = {ec.REL_X, ec.REL_Y} <= rel and ec.BTN_LEFT in keys
        if not (keyboard or mouse):
            return None
        return cls(device, keyboard=keyboard, mouse=mouse)

    def describe(self) -> str:
        """``/dev/input/event3 'USB Keyboard' (keyboard)`` for logs."""
        kinds = [k for k, on in (("keyboard", self.is_keyboard), ("mouse", self.is_mouse)) if on]
        return f"{self.path} {self.label!r} ({'+'.join(kinds)})"

    def key_name(self, code: int) -> str | None:
        """The canonical name of key or button ``code`` on this device, None when not recorded.

        Keyboard keys only from a keyboard, mouse buttons only from a mouse: a gaming mouse
        that also reports keys is read as a mouse alone unless its key set looks like a
        keyboard's.
        """
        if self.is_mouse and code in ec.BUTTON_NAMES:
            return ec.BUTTON_NAMES[code]
        if self.is_keyboard:
            return ec.KEY_NAMES.get(code)
        return None

    @staticmethod
    def device_of(name: str) -> str:
        """The event device of a name: ``button`` for mouse buttons, else ``key``."""
        return BUTTON if name in MOUSE_BUTTONS else KEY

    def fileno(self) -> int:
        """The device's descriptor, for ``select``."""
        return int(self.device.fileno())

    def read_all(self) -> list[Any]:
        """What is queued now, up to :data:`MAX_BATCH` events (``read_one`` until None).

        Raises:
            OSError: the device went away (``ENODEV``) or cannot be read.
        """
        out: list[Any] = []
        while len(out) < MAX_BATCH:
            ev = self.device.read_one()
            if ev is None:
                break
            out.append(ev)
        return out

    def active_keys(self) -> list[int]:
        """The key and button codes the kernel says are down (``EVIOCGKEY``)."""
        return [int(c) for c in self.device.active_keys()]

    def close(self) -> None:
        """Close the descriptor; errors of a device already gone are ignored."""
        with contextlib.suppress(OSError):
            self.device.close()
