"""``play``'s Windows output for real: ``SendInput`` from the Windows CPython into a pygame window.

Two small pygame windows ("games", :data:`GAME`) lie at the same place on the Xvfb (Wine puts
both at 480,280), the *other* one active and on top, as a browser or a launcher may be over a
game. What the tests show under Wine 8:

* ``prepare`` (``BringWindowToTop`` + ``SetForegroundWindow``, calibrate/_sendinput_win32.py's
  ``focus_window``) makes the game the foreground window *and* the one at the cursor. With
  ``SetForegroundWindow`` alone Wine activated the game without raising it: the click went to
  the other window, which took the focus and the keys after it (probed; fixed by the raise);
* keys sent as scan codes (``KEYEVENTF_SCANCODE``, ``KEYEVENTF_EXTENDEDKEY`` for the arrows)
  reach SDL as the keys they name; a scan code with virtual key 0, or with another key's virtual
  key, is the scan code's key: Wine ignores ``wVk`` under ``KEYEVENTF_SCANCODE``, as Windows
  does (so no xfail here);
* after ``release_all`` the game got a key-up for every key-down and the OS holds no mouse button
  (``GetAsyncKeyState``; under Wine 8 it does not follow keys sent as scan codes alone);
* the two windows' titles must not be parts of each other: ``--window-title`` matches a part of a
  title, so ``ng-play`` would find ``ng-play-other`` too (the first version of these tests did,
  and the keys "went to the wrong window": the one targeted).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nitrogen_capture.rows import SOURCE_POLICY
from winetier import WineTier, WinProcess, activate, winpath, x_window

GAME = """\
import os, sys, time
import pygame
pygame.display.init()
screen = pygame.display.set_mode((320, 240))
pygame.display.set_caption(sys.argv[1])
print("GAME READY", os.getpid(), flush=True)
end = time.monotonic() + 150
names = {pygame.KEYDOWN: "KEYDOWN", pygame.KEYUP: "KEYUP",
         pygame.MOUSEBUTTONDOWN: "BUTTONDOWN", pygame.MOUSEBUTTONUP: "BUTTONUP"}
while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
    for ev in pygame.event.get():
        if ev.type in (pygame.KEYDOWN, pygame.KEYUP):
            print(names[ev.type], pygame.key.name(ev.key), flush=True)
        elif ev.type in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP):
            print(names[ev.type], ev.button, flush=True)
        elif ev.type == pygame.MOUSEMOTION:
            print("MOTION", ev.rel[0], ev.rel[1], flush=True)
        elif ev.type in (pygame.WINDOWFOCUSGAINED, pygame.WINDOWFOCUSLOST):
            print("FOCUS", int(ev.type == pygame.WINDOWFOCUSGAINED), flush=True)
    screen.fill((30, 60, 90))
    pygame.display.flip()
    time.sleep(0.01)
"""

# The output as play's driver uses it: get_output, prepare on the target the real Win32 window
# backend found by title, apply, release_all; then what the OS says is down.
DRIVER = """\
import ctypes, json, sys, time
from nitrogen_capture import winecompat
winecompat.prepare()
from nitrogen_capture.calibrate._sendinput_win32 import INPUT_KEYBOARD, KEYEVENTF_KEYUP, InputSpec
from nitrogen_capture.config import TargetSpec
from nitrogen_capture.keylayout import DEFAULT_LAYOUT, KeyLayout
from nitrogen_capture.play.action import NOTHING, Action
from nitrogen_capture.play.output import OutputSettings, get_output
from nitrogen_capture.targets import resolve_target
user32 = ctypes.WinDLL("user32")
target = resolve_target(TargetSpec(window_title=sys.argv[1]), wait_s=30)
layout = KeyLayout((*DEFAULT_LAYOUT.keys, "up", "wheel_up"), name="wine")
out = get_output(OutputSettings("sendinput", layout))
focused_before = target.is_focused()
out.prepare(target)
steps = [Action.of({"w"}), Action.of({"w", "a"}), Action.of({"a", "space", "up"}),
         Action.of({"lmb"}), Action.of(set(), (5.0, 3.0)), Action.of({"wheel_up"}),
         Action.of({"d", "rmb"}, (-2.0, 0.0))]
sent = []
for step in steps:
    sent += out.apply(step)
    time.sleep(0.1)
vks = {"w": 0x57, "a": 0x41, "s": 0x53, "d": 0x44, "space": 0x20, "up": 0x26, "lmb": 1, "rmb": 2}
down = lambda: sorted(k for k, vk in vks.items() if user32.GetAsyncKeyState(vk) & 0x8000)
held = down()  # d and rmb, from the last step
sent += out.release_all()
time.sleep(0.3)
after = down()
SCAN = 0x0008
for vk in (0, 0x41):  # W's scan code with no virtual key, then with A's
    for up in (0, KEYEVENTF_KEYUP):
        out.api.send_input([InputSpec(INPUT_KEYBOARD, vk, SCAN | up, 0x11)])
        time.sleep(0.1)
time.sleep(0.3)
print("RESULT " + json.dumps({"sent": [[e.device, e.code, e.value] for e in sent],
                              "held": held, "after": after, "focused_before": focused_before,
                              "focused": target.is_focused()}), flush=True)
"""


# Run first on the Windows side: wait until Windows itself has made the other window the
# foreground one. The games' FOCUS lines come from SDL, which can hear of an activation before
# Wine has settled it; a SetForegroundWindow racing that settling loses the X focus to it.
SETTLED = """\
import ctypes, sys, time
user32 = ctypes.WinDLL("user32")
other = user32.FindWindowW(None, sys.argv[1])
deadline = time.monotonic() + 30
while user32.GetForegroundWindow() != other and time.monotonic() < deadline:
    time.sleep(0.02)
print("SETTLED", int(user32.GetForegroundWindow() == other), flush=True)
"""


def focus(game: WinProcess) -> bool:
    """Whether the game's last FOCUS line says it has the keyboard focus."""
    states = [x for x in game.stdout.splitlines() if x.startswith("FOCUS ")]
    return bool(states) and states[-1] == "FOCUS 1"


class Games:
    """The two game windows of a test; both stop at teardown."""

    def __init__(self, wine: WineTier, tmp: Path) -> None:
        self.wine, self.tmp, self.stop = wine, tmp, tmp / "stop"
        (tmp / "game.py").write_text(GAME)
        self.game = self._start("ng-play-game")
        self.other = self._start("ng-play-other")
        self._activate_other()

    def _activate_other(self, timeout: float = 20) -> None:
        """Make the other window the active one, until the games' own FOCUS lines say so (one
        activation is not always taken by Wine on a loaded machine)."""
        wid = x_window(self.wine.display, "ng-play-other")
        deadline = time.monotonic() + timeout
        while True:
            activate(self.wine.display, wid)
            until = time.monotonic() + 2
            while time.monotonic() < until:
                if focus(self.other) and not focus(self.game) and self._settled():
                    return
                time.sleep(0.05)
            assert time.monotonic() < deadline, self.game.stdout + self.other.stdout

    def _settled(self) -> bool:
        """Whether Windows (not only SDL) has the other window in the foreground."""
        (self.tmp / "settled.py").write_text(SETTLED)
        done = self.wine.python(winpath(self.tmp / "settled.py"), "ng-play-other", timeout=60)
        return "SETTLED 1" in done.stdout

    def _start(self, title: str) -> WinProcess:
        return self.wine.spawn_ready(winpath(self.tmp / "game.py"), title, winpath(self.stop),
                                     marker="GAME READY")

    def close(self) -> None:
        self.stop.touch()
        for proc in (self.game, self.other):
            if proc.proc.poll() is None:
                with contextlib.suppress(AssertionError):  # wait killed it: fine at teardown
                    proc.wait(20)


@pytest.fixture
def games(wine: WineTier, tmp_path: Path) -> Iterator[Games]:
    """The game ``ng-play-game`` under an active ``ng-play-other`` at the same place (titles
    that are not substrings of each other: ``--window-title`` matches a part of a title)."""
    made = Games(wine, tmp_path)
    try:
        yield made
    finally:
        made.close()


def lines(proc: WinProcess, *kinds: str) -> list[str]:
    """The game's event lines of ``kinds``, in order."""
    return [x for x in proc.stdout.splitlines() if x.split(" ", 1)[0] in kinds]


def test_sendinput_reaches_the_window_exactly_and_holds_nothing_after(games: Games) -> None:
    (games.tmp / "driver.py").write_text(DRIVER)
    driver = games.wine.python(winpath(games.tmp / "driver.py"), "ng-play-game", timeout=90)
    assert driver.returncode == 0, driver.stdout + driver.stderr
    result: dict[str, Any] = json.loads(driver.stdout.split("RESULT ", 1)[1])
    games.stop.touch()
    games.game.wait(20)
    assert not result["focused_before"] and result["focused"]
    # What the output says it sent, in its own order (releases first, then presses, motion).
    keys = {"key": ("KEYDOWN", "KEYUP"), "button": ("BUTTONDOWN", "BUTTONUP")}
    buttons = {"lmb": "1", "rmb": "3"}
    expect = [f"{keys[d][0 if v else 1]} {buttons.get(c, c)}" for d, c, v in result["sent"]
              if d in keys]
    wheel = ["BUTTONDOWN 4", "BUTTONUP 4"]  # SDL reports a wheel step up as button 4
    seen = lines(games.game, "KEYDOWN", "KEYUP", "BUTTONDOWN", "BUTTONUP")
    assert [x for x in seen if x not in wheel][:len(expect)] == expect
    assert [x for x in seen if x in wheel] == wheel
    # then the two scan-code probes: W both times (wVk ignored under KEYEVENTF_SCANCODE)
    assert seen[len(expect) + 2:] == ["KEYDOWN w", "KEYUP w"] * 2
    motion = [tuple(map(int, x.split()[1:])) for x in lines(games.game, "MOTION")]
    assert tuple(map(sum, zip(*motion, strict=True))) == (3, 3)  # (5, 3) then (-2, 0)
    # The OS saw the last step's mouse button down, and nothing after release_all. (Wine 8's
    # GetAsyncKeyState does not follow keys sent as scan codes alone: D, down in the game, reads
    # up; measured. The game's own lines below show the keys' release.)
    assert "rmb" in result["held"]
    assert result["after"] == []
    downs = Counter(x.split(" ", 1)[1] for x in lines(games.game, "KEYDOWN"))
    ups = Counter(x.split(" ", 1)[1] for x in lines(games.game, "KEYUP"))
    assert downs == ups and downs["d"] == 1  # every key the output pressed, it released
    # The other window, on top before prepare, got nothing (its first MOTION is its start).
    assert lines(games.other, "KEYDOWN", "KEYUP", "BUTTONDOWN", "BUTTONUP") == []


PLAY = ["-m", "nitrogen_capture", "play", "--policy", "random", "--output", "sendinput",
        "--window-title", "ng-play-game", "--seconds", "3", "--start-immediately", "--fps", "15",
        "--cue", "none", "--indicator", "none", "--status-interval", "0",
        "--capture-backend", "mss"]


def test_play_with_sendinput_drives_the_window_and_records_the_rollout(games: Games) -> None:
    out = games.tmp / "rollout"
    done = games.wine.python(*PLAY, "--out", winpath(out), timeout=150)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    games.stop.touch()
    games.game.wait(20)
    play = json.loads((out / "meta.json").read_text(encoding="utf-8"))["play"]
    assert play["policy"]["spec"] == "random" and play["output"] == {"name": "sendinput",
                                                                      "kind": "keyboard"}
    assert play["ended"] == "max seconds" and play["takeovers"] == []
    stats = play["stats"]
    source = np.load(out / "action_source.npy")
    assert len(source) > 0 and (source == SOURCE_POLICY).all()
    assert stats["human_rows"] == 0 and stats["policy_rows"] == len(source)
    # Every press the driver counted reached the game window, and only those; each released.
    sent = Counter({k: n for k, n in stats["presses_sent"].items()})
    assert sum(sent.values()) > 0
    downs = Counter(x.split(" ", 1)[1] for x in lines(games.game, "KEYDOWN"))
    ups = Counter(x.split(" ", 1)[1] for x in lines(games.game, "KEYUP"))
    assert downs == sent and ups == sent, (games.game.stdout, games.other.stdout)
    assert lines(games.other, "KEYDOWN", "KEYUP") == []
    # The recorder's hooks logged the policy's presses as the input that reached the game.
    events = np.load(out / "events.npy")
    logged = Counter(str(e["code"]) for e in events if e["device"] == "key" and e["value"] > 0)
    assert logged == sent
    check = subprocess.run([sys.executable, "-m", "nitrogen_capture", "validate", "--root",
                            str(out)], capture_output=True, text=True, timeout=300, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
