"""Wayland targets against the real headless sway (the ``wayland_stack`` fixture, conftest.py).

Two pygame clients, one native Wayland (``SDL_VIDEODRIVER=wayland``), one under XWayland
(``x11``), each filling its window with its own colour. The sway window backend must find each
by pid and title with the right shell, give rectangles that the portal's cast of the output
shows in exactly those colours (and XWayland's own X11 geometry for the XWayland one), follow
sway's focus and a move, and ``windows`` must list both saying where the list came from.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from nitrogen_capture.capture.base import Region
from nitrogen_capture.config import TargetSpec
from nitrogen_capture.targets import WindowTarget, resolve_target
from waiting import wait_until

pytestmark = pytest.mark.wayland

SRC = Path(__file__).resolve().parents[2] / "src"
NATIVE = (200, 40, 120)  # RGB
XWAY = (30, 180, 90)
# One window of the given title, size and colour, redrawn until stdin closes.
_CLIENT = """
import sys, threading, pygame
title, w, h, r, g, b = sys.argv[1], *map(int, sys.argv[2:])
pygame.display.init()
screen = pygame.display.set_mode((w, h))
pygame.display.set_caption(title)
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
print(pygame.display.get_driver(), flush=True)
clock = pygame.time.Clock()
while not done.is_set():
    pygame.event.pump()
    screen.fill((r, g, b))
    pygame.display.flip()
    clock.tick(60)
"""


@contextmanager
def _client(env: dict[str, str], driver: str, title: str, size: tuple[int, int],
            colour: tuple[int, int, int]) -> Iterator[subprocess.Popen[bytes]]:
    env = {**env, "SDL_VIDEODRIVER": driver, "SDL_AUDIODRIVER": "dummy",
           "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    argv = [sys.executable, "-c", _CLIENT, title, *map(str, (*size, *colour))]
    # Popen's exit closes the client's stdin (it then leaves) and waits for it.
    with subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip().decode() == driver, f"{title} did not start"
        yield proc


def _swaymsg(*args: str) -> None:
    subprocess.run(["swaymsg", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def desktop(wayland_stack: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process inside the stack's session (its variables), the clients' environment."""
    for name, value in wayland_stack.env.items():
        monkeypatch.setenv(name, value)
    env: dict[str, str] = wayland_stack.environ()
    return env


def _colour_box(frame: bytes, size: tuple[int, int], region: Region,
                colour: tuple[int, int, int]) -> tuple[bool, bool]:
    """(every corner pixel of ``region`` is ``colour``, no pixel just outside it is)."""
    w, _ = size

    def px(x: int, y: int) -> tuple[int, int, int]:
        i = (y * w + x) * 4
        return frame[i + 2], frame[i + 1], frame[i]  # BGRx

    r = region
    inside = [(r.left, r.top), (r.right - 1, r.top), (r.left, r.bottom - 1),
              (r.right - 1, r.bottom - 1)]
    outside = [(x, y) for x, y in ((r.left - 1, r.top), (r.right, r.top), (r.left, r.top - 1),
                                   (r.left, r.bottom)) if 0 <= x < w and 0 <= y < size[1]]
    return (all(px(x, y) == colour for x, y in inside),
            not any(px(x, y) == colour for x, y in outside))


def test_native_and_xwayland_windows_on_sway(desktop: dict[str, str]) -> None:
    from nitrogen_capture.targets._x11 import X11WindowBackend
    from portal_cast import FrameGrabber, open_cast  # the stack's own cast (no backend)

    with _client(desktop, "wayland", "nitrogen-native", (640, 360), NATIVE) as native, \
            _client(desktop, "x11", "nitrogen-xw", (320, 240), XWAY) as xw:
        nt = resolve_target(TargetSpec(pid=native.pid, window_title="nitrogen-native"),
                            wait_s=30)
        xt = resolve_target(TargetSpec(pid=xw.pid, window_title="NITROGEN-XW"), wait_s=30)
        assert isinstance(nt, WindowTarget) and isinstance(xt, WindowTarget)
        try:
            assert (nt.backend.name, nt.info.shell) == ("sway", "xdg_shell")
            assert (xt.backend.name, xt.info.shell) == ("sway", "xwayland")
            assert nt.info.pid == native.pid and xt.info.pid == xw.pid
            # A fixed-size XWayland game floats at its own size; the native one is tiled
            # (the only tile: the whole 1280x720 output, no borders in the stack's config).
            assert xt.region().size == (320, 240)
            x11 = X11WindowBackend()
            try:
                mine = [w for w in x11.list_windows() if w.title == "nitrogen-xw"]
                assert [w.region for w in mine] == [xt.region()]  # XWayland agrees
            finally:
                x11.close()
            # The pixels the portal casts: each region shows its client's colour to its
            # corners and not one pixel beyond (the XWayland window floats over the tile).
            conn, cast = open_cast(desktop["DBUS_SESSION_BUS_ADDRESS"])
            try:
                grabber = FrameGrabber(cast)
                try:
                    def exact() -> bool:
                        w, h, frame = grabber.frame()
                        got = _colour_box(frame, (w, h), xt.region(), XWAY)
                        corners, _ = _colour_box(frame, (w, h), nt.region(), NATIVE)
                        return got == (True, True) and corners and nt.region() == Region(
                            0, 0, w, h)

                    wait_until(exact, "both windows' colours exactly in their regions", 30)
                finally:
                    grabber.close()
            finally:
                conn.close()
            # Focus: the XWayland window came last; focusing the native one moves it there.
            wait_until(xt.is_focused, "the XWayland window focused", 10)
            _swaymsg(f"[con_id={nt.window_id}]", "focus")
            wait_until(lambda: nt.is_focused() and not xt.is_focused(),
                       "sway's focus on the native window", 10)
            # A move is followed (and XWayland sees the same place).
            _swaymsg(f"[con_id={xt.window_id}]", "move", "position", "100", "60")
            moved = Region.from_xywh(100, 60, 320, 240)
            wait_until(lambda: xt.refresh() == moved, "the moved XWayland window", 10)
        finally:
            nt.close()
            xt.close()


def test_windows_lists_both_shells_on_sway(desktop: dict[str, str]) -> None:
    env = {**desktop, "PYTHONPATH": os.pathsep.join([str(SRC), desktop.get("PYTHONPATH", "")])}
    with _client(desktop, "wayland", "nitrogen-native", (640, 360), NATIVE) as native, \
            _client(desktop, "x11", "nitrogen-xw", (320, 240), XWAY) as xw:
        def listed() -> list[str] | None:
            out = subprocess.run([sys.executable, "-m", "nitrogen_capture", "windows"],
                                 env=env, capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            lines = out.stdout.splitlines()
            both = all(any(t in line for line in lines) for t in ("nitrogen-native",
                                                                  "nitrogen-xw"))
            return lines if both else None

        lines = wait_until(listed, "both windows in `windows`", 30)
    assert lines[0] == ("Wayland session (sway): windows from sway's IPC (native Wayland and "
                        "XWayland ones)")
    assert lines[1].split()[-2:] == ["SHELL", "TITLE"]
    row = {line.split()[-1]: line.split() for line in lines[2:]}
    assert row["nitrogen-native"][1] == str(native.pid)
    assert row["nitrogen-native"][-2] == "xdg_shell"
    assert row["nitrogen-xw"][1] == str(xw.pid) and row["nitrogen-xw"][-2] == "xwayland"
    print("\n".join(lines))


def _record(env: dict[str, str], out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**env, "PYTHONPATH": os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]),
           "NITROGEN_CAPTURE_PORTAL_TOKEN": str(out.parent / "portal-token")}
    argv = [sys.executable, "-m", "nitrogen_capture", "record", "--seconds", "2",
            "--start-immediately", "--fps", "30", "--status-interval", "0", "--out", str(out),
            *flags]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180)


def test_record_auto_takes_the_portal_and_xwayland_input(desktop: dict[str, str],
                                                         tmp_path: Path) -> None:
    import json

    import cv2

    from nitrogen_capture.capture import REGISTRY

    if "pipewire" not in REGISTRY:
        pytest.skip("needs the pipewire capture backend (capture/_pipewire.py)")
    out = tmp_path / "s"
    with _client(desktop, "x11", "nitrogen-xw", (320, 240), XWAY) as xw:
        res = _record(desktop, out, "--pid", str(xw.pid))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == (
        "Wayland session (sway): frames through the ScreenCast portal (PipeWire); input through "
        f"X11 on XWayland {desktop['DISPLAY']} (the game is an XWayland window)")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["capture"]["backend"] == "pipewire"
    assert meta["input"]["backends"][0] == "pynput"
    assert (meta["target"]["backend"], meta["target"]["shell"]) == ("sway", "xwayland")
    assert meta["capture"]["region"] == meta["target"]["region"]
    assert meta["capture"]["size"] == [320, 240]
    last = sorted((out / "frames" / "chunk_001").glob("*.png"))[-1]
    frame = cv2.imread(str(last))
    assert frame.shape == (240, 320, 3)
    # The window's pixels: its colour to the four corners (BGR). Not every pixel: where the
    # portal cannot hide the cursor (portal-wlr 0.7), the pointer left by an earlier test of
    # the session may be drawn over the window.
    ours = (frame == XWAY[::-1]).all(axis=2)
    assert ours[0, 0] and ours[0, -1] and ours[-1, 0] and ours[-1, -1]
    assert ours.mean() > 0.95, f"{ours.mean():.1%} of the frame is the window's colour"


def test_record_refuses_a_native_window_without_evdev(desktop: dict[str, str],
                                                      tmp_path: Path) -> None:
    from nitrogen_capture.desktop import evdev_readable

    if evdev_readable():
        pytest.skip("this machine can read /dev/input: evdev would be chosen")
    out = tmp_path / "s"
    with _client(desktop, "wayland", "nitrogen-native", (640, 360), NATIVE):
        res = _record(desktop, out, "--window-title", "nitrogen-native")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.strip().splitlines() == [
        "nitrogen-capture record: error: Wayland session (sway): the game is a native Wayland "
        "window and no /dev/input/event* device is readable: add yourself to the 'input' group "
        "(or a udev rule) and log in again, or record frames only with --input-backend none"]
    assert not out.exists()


def test_calibrate_through_the_portal_and_xwayland(desktop: dict[str, str],
                                                   tmp_path: Path) -> None:
    from nitrogen_capture.capture import REGISTRY

    if "pipewire" not in REGISTRY:
        pytest.skip("needs the pipewire capture backend (capture/_pipewire.py)")
    env = {**desktop, "PYTHONPATH": os.pathsep.join([str(SRC), desktop.get("PYTHONPATH", "")]),
           "NITROGEN_CAPTURE_PORTAL_TOKEN": str(tmp_path / "portal-token")}
    res = subprocess.run([sys.executable, "-m", "nitrogen_capture", "calibrate", "--fps", "30",
                          "--count", "6"], env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines()[0] == (
        "Wayland session (sway): frames through the ScreenCast portal (PipeWire); input through "
        f"X11 on XWayland {desktop['DISPLAY']} (the game is an XWayland window)")
    assert "capture pipewire, input pynput" in res.stdout
    assert "6 presses, 6 logged, 6 seen in a frame" in res.stdout
    print(res.stdout)
