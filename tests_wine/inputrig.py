"""The rig of tests_wine/test_win32_inputs.py: Windows-side scripts and the Linux-side helpers.

``GAME`` is a small pygame window (a "game") that prints the keys it receives; ``DRIVER`` builds
the input sources with the factory ``record`` uses and routes them through the recorder's
:class:`~nitrogen_capture.inputs.router.InputRouter`, with focus from the real Win32 window
backend; :class:`Rig` starts both under Wine and reads the driver's result.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nitrogen_capture.demo.player import Player
from winetier import WineTier, WinProcess, winpath, x_window

GAME = """\
import os, sys, time
import pygame
pygame.display.init()
screen = pygame.display.set_mode((320, 240))
pygame.display.set_caption(sys.argv[1])
print("GAME READY", flush=True)
end = time.monotonic() + 90
while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
    for ev in pygame.event.get():
        if ev.type == pygame.KEYDOWN:
            print("KEYDOWN", pygame.key.name(ev.key), flush=True)
    screen.fill((30, 60, 90))
    pygame.display.flip()
    time.sleep(0.01)
"""

DRIVER = """\
import json, logging, os, sys, time
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
from nitrogen_capture import winecompat
winecompat.prepare()
from nitrogen_capture.config import TargetSpec
from nitrogen_capture.inputs import get_input_backends
from nitrogen_capture.inputs.router import InputRouter
from nitrogen_capture.keylayout import DEFAULT_LAYOUT, load_layout
from nitrogen_capture.targets import resolve_target
cfg = json.loads(sys.argv[1])
layout = load_layout(cfg["layout"]) if cfg.get("layout") else DEFAULT_LAYOUT
target = resolve_target(TargetSpec(window_title=cfg["title"]), wait_s=30)
router = InputRouter(layout, target.is_focused)
raw = []
def sink(event):
    raw.append(event)
    router.push(event)
sources = get_input_backends("pynput", target=target)
for source in sources:
    source.start(sink)
# What the recorder reads at a recording's start: the keys already down, filtered by the router.
held = router.admit_held([e for s in sources for e in s.held_now(layout.keys)])
print("READY", json.dumps([s.name for s in sources]), target.describe()["backend"], flush=True)
end = time.monotonic() + 60
while not os.path.exists(cfg["stop"]) and time.monotonic() < end:
    time.sleep(0.05)
    router.flush_due(time.monotonic_ns())  # what the recorder's tick does
for source in sources:
    source.stop()
router.flush_due(1 << 62)
rows = lambda events: [[e.device, e.code, e.value] for e in events]
print("RESULT " + json.dumps({"raw": rows(raw), "routed": rows(router.drain()),
                              "held": rows(held),
                              "dropped_unfocused": router.dropped_unfocused,
                              "hotkeys_seen": router.hotkeys_seen,
                              "warnings": getattr(sources, "warnings", [])}), flush=True)
"""

# What a user sees when the XInput reader finds no pad (inputs/_xinput.py).
NO_PAD = ("WARNING nitrogen_capture.inputs._xinput: no XInput controller connected in any slot "
          "(0-3): the gamepad columns stay neutral until one is plugged in")


class Rig:
    """Games, one driver and a stop file in ``tmp``; every program is killed at teardown."""

    def __init__(self, wine: WineTier, tmp: Path) -> None:
        self.wine, self.tmp = wine, tmp
        self.stop = tmp / "stop"
        (tmp / "game.py").write_text(GAME)
        (tmp / "driver.py").write_text(DRIVER)
        self.procs: list[WinProcess] = []

    def game(self, title: str) -> tuple[WinProcess, int]:
        """Start a game window titled ``title``; returns it and its X window."""
        proc = self.wine.spawn_ready(winpath(self.tmp / "game.py"), title, winpath(self.stop),
                                     marker="GAME READY")
        self.procs.append(proc)
        return proc, x_window(self.wine.display, title)

    def driver(self, title: str, layout: Path | None = None) -> WinProcess:
        """Start the driver on the game titled ``title`` and wait until its hooks are live."""
        cfg = {"title": title, "stop": winpath(self.stop),
               "layout": winpath(layout) if layout else None}
        proc = self.wine.spawn_ready(winpath(self.tmp / "driver.py"), json.dumps(cfg),
                                     marker="READY")
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        """Stop every program of the rig (a program that does not exit in time is killed)."""
        self.stop.touch()
        for proc in self.procs:
            with contextlib.suppress(AssertionError):  # wait killed it: fine at teardown
                proc.wait(15)

    def finish(self, driver: WinProcess) -> dict[str, Any]:
        """Stop everything; the driver's result."""
        time.sleep(0.5)  # the hooks' threads deliver the last events
        self.stop.touch()
        assert driver.wait(60) == 0, driver.stderr
        line = next(x for x in driver.stdout.splitlines() if x.startswith("RESULT "))
        result: dict[str, Any] = json.loads(line[len("RESULT "):])
        assert "Traceback" not in driver.stderr, driver.stderr
        return result


def tap(player: Player, keys: Sequence[str], hold: float = 0.04) -> None:
    """Press and release each key (or button) in turn through XTEST."""
    for key in keys:
        player.key(key, True)
        time.sleep(hold)
        player.key(key, False)
        time.sleep(hold)


def presses(rows: list[list[Any]], devices: tuple[str, ...] = ("key", "button")) -> list[str]:
    """The codes of the presses among ``rows``, in order."""
    return [code for device, code, value in rows if device in devices and value > 0]


def motion(rows: list[list[Any]]) -> tuple[float, float]:
    """Sums of the ``motion`` dx and dy events."""
    sums = {"dx": 0.0, "dy": 0.0}
    for device, code, value in rows:
        if device == "motion":
            sums[code] += value
    return sums["dx"], sums["dy"]


def keydowns(game: WinProcess) -> list[str]:
    """The pygame key names a game window received, in order."""
    return [x.split(" ", 1)[1] for x in game.stdout.splitlines() if x.startswith("KEYDOWN ")]
