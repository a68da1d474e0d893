"""Keyboards and mice from the kernel's evdev devices (``/dev/input/event*``): backend ``evdev``.

For native Wayland games: a Wayland compositor gives no client the input of another, so the X11
listeners (XRecord, XI2) see nothing while a Wayland window has focus. The kernel's event
devices see everything, which is why this backend has two rules the X11 path does not need:

* **Focus gating is mandatory.** evdev knows no windows: every key typed anywhere arrives here.
  The router drops input while the target is not focused (``Target.is_focused``, on sway from
  the compositor's IPC). A target that says its focus cannot be known (``focus_known`` False, on
  the target or its window backend), or whose focus check fails, makes the backend refuse
  to start: no input is logged and the session says why (:func:`focus_warnings`). A fixed
  region has no window to gate on: as on X11 everything typed while recording counts, and
  ``meta.json`` ``input.warnings`` says so.
* **Never a grab.** ``EVIOCGRAB`` would take the devices away from the compositor and so from
  the game; this module never calls it.

Devices are chosen by capability, not by name: a keyboard has ``EV_KEY`` with the letter keys, a
mouse ``EV_REL`` X and Y and ``BTN_LEFT`` (touchpads report absolute positions and are left
out; gamepads go through ``--gamepad``). Key codes are named by :mod:`._evdev_codes` (positions,
US QWERTY names); the router keeps only the layout's keys. Key auto-repeat (value 2) is dropped
and a left/right pair (both Shifts) is pressed once.

Times: an event carries the kernel's time of the interrupt. That is ``CLOCK_REALTIME`` unless the
reader sets ``EVIOCSCLOCKID``; we set ``CLOCK_MONOTONIC`` on every device we open (any reader
may, it changes only our file descriptor's stamps), so event times are on the recorder's clock
(:func:`~nitrogen_capture.clock.now_ns`) as they are. Where the ioctl fails, a realtime stamp is
moved onto the monotonic clock by the offset ``time_ns() - monotonic_ns()`` read at each batch
(so a wall-clock step moves only the events read before it is noticed). A stamp is never later
than the read that returned it.

A device that goes away while recording (unplugged, ``ENODEV``) is closed and counted
(:attr:`EvdevInput.devices_lost`), logged once, and the recording goes on with the others. A
``SYN_DROPPED`` (the kernel's buffer overflowed) drops that device's events up to the next
``SYN_REPORT``, then releases what the device no longer holds.

Permissions: the nodes belong to root and the ``input`` group. No readable keyboard or mouse ->
one line naming the fix (``sudo usermod -aG input $USER`` then log in again, or a udev rule).
"""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..clock import now_ns
from ..errors import InputError
from ..events import HELD, MOTION, WHEEL, InputEvent
from . import _evdev_codes as ec
from ._evdev_device import EvdevDevice
from ._evdev_open import EvdevApi, focus_warnings, open_devices
from ._reader import ReaderThread
from .base import InputSettings, InputSource

__all__ = ["EvdevApi", "EvdevConfig", "EvdevInput", "evdev_sources", "focus_warnings",
           "open_devices"]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class EvdevConfig:
    """The ``evdev`` backend's options.

    Attributes:
        input_dir: where the event nodes are.
        raw_motion: False leaves relative mouse motion out (buttons and wheel stay).
        gamepad / gamepad_backend: add a gamepad reader as the ``pynput`` backend does.
    """

    input_dir: str = "/dev/input"
    raw_motion: bool = True
    gamepad: bool = False
    gamepad_backend: str = "auto"

    @classmethod
    def from_settings(cls, settings: InputSettings, input_dir: str = "/dev/input",
                      ) -> EvdevConfig:
        """The fields of the shared settings this backend reads."""
        return cls(input_dir, bool(settings.raw_motion), bool(settings.gamepad),
                   str(settings.gamepad_backend or "auto"))

class EvdevInput(InputSource):
    """One thread reading every opened device; emits ``key``, ``button``, ``wheel``, ``motion``."""

    name = "evdev"
    raw_motion = True

    def __init__(self, config: EvdevConfig | None = None, api: Any = None,
                 devices: list[EvdevDevice] | None = None) -> None:
        """``api``: python-evdev's calls (tests pass a fake); ``devices``: already opened."""
        super().__init__()
        self.config = config or EvdevConfig()
        self.raw_motion = self.config.raw_motion
        self._api = api
        self._devices: list[EvdevDevice] = list(devices or [])
        self._down: dict[tuple[str, int], str] = {}  # (device path, code) -> name, held now
        self.devices_lost = 0
        self.syn_dropped = 0
        self._reader = ReaderThread("evdev-input", self._run)

    @property
    def devices(self) -> list[EvdevDevice]:
        """The devices read now (a lost one leaves this list)."""
        return list(self._devices)

    def losses(self) -> dict[str, int]:
        """Devices that went away and kernel buffer overflows (both lose events)."""
        return {"devices_lost": self.devices_lost, "overflows": self.syn_dropped}

    def _start(self) -> None:
        if not self._devices:
            api = self._api if self._api is not None else EvdevApi()
            self._devices = open_devices(api, self.config.input_dir)
        log.info("evdev: reading %s", ", ".join(d.describe() for d in self._devices))
        # A self-pipe wakes the reader at stop(): no polling timeout, no busy loop.
        self._reader.start()

    def _run(self) -> None:
        try:
            while True:
                fds = {d.fileno(): d for d in self._devices}
                ready, _, _ = select.select([self._reader.wake_fd, *fds], [], [])
                if self._reader.wake_fd in ready:
                    return
                for fd in ready:
                    self._drain(fds[fd])
        except Exception as exc:  # handed to the owner by check()/stop()
            self._fail(InputError(f"evdev reader died: {exc}"))

    def _drain(self, dev: EvdevDevice) -> None:
        """Read what ``dev`` has; a device that went away is dropped (module docstring)."""
        offset = time.time_ns() - time.monotonic_ns()
        try:
            events = dev.read_all()
        except OSError as exc:
            self._lose(dev, exc)
            return
        read_at = now_ns()
        for ev in events:
            t = ev.sec * 1_000_000_000 + ev.usec * 1000
            if not dev.monotonic:
                t -= offset
            self._handle(dev, min(t, read_at), ev.type, ev.code, ev.value)

    def _lose(self, dev: EvdevDevice, exc: OSError) -> None:
        self._devices.remove(dev)
        self.devices_lost += 1
        log.warning("evdev: %s went away (%s); recording goes on without it (%d lost so far)",
                    dev.describe(), exc.strerror or exc, self.devices_lost)
        for ident in [k for k in self._down if k[0] == dev.path]:
            self._release(ident, now_ns())
        dev.close()

    def _handle(self, dev: EvdevDevice, t: int, etype: int, code: int, value: int) -> None:
        if etype == ec.EV_SYN:
            if code == ec.SYN_DROPPED:
                if not dev.dropping:
                    self.syn_dropped += 1
                    log.warning("evdev: %s overflowed (SYN_DROPPED): its events up to the next "
                                "report are lost", dev.describe())
                dev.dropping = True
            elif code == ec.SYN_REPORT and dev.dropping:
                dev.dropping = False
                self._resync(dev, t)
            return
        if dev.dropping:
            return
        if etype == ec.EV_KEY and value != 2:  # 2: the kernel's auto-repeat
            name = dev.key_name(code)
            if name is not None:
                self._key(dev.path, code, name, value, t)
        elif etype == ec.EV_REL and dev.is_mouse:
            if code in (ec.REL_X, ec.REL_Y):
                if self.raw_motion and value:
                    self._emit(InputEvent(t, MOTION, "dx" if code == ec.REL_X else "dy",
                                          float(value)))
            elif code in (ec.REL_WHEEL, ec.REL_HWHEEL) and value:
                self._emit(InputEvent(t, WHEEL, "dy" if code == ec.REL_WHEEL else "dx",
                                      float(value)))

    def _key(self, path: str, code: int, name: str, value: int, t: int) -> None:
        """One press or release; a name held by another key (the other Shift) stays pressed."""
        ident = (path, code)
        if value:
            if ident in self._down:
                return
            held = name in self._down.values()
            self._down[ident] = name
            if not held:
                self._emit(InputEvent(t, EvdevDevice.device_of(name), name, 1.0))
        elif ident in self._down:
            self._release(ident, t)

    def _release(self, ident: tuple[str, int], t: int) -> None:
        name = self._down.pop(ident)
        if name not in self._down.values():
            self._emit(InputEvent(t, EvdevDevice.device_of(name), name, 0.0))

    def _resync(self, dev: EvdevDevice, t: int) -> None:
        """After an overflow: release what ``dev`` no longer holds (the kernel's key state)."""
        try:
            active = set(dev.active_keys())
        except OSError:
            return
        for ident in [k for k in self._down if k[0] == dev.path and k[1] not in active]:
            self._release(ident, t)

    def held_now(self, keys: Sequence[str]) -> list[InputEvent]:
        """The keys and buttons of ``keys`` that the devices hold now (``EVIOCGKEY``)."""
        wanted = set(keys)
        t = now_ns()
        names: dict[str, None] = {}
        for dev in list(self._devices):
            try:
                codes = dev.active_keys()
            except OSError:
                continue  # a device going away: its reader thread drops it
            for code in codes:
                name = dev.key_name(code)
                if name is not None and name in wanted:
                    names[name] = None
        return [InputEvent(t, EvdevDevice.device_of(n), n, HELD) for n in names]

    def _stop(self) -> None:
        self._reader.stop()
        devices, self._devices = self._devices, []
        for dev in devices:
            dev.close()
        self._down.clear()


def evdev_sources(settings: InputSettings, *, api: Any = None,
                  input_dir: str = "/dev/input") -> list[InputSource]:
    """The ``evdev`` input backend: refuses without focus gating, then opens the devices.

    ``api`` is python-evdev's calls (:class:`EvdevApi`; tests pass one over a fake module) and
    ``input_dir`` where the event nodes are (tests: the fake's directory). Raises
    :class:`InputError` in one line when focus cannot be known or no device can be read, and
    :class:`~nitrogen_capture.errors.DependencyError` when python-evdev is missing.
    """
    from ._live import LiveSources, gamepad_source

    config = EvdevConfig.from_settings(settings, input_dir)
    warnings = focus_warnings(settings.target)
    api = api if api is not None else EvdevApi()
    devices = open_devices(api, config.input_dir)
    for msg in warnings:
        log.warning(msg)
    sources = LiveSources([EvdevInput(config, api, devices)], warnings)
    if not any(d.is_mouse for d in devices):
        sources.warnings.append("evdev: no mouse device readable; buttons, wheel and motion "
                                "stay empty")
    if config.gamepad:
        sources.append(gamepad_source(config.gamepad_backend))
    return sources
