"""A fake of python-evdev's API for the evdev backend's tests (this machine has no /dev/input).

It follows python-evdev 2.0's own code (``evdev/device.py``, ``eventio.py``, ``events.py``,
``util.py``): ``InputDevice(path, readonly)`` with ``path``, ``name``, ``fd``, ``fileno()``,
``capabilities(verbose, absinfo)``, ``read_one()`` (None when nothing is queued), ``read()``
(raises ``BlockingIOError`` when nothing is queued), ``active_keys()``, ``close()``;
``InputEvent(sec, usec, type, code, value)``; ``list_devices(input_device_dir, writable)`` over
the ``event*`` nodes of a directory; ``ecodes`` with the constants the backend uses. A device's
descriptor is the read end of a real pipe, one byte per queued event, so ``select`` works on it
as on a device node; an unplugged device's read raises ``OSError(ENODEV)`` as the kernel's does.
``grab()`` fails the test: the backend must never take the devices from the compositor.

Events are stamped when they are queued, on ``CLOCK_REALTIME`` as a device's are by default, or
on ``CLOCK_MONOTONIC`` once the reader set it (:attr:`FakeInputDevice.monotonic`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nitrogen_capture.inputs import _evdev_codes as ec
from nitrogen_capture.inputs._evdev import EvdevApi

KEYBOARD_CAPS = {ec.EV_SYN: [0], ec.EV_KEY: sorted(ec.KEY_NAMES)}
MOUSE_CAPS = {ec.EV_SYN: [0], ec.EV_KEY: sorted(ec.BUTTON_NAMES),
              ec.EV_REL: [ec.REL_X, ec.REL_Y, ec.REL_HWHEEL, ec.REL_WHEEL]}
POWER_BUTTON_CAPS = {ec.EV_SYN: [0], ec.EV_KEY: [116]}  # KEY_POWER only
TOUCHPAD_CAPS = {ec.EV_SYN: [0], ec.EV_KEY: [ec.BTN_LEFT, ec.BTN_TOUCH], ec.EV_ABS: [0, 1]}

Step = tuple[int, int, int]  # (type, code, value)


class FakeInputEvent:
    """python-evdev's ``InputEvent``: ``sec``, ``usec``, ``type``, ``code``, ``value``."""

    __slots__ = ("code", "sec", "type", "usec", "value")

    def __init__(self, sec: int, usec: int, type: int, code: int, value: int) -> None:
        self.sec, self.usec, self.type, self.code, self.value = sec, usec, type, code, value

    def timestamp(self) -> float:
        return self.sec + self.usec / 1_000_000.0


class FakeInputDevice:
    """One device; the test queues events with :meth:`emit` and unplugs it with :meth:`unplug`."""

    def __init__(self, path: str, name: str, caps: dict[int, list[int]]) -> None:
        self.path = path
        self.name = name
        self.phys = self.uniq = ""
        self._caps = caps
        self._queue: deque[FakeInputEvent] = deque()
        self._lock = threading.Lock()
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self.fd = self._r
        self.monotonic = False
        self.gone = False
        self.closed = False
        self.opened = 0
        self.keys_down: set[int] = set()

    # -- the API the backend uses -------------------------------------------------------------
    def fileno(self) -> int:
        return self.fd

    def capabilities(self, verbose: bool = False, absinfo: bool = True) -> dict[int, list[int]]:
        assert not verbose
        return {k: list(v) for k, v in self._caps.items()}

    def read_one(self) -> FakeInputEvent | None:
        if self.gone:
            raise OSError(errno.ENODEV, "No such device")
        with self._lock:
            if not self._queue:
                return None
            os.read(self._r, 1)
            return self._queue.popleft()

    def read(self) -> Iterator[FakeInputEvent]:
        first = self.read_one()
        if first is None:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        yield first
        while (ev := self.read_one()) is not None:
            yield ev

    def active_keys(self, verbose: bool = False) -> list[int]:
        if self.gone:
            raise OSError(errno.ENODEV, "No such device")
        return sorted(self.keys_down)

    def grab(self) -> None:
        raise AssertionError("the evdev backend must never grab a device (EVIOCGRAB)")

    def close(self) -> None:
        self.closed = True

    # -- the test's side ----------------------------------------------------------------------
    def emit(self, steps: Iterable[Step], *, stamp_ns: int | None = None) -> int:
        """Queue ``steps`` then a SYN_REPORT, stamped now (or at ``stamp_ns`` on the device's
        clock); returns the stamp in ns on the device's clock."""
        if stamp_ns is None:
            stamp_ns = time.monotonic_ns() if self.monotonic else time.time_ns()
        sec, usec = divmod(stamp_ns // 1000, 1_000_000)
        events = [FakeInputEvent(sec, usec, t, c, v) for t, c, v in steps]
        events.append(FakeInputEvent(sec, usec, ec.EV_SYN, ec.SYN_REPORT, 0))
        with self._lock:
            for ev in events:
                if ev.type == ec.EV_KEY and ev.value in (0, 1):
                    (self.keys_down.add if ev.value else self.keys_down.discard)(ev.code)
                self._queue.append(ev)
                os.write(self._w, b"e")
        return stamp_ns

    def unplug(self) -> None:
        """The device goes away: readable once more, then every read fails with ENODEV."""
        self.gone = True
        os.write(self._w, b"x")

    def release_fds(self) -> None:
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


class FakeEvdevModule:
    """The ``evdev`` module over a directory of fake nodes (``event0``, ``event1`` ...).

    Args:
        input_dir: a fresh directory; a file per device is made there, as ``/dev/input`` has.
        devices: ``(name, capabilities, readable)`` per node.
    """

    def __init__(self, input_dir: Path, devices: Iterable[tuple[str, dict[int, list[int]], bool]],
                 ) -> None:
        self.dir = input_dir
        self.devices: dict[str, FakeInputDevice] = {}
        self.readable: set[str] = set()
        for i, (name, caps, readable) in enumerate(devices):
            path = str(input_dir / f"event{i}")
            Path(path).write_bytes(b"")
            self.devices[path] = FakeInputDevice(path, name, caps)
            if readable:
                self.readable.add(path)
        self.ecodes = SimpleNamespace(**{k: getattr(ec, k) for k in ec.__all__
                                         if isinstance(getattr(ec, k), int)})

    def list_devices(self, input_device_dir: str = "/dev/input",
                     writable: bool = True) -> list[str]:
        assert not writable, "read access is all the backend needs"
        return [p for p in self.devices if p in self.readable
                and os.path.dirname(p) == str(input_device_dir)]

    def InputDevice(self, dev: str, readonly: bool = False) -> FakeInputDevice:
        assert readonly, "the backend opens devices read-only"
        if dev not in self.readable:
            raise PermissionError(errno.EACCES, "Permission denied", dev)
        device = self.devices[dev]
        device.opened += 1
        return device

    def by_name(self, name: str) -> FakeInputDevice:
        return next(d for d in self.devices.values() if d.name == name)

    def release(self) -> None:
        for dev in self.devices.values():
            dev.release_fds()


class MonotonicApi(EvdevApi):
    """The real :class:`EvdevApi` over the fake module, where ``EVIOCSCLOCKID`` takes.

    The real ioctl fails on a pipe (the fake's descriptor), which is the realtime path; this
    subclass is the path of a kernel that accepts it.
    """

    def set_monotonic(self, device: Any) -> bool:
        device.monotonic = True
        return True
