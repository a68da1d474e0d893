"""Helpers of the Wayland tier's end-to-end tests: the demo game on the stack, sway's view of its
windows, and input through wayvnc.

- :func:`running_game`: the demo game (nitrogen_capture.demo.game) as a native Wayland client
  (``SDL_VIDEODRIVER=wayland``) or under XWayland (``x11``), stopped with SIGTERM (it then
  writes its log).
- :func:`sway_window`: the rectangle sway gives a process's window (layout coordinates, what
  the pipewire backend crops to), waiting for it to be mapped.
- :class:`Vnc`: a minimal RFB 3.8 client on wayvnc's unix socket (no authentication: the
  stack's wayvnc has no config): KeyEvent and PointerEvent, nothing else. wayvnc turns them
  into a virtual keyboard and pointer of sway's seat, so the focused window gets them as from
  real devices (an XWayland window through XWayland: XRecord sees them).
- :class:`VncPlayer`: the demo's scripted :class:`~nitrogen_capture.demo.player.Player` with its
  keys and buttons sent through :class:`Vnc` instead of XTEST (the X connection still finds
  windows), so its truth log is what wayvnc was sent, stamped on the recorder's clock.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from wlstack import Stack

from e2e_fixtures import demo_game
from nitrogen_capture.clock import now_ns
from nitrogen_capture.demo.player import Player
from waiting import wait_until

_KEYSYM_NAMES = {
    "space": "space", "shift": "Shift_L", "ctrl": "Control_L", "alt": "Alt_L",
    "backspace": "BackSpace", "esc": "Escape", "enter": "Return", "tab": "Tab",
    "up": "Up", "down": "Down", "left": "Left", "right": "Right",
    **{f"f{i}": f"F{i}" for i in range(1, 13)},
}
_BUTTON_BITS = {"lmb": 1, "mmb": 2, "rmb": 4}  # RFB button mask: bit 0 left, 1 middle, 2 right


def game_env(stack: Stack, native: bool) -> dict[str, str]:
    """The demo game's environment on ``stack``: a native Wayland client or an XWayland one."""
    env = {**stack.environ(), "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1",
           "SDL_VIDEODRIVER": "wayland" if native else "x11"}
    return env


def running_game(stack: Stack, log: Path, *args: str,
                 native: bool = True) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """The demo game on the stack while the block runs; SIGTERM (it writes ``log``) at the end,
    its stderr in ``log`` with the suffix ``.err``."""
    return demo_game(game_env(stack, native), log, *args, stderr=log.with_suffix(".err"),
                     stop_timeout_s=20)


def swaymsg(stack: Stack, *args: str) -> Any:
    """``swaymsg -r ARGS`` on the stack, its JSON answer."""
    out = subprocess.run(["swaymsg", "-r", *args], env=stack.environ(), capture_output=True,
                         text=True, check=True, timeout=30)
    return json.loads(out.stdout)


def _windows(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for child in node.get("nodes", []) + node.get("floating_nodes", []):
        if child.get("pid"):
            yield child
        yield from _windows(child)


def sway_window(stack: Stack, pid: int, proc: subprocess.Popen[bytes] | None = None,
                timeout: float = 30.0) -> dict[str, Any]:
    """Sway's node of the mapped window of ``pid`` (``rect``, ``shell``, ``focused``...)."""
    def find() -> dict[str, Any] | None:
        for w in _windows(swaymsg(stack, "-t", "get_tree")):
            if w["pid"] == pid and w["rect"]["width"] > 0 and w.get("visible", True):
                return w
        return None

    return wait_until(find, f"a window of PID {pid} in sway's tree", timeout, proc=proc)


def region_args(window: dict[str, Any], size: tuple[int, int] | None = None) -> list[str]:
    """``--region L T R B`` of a sway window's rectangle (its top-left ``size`` when given)."""
    r = window["rect"]
    w, h = size or (r["width"], r["height"])
    return ["--region", str(r["x"]), str(r["y"]), str(r["x"] + w), str(r["y"] + h)]


class Vnc:
    """A minimal RFB 3.8 client (see the module docstring); use as a context manager."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        version = self._recv(12)
        assert version.startswith(b"RFB "), version
        self.sock.sendall(b"RFB 003.008\n")
        types = self._recv(self._recv(1)[0])
        assert 1 in types, f"wayvnc offers no 'None' security: {list(types)}"
        self.sock.sendall(b"\x01")
        assert struct.unpack(">I", self._recv(4))[0] == 0, "RFB security handshake failed"
        self.sock.sendall(b"\x01")  # ClientInit: shared
        self.width, self.height = struct.unpack(">HH", self._recv(4))
        self._recv(16)  # pixel format
        self._recv(struct.unpack(">I", self._recv(4))[0])  # desktop name
        self.buttons = 0
        self.x = self.y = 0

    def _recv(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            part = self.sock.recv(n - len(data))
            if not part:
                raise ConnectionError("wayvnc closed the connection")
            data += part
        return data

    def key(self, keysym: int, down: bool) -> None:
        """KeyEvent."""
        self.sock.sendall(struct.pack(">BBxxI", 4, int(down), keysym))

    def pointer(self, x: int, y: int, buttons: int | None = None) -> None:
        """PointerEvent: absolute position and button mask."""
        self.x, self.y = x, y
        if buttons is not None:
            self.buttons = buttons
        self.sock.sendall(struct.pack(">BBHH", 5, self.buttons, x, y))

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()

    def __enter__(self) -> Vnc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def keysym(key: str) -> int:
    """The X keysym of a canonical key name (the demo layout's)."""
    from Xlib import XK

    sym = int(XK.string_to_keysym(_KEYSYM_NAMES.get(key, key)))
    assert sym, f"no keysym for {key!r}"
    return sym


class VncPlayer(Player):
    """The demo's scripted player, its keys and buttons sent through wayvnc (module docstring).

    Motion is not sent (scripts for it are made with ``mouse=False``): a VNC pointer is
    absolute, and the demo's truth counts relative motion.
    """

    def __init__(self, display: str, vnc: Vnc) -> None:
        super().__init__(display)
        self.vnc = vnc

    def key(self, key: str, down: bool) -> int:
        """Press or release ``key`` (or a mouse button) through wayvnc; the time it was sent."""
        if key in _BUTTON_BITS:
            bit = _BUTTON_BITS[key]
            self.vnc.pointer(self.vnc.x, self.vnc.y,
                             self.vnc.buttons | bit if down else self.vnc.buttons & ~bit)
        else:
            self.vnc.key(keysym(key), down)
        return now_ns()

    def move(self, dx: int, dy: int) -> int:
        """Not supported through VNC here (see the class docstring)."""
        raise AssertionError("VncPlayer sends no relative motion: make the script mouse=False")


# A native Wayland client drawing a frame-number barcode at (BARCODE_X, BARCODE_Y) of its window
# (layout pixels: sway tiles it at 0 0) until its stdin closes; "drawing" once it runs.
BARCODE_X, BARCODE_Y, BARCODE_CELL = 96, 40, 8
_BARCODE_CLIENT = f"""
import sys, threading, pygame
from nitrogen_capture.barcode import draw
pygame.display.init()
assert pygame.display.get_driver() == "wayland", pygame.display.get_driver()
screen = pygame.display.set_mode((640, 360))
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
print("drawing", flush=True)
clock, n = pygame.time.Clock(), 0
while not done.is_set():
    pygame.event.pump()
    screen.fill((30, 30, 30))
    pixels = pygame.surfarray.pixels3d(screen)  # (W, H, 3): draw into its transpose
    draw(pixels.transpose(1, 0, 2), n % (1 << 24), {BARCODE_X}, {BARCODE_Y}, {BARCODE_CELL})
    del pixels
    pygame.display.flip()
    n += 1
    clock.tick(60)
"""


@contextmanager
def barcode_client(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """The barcode client as a native Wayland client of the stack whose environment is ``env``."""
    env = {**env, "SDL_VIDEODRIVER": "wayland", "SDL_AUDIODRIVER": "dummy",
           "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    with subprocess.Popen([sys.executable, "-c", _BARCODE_CLIENT], env=env,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"drawing", "the Wayland client did not start"
        yield proc
        assert proc.stdin is not None
        proc.stdin.close()
