"""The ScreenCast portal from a test, without the project's backend: jeepney and GStreamer.

:func:`open_cast` does the four portal calls (CreateSession, SelectSources, Start,
OpenPipeWireRemote) on the stack's bus and returns PipeWire's fd and the stream's node;
:class:`FrameGrabber` pulls BGRx frames of that node through ``pipewiresrc``. The smoke test
(test_stack.py) uses both to prove the stack casts; the project's own backend is
nitrogen_capture.capture (``--capture-backend pipewire``).
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from typing import Any

_PATH = "/org/freedesktop/portal/desktop"
_tokens = itertools.count()


@dataclass(frozen=True)
class Cast:
    """An open cast: PipeWire's remote fd, the node to read, and what the calls took."""

    fd: int
    node: int
    size: tuple[int, int] | None
    calls_ms: float


def _request(conn: Any, method: str, sig: str, body: tuple[Any, ...],
             timeout: float) -> dict[str, Any]:
    """Call a portal method that answers through a Request's Response signal; its results."""
    from jeepney import DBusAddress, MatchRule, message_bus, new_method_call
    from jeepney.io.blocking import Proxy

    token = f"nitrotest{os.getpid()}_{next(_tokens)}"
    sender = conn.unique_name[1:].replace(".", "_")
    rule = MatchRule(type="signal", interface="org.freedesktop.portal.Request",
                     member="Response", path=f"{_PATH}/request/{sender}/{token}")
    Proxy(message_bus, conn).AddMatch(rule)
    options = dict(body[-1], handle_token=("s", token))
    portal = DBusAddress(_PATH, bus_name="org.freedesktop.portal.Desktop",
                         interface="org.freedesktop.portal.ScreenCast")
    with conn.filter(rule) as queue:
        conn.send_and_get_reply(new_method_call(portal, method, sig, (*body[:-1], options)),
                                timeout=timeout)
        response, results = conn.recv_until_filtered(queue, timeout=timeout).body
    if response != 0:
        raise AssertionError(f"{method}: the portal answered {response} ({results})")
    return {k: v[1] for k, v in results.items()}


def open_cast(bus_address: str, timeout: float = 30.0) -> tuple[Any, Cast]:
    """The four portal calls; the open jeepney connection (keep it: it owns the session)."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    conn = open_dbus_connection(bus=bus_address, enable_fds=True)
    t0 = time.perf_counter()
    session = _request(conn, "CreateSession", "a{sv}",
                       ({"session_handle_token": ("s", f"nitrotest{os.getpid()}")},),
                       timeout)["session_handle"]
    _request(conn, "SelectSources", "oa{sv}",
             (session, {"types": ("u", 1), "multiple": ("b", False)}), timeout)
    streams = _request(conn, "Start", "osa{sv}", (session, "", {}), timeout)["streams"]
    portal = DBusAddress(_PATH, bus_name="org.freedesktop.portal.Desktop",
                         interface="org.freedesktop.portal.ScreenCast")
    reply = conn.send_and_get_reply(
        new_method_call(portal, "OpenPipeWireRemote", "oa{sv}", (session, {})), timeout=timeout)
    fd = reply.body[0].to_raw_fd()
    calls_ms = (time.perf_counter() - t0) * 1000
    node, props = streams[0]
    size = props.get("size", (None, None))[1]
    return conn, Cast(fd, int(node), tuple(size) if size else None, calls_ms)


class FrameGrabber:
    """``pipewiresrc fd=FD path=NODE ! videoconvert ! BGRx ! appsink``: frames on demand."""

    def __init__(self, cast: Cast) -> None:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import Gst

        Gst.init(None)
        self._gst = Gst
        self.pipeline = Gst.parse_launch(
            f"pipewiresrc fd={cast.fd} path={cast.node} always-copy=true ! videoconvert ! "
            "video/x-raw,format=BGRx ! appsink name=sink max-buffers=2 drop=true sync=false")
        self.sink = self.pipeline.get_by_name("sink")
        self.pipeline.set_state(Gst.State.PLAYING)

    def frame(self, timeout: float = 10.0) -> tuple[int, int, bytes]:
        """The next frame: width, height, BGRx bytes (fails after ``timeout`` seconds)."""
        sample = self.sink.emit("try-pull-sample", int(timeout * 1e9))
        if sample is None:
            raise AssertionError(f"no frame from pipewiresrc within {timeout:g} s")
        s = sample.get_caps().get_structure(0)
        buf = sample.get_buffer()
        return s.get_value("width"), s.get_value("height"), buf.extract_dup(0, buf.get_size())

    def close(self) -> None:
        """Stop the pipeline (it closes the fd)."""
        self.pipeline.set_state(self._gst.State.NULL)
