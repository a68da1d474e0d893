"""Window lookup on sway (and other compositors speaking its IPC) through ``$SWAYSOCK``.

sway answers the i3 IPC protocol on a Unix socket: a message is the magic ``i3-ipc``, the
payload's length and the message type (both 32-bit, native byte order) and a JSON payload; the
reply has the same header with the same type. No library is needed (the protocol is a dozen
lines here), so this backend adds no dependency.

* Windows: ``GET_TREE``'s *views*, native Wayland (``shell`` ``xdg_shell``) and XWayland ones
  (``xwayland``) alike: the leaves of the tree that carry a ``pid``. The id is sway's container
  id (stable for the window's life); the title is its ``name``; the process name comes from
  psutil by the view's ``pid``, so ``--process-name``, ``--window-title`` and ``--pid`` work as
  on X11. ``app_id`` (native) or the X11 class (XWayland) is kept too, and an XWayland
  view's X11 window id (``calibrate`` presses into it through XTEST).
* Geometry: the content area in the compositor's layout coordinates: the container's ``rect``
  plus its ``window_rect`` (borders and title bar excluded). Not ``geometry``: that is the size
  the window asked for (its floating size), not what is drawn; a tiled fixed-size SDL game is
  configured to its whole tile and fills it (measured through the portal on sway 1.7). A view
  on a hidden workspace is not visible: no region (the target keeps its last one, as for a
  minimised X11 window).
* Focus: the first seat's ``focus`` from ``GET_SEATS`` (sway's keyboard focus, for Wayland and
  XWayland views alike; a workspace's id when no window has it). The reply is a few hundred
  bytes where the tree is kilobytes: 0.8 ms against 3.4 ms a call on the headless stack, and
  the input router asks per event. A compositor without ``GET_SEATS`` is asked for the tree.

One connection and a lock: the recorder asks for the geometry on its thread and the input
router asks for focus from listener threads. A connection that breaks is reopened once per
request.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import sys
import threading
from collections.abc import Iterator
from typing import Any

from ..capture.base import Region
from ..errors import ConfigError, PlatformError
from ._x11 import _process_name
from .base import WindowBackend, WindowInfo

__all__ = ["GET_OUTPUTS", "GET_SEATS", "GET_TREE", "MAGIC", "SwayWindowBackend", "pack_message"]

log = logging.getLogger(__name__)

MAGIC = b"i3-ipc"
GET_OUTPUTS = 3
GET_TREE = 4
GET_SEATS = 101
_HEADER = struct.Struct("=II")
_TIMEOUT_S = 2.0


def pack_message(kind: int, payload: bytes = b"") -> bytes:
    """One i3 IPC message (or reply): magic, length, type, payload."""
    return MAGIC + _HEADER.pack(len(payload), kind) + payload


def _views(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The views (application windows) under ``node``, tiled and floating."""
    children = list(node.get("nodes") or ()) + list(node.get("floating_nodes") or ())
    if node.get("type") in ("con", "floating_con") and node.get("pid") and not children:
        yield node
    for child in children:
        yield from _views(child)


def _content(view: dict[str, Any]) -> Region | None:
    """The view's pixels in layout coordinates, None when not visible (module docstring)."""
    if view.get("visible") is False:
        return None
    rect, inner = view.get("rect") or {}, view.get("window_rect") or {}
    try:
        x = int(rect["x"]) + int(inner.get("x", 0))
        y = int(rect["y"]) + int(inner.get("y", 0))
        return Region.from_xywh(x, y, int(inner["width"]), int(inner["height"]))
    except (KeyError, TypeError, ValueError, ConfigError):
        return None  # not laid out yet (0x0) or a malformed reply


class SwayWindowBackend(WindowBackend):
    """Window lookup over sway's IPC socket (``$SWAYSOCK`` unless ``socket_path`` is given)."""

    name = "sway"

    def __init__(self, socket_path: str | None = None) -> None:
        path = socket_path or os.environ.get("SWAYSOCK")
        if not path:
            raise PlatformError("SWAYSOCK is unset: the sway window lookup needs sway's IPC "
                                "socket (run the recorder inside the sway session)")
        self.socket_path = path
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._closed = False
        with self._lock:
            self._connect()

    # -- public API ---------------------------------------------------------------------------
    def list_windows(self) -> list[WindowInfo]:
        """Every view: native Wayland and XWayland windows, visible or not."""
        return [self._info(v) for v in _views(self.tree())]

    def geometry(self, window_id: int) -> Region | None:
        """Content area of view ``window_id`` in layout coordinates; None if gone or hidden."""
        view = self._view(window_id)
        return None if view is None else _content(view)

    def focused_window(self) -> int | None:
        """The node that has sway's keyboard focus (a view's id when a window has it)."""
        try:
            seats = self.request(GET_SEATS)
            if isinstance(seats, list) and seats and isinstance(seats[0], dict) \
                    and "focus" in seats[0]:
                return int(seats[0]["focus"]) or None
            views = list(_views(self.tree()))
        except (PlatformError, TypeError, ValueError):
            return None
        return next((int(v["id"]) for v in views if v.get("focused")), None)

    def exists(self, window_id: int) -> bool:
        """Whether view ``window_id`` is still in the tree (on any workspace)."""
        return self._view(window_id) is not None

    def outputs(self) -> list[Region]:
        """The active outputs' rectangles in layout coordinates, in sway's order."""
        out = []
        for o in self.request(GET_OUTPUTS):
            r = o.get("rect") or {}
            if o.get("active", True) and r.get("width") and r.get("height"):
                out.append(Region.from_xywh(int(r["x"]), int(r["y"]), int(r["width"]),
                                            int(r["height"])))
        return out

    def tree(self) -> dict[str, Any]:
        """``GET_TREE``'s reply."""
        tree: dict[str, Any] = self.request(GET_TREE)
        return tree

    def request(self, kind: int, payload: bytes = b"") -> Any:
        """Send one message, return its decoded JSON reply (reconnecting once if it broke).

        Raises:
            PlatformError: sway does not answer (one line naming the socket).
        """
        with self._lock:
            if self._closed:
                raise PlatformError("the sway window lookup is closed")
            for attempt in (0, 1):
                try:
                    if self._sock is None:
                        self._connect()
                    assert self._sock is not None
                    self._sock.sendall(pack_message(kind, payload))
                    return json.loads(self._reply(kind))
                except (OSError, ValueError) as exc:
                    self._drop()
                    if attempt:
                        raise PlatformError(f"sway IPC at {self.socket_path} does not answer "
                                            f"({exc}): is sway still running?") from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the socket; idempotent."""
        with self._lock:
            self._closed = True
            self._drop()

    # -- helpers ----------------------------------------------------------------------------------
    def _connect(self) -> None:
        if sys.platform == "win32":
            raise PlatformError("sway's IPC is a Unix socket: there is none on Windows")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(_TIMEOUT_S)
        try:
            sock.connect(self.socket_path)
        except OSError as exc:
            sock.close()
            raise PlatformError(f"cannot reach sway's IPC socket {self.socket_path} ({exc}): "
                                "is sway running, and SWAYSOCK its socket?") from exc
        self._sock = sock

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _read(self, n: int) -> bytes:
        assert self._sock is not None
        buf = bytearray()
        while len(buf) < n:
            chunk = self._sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("sway closed the IPC connection")
            buf += chunk
        return bytes(buf)

    def _reply(self, kind: int) -> bytes:
        head = self._read(len(MAGIC) + _HEADER.size)
        if not head.startswith(MAGIC):
            raise ValueError(f"not an i3 IPC reply: {head[:6]!r}")
        length, got = _HEADER.unpack(head[len(MAGIC):])
        payload = self._read(length)
        if got != kind:
            raise ValueError(f"reply of type {got} to a request of type {kind}")
        return payload

    def _view(self, window_id: int) -> dict[str, Any] | None:
        try:
            views = _views(self.tree())
            return next((v for v in views if int(v["id"]) == window_id), None)
        except PlatformError:
            return None

    @staticmethod
    def _info(view: dict[str, Any]) -> WindowInfo:
        pid = int(view["pid"])
        props = view.get("window_properties") or {}
        x11 = view.get("window")
        return WindowInfo(window_id=int(view["id"]), title=str(view.get("name") or ""), pid=pid,
                          process=_process_name(pid), region=_content(view),
                          focused=bool(view.get("focused")), shell=view.get("shell"),
                          app_id=view.get("app_id") or props.get("class"),
                          x11_window=int(x11) if isinstance(x11, int) and x11 else None)
