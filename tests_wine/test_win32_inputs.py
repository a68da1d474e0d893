"""The Win32 input backends for real: the Windows CPython under Wine, input injected through XTEST.

Each test starts small pygame windows ("games") and a driver, all Windows programs. The driver
builds the input sources with the factory ``record`` uses (``get_input_backends("pynput")``:
pynput's low-level hooks plus Raw Input motion), routes them through the recorder's
:class:`InputRouter` with focus read from the real Win32 window backend (``resolve_target`` by
title, ``GetForegroundWindow``), prints ``READY``, and once the Linux side touches a stop file
prints what the sources delivered (``raw``) and what the router kept (``routed``) as JSON.
Foreground changes go through :func:`winetier.activate` (X focus plus ``WM_TAKE_FOCUS``, what a
window manager does; the Xvfb has none).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from nitrogen_capture.demo.player import Player
from winetier import WineTier, WinProcess, activate, winpath, x_window

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
from nitrogen_capture.keylayout import DEFAULT_LAYOUT
from nitrogen_capture.targets import resolve_target
cfg = json.loads(sys.argv[1])
target = resolve_target(TargetSpec(window_title=cfg["title"]), wait_s=30)
router = InputRouter(DEFAULT_LAYOUT, target.is_focused)
raw = []
def sink(event):
    raw.append(event)
    router.push(event)
sources = get_input_backends("pynput", target=target)
for source in sources:
    source.start(sink)
print("READY", json.dumps([s.name for s in sources]), flush=True)
end = time.monotonic() + 60
while not os.path.exists(cfg["stop"]) and time.monotonic() < end:
    time.sleep(0.05)
    router.flush_due(time.monotonic_ns())  # what the recorder's tick does
for source in sources:
    source.stop()
router.flush_due(1 << 62)
rows = lambda events: [[e.device, e.code, e.value] for e in events]
print("RESULT " + json.dumps({"raw": rows(raw), "routed": rows(router.drain()),
                              "dropped_unfocused": router.dropped_unfocused,
                              "hotkeys_seen": router.hotkeys_seen}), flush=True)
"""


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
        proc = self.wine.spawn(winpath(self.tmp / "game.py"), title, winpath(self.stop))
        self.procs.append(proc)
        proc.wait_for("GAME READY", 60)
        return proc, x_window(self.wine.display, title)

    def driver(self, title: str) -> WinProcess:
        """Start the driver on the game titled ``title`` and wait until its hooks are live."""
        cfg = {"title": title, "stop": winpath(self.stop)}
        proc = self.wine.spawn(winpath(self.tmp / "driver.py"), json.dumps(cfg))
        self.procs.append(proc)
        proc.wait_for("READY", 60)
        return proc

    def finish(self, driver: WinProcess) -> dict[str, Any]:
        """Stop everything; the driver's result."""
        time.sleep(0.5)  # the hooks' threads deliver the last events
        self.stop.touch()
        assert driver.wait(60) == 0, driver.stderr
        line = next(x for x in driver.stdout.splitlines() if x.startswith("RESULT "))
        result: dict[str, Any] = json.loads(line[len("RESULT "):])
        assert "Traceback" not in driver.stderr, driver.stderr
        return result


@pytest.fixture
def rig(wine: WineTier, tmp_path: Path) -> Iterator[Rig]:
    """A :class:`Rig` whose programs do not outlive the test."""
    made = Rig(wine, tmp_path)
    try:
        yield made
    finally:
        made.stop.touch()
        for proc in made.procs:
            with contextlib.suppress(AssertionError):  # wait killed it: fine at teardown
                proc.wait(15)


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


IN_LAYOUT = ["w", "a", "s", "d", "space", "e", "q", "1", "enter", "backspace", "lmb", "rmb"]
OUTSIDE = ["h", "y", "tab", "f1"]  # not in the default layout: never routed (privacy)


def test_keys_and_buttons_through_the_low_level_hooks(rig: Rig) -> None:
    game, wid = rig.game("ng-keys")
    with Player(rig.wine.display) as player:
        player.focus(wid)  # the pointer over the game: the clicks land there
        driver = rig.driver("ng-keys")
        activate(rig.wine.display, wid)
        time.sleep(0.3)
        tap(player, IN_LAYOUT + OUTSIDE)
        player.key("shift", True)  # pynput reports "W" and "!": the names must stay w and 1
        tap(player, ["w", "1"])
        player.key("shift", False)
        result = rig.finish(driver)
    injected = [*IN_LAYOUT, *OUTSIDE, "shift", "w", "1"]
    assert presses(result["raw"]) == injected
    kept = [k for k in injected if k not in OUTSIDE]
    assert presses(result["routed"]) == kept
    assert not {code for _, code, _ in result["routed"]} & set(OUTSIDE)
    releases = [c for d, c, v in result["routed"] if d in ("key", "button") and v == 0]
    assert sorted(releases) == sorted(kept)  # every routed press is released
    assert len(keydowns(game)) == len([k for k in injected if k not in ("lmb", "rmb")])


def test_raw_input_motion_sums_equal_the_injected_motion(rig: Rig) -> None:
    _, wid = rig.game("ng-motion")
    steps = [(7, -3)] * 20 + [(-5, 4)] * 10 + [(0, 9), (11, 0)]
    with Player(rig.wine.display) as player:
        player.focus(wid)  # an absolute warp: done before the Raw Input source starts
        driver = rig.driver("ng-motion")
        activate(rig.wine.display, wid)
        time.sleep(0.3)
        for dx, dy in steps:
            player.move(dx, dy)
            time.sleep(0.01)
        result = rig.finish(driver)
    injected = (float(sum(s[0] for s in steps)), float(sum(s[1] for s in steps)))
    assert injected == (101.0, -11.0)
    assert motion(result["raw"]) == injected
    assert motion(result["routed"]) == injected
    assert not presses(result["raw"])


def test_input_for_another_foreground_window_is_not_recorded(rig: Rig) -> None:
    target, t_wid = rig.game("ng-target")
    other, o_wid = rig.game("ng-other")
    display = rig.wine.display
    with Player(display) as player:
        player.focus(o_wid)
        driver = rig.driver("ng-target")
        activate(display, o_wid)
        time.sleep(0.3)
        tap(player, ["w", "a", "e", "lmb", "f8"])  # typed into the other window
        for _ in range(5):
            player.move(3, 3)
            time.sleep(0.01)
        activate(display, t_wid)
        time.sleep(0.3)
        tap(player, ["s", "d"])
        for _ in range(3):
            player.move(2, 2)
            time.sleep(0.01)
        result = rig.finish(driver)
    # The hooks are global: they saw everything; the router kept only the target's share.
    assert presses(result["raw"]) == ["w", "a", "e", "lmb", "f8", "s", "d"]
    assert presses(result["routed"]) == ["s", "d"]
    assert [r for r in result["routed"] if r[0] == "control"] == []  # F8 went to the other
    assert result["hotkeys_seen"] == 1
    assert motion(result["raw"]) == (21.0, 21.0)
    assert motion(result["routed"]) == (6.0, 6.0)
    assert keydowns(other) == ["w", "a", "e", "f8"]
    assert keydowns(target) == ["s", "d"]


def test_hotkeys_through_the_low_level_hooks(rig: Rig) -> None:
    _, wid = rig.game("ng-hotkeys")
    with Player(rig.wine.display) as player:
        player.focus(wid)
        driver = rig.driver("ng-hotkeys")
        activate(rig.wine.display, wid)
        time.sleep(0.3)
        tap(player, ["f8", "f7", "f6"])
        for key in ("t", "p"):  # Ctrl+T resumes, Ctrl+P pauses
            player.key("ctrl", True)
            time.sleep(0.05)
            tap(player, [key])
            player.key("ctrl", False)
            time.sleep(0.1)
        tap(player, ["ctrl", "t", "p"], hold=0.1)  # without Ctrl held: plain layout keys
        result = rig.finish(driver)
    assert presses(result["raw"]) == ["f8", "f7", "f6", "ctrl", "t", "ctrl", "p", "ctrl", "t", "p"]
    controls = [code for device, code, _ in result["routed"] if device == "control"]
    assert controls == ["toggle", "pause", "resume", "resume", "pause"]
    assert presses(result["routed"]) == ["ctrl", "t", "p"]
    assert not {code for _, code, _ in result["routed"]} & {"f6", "f7", "f8"}


PAD = """\
import json, logging, time
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
from nitrogen_capture.inputs._live import gamepad_source
pad = gamepad_source("auto")
events = []
pad.start(events.append)
time.sleep(2.5)  # the first scan and two rescans of the empty slots
pad.stop()
print(json.dumps({"source": pad.name, "events": len(events)}))
"""
NO_PAD = ("WARNING nitrogen_capture.inputs._xinput: no XInput controller connected in any slot "
          "(0-3): the gamepad columns stay neutral until one is plugged in")


def test_xinput_loads_and_says_no_controller_in_one_line(wine: WineTier, tmp_path: Path) -> None:
    (tmp_path / "pad.py").write_text(PAD)
    done = wine.python(winpath(tmp_path / "pad.py"), timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"source": "xinput", "events": 0}
    assert done.stderr.splitlines() == [NO_PAD]


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "record exits 1 under the Windows CPython 3.13: record/pipeline.py WriterThread defines "
    "_handle(), which Python 3.13's threading.Thread.__init__ shadows with its _ThreadHandle "
    "('_thread._ThreadHandle' object is not callable); the venv's 3.11 does not"))
def test_record_with_gamepad_tells_the_user_in_one_line(wine: WineTier, tmp_path: Path) -> None:
    """What a user of ``record --gamepad`` sees with no pad: the one XInput line, no traceback.

    The gamepad part passes under Wine 8; the run fails later in the session writer (see the
    xfail reason), so the exit code is asserted last.
    """
    out = tmp_path / "session"
    done = wine.python("-m", "nitrogen_capture", "record", "--out", winpath(out), "--region",
                       "0", "0", "64", "64", "--seconds", "2", "--fps", "10",
                       "--start-immediately", "--gamepad", "--cue", "none",
                       "--capture-backend", "mss", timeout=180)
    pad_lines = [x for x in done.stderr.splitlines() if "XInput" in x or "controller" in x]
    assert pad_lines == [NO_PAD], done.stderr
    assert "_xinput" not in done.stderr.replace(NO_PAD, "")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
