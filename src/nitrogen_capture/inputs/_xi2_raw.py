"""Raw relative mouse motion on X11 through XInput2 ``RawMotion`` events (python-xlib).

Why raw events: games that grab and re-centre the pointer make cursor-position differences
useless, and pointer acceleration distorts them. ``XI_RawMotion`` carries the device's own
counts before acceleration, and is delivered to every client that selected it on the root window,
even while another client holds a pointer grab - but only to clients that announced XI >= 2.1.
python-xlib's ``xinput_query_version`` announces 2.0 (the server then withholds raw events
during grabs, i.e. exactly while a game has the mouse), so we send ``XIQueryVersion`` 2.2
ourselves, before selecting events, on a connection of our own.

python-xlib has no parser for raw events: they arrive as ``GenericEvent`` with the bytes after
the 10-byte generic header in ``data``. The ``xXIRawEvent`` wire layout that follows is
``deviceid u16, time u32, detail u32, sourceid u16, valuators_len u16, flags u32, pad u32``
(22 bytes), then the valuator mask (``valuators_len`` 4-byte units, bit i = axis i present), then
one FP3232 (int32 integral, uint32 fraction) per set bit of *processed* values, then the same
count of FP3232 *raw* values. Axes 0 and 1 are x and y; we emit the raw values.

Devices in absolute mode (tablets, VM "absolute pointers") report positions, not deltas, on those
axes; for them we emit differences between consecutive raw positions of the same source device.
"""

from __future__ import annotations

import logging
import select
import struct
from typing import Any

from ..clock import now_ns
from ..errors import InputError, PlatformError, missing_dependency
from ..events import MOTION, InputEvent
from ..xdisplay import check_x11_display, close_display, connection_lost, display_lost
from ._reader import ReaderThread
from .base import InputSource

__all__ = ["XI2RawMotion", "decode_raw_event", "probe_xi2"]

log = logging.getLogger(__name__)

_RAW_MOTION = 17  # XI_RawMotion
_GENERIC_EVENT = 35
_HEADER = struct.Struct("=HIIHHII")  # deviceid time detail sourceid valuators_len flags pad
_FP3232 = struct.Struct("=iI")
WANT_VERSION = (2, 2)


def decode_raw_event(data: bytes) -> tuple[int, dict[int, float]]:
    """Decode the body of an ``XIRawEvent`` (bytes after the generic header).

    Returns:
        ``(sourceid, {axis: raw value})`` for the axes present in the valuator mask.
    """
    _dev, _time, _detail, sourceid, mask_len, _flags, _pad = _HEADER.unpack_from(data, 0)
    off = _HEADER.size
    mask = data[off:off + 4 * mask_len]
    axes = [i for i in range(8 * len(mask)) if mask[i >> 3] & (1 << (i & 7))]
    # Skip the processed (accelerated) values; the raw ones follow them.
    raw_off = off + 4 * mask_len + _FP3232.size * len(axes)
    values: dict[int, float] = {}
    for k, axis in enumerate(axes):
        integral, frac = _FP3232.unpack_from(data, raw_off + k * _FP3232.size)
        values[axis] = integral + frac / 4294967296.0
    return sourceid, values


def _open_display(display: str | None) -> Any:
    try:
        import Xlib.display
        import Xlib.error
    except ImportError as exc:
        raise missing_dependency("python-xlib", "x11", "Raw mouse motion") from exc
    if display is None:
        check_x11_display()
    try:
        return Xlib.display.Display(display)
    except (Xlib.error.DisplayError, OSError) as exc:
        raise PlatformError(f"cannot open X display for raw motion: {exc}") from exc


def _announce(d: Any) -> tuple[int, int]:
    """Send XIQueryVersion 2.2 (see the module docstring); return the server's answer."""
    from Xlib.ext import xinput

    if not d.has_extension(xinput.extname):
        raise PlatformError("the X server has no XInputExtension: raw mouse motion unavailable")
    reply = xinput.XIQueryVersion(
        display=d.display, opcode=d.display.get_extension_major(xinput.extname),
        major_version=WANT_VERSION[0], minor_version=WANT_VERSION[1])
    return int(reply.major_version), int(reply.minor_version)


def probe_xi2(display: str | None = None) -> str | None:
    """None when XI2 raw motion works on this display, else the reason why not."""
    try:
        d = _open_display(display)
    except (PlatformError, ImportError) as exc:
        return str(exc)
    try:
        version = _announce(d)
        if version < (2, 0):
            return f"XInput {version[0]}.{version[1]} has no raw events (need 2.0+)"
        return None
    except PlatformError as exc:
        return str(exc)
    finally:
        d.close()


class XI2RawMotion(InputSource):
    """Emit ``motion`` ``dx``/``dy`` events with raw device counts from XInput2."""

    name = "xi2_raw"
    raw_motion = True

    def __init__(self, display: str | None = None) -> None:
        super().__init__()
        self.display_name = display
        self.server_version: tuple[int, int] | None = None
        self._d: Any = None
        self._reader = ReaderThread("xi2-raw-motion", self._run)
        self._absolute: dict[int, tuple[bool, bool]] = {}
        self._last_abs: dict[tuple[int, int], float] = {}

    def _start(self) -> None:
        from Xlib.ext import xinput

        d = _open_display(self.display_name)
        try:
            self.server_version = _announce(d)
            if self.server_version < (2, 1):
                log.warning("XInput %d.%d: raw motion stops while a game grabs the pointer",
                            *self.server_version)
            self._opcode = d.query_extension(xinput.extname).major_opcode
            d.screen().root.xinput_select_events([(xinput.AllMasterDevices,
                                                   xinput.RawMotionMask)])
            d.sync()  # surface a BadValue from the selection here, not in the thread
        except Exception as exc:
            d.close()
            if isinstance(exc, PlatformError):
                raise
            raise InputError(f"cannot select XInput2 raw motion: {exc}") from exc
        self._d = d
        # A self-pipe wakes the reader at stop(): no polling timeout, no busy loop.
        self._reader.start()

    def _run(self) -> None:
        d = self._d
        fd = d.fileno()
        try:
            while True:
                if not d.pending_events():
                    ready, _, _ = select.select([fd, self._reader.wake_fd], [], [])
                    if self._reader.wake_fd in ready:
                        return
                # pending_events() reads what arrived; next_event() would block on an empty
                # queue, so drain only what is there.
                for _ in range(d.pending_events()):
                    ev = d.next_event()
                    t = now_ns()
                    if (ev.type == _GENERIC_EVENT and ev.evtype == _RAW_MOTION
                            and getattr(ev, "extension", self._opcode) == self._opcode):
                        self._handle(t, bytes(ev.data))
        except Exception as exc:  # handed to the owner by check()/stop()
            if connection_lost(exc):  # the X server went away: the recording ends on it
                self._fail(display_lost(d.get_display_name(), exc))
            else:
                self._fail(InputError(f"XInput2 raw motion reader died: {exc}"))

    def _handle(self, t: int, data: bytes) -> None:
        sourceid, values = decode_raw_event(data)
        abs_x, abs_y = self._modes(sourceid)
        for axis, code, absolute in ((0, "dx", abs_x), (1, "dy", abs_y)):
            if axis not in values:
                continue
            value = values[axis]
            if absolute:
                last = self._last_abs.get((sourceid, axis))
                self._last_abs[(sourceid, axis)] = value
                if last is None:
                    continue
                value -= last
            if value:
                self._emit(InputEvent(t, MOTION, code, value))

    def _modes(self, sourceid: int) -> tuple[bool, bool]:
        """Whether axes 0/1 of ``sourceid`` are absolute (queried once per device)."""
        modes = self._absolute.get(sourceid)
        if modes is None:
            modes = (False, False)
            try:
                from Xlib.ext import xinput

                info = self._d.xinput_query_device(sourceid)
                found = {c.number: c.mode == xinput.ModeAbsolute
                         for dev in info.devices for c in dev.classes
                         if getattr(c, "type", None) == xinput.ValuatorClass}
                modes = (found.get(0, False), found.get(1, False))
            except Exception as exc:  # a device that vanished: treat as relative
                log.debug("XIQueryDevice %d failed: %s", sourceid, exc)
            self._absolute[sourceid] = modes
        return modes

    def _stop(self) -> None:
        self._reader.stop()
        d, self._d = self._d, None
        if d is not None:
            close_display(d)  # quiet when the server is gone
