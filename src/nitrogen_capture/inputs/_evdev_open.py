"""Opening the evdev backend: python-evdev's calls, the devices it may read, the focus gate.

The refusals of :mod:`._evdev` live here, each one line: python-evdev missing (the ``wayland``
extra), no event node, none readable (the permission fix), no keyboard or mouse, and a target
whose focus cannot be known (privacy).
"""

from __future__ import annotations

import glob
import logging
import os
import sys
from typing import Any

from ..errors import InputError, NitrogenCaptureError, missing_dependency
from . import _evdev_codes as ec
from ._evdev_device import EvdevDevice

__all__ = ["PERMISSION_FIX", "EvdevApi", "focus_warnings", "open_devices"]

log = logging.getLogger(__name__)

PERMISSION_FIX = ("sudo usermod -aG input $USER, then log out and in again (or a udev rule, "
                  "docs/linux.md \"Permissions\")")


class EvdevApi:
    """The calls into python-evdev.

    Args:
        module: the ``evdev`` module; None imports it (tests pass a fake module of the same
            API: ``InputDevice``, ``list_devices``, ``ecodes``).

    Raises:
        DependencyError: python-evdev is not installed (names the ``wayland`` extra).
    """

    def __init__(self, module: Any = None) -> None:
        if module is None:
            try:
                import evdev as module
            except ImportError as exc:
                raise missing_dependency("evdev", "wayland", "Input from evdev devices") from exc
        self._evdev = module

    def nodes(self, input_dir: str) -> list[str]:
        """Every event node in ``input_dir``, readable or not."""
        return sorted(glob.glob(os.path.join(input_dir, "event*")))

    def list_devices(self, input_dir: str) -> list[str]:
        """The nodes this user may read (python-evdev's ``list_devices``, read access only)."""
        return sorted(self._evdev.list_devices(input_dir, writable=False))

    def open(self, path: str) -> Any:
        """``evdev.InputDevice(path, readonly=True)``: a non-blocking read-only descriptor."""
        return self._evdev.InputDevice(path, readonly=True)

    def set_monotonic(self, device: Any) -> bool:
        """Ask for ``CLOCK_MONOTONIC`` event times on ``device``'s descriptor; True if set."""
        if sys.platform == "win32":  # evdev is Linux's; this keeps the Windows type check whole
            return False
        import fcntl
        import struct

        try:
            fcntl.ioctl(device.fileno(), ec.EVIOCSCLOCKID, struct.pack("i", ec.CLOCK_MONOTONIC_ID))
        except OSError as exc:
            log.debug("EVIOCSCLOCKID on %s refused: %s", device.path, exc)
            return False
        return True


def open_devices(api: Any, input_dir: str) -> list[EvdevDevice]:
    """Open every readable keyboard and mouse in ``input_dir``; other devices are closed again.

    Raises:
        InputError: no event node, none readable (the line names the fix), or no keyboard or
            mouse among them.
    """
    nodes = api.nodes(input_dir)
    if not nodes:
        raise InputError(f"evdev: no input devices in {input_dir} (none exist on this machine "
                         "or in this container): use --input-backend pynput on an X or XWayland "
                         "display, or --input-backend none")
    readable = api.list_devices(input_dir)
    found: list[EvdevDevice] = []
    refused = 0
    for path in readable:
        try:
            dev = api.open(path)
        except PermissionError:
            refused += 1
            continue
        except OSError as exc:  # gone between the listing and the open
            log.debug("evdev: %s not opened: %s", path, exc)
            continue
        wrapped = EvdevDevice.classify(dev)
        if wrapped is None:
            dev.close()
            continue
        wrapped.monotonic = bool(api.set_monotonic(dev))
        found.append(wrapped)
    if found:
        return found
    if not readable or refused == len(readable):
        raise InputError(f"evdev: none of the {len(nodes)} input devices in {input_dir} is "
                         f"readable by this user: {PERMISSION_FIX}")
    raise InputError(f"evdev: no keyboard or mouse among the {len(readable)} readable input "
                     f"devices in {input_dir}")


def focus_warnings(target: Any) -> list[str]:
    """Check that input can be gated by the target's focus; the warnings for ``meta.json``.

    Raises:
        InputError: no target, a target whose focus cannot be known, or a failing focus check
            (privacy: evdev would log every window's input).
    """
    refuse = ("evdev reads the input of every window, so it records only while the target has "
              "focus, and refuses to log input (privacy) when that cannot be known: ")
    if target is None:
        raise InputError(refuse + "there is no target")
    backend = getattr(target, "backend", None)
    for owner in (target, backend):
        if owner is not None and getattr(owner, "focus_known", True) is False:
            raise InputError(refuse + f"{type(owner).__name__} cannot tell which window has "
                             "focus on this desktop; record a window the compositor reports "
                             "(sway), use --input-backend pynput for an XWayland game, or "
                             "--input-backend none")
    try:
        target.is_focused()
    except (NitrogenCaptureError, OSError) as exc:
        raise InputError(refuse + f"the focus check failed ({exc})") from exc
    if backend is None:  # a fixed region or a monitor: no window whose focus could gate
        return ["evdev with a region target: no window to gate input on, so every key of the "
                "layout typed while recording is stored, whichever window it went to"]
    return []
