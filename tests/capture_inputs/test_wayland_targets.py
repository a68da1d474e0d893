"""Wayland targets, tier 0: the sway window backend against a fake i3 IPC server, the desktop
detection and the ``auto`` path choice, and the CLI lines they print.

The fake server speaks the real protocol on a real Unix socket (``i3-ipc``, length, type, JSON)
and answers ``GET_TREE``/``GET_OUTPUTS`` with trees shaped as sway 1.7's (the field names and
nesting of a real ``swaymsg -t get_tree``). The real sway is in tests/wayland/.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from cli_run import run_cli
from nitrogen_capture.capture.base import Region
from nitrogen_capture.config import RecordConfig, TargetSpec
from nitrogen_capture.desktop import Desktop, choose_paths, detect_desktop
from nitrogen_capture.errors import PlatformError, TargetNotFound
from nitrogen_capture.targets import WindowTarget, format_window_table, resolve_target

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sway's IPC is a Unix socket")

ME = os.getpid()
MY_NAME = psutil.Process(ME).name()


def view(cid: int, title: str, rect: tuple[int, int, int, int], *, shell: str = "xdg_shell",
         focused: bool = False, visible: bool = True, pid: int = ME,
         geometry: tuple[int, int] | None = None, floating: bool = False) -> dict[str, Any]:
    """A view as sway 1.7 reports it: ``rect`` is x, y, w, h of the content."""
    x, y, w, h = rect
    gw, gh = geometry or (w, h)
    node: dict[str, Any] = {
        "id": cid, "type": "floating_con" if floating else "con", "name": title,
        "focused": focused, "visible": visible, "pid": pid, "shell": shell,
        "rect": {"x": x - 2, "y": y, "width": w + 4, "height": h + 2},
        "window_rect": {"x": 2, "y": 0, "width": w, "height": h},
        "deco_rect": {"x": 0, "y": 0, "width": w + 4, "height": 25},
        "geometry": {"x": 0, "y": 0, "width": gw, "height": gh},
        "nodes": [], "floating_nodes": [],
        "app_id": "nitro.game" if shell == "xdg_shell" else None,
        "window": 4194312 if shell == "xwayland" else None,
    }
    if shell == "xwayland":
        node["window_properties"] = {"class": "NitroX", "instance": "nitrox", "title": title}
    return node


def tree(*views: dict[str, Any]) -> dict[str, Any]:
    """root > output HEADLESS-1 > workspace 1 > the views (floating ones apart)."""
    tiled = [v for v in views if v["type"] == "con"]
    floating = [v for v in views if v["type"] == "floating_con"]
    workspace = {"id": 4, "type": "workspace", "name": "1", "nodes": tiled,
                 "floating_nodes": floating, "rect": {"x": 0, "y": 0, "width": 1280,
                                                      "height": 720}}
    output = {"id": 3, "type": "output", "name": "HEADLESS-1", "nodes": [workspace],
              "floating_nodes": [], "rect": {"x": 0, "y": 0, "width": 1280, "height": 720}}
    scratch = {"id": 2147483647, "type": "output", "name": "__i3", "floating_nodes": [],
               "nodes": [{"id": 2147483646, "type": "workspace", "name": "__i3_scratch",
                          "nodes": [], "floating_nodes": []}]}
    return {"id": 1, "type": "root", "name": "root", "nodes": [scratch, output],
            "floating_nodes": []}


OUTPUTS = [{"name": "HEADLESS-1", "active": True,
            "rect": {"x": 0, "y": 0, "width": 1280, "height": 720}},
           {"name": "HEADLESS-2", "active": True,
            "rect": {"x": 1280, "y": 0, "width": 800, "height": 600}},
           {"name": "OFF", "active": False, "rect": {"x": 0, "y": 0, "width": 0, "height": 0}}]


class FakeSway:
    """An i3 IPC server on a Unix socket: real framing, replies from :attr:`tree`."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.tree: dict[str, Any] = tree()
        self.requests: list[int] = []
        self.hang_up_after: int | None = None  # close a connection after N replies
        self.with_seats = True  # answer GET_SEATS (else: an unknown message type)
        self._srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._srv.bind(self.path)
        self._srv.listen(4)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        replies = 0
        with conn:
            while True:
                head = conn.recv(14, socket.MSG_WAITALL)
                if len(head) < 14:
                    return
                assert head[:6] == b"i3-ipc"
                length, kind = struct.unpack("=II", head[6:])
                if length:
                    conn.recv(length, socket.MSG_WAITALL)
                self.requests.append(kind)
                body = {4: self.tree, 3: OUTPUTS, 101: self.seats()}.get(
                    kind, {"error": "unknown message type"})
                data = json.dumps(body).encode()
                conn.sendall(b"i3-ipc" + struct.pack("=II", len(data), kind) + data)
                replies += 1
                if self.hang_up_after is not None and replies >= self.hang_up_after:
                    return

    def seats(self) -> Any:
        """GET_SEATS as sway answers it: seat0's focus is the focused node (0: none)."""
        if not self.with_seats:
            return {"success": False, "error": "unknown message type"}  # not a list: no seats

        def focused(node: dict[str, Any]) -> int:
            if node.get("focused"):
                return int(node["id"])
            kids = list(node.get("nodes") or ()) + list(node.get("floating_nodes") or ())
            return next((f for f in map(focused, kids) if f), 0)

        return [{"name": "seat0", "capabilities": 3, "focus": focused(self.tree), "devices": []}]

    def close(self) -> None:
        if not self._stop:
            self._stop = True
            # close() alone leaves the thread blocked in accept() for the rest of the run;
            # shutdown() wakes it (EINVAL), then it returns and is joined.
            with contextlib.suppress(OSError):
                self._srv.shutdown(socket.SHUT_RDWR)
            self._srv.close()
            self._thread.join(timeout=10)
            os.unlink(self.path)


@pytest.fixture
def sway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSway]:
    server = FakeSway(tmp_path / "sway-ipc.sock")
    for name in ("DISPLAY", "XDG_SESSION_TYPE", "XDG_CURRENT_DESKTOP", "NITROGEN_CAPTURE_BACKEND",
                 "NITROGEN_INPUT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-1")
    monkeypatch.setenv("SWAYSOCK", server.path)
    yield server
    server.close()


NATIVE = (320, 191, 640, 360)
XWAY = (480, 240, 320, 240)


def test_list_windows_native_and_xwayland(sway: FakeSway) -> None:
    from nitrogen_capture.targets._sway import SwayWindowBackend

    sway.tree = tree(view(7, "Native Game", NATIVE),
                     view(8, "XW Game", XWAY, shell="xwayland", focused=True, floating=True),
                     view(9, "Elsewhere", (0, 0, 100, 100), visible=False))
    backend = SwayWindowBackend()
    try:
        wins = {w.title: w for w in backend.list_windows()}
        assert sorted(wins) == ["Elsewhere", "Native Game", "XW Game"]
        assert wins["Native Game"].region == Region.from_xywh(*NATIVE)
        assert wins["XW Game"].region == Region.from_xywh(*XWAY)
        assert wins["Elsewhere"].region is None  # a hidden workspace: no region
        assert (wins["Native Game"].shell, wins["XW Game"].shell) == ("xdg_shell", "xwayland")
        assert (wins["Native Game"].app_id, wins["XW Game"].app_id) == ("nitro.game", "NitroX")
        assert (wins["Native Game"].x11_window, wins["XW Game"].x11_window) == (None, 4194312)
        assert wins["XW Game"].focused and not wins["Native Game"].focused
        assert wins["Native Game"].pid == ME and wins["Native Game"].process == MY_NAME
        assert backend.focused_window() == 8
        sway.with_seats = False  # a compositor without GET_SEATS: the tree tells
        assert backend.focused_window() == 8
        sway.with_seats = True
        assert backend.geometry(7) == Region.from_xywh(*NATIVE)
        assert backend.geometry(99) is None and not backend.exists(99) and backend.exists(9)
        assert backend.outputs() == [Region(0, 0, 1280, 720), Region(1280, 0, 2080, 600)]
        assert set(sway.requests) == {3, 4, 101}
        table = format_window_table(backend.list_windows())
        assert table.splitlines()[0].split() == ["ID", "PID", "PROCESS", "GEOMETRY", "(x,y",
                                                 "wxh)", "FOCUS", "SHELL", "TITLE"]
        assert "xwayland" in table and "unmapped" in table
    finally:
        backend.close()


def test_the_region_is_the_content_area_not_the_asked_size(sway: FakeSway) -> None:
    from nitrogen_capture.targets._sway import SwayWindowBackend

    # A fixed-size 640x360 SDL game tiled into a 1276x693 cell is configured to the cell and
    # fills it: `geometry` (its floating size) is not what is drawn.
    sway.tree = tree(view(5, "Tiled", (2, 25, 1276, 693), geometry=(640, 360)))
    backend = SwayWindowBackend()
    try:
        assert backend.geometry(5) == Region.from_xywh(2, 25, 1276, 693)
    finally:
        backend.close()


def test_the_connection_is_reopened_and_a_dead_sway_is_one_line(sway: FakeSway) -> None:
    from nitrogen_capture.targets._sway import SwayWindowBackend

    sway.tree = tree(view(7, "Native Game", NATIVE, focused=True))
    sway.hang_up_after = 1  # every connection answers once, then closes
    backend = SwayWindowBackend()
    try:
        for _ in range(3):
            assert backend.focused_window() == 7
        sway.close()
        assert backend.focused_window() is None and backend.geometry(7) is None
        with pytest.raises(PlatformError, match="cannot reach sway's IPC socket") as err:
            backend.list_windows()
        assert "\n" not in str(err.value)
    finally:
        backend.close()


def test_no_sway_socket_is_one_line(tmp_path: Path) -> None:
    from nitrogen_capture.targets._sway import SwayWindowBackend

    with pytest.raises(PlatformError, match="cannot reach sway's IPC socket"):
        SwayWindowBackend(str(tmp_path / "nope.sock"))


@pytest.mark.parametrize(("spec", "title"), [
    (TargetSpec(window_title="xw game"), "XW Game"),
    (TargetSpec(pid=ME, window_title="Native"), "Native Game"),
    (TargetSpec(process_name="nitro.game"), "Native Game"),  # a Wayland app id names it
    (TargetSpec(process_name=MY_NAME, window_title="XW"), "XW Game"),
])
def test_resolve_target_on_sway_follows_moves_and_focus(sway: FakeSway, spec: TargetSpec,
                                                        title: str) -> None:
    sway.tree = tree(view(7, "Native Game", NATIVE),
                     view(8, "XW Game", XWAY, shell="xwayland", focused=True, floating=True))
    target = resolve_target(spec, wait_s=0)
    try:
        assert isinstance(target, WindowTarget) and target.backend.name == "sway"
        assert target.info.title == title
        cid = target.window_id
        assert target.is_focused() == (title == "XW Game")
        assert target.describe()["shell"] == ("xwayland" if cid == 8 else "xdg_shell")
        moved = (100, 50, 400, 300)
        sway.tree = tree(view(cid, title, moved, focused=True))  # moved, resized, focused
        assert target.refresh() == Region.from_xywh(*moved)
        assert target.capture_target().region == Region.from_xywh(*moved)
        sway.tree = tree(view(cid, title, moved, visible=False))  # to another workspace
        assert target.refresh() == Region.from_xywh(*moved)  # the last region is kept
        sway.tree = tree()
        assert target.refresh() is None  # closed
    finally:
        target.close()


def test_no_match_on_sway_lists_near_matches(sway: FakeSway) -> None:
    sway.tree = tree(view(7, "Native Game", NATIVE))
    with pytest.raises(TargetNotFound, match="near matches: 'Native Game'"):
        resolve_target(TargetSpec(window_title="Native Gam3"), wait_s=0)


def test_monitor_and_region_targets_use_the_outputs(sway: FakeSway) -> None:
    target = resolve_target(TargetSpec(monitor=2))
    assert target.region() == Region(1280, 0, 2080, 600)
    target = resolve_target(TargetSpec(region=Region(1300, 10, 1400, 110)))
    assert target.region() == Region(1300, 10, 1400, 110)


@pytest.mark.parametrize(("env", "expect"), [
    ({"DISPLAY": ":0"}, Desktop("x11", None, ":0")),
    ({}, Desktop("none")),
    ({"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"},
     Desktop("x11", None, ":0", "wayland-0")),
    ({"XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "ubuntu:GNOME", "DISPLAY": ":0",
      "WAYLAND_DISPLAY": "wayland-0"}, Desktop("wayland", "gnome", ":0", "wayland-0")),
    ({"XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "Budgie"}, Desktop("wayland",
                                                                            "budgie")),
    ({"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "KDE"},
     Desktop("wayland", "kde", None, "wayland-0")),
    ({"WAYLAND_DISPLAY": "wayland-1", "SWAYSOCK": "/run/s.sock", "DISPLAY": ":1"},
     Desktop("wayland", "sway", ":1", "wayland-1", "/run/s.sock")),
    ({"XDG_SESSION_TYPE": "wayland", "GAMESCOPE_WAYLAND_DISPLAY": "gamescope-0"},
     Desktop("wayland", "gamescope")),
])
def test_detect_desktop(env: dict[str, str], expect: Desktop) -> None:
    assert detect_desktop(env, platform="linux") == expect
    assert detect_desktop(env, platform="win32").kind == "windows"
    assert detect_desktop(env, platform="darwin").kind == "macos"


SWAY = Desktop("wayland", "sway", ":1", "wayland-1", "/run/s.sock")
BUS = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/bus"}


def test_choose_paths_on_wayland() -> None:
    yes, no = (lambda: True), (lambda: False)
    c = choose_paths(SWAY, target_shell="xwayland", env=BUS, evdev_ok=no)
    assert (c.capture_backend, c.input_backend) == ("pipewire", "pynput")
    assert c.line == ("Wayland session (sway): frames through the ScreenCast portal (PipeWire); "
                      "input through X11 on XWayland :1 (the game is an XWayland window)")
    c = choose_paths(SWAY, target_shell="xdg_shell", env=BUS, evdev_ok=yes)
    assert (c.capture_backend, c.input_backend) == ("pipewire", "evdev")
    assert c.line is not None and "native Wayland window" in c.line
    c = choose_paths(SWAY, env=BUS, evdev_ok=no)  # no window: XWayland games only
    assert c.input_backend == "pynput" and "only XWayland games' input" in str(c.line)
    # What is named stays; the override variables keep overriding auto.
    c = choose_paths(SWAY, input_backend="none", env=BUS, evdev_ok=no)
    assert (c.capture_backend, c.input_backend) == ("pipewire", "none")
    assert c.line is not None and "input" not in c.line
    c = choose_paths(SWAY, capture_backend="mss", input_backend="pynput", env=BUS)
    assert (c.capture_backend, c.input_backend, c.line) == ("mss", "pynput", None)
    c = choose_paths(SWAY, target_shell="x11", env={**BUS, "NITROGEN_CAPTURE_BACKEND": "mss"})
    assert (c.capture_backend, c.input_backend) == ("auto", "pynput")


@pytest.mark.parametrize(("desktop", "shell", "env", "match"), [
    (SWAY, "xwayland", {}, "no D-Bus session bus"),
    (SWAY, "xdg_shell", BUS, "native Wayland window and no /dev/input/event"),
    (Desktop("wayland", "gnome", None, "wayland-0"), None, BUS, "no XWayland"),
    (Desktop("wayland", "gnome", None, "wayland-0"), "x11", BUS, "DISPLAY is unset"),
])
def test_choose_paths_refusals_are_one_line(desktop: Desktop, shell: str | None,
                                            env: dict[str, str], match: str) -> None:
    with pytest.raises(PlatformError, match=match) as err:
        choose_paths(desktop, target_shell=shell, env=env, evdev_ok=lambda: False)
    assert "\n" not in str(err.value)


def test_x11_keeps_its_path() -> None:
    for desktop in (Desktop("x11", None, ":0"), Desktop("none"), Desktop("windows")):
        c = choose_paths(desktop, env={})
        assert (c.capture_backend, c.input_backend, c.line) == ("auto", "auto", None)


def test_resolve_auto_paths_asks_the_window_its_shell(sway: FakeSway, tmp_path: Path) -> None:
    from nitrogen_capture.record.autopaths import resolve_auto_paths

    sway.tree = tree(view(8, "XW Game", XWAY, shell="xwayland", focused=True))
    said: list[str] = []
    config = RecordConfig(out=tmp_path / "s", target=TargetSpec(window_title="XW Game"))
    env = {**os.environ, **BUS, "DISPLAY": ":1"}
    got = resolve_auto_paths(config, said.append, env=env)
    assert (got.capture_backend, got.input_backend) == ("pipewire", "pynput")
    assert said == ["Wayland session (sway): frames through the ScreenCast portal (PipeWire); "
                    "input through X11 on XWayland :1 (the game is an XWayland window)"]
    # A native window needs evdev, which this machine cannot read: one line, nothing decided.
    sway.tree = tree(view(7, "Native Game", NATIVE))
    native = RecordConfig(out=tmp_path / "s", target=TargetSpec(window_title="Native"))
    if not any(os.access(p, os.R_OK) for p in Path("/dev/input").glob("event*")):
        with pytest.raises(PlatformError, match="native Wayland window"):
            resolve_auto_paths(native, said.append, env=env)
    # Off Wayland: nothing said, nothing changed.
    said.clear()
    same = resolve_auto_paths(config, said.append, desktop=Desktop("x11", None, ":0"))
    assert same is config and said == []


def test_windows_cli_names_its_source_on_sway(sway: FakeSway,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    sway.tree = tree(view(7, "Native Game", NATIVE), view(8, "XW Game", XWAY, shell="xwayland"))
    r = run_cli(capsys, "windows")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == ("Wayland session (sway): windows from sway's IPC (native Wayland and "
                        "XWayland ones)")
    assert "xdg_shell" in lines[2] and "Native Game" in lines[2]
    assert "xwayland" in lines[3] and "480,240 320x240" in lines[3]


@pytest.fixture
def gnome(monkeypatch: pytest.MonkeyPatch) -> None:
    """A GNOME Wayland session without XWayland: no window list, no screen size."""
    for name in ("DISPLAY", "SWAYSOCK", "NITROGEN_CAPTURE_BACKEND", "NITROGEN_INPUT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "GNOME")


def test_without_sway_or_xwayland_the_picker_decides(gnome: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from nitrogen_capture.targets import auto_window_backend, get_window_backend

    with pytest.raises(PlatformError, match=r"^Wayland session \(gnome\) gives no window list "
                                            r".*the portal's picker decides"):
        get_window_backend()
    with pytest.raises(PlatformError, match="give --region L T R B"):
        resolve_target(TargetSpec())
    # A region is taken as given (the portal's monitor is cropped to it).
    assert resolve_target(TargetSpec(region=Region(0, 0, 640, 360))).region() == \
        Region(0, 0, 640, 360)
    monkeypatch.setenv("DISPLAY", ":0")  # with XWayland: its windows through X11
    assert auto_window_backend() == "x11"


class _XWaylandWindows:
    """An X11 lookup on XWayland that sees one XWayland window."""

    name = "x11"

    def list_windows(self) -> list[Any]:
        from nitrogen_capture.targets import WindowInfo

        return [WindowInfo(0x400001, "Terminal", 7, "xterm", Region(0, 0, 10, 10))]

    def close(self) -> None:
        pass


def test_a_window_xwayland_does_not_see_says_why(gnome: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    with pytest.raises(TargetNotFound, match="only XWayland windows are seen here") as err:
        resolve_target(TargetSpec(window_title="Native Game"), wait_s=0,
                       backend=_XWaylandWindows())  # type: ignore[arg-type]
    assert "\n" not in str(err.value)


@pytest.mark.x11
def test_windows_on_gnome_lists_xwaylands_windows(xvfb_display: str, gnome: None,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DISPLAY", xvfb_display)  # the Xvfb stands in for XWayland
    r = run_cli(capsys, "windows")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == (f"Wayland session (gnome): XWayland windows only, through X11 on "
                        f"{xvfb_display} (this compositor lists no native Wayland windows: the "
                        "portal's picker chooses those)")
    assert lines[1].split()[:3] == ["ID", "PID", "PROCESS"] and "SHELL" not in lines[1]


def test_synthetic_and_named_backends_are_left_alone_on_wayland(sway: FakeSway,
                                                                 tmp_path: Path) -> None:
    from nitrogen_capture.record.autopaths import resolve_auto_paths

    said: list[str] = []
    env = {**os.environ, **BUS, "DISPLAY": ":1"}
    for config in (RecordConfig(out=tmp_path / "s", capture_backend="synthetic",
                                input_backend="scripted"),
                   RecordConfig(out=tmp_path / "s", capture_backend="mss",
                                input_backend="pynput")):
        assert resolve_auto_paths(config, said.append, env=env) is config
    assert said == [] and sway.requests == []  # nothing asked of sway either
