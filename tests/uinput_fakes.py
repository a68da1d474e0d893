"""A fake of python-evdev's writing side (``UInput``) for the uinput gamepad's tests.

This machine has no ``/dev/uinput``. The fake follows python-evdev 1.9's ``evdev/uinput.py``,
``eventio.py`` and ``device.py``: ``UInput(events, name, vendor, product, version, bustype,
devnode, phys, input_props, max_effects)`` checks its node first as ``_verify`` does (missing
-> ``UInputError('"..." does not exist or is not a character device file ...')``, not writable
-> ``UInputError('"..." cannot be opened for writing')``; the character-device test is left
out, the tests' node being a plain file), takes axes as ``(code, AbsInfo)`` pairs,
``write(etype, code, value)`` queues an event, ``syn()`` is ``write(EV_SYN, SYN_REPORT, 0)``,
``close()`` destroys the device. ``AbsInfo`` is the same ``NamedTuple``. Every write is
recorded in order, with each ``syn`` as ``(0, 0, 0)``.

:func:`install` puts the fake in ``sys.modules`` as ``evdev`` (through ``monkeypatch``, so the
real package, installed or not, comes back after the test).
"""

from __future__ import annotations

import os
import types
from typing import Any, NamedTuple

import pytest

EV_SYN, SYN_REPORT, EV_ABS = 0, 0, 3


class AbsInfo(NamedTuple):
    """python-evdev's ``AbsInfo``."""

    value: int
    min: int
    max: int
    fuzz: int
    flat: int
    resolution: int


class UInputError(Exception):
    """python-evdev's ``UInputError``."""


class FakeUInput:
    """One virtual device; :attr:`writes` holds every ``(type, code, value)`` written."""

    created: list[FakeUInput] = []

    def __init__(self, events: dict[int, list[Any]] | None = None,
                 name: str = "py-evdev-uinput", vendor: int = 1, product: int = 1,
                 version: int = 1, bustype: int = 3, devnode: str = "/dev/uinput",
                 phys: str = "py-evdev-uinput", input_props: list[int] | None = None,
                 max_effects: int = 96) -> None:
        if not os.path.exists(devnode):
            raise UInputError(f'"{devnode}" does not exist or is not a character device file '
                              "- verify that the uinput module is loaded")
        if not os.access(devnode, os.W_OK):
            raise UInputError(f'"{devnode}" cannot be opened for writing')
        self.events = events or {}
        self.name, self.vendor, self.product, self.version = name, vendor, product, version
        self.bustype, self.devnode = bustype, devnode
        self.absinfo = {code: info for code, info in self.events.get(EV_ABS, [])}
        self.writes: list[tuple[int, int, int]] = []
        self.fd = 3
        FakeUInput.created.append(self)

    def write(self, etype: int, code: int, value: int) -> None:
        if self.fd < 0:
            raise OSError(9, "Bad file descriptor")
        enabled = {c if not isinstance(c, tuple) else c[0] for c in self.events.get(etype, [])}
        assert etype == EV_SYN or code in enabled, f"code {code:#x} of type {etype} not enabled"
        if etype == EV_ABS:
            info = self.absinfo[code]
            assert info.min <= value <= info.max, (code, value, info)
        self.writes.append((etype, code, value))

    def syn(self) -> None:
        self.write(EV_SYN, SYN_REPORT, 0)

    def close(self) -> None:
        self.fd = -1

    @property
    def closed(self) -> bool:
        return self.fd < 0

    def reports(self) -> list[list[tuple[int, int, int]]]:
        """The writes cut at each SYN_REPORT (a trailing unsynced batch is left out)."""
        out: list[list[tuple[int, int, int]]] = []
        batch: list[tuple[int, int, int]] = []
        for w in self.writes:
            if w == (EV_SYN, SYN_REPORT, 0):
                out.append(batch)
                batch = []
            else:
                batch.append(w)
        return out


def install(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Put the fake ``evdev`` in ``sys.modules``; returns it."""
    FakeUInput.created = []
    module = types.ModuleType("evdev")
    module.UInput = FakeUInput  # type: ignore[attr-defined]
    module.UInputError = UInputError  # type: ignore[attr-defined]
    module.AbsInfo = AbsInfo  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "evdev", module)
    return module
