"""A private D-Bus session bus with a fake xdg-desktop-portal ScreenCast service on it.

The bus is a real ``dbus-daemon``; the portal is a jeepney service in a thread that answers the
calls the real portal answers (Properties.Get of ``version`` / ``AvailableSourceTypes`` /
``AvailableCursorModes``, CreateSession, SelectSources, Start, OpenPipeWireRemote,
Session.Close) and sends each request's ``Response`` signal on the request path, as
xdg-desktop-portal 1.16 does. What it refuses (no ScreenCast interface, the picker cancelled)
and what ``Start`` returns are settings; every call it got is kept in ``calls``.

Only the portal is fake (the machine running the unit tests need not run a desktop); the bus,
the messages and the file descriptor passing are real.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import Proxy, open_dbus_connection

BUS_NAME = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
SCREENCAST = "org.freedesktop.portal.ScreenCast"


# A session bus that activates nothing: no real portal (or anything else) is started on demand.
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass
class FakePortalSettings:
    """What the fake portal does. ``start_code``: Start's response (0 ok, 1 cancelled, 2 fail)."""

    screencast: bool = True
    version: int = 4
    cursor_modes: int = 7
    source_types: int = 3
    start_code: int = 0
    answer_start: bool = True
    position: tuple[int, int] = (0, 0)
    size: tuple[int, int] = (320, 240)
    node: int = 42
    token_prefix: str = "restore-"
    give_token: bool = True


@dataclass
class FakePortal:
    """The running fake: its settings, the calls it received, the address of its bus."""

    settings: FakePortalSettings
    address: str
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    starts: int = 0
    closed_sessions: int = 0
    conn: Any = None
    session: str | None = None

    def emit_closed(self) -> None:
        """Send the last session's ``Closed`` signal: the user stopped sharing."""
        assert self.session is not None
        self.conn.send(new_signal(DBusAddress(self.session,
                                              interface="org.freedesktop.portal.Session"),
                                  "Closed", "a{sv}", ({},)))

    def options(self, method: str) -> dict[str, Any]:
        """The options (last a{sv} argument) of the last call of ``method``, unwrapped."""
        body = [b for m, b in self.calls if m == method][-1]
        return {k: v[1] for k, v in body[-1].items()}


def _serve(conn: Any, portal: FakePortal, stop: threading.Event) -> None:
    s = portal.settings
    sessions = 0
    while not stop.is_set():
        try:
            msg = conn.receive(timeout=0.1)
        except TimeoutError:
            continue
        except (OSError, ValueError):
            return
        if msg.header.message_type != MessageType.method_call:
            continue
        fields = msg.header.fields
        iface, member = fields.get(HeaderFields.interface), fields.get(HeaderFields.member)
        sender = fields.get(HeaderFields.sender, "")
        portal.calls.append((member, msg.body))
        if iface == "org.freedesktop.DBus.Properties" and member == "Get":
            props = {"version": s.version, "AvailableSourceTypes": s.source_types,
                     "AvailableCursorModes": s.cursor_modes}
            if msg.body[0] != SCREENCAST or not s.screencast:
                conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownInterface", "s",
                                    (f"No such interface '{msg.body[0]}'",)))
            elif msg.body[1] not in props:
                conn.send(new_error(msg, "org.freedesktop.DBus.Error.InvalidArgs", "s",
                                    ("No such property",)))
            else:
                conn.send(new_method_return(msg, "v", (("u", props[msg.body[1]]),)))
            continue
        if iface == "org.freedesktop.portal.Session" and member == "Close":
            portal.closed_sessions += 1
            conn.send(new_method_return(msg))
            continue
        if iface != SCREENCAST or not s.screencast:
            conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s",
                                (f"No such method {member}",)))
            continue
        if member == "OpenPipeWireRemote":
            read, write = os.pipe()
            conn.send(new_method_return(msg, "h", (read,)))
            os.close(read)
            os.close(write)
            continue
        token = msg.body[-1]["handle_token"][1]
        request = f"{PATH}/request/{sender.lstrip(':').replace('.', '_')}/{token}"
        conn.send(new_method_return(msg, "o", (request,)))
        code, results = 0, {}
        if member == "CreateSession":
            sessions += 1
            portal.session = f"{PATH}/session/fake/s{sessions}"
            results = {"session_handle": ("s", portal.session)}
        elif member == "Start":
            portal.starts += 1
            if not s.answer_start:
                continue
            code = s.start_code
            props = {"position": ("(ii)", s.position), "size": ("(ii)", s.size),
                     "source_type": ("u", 1)}
            results = {"streams": ("a(ua{sv})", [(s.node, props)])}
            if s.give_token:
                results["restore_token"] = ("s", f"{s.token_prefix}{portal.starts}")
        signal = new_signal(DBusAddress(request, interface="org.freedesktop.portal.Request"),
                            "Response", "ua{sv}", (code, results))
        signal.header.fields[HeaderFields.destination] = sender
        conn.send(signal)


@contextlib.contextmanager
def fake_portal(tmp: Path, settings: FakePortalSettings | None = None,
                *, run_portal: bool = True) -> Iterator[FakePortal]:
    """A private session bus (its address in ``FakePortal.address``) with the fake portal on it.

    ``run_portal=False``: the bus only (nobody owns the portal's name).
    """
    daemon = shutil.which("dbus-daemon")
    assert daemon, "dbus-daemon is not installed (Debian package dbus)"
    config = tmp / "bus.conf"
    config.write_text(_BUS_CONFIG.format(path=tmp / "bus"))
    proc = subprocess.Popen([daemon, f"--config-file={config}", "--nofork", "--nopidfile",
                             "--print-address"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    stop = threading.Event()
    thread = None
    conn = None
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()  # printed once it listens
        assert address, f"dbus-daemon ended at once (exit {proc.wait(30)})"
        portal = FakePortal(settings or FakePortalSettings(), address)
        if run_portal:
            conn = portal.conn = open_dbus_connection(portal.address, enable_fds=True)
            Proxy(message_bus, conn).RequestName(BUS_NAME, 4)  # DO_NOT_QUEUE
            thread = threading.Thread(target=_serve, args=(conn, portal, stop), daemon=True)
            thread.start()
        yield portal
    finally:
        stop.set()
        if thread is not None:
            thread.join(10)
        if conn is not None:
            conn.close()
        proc.terminate()
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()
