"""X11 input listeners on the XWayland display, for XWayland games, on the headless sway stack.

Input goes in as a person's would: through wayvnc's virtual keyboard and pointer, routed by sway
to the focused window. The ``pynput`` input backend (XRecord for keys, buttons and wheel, XInput2
raw motion) listens on XWayland's display, and the router gates by the X11 target's focus there.
What this pins (issue 23, part 3):

* with the XWayland game focused, every key and click arrives, and raw motion too;
* with a native Wayland window focused, XWayland gets nothing at all (Wayland routes input only
  to the focused client) and its focus is no X window, so the target reads as unfocused: the
  privacy rule holds on this path by construction; a key typed there is never recorded;
* focus back on the game: input arrives again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from wlstack import Stack

from nitrogen_capture.config import TargetSpec
from nitrogen_capture.events import BUTTON, KEY, MOTION, InputEvent
from nitrogen_capture.inputs import get_input_backends
from nitrogen_capture.inputs.router import InputRouter
from nitrogen_capture.keylayout import DEFAULT_LAYOUT
from nitrogen_capture.targets import WindowTarget, get_window_backend, resolve_target
from waiting import wait_until
from wlgame import Vnc

pytestmark = pytest.mark.wayland

GAME = "nitrogen-xwayland-game"
OTHER = "nitrogen-wayland-other"
TIMEOUT_S = 30.0  # a loaded two-core machine; only ever waited on a condition

# An XWayland client: one X window, up until its stdin closes. It selects key and button events
# as a game does: the X server hands XRecord's data over when it flushes output to a client, so
# a key that no client selected would sit in the server until something else is sent.
_X_CLIENT = f"""
import os, sys, threading
import Xlib.display, Xlib.X, Xlib.Xatom
d = Xlib.display.Display()
s = d.screen()
w = s.root.create_window(0, 0, 400, 300, 0, s.root_depth, background_pixel=s.white_pixel,
                         event_mask=Xlib.X.KeyPressMask | Xlib.X.KeyReleaseMask
                         | Xlib.X.ButtonPressMask | Xlib.X.ButtonReleaseMask)
w.set_wm_name({GAME!r})
w.change_property(d.intern_atom("_NET_WM_PID"), Xlib.Xatom.CARDINAL, 32, [os.getpid()])
w.map()
d.sync()
print("mapped", flush=True)
sys.stdin.read()
"""

# A native Wayland client (SDL's wayland driver): one window, up until its stdin closes.
_WL_CLIENT = f"""
import sys, threading, pygame
pygame.display.init()
assert pygame.display.get_driver() == "wayland", pygame.display.get_driver()
screen = pygame.display.set_mode((320, 240))
pygame.display.set_caption({OTHER!r})
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
print("drawing", flush=True)
clock = pygame.time.Clock()
while not done.is_set():
    for ev in pygame.event.get():  # say what this window got: the test waits for it
        if ev.type == pygame.KEYUP:
            print("key", pygame.key.name(ev.key), flush=True)
        elif ev.type == pygame.MOUSEBUTTONUP:
            print("click", ev.button, flush=True)
    screen.fill((30, 60, 90))
    pygame.display.flip()
    clock.tick(30)
"""


def _client(stack: Stack, code: str, greeting: bytes) -> subprocess.Popen[bytes]:
    env = {**stack.environ(), "SDL_VIDEODRIVER": "wayland", "SDL_AUDIODRIVER": "dummy",
           "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != greeting:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the test client did not start ({greeting!r})")
    return proc


def _close(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()  # the client leaves when its stdin closes
    try:
        proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


class _Lines:
    """A client's stdout lines, read by a thread so that a wait for one is bounded."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._out = proc.stdout
        self.lines: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in iter(self._out.readline, b""):
            self.lines.append(line.strip())

    def expect(self, line: bytes) -> None:
        """Wait until the client said ``line`` (it got that input)."""
        wait_until(lambda: line in self.lines, lambda: f"the client reports {line!r}: "
                   f"it said {self.lines}", TIMEOUT_S)


def _sway(stack: Stack, *args: str) -> Any:
    out = subprocess.run(["swaymsg", "-s", stack.env["SWAYSOCK"], "-r", *args],
                         capture_output=True, text=True, timeout=TIMEOUT_S, check=True)
    return json.loads(out.stdout)


def _views(stack: Stack) -> dict[str, dict[str, Any]]:
    """Sway's views by title: ``rect`` (layout coordinates) and ``focused``."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: dict[str, Any]) -> None:
        if node.get("pid") and node.get("name"):
            found[node["name"]] = node
        for child in node.get("nodes", []) + node.get("floating_nodes", []):
            walk(child)

    walk(_sway(stack, "-t", "get_tree"))
    return found


def _centre(view: dict[str, Any]) -> tuple[int, int]:
    r = view["rect"]
    return r["x"] + r["width"] // 2, r["y"] + r["height"] // 2


@pytest.fixture
def on_stack(wayland_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """This process's X and Wayland clients (python-xlib, pynput) talk to the stack."""
    for name, value in wayland_stack.env.items():
        monkeypatch.setenv(name, value)
    yield wayland_stack


def _tap(vnc: Vnc, char: str) -> None:
    vnc.key(ord(char), True)
    vnc.key(ord(char), False)


def _click(vnc: Vnc, x: int, y: int) -> None:
    vnc.pointer(x, y, 1)
    vnc.pointer(x, y, 0)


def test_x11_listeners_on_xwayland_record_the_xwayland_game_only_while_it_has_focus(
        on_stack: Stack) -> None:
    stack = on_stack
    game = _client(stack, _X_CLIENT, b"mapped")
    backend = get_window_backend("x11")
    target: WindowTarget | None = None
    sources: list[Any] = []
    other: subprocess.Popen[bytes] | None = None
    vnc: Vnc | None = None
    try:
        found = resolve_target(TargetSpec(window_title=GAME), wait_s=TIMEOUT_S, backend=backend)
        assert isinstance(found, WindowTarget)
        target = found
        wait_until(target.is_focused, "the XWayland game has X focus", TIMEOUT_S)
        sources = get_input_backends("pynput", target=target, display=stack.env["DISPLAY"])
        assert [s.name for s in sources] == ["pynput", "xi2_raw"]
        assert getattr(sources, "warnings", []) == []
        router = InputRouter(DEFAULT_LAYOUT, target.is_focused)
        got: list[InputEvent] = []

        def seen(device: str, code: str, value: float) -> bool:
            got.extend(router.drain())
            return any((e.device, e.code, e.value) == (device, code, value) for e in got)

        for src in sources:
            src.start(router.push)
        vnc = Vnc(stack.env["WAYVNC_SOCKET"])
        x, y = _centre(_views(stack)[GAME])
        vnc.pointer(x, y)
        _tap(vnc, "w")
        _click(vnc, x, y)
        for i in range(1, 6):
            vnc.pointer(x + 4 * i, y + 2 * i)
        wait_until(lambda: seen(BUTTON, "lmb", 0) and seen(KEY, "w", 0),
                   lambda: f"the key and the click arrive: {got}", TIMEOUT_S)
        # keys and buttons come through two XRecord listeners: each in order, not interleaved
        for device, code in ((KEY, "w"), (BUTTON, "lmb")):
            assert [e.value for e in got if (e.device, e.code) == (device, code)] == [1, 0]
        assert {(e.device, e.code) for e in got if e.device in (KEY, BUTTON)} == {
            (KEY, "w"), (BUTTON, "lmb")}
        wait_until(lambda: got.extend(router.drain()) or any(e.device == MOTION for e in got),
                   lambda: f"raw motion arrives: {got}", TIMEOUT_S)

        # A native Wayland window takes the focus: XWayland sees nothing, X focus is no window.
        other = _client(stack, _WL_CLIENT, b"drawing")
        other_said = _Lines(other)
        wait_until(lambda: _views(stack).get(OTHER, {}).get("focused"),
                   "sway focuses the Wayland window", TIMEOUT_S)
        wait_until(lambda: not target.is_focused(), "the game reads as unfocused", TIMEOUT_S)
        got.clear()
        ox, oy = _centre(_views(stack)[OTHER])
        vnc.pointer(ox, oy)
        _click(vnc, ox, oy)
        _tap(vnc, "e")
        # The Wayland window got E: wayvnc's messages are handled in order, so the click
        # before it is done too and cannot take the focus back after the next step.
        other_said.expect(b"key e")

        # Back on the game: input arrives again, and nothing typed elsewhere came with it.
        _sway(stack, f'[title="{GAME}"] focus')
        wait_until(target.is_focused, "the game has the focus again", TIMEOUT_S)
        x, y = _centre(_views(stack)[GAME])
        vnc.pointer(x, y)
        _tap(vnc, "q")
        wait_until(lambda: seen(KEY, "q", 0), lambda: f"Q arrives: {got}, dropped unfocused "
                   f"{router.dropped_unfocused}", TIMEOUT_S)
        keys = [(e.device, e.code, e.value) for e in got if e.device in (KEY, BUTTON)]
        assert keys == [(KEY, "q", 1), (KEY, "q", 0)], keys
        assert router.dropped_unfocused == 0  # XWayland never even saw the other window's input
    finally:
        if vnc is not None:
            vnc.close()
        for src in sources:
            src.stop()
        if other is not None:
            _close(other)
        if target is not None:
            target.close()
        backend.close()
        _close(game)
