"""The xdg-desktop-portal ScreenCast interface over D-Bus (jeepney), for the PipeWire backend.

On Wayland a program may not read the screen; it asks the desktop portal, which asks the user
(a picker dialog) and hands out a PipeWire remote (a file descriptor) holding one node per
chosen monitor or window. The four calls, each a *request* answered later by a ``Response``
signal on ``/org/freedesktop/portal/desktop/request/SENDER/TOKEN``:

``CreateSession`` -> ``SelectSources`` (what may be picked, the cursor hidden, persist mode 2
and the restore token) -> ``Start`` (the picker; its results name the streams and a new restore
token) -> ``OpenPipeWireRemote`` (a plain method returning the fd).

The **restore token** lets the user pick once: it is read from :func:`token_path` and each
``Start`` returns a fresh one (tokens are single-use), stored at once through
:mod:`nitrogen_capture.atomic`. ``reset`` (``record --portal-reset``) ignores the stored token,
so the picker shows again, and replaces it with the new one.

Every refusal is one line: no session bus or no portal on it and no ScreenCast interface
(:class:`PlatformError`), the user cancelled the picker (response 1), any other failure
(response 2) or no answer in time (:class:`CaptureError`).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_file, make_dirs
from ..errors import CaptureError, PlatformError, missing_dependency
from ..outputs import OutputKind, check_output

__all__ = ["CURSOR_HIDDEN", "MONITOR", "TOKEN_ENV", "WINDOW", "PortalGrant", "PortalStream",
           "ScreenCastPortal", "read_token", "store_token", "token_path"]

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.portal.Desktop"
OBJECT_PATH = "/org/freedesktop/portal/desktop"
SCREENCAST = "org.freedesktop.portal.ScreenCast"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"
TOKEN_ENV = "NITROGEN_CAPTURE_PORTAL_TOKEN"
MONITOR, WINDOW = 1, 2  # ScreenCast source types (a bit mask)
CURSOR_HIDDEN = 1  # cursor_mode: not drawn into the frames
PERSIST_UNTIL_REVOKED = 2
_NO_PORTAL = ("org.freedesktop.DBus.Error.ServiceUnknown",
              "org.freedesktop.DBus.Error.NameHasNoOwner")
_TOKEN_MAX = 4096
_TOKEN_TEXT = re.compile(r"[\x21-\x7e]{1,4096}")
_INSTALL = ("install and start xdg-desktop-portal with a backend for this desktop "
            "(xdg-desktop-portal-gnome, -kde or -wlr)")


def token_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the restore token lives.

    ``$NITROGEN_CAPTURE_PORTAL_TOKEN`` when set, else
    ``$XDG_STATE_HOME/nitrogen-capture/portal-restore-token`` (``~/.local/state`` by default).
    """
    env = os.environ if env is None else env
    if env.get(TOKEN_ENV):
        return Path(env[TOKEN_ENV])
    state = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "nitrogen-capture" / "portal-restore-token"


def _is_token_file(path: Path) -> bool:
    try:
        return path.stat().st_size <= _TOKEN_MAX + 1 and stat.S_ISREG(path.lstat().st_mode) \
            and _TOKEN_TEXT.fullmatch(path.read_text("ascii").strip()) is not None
    except (OSError, UnicodeDecodeError):
        return False


TOKEN_KIND = OutputKind("portal restore token", _is_token_file,
                        explain=lambda p: "not one line of token text")


def read_token(path: Path) -> str | None:
    """The stored restore token, or None (no file, or not a token: then the picker shows)."""
    if not _is_token_file(path):
        if path.exists():
            log.warning("portal restore token %s is not a token; ignoring it", path)
        return None
    return path.read_text("ascii").strip()


def store_token(path: Path, token: str) -> None:
    """Replace the stored restore token, atomically (a crash leaves the old one or the new one).

    Raises:
        OutputError: something that is not a token file (or a link) is at ``path``.
    """
    if _TOKEN_TEXT.fullmatch(token) is None:
        log.warning("the portal returned an unusable restore token; not storing it")
        return
    check_output(path, TOKEN_KIND, label="restore token file")
    make_dirs(path.parent)
    # The token lets this user's programs skip the portal's dialog: readable by its owner only.
    with atomic_file(path) as f:
        if sys.platform != "win32":  # no fchmod there (mypy --platform win32); Linux-only path
            os.fchmod(f.fileno(), 0o600)
        f.write((token + "\n").encode("ascii"))


@dataclass(frozen=True)
class PortalStream:
    """One stream ``Start`` granted: its PipeWire node and, where given, where it sits.

    ``position`` and ``size`` are in the compositor's layout coordinates (a monitor's place on
    the desktop); ``source_type`` is :data:`MONITOR` or :data:`WINDOW` (None when not given).
    """

    node_id: int
    position: tuple[int, int] | None = None
    size: tuple[int, int] | None = None
    source_type: int | None = None


@dataclass(frozen=True)
class PortalGrant:
    """What the portal handed out: the PipeWire remote fd (ours to close) and its streams."""

    fd: int
    version: int
    streams: tuple[PortalStream, ...]
    restore_token_used: bool
    restore_token_stored: bool


def _jeepney() -> Any:
    try:
        import jeepney
        import jeepney.io.blocking
    except ImportError as exc:
        raise missing_dependency("jeepney", "wayland", "Wayland screen capture") from exc
    return jeepney


def _variant(value: Any) -> Any:
    """The value of a jeepney variant ``(signature, value)``; other values as they are."""
    return value[1] if isinstance(value, tuple) and len(value) == 2 \
        and isinstance(value[0], str) else value


def _pair(value: Any) -> tuple[int, int] | None:
    value = _variant(value)
    return (int(value[0]), int(value[1])) if value is not None else None


class ScreenCastPortal:
    """One ScreenCast session: :meth:`start` runs the four calls, :meth:`close` ends it.

    Args:
        source_types: :data:`MONITOR`, :data:`WINDOW` or both (or-ed).
        reset: ignore the stored restore token (the picker shows) and replace it.
        token_file: where the restore token is kept (default :func:`token_path`).
        timeout_s: how long a plain call or request may take.
        pick_timeout_s: how long ``Start`` may wait (the user picking in the dialog).
        connect: opens the bus connection (tests); default the session bus with fd passing.
    """

    def __init__(self, source_types: int = MONITOR, *, reset: bool = False,
                 token_file: Path | None = None, timeout_s: float = 10.0,
                 pick_timeout_s: float = 300.0,
                 connect: Callable[[], Any] | None = None) -> None:
        self.source_types = source_types
        self.reset = reset
        self.token_file = token_file if token_file is not None else token_path()
        self.timeout_s = timeout_s
        self.pick_timeout_s = pick_timeout_s
        self._connect = connect
        self._conn: Any = None
        self._session: str | None = None
        self._jp: Any = None
        self._closed: Any = None  # the filter catching the session's Closed signal

    # -- the dance -------------------------------------------------------------------------
    def start(self) -> PortalGrant:
        """Run CreateSession, SelectSources, Start and OpenPipeWireRemote.

        Raises:
            DependencyError: jeepney is not installed (names the ``wayland`` extra).
            PlatformError: no session bus, no portal on it, or no ScreenCast interface.
            CaptureError: the user cancelled, the portal refused or did not answer.
        """
        self._jp = jp = _jeepney()
        self._conn = self._open_bus()
        try:
            version = int(self._property("version"))
            types = int(self._property("AvailableSourceTypes", default=MONITOR))
            cursors = int(self._property("AvailableCursorModes", default=0)) \
                if version >= 2 else 0
            if not types & self.source_types:
                raise CaptureError(
                    f"the ScreenCast portal offers source types {types:#x}, none of "
                    f"{self.source_types:#x} ({self._types_text(self.source_types)})")
            results = self._request("CreateSession", "a{sv}", (
                {"session_handle_token": ("s", self._token())},))
            self._session = str(_variant(results["session_handle"]))
            self._watch_closed(jp)
            options: dict[str, tuple[str, Any]] = {
                "types": ("u", types & self.source_types), "multiple": ("b", False)}
            if cursors & CURSOR_HIDDEN:
                options["cursor_mode"] = ("u", CURSOR_HIDDEN)
            token = None if self.reset else read_token(self.token_file)
            if version >= 4:
                options["persist_mode"] = ("u", PERSIST_UNTIL_REVOKED)
                if token:
                    options["restore_token"] = ("s", token)
            self._request("SelectSources", "oa{sv}", (self._session, options))
            results = self._request("Start", "osa{sv}", (self._session, "", {}),
                                    timeout=self.pick_timeout_s)
            streams = tuple(self._stream(s) for s in _variant(results.get("streams", [])))
            if not streams:
                raise CaptureError("the ScreenCast portal started no stream (nothing picked?)")
            stored = self._keep_token(_variant(results.get("restore_token")))
            fd = self._open_remote(jp)
            return PortalGrant(fd, version, streams, bool(token) and version >= 4, stored)
        except BaseException:
            self.close()
            raise

    def ended(self) -> str | None:
        """Why the cast ended (the portal closed the session, the bus went away), or None.

        Reads what the bus has sent without waiting: cheap enough for every few grabs.
        """
        if self._conn is None or self._closed is None:
            return None
        try:
            while True:
                self._conn.recv_messages(timeout=0)
        except TimeoutError:
            pass
        except (OSError, ValueError, RuntimeError) as exc:
            return f"the session bus connection was lost ({exc})"
        if self._closed.queue:
            return "the portal closed the screen-cast session (sharing was stopped)"
        return None

    def close(self) -> None:
        """End the session (the compositor stops casting) and the bus connection; idempotent."""
        if self._closed is not None:
            self._closed.close()
            self._closed = None
        conn, self._conn = self._conn, None
        session, self._session = self._session, None
        if conn is None:
            return
        try:
            if session is not None:
                msg = self._jp.new_method_call(
                    self._jp.DBusAddress(session, BUS_NAME, SESSION), "Close")
                conn.send_and_get_reply(msg, timeout=self.timeout_s)
        except (OSError, TimeoutError, ValueError) as exc:  # best effort: it ends with us too
            log.debug("portal session close: %s", exc)
        finally:
            conn.close()

    # -- helpers ---------------------------------------------------------------------------
    def _open_bus(self) -> Any:
        if self._connect is not None:
            return self._connect()
        if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            raise PlatformError("Wayland capture needs the D-Bus session bus and "
                                "$DBUS_SESSION_BUS_ADDRESS is not set: run inside the desktop "
                                "session")
        try:
            return self._jp.io.blocking.open_dbus_connection(bus="SESSION", enable_fds=True)
        except (OSError, TimeoutError, ValueError, KeyError) as exc:
            raise PlatformError(f"cannot connect to the D-Bus session bus "
                                f"({os.environ.get('DBUS_SESSION_BUS_ADDRESS')}): {exc}") \
                from exc

    def _call(self, path: str, interface: str, method: str, signature: str | None,
              body: tuple[Any, ...], timeout: float | None = None) -> tuple[Any, ...]:
        jp = self._jp
        msg = jp.new_method_call(jp.DBusAddress(path, BUS_NAME, interface), method,
                                 signature, body)
        try:
            reply = self._conn.send_and_get_reply(msg, timeout=timeout or self.timeout_s)
            return tuple(jp.wrappers.unwrap_msg(reply))
        except jp.wrappers.DBusErrorResponse as exc:
            if exc.name in _NO_PORTAL:
                raise PlatformError(f"no desktop portal on the session bus ({BUS_NAME}): "
                                    f"{_INSTALL}") from exc
            if interface == SCREENCAST or method == "Get":
                raise PlatformError(f"the desktop portal has no ScreenCast interface "
                                    f"({exc.name}): {_INSTALL}") from exc
            raise CaptureError(f"the ScreenCast portal refused {method}: {exc}") from exc
        except TimeoutError as exc:
            raise CaptureError(f"the desktop portal did not answer {method} in "
                               f"{timeout or self.timeout_s:g} s") from exc

    def _property(self, name: str, default: int | None = None) -> Any:
        try:
            (value,) = self._call(OBJECT_PATH, "org.freedesktop.DBus.Properties", "Get", "ss",
                                  (SCREENCAST, name))
        except PlatformError:
            if default is None or name == "version":
                raise
            return default
        return _variant(value)

    @staticmethod
    def _token() -> str:
        return "nitrogen_" + secrets.token_hex(6)

    def _request(self, method: str, signature: str, body: tuple[Any, ...],
                 timeout: float | None = None) -> dict[str, Any]:
        """Call a request method and wait for its ``Response``; return its results."""
        jp = self._jp
        token = self._token()
        options = body[-1]
        options["handle_token"] = ("s", token)
        sender = str(self._conn.unique_name).lstrip(":").replace(".", "_")
        path = f"{OBJECT_PATH}/request/{sender}/{token}"
        rule = jp.MatchRule(type="signal", interface=REQUEST, member="Response", path=path)
        bus = jp.io.blocking.Proxy(jp.bus_messages.message_bus, self._conn)
        bus.AddMatch(rule, _timeout=self.timeout_s)
        wait = timeout or self.timeout_s
        with self._conn.filter(rule) as queue:
            (handle,) = self._call(OBJECT_PATH, SCREENCAST, method, signature, body)
            if handle != path:  # portals before 0.9 chose the path themselves
                log.debug("portal request path %s, expected %s", handle, path)
            try:
                signal = self._conn.recv_until_filtered(queue, timeout=wait)
            except TimeoutError as exc:
                raise CaptureError(f"the ScreenCast portal gave no answer to {method} in "
                                   f"{wait:g} s" + (" (was the picker left open?)"
                                                    if method == "Start" else "")) from exc
        code, results = signal.body
        if code == 1:
            raise CaptureError(f"screen capture cancelled: the portal's {method} was dismissed "
                               "(pick a screen or window in the dialog, or run again)")
        if code != 0:
            raise CaptureError(f"the ScreenCast portal refused {method} (response {code}): "
                               "check the portal's log (journalctl --user) and try "
                               "--portal-reset")
        return dict(results)

    @staticmethod
    def _stream(raw: Any) -> PortalStream:
        node, props = raw
        props = dict(props)
        kind = props.get("source_type")
        return PortalStream(int(node), _pair(props.get("position")), _pair(props.get("size")),
                            None if kind is None else int(_variant(kind)))

    def _keep_token(self, token: Any) -> bool:
        if isinstance(token, str) and token:
            store_token(self.token_file, token)
            return True
        if self.reset:  # --portal-reset replaces the old token, even by none
            try:
                if _is_token_file(self.token_file):
                    self.token_file.unlink()
            except OSError as exc:
                log.warning("could not remove the old restore token %s: %s",
                            self.token_file, exc)
        return False

    def _watch_closed(self, jp: Any) -> None:
        rule = jp.MatchRule(type="signal", interface=SESSION, member="Closed",
                            path=self._session)
        jp.io.blocking.Proxy(jp.bus_messages.message_bus, self._conn).AddMatch(
            rule, _timeout=self.timeout_s)
        self._closed = self._conn.filter(rule, bufsize=4)

    def _open_remote(self, jp: Any) -> int:
        (fd,) = self._call(OBJECT_PATH, SCREENCAST, "OpenPipeWireRemote", "oa{sv}",
                           (self._session, {}))
        if hasattr(fd, "to_raw_fd"):
            return int(fd.to_raw_fd())
        raise CaptureError("the portal's OpenPipeWireRemote returned no file descriptor "
                           "(the bus does not pass file descriptors?)")

    @staticmethod
    def _types_text(types: int) -> str:
        return " and ".join(n for bit, n in ((MONITOR, "monitor"), (WINDOW, "window"))
                            if types & bit) or "none"
