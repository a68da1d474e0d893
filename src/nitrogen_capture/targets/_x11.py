"""Window lookup on X11 with python-xlib: titles, PIDs, client-area geometry, focus.

* Windows: ``_NET_CLIENT_LIST`` on the root when a window manager publishes it; without a WM
  (bare Xvfb, kiosk setups) the root's children and their descendants are walked for windows
  that carry ``WM_NAME``/``_NET_WM_NAME``, the properties a client sets on its own window.
* PID: ``_NET_WM_PID`` (SDL/pygame, GTK, Qt set it); the process name comes from psutil.
* Geometry: ``translate_coords`` of the client window's origin to the root. Reparenting window
  managers put the client inside a frame, so the client's own x/y (and ``xdotool
  getwindowgeometry``) are relative to the frame and wrong for capture.
* Focus: ``_NET_ACTIVE_WINDOW`` when an EWMH window manager runs (checked through
  ``_NET_SUPPORTING_WM_CHECK``); otherwise ``XGetInputFocus``. Without a WM the focus may be
  ``PointerRoot`` (SDL1 games and a fresh X server leave it there): keys then go to the window
  under the pointer, which we look up with ``QueryPointer``. The recorder asks every tick, so
  what rarely changes is kept for :data:`_STABLE_NS`: whether a WM runs, and which titled
  client owns a given focus window. A steady-state check is then one round trip to the server
  (it was four without a WM).

One backend holds one display connection and a lock: a python-xlib ``Display`` must not be
used by two threads at once, and the input router asks for focus from listener threads.
Once the server is gone (Xvfb killed, the X session ended) every call raises the project's
:class:`~nitrogen_capture.errors.DisplayLostError` instead of python-xlib's own error, and
:meth:`X11WindowBackend.close` closes quietly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..capture.base import Region
from ..errors import ConfigError
from ..xdisplay import close_display, open_x11_display, translating_lost_display
from .base import WindowBackend, WindowInfo

__all__ = ["X11WindowBackend"]

log = logging.getLogger(__name__)

_MAX_DEPTH = 4  # frames of reparenting WMs nest the client 1-3 levels below the root child
# How long "a WM runs" and "focus window W belongs to client C" are trusted. A WM starting
# or a window being reparented is noticed this late; focus *changes* are seen at once, since
# the focus window itself is read on every call.
_STABLE_NS = 1_000_000_000


def _process_name(pid: int | None) -> str | None:
    """Process name of ``pid`` through psutil, or None when it is gone or hidden."""
    if pid is None:
        return None
    import psutil

    try:
        return str(psutil.Process(pid).name())
    except (psutil.Error, OSError):
        return None


class X11WindowBackend(WindowBackend):
    """Window lookup on one X display (``$DISPLAY`` unless ``display`` is given)."""

    name = "x11"

    def __init__(self, display: str | None = None) -> None:
        import Xlib.error
        from Xlib import X

        self._d: Any = open_x11_display(display, "window lookup")
        self._display_name: str | None = self._d.get_display_name()
        self._X = X
        self._XError: type[Exception] = Xlib.error.XError
        self._root: Any = self._d.screen().root
        self._lock = threading.RLock()
        atom = self._d.intern_atom
        self._a = {n: atom(n) for n in (
            "_NET_CLIENT_LIST", "_NET_WM_NAME", "UTF8_STRING", "_NET_WM_PID",
            "_NET_ACTIVE_WINDOW", "_NET_SUPPORTING_WM_CHECK")}
        self._closed = False
        self._wm_cache: tuple[bool, int] | None = None  # (has a WM, expires at)
        self._owner_cache: tuple[int, int | None, int] | None = None  # (focus, client, expires)

    # -- public API ---------------------------------------------------------------------------
    def list_windows(self) -> list[WindowInfo]:
        """Top-level client windows with a title (mapped or not)."""
        with self._lock, self._lost_display():
            focus = self._focused()
            out: list[WindowInfo] = []
            for wid in self._client_ids():
                info = self._info(wid, focus)
                if info is not None:
                    out.append(info)
            return out

    def geometry(self, window_id: int) -> Region | None:
        """Client area of ``window_id`` in root coordinates; None if gone or unmapped."""
        with self._lock, self._lost_display():
            try:
                return self._geometry(self._d.create_resource_object("window", window_id))
            except self._XError:
                return None

    def focused_window(self) -> int | None:
        """The titled window that has the keyboard now, if any."""
        with self._lock, self._lost_display():
            return self._focused()

    def exists(self, window_id: int) -> bool:
        """Whether ``window_id`` still exists (mapped or not)."""
        with self._lock, self._lost_display():
            try:
                self._d.create_resource_object("window", window_id).get_attributes()
            except self._XError:
                return False
            return True

    def close(self) -> None:
        """Close the display connection; idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                close_display(self._d)  # quiet when the server is gone

    def _lost_display(self) -> Any:
        """A block in which a lost connection becomes :class:`DisplayLostError`."""
        return translating_lost_display(self._display_name)

    # -- helpers (callers hold the lock) -----------------------------------------------------------
    def _window(self, wid: int) -> Any:
        return self._d.create_resource_object("window", wid)

    def _client_ids(self) -> list[int]:
        prop = self._root.get_full_property(self._a["_NET_CLIENT_LIST"], self._X.AnyPropertyType)
        if prop is not None and len(prop.value):
            return [int(w) for w in prop.value]
        # No EWMH window manager: walk the tree; the first titled window on each branch is the
        # client (deeper ones are its own children, e.g. toolkit sub-windows).
        out: list[int] = []
        try:
            children = self._root.query_tree().children
        except self._XError:
            return out
        for child in children:
            out.extend(self._titled_below(child, 0))
        return out

    def _titled_below(self, win: Any, depth: int) -> Iterator[int]:
        try:
            if self._title(win) is not None:
                yield int(win.id)
                return
            if depth >= _MAX_DEPTH:
                return
            children = win.query_tree().children
        except self._XError:
            return  # destroyed while we walked
        for child in children:
            yield from self._titled_below(child, depth + 1)

    def _title(self, win: Any) -> str | None:
        """_NET_WM_NAME (UTF-8) or WM_NAME; None when the window has neither."""
        prop = win.get_full_property(self._a["_NET_WM_NAME"], self._a["UTF8_STRING"])
        if prop is not None and prop.value:
            value = prop.value
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        name = win.get_wm_name()
        if name is None:
            return None
        return name.decode("latin-1") if isinstance(name, bytes) else str(name)

    def _pid(self, win: Any) -> int | None:
        prop = win.get_full_property(self._a["_NET_WM_PID"], self._X.AnyPropertyType)
        if prop is None or not len(prop.value):
            return None
        return int(prop.value[0])

    def _geometry(self, win: Any) -> Region | None:
        if win.get_attributes().map_state != self._X.IsViewable:
            return None
        geom = win.get_geometry()
        origin = self._root.translate_coords(win, 0, 0)
        if geom.width <= 0 or geom.height <= 0:
            return None
        try:
            return Region.from_xywh(int(origin.x), int(origin.y), int(geom.width),
                                    int(geom.height))
        except ConfigError:
            return None

    def _info(self, wid: int, focus: int | None) -> WindowInfo | None:
        win = self._window(wid)
        try:
            title = self._title(win)
            if title is None:
                return None
            pid = self._pid(win)
            region = self._geometry(win)
        except self._XError:
            return None  # the window vanished between listing and querying
        return WindowInfo(window_id=wid, title=title, pid=pid, process=_process_name(pid),
                          region=region, focused=focus == wid)

    def _has_wm(self) -> bool:
        t = time.monotonic_ns()
        if self._wm_cache is not None and t < self._wm_cache[1]:
            return self._wm_cache[0]
        prop = self._root.get_full_property(self._a["_NET_SUPPORTING_WM_CHECK"],
                                            self._X.AnyPropertyType)
        has_wm = prop is not None and len(prop.value) > 0 and int(prop.value[0]) != 0
        self._wm_cache = (has_wm, t + _STABLE_NS)
        return has_wm

    def _focused(self) -> int | None:
        try:
            if self._has_wm():
                prop = self._root.get_full_property(self._a["_NET_ACTIVE_WINDOW"],
                                                    self._X.AnyPropertyType)
                if prop is not None and len(prop.value) and int(prop.value[0]):
                    return int(prop.value[0])
            focus = self._d.get_input_focus().focus
            if isinstance(focus, int):  # X.NONE (0) or X.PointerRoot (1)
                if focus != self._X.PointerRoot:
                    return None
                # PointerRoot: the keyboard follows the pointer.
                child = self._root.query_pointer().child
                if not child or int(getattr(child, "id", child)) == 0:
                    return None
                return next(iter(self._titled_below(child, 0)), None)
            return self._owner_of(focus)
        except self._XError:
            return None

    def _owner_of(self, focus: Any) -> int | None:
        """:meth:`_titled_ancestor` of the focus window, remembered for :data:`_STABLE_NS`."""
        t = time.monotonic_ns()
        fid = int(focus.id)
        cached = self._owner_cache
        if cached is not None and cached[0] == fid and t < cached[2]:
            return cached[1]
        owner = self._titled_ancestor(focus)
        self._owner_cache = (fid, owner, t + _STABLE_NS)
        return owner

    def _titled_ancestor(self, win: Any) -> int | None:
        """Walk up from ``win`` to the first titled window (the client owning the focus)."""
        root_id = int(self._root.id)
        top = win
        while int(win.id) != root_id:
            if self._title(win) is not None:
                return int(win.id)
            top = win
            parent = win.query_tree().parent
            if not parent or int(getattr(parent, "id", 0)) == 0:
                break
            win = parent
        # No titled ancestor: a titled child of the top-level (frame) window, if any.
        return next(iter(self._titled_below(top, 0)), None)
