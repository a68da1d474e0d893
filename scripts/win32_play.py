"""A random policy plays the demo game through SendInput: ``play``'s Windows route on a desktop.

Runs natively on Windows (the GitHub Actions workflow, .github/workflows/windows.yml) and under
Wine. It starts the bundled demo game with ``--log``, waits for its window, runs

    nitrogen-capture play --policy random --output sendinput --window-title <the game's title>
        --seconds 5 --start-immediately ...

then ends the game and compares what the game counted (its log's presses per key) with what the
policy sent (``meta.json`` ``play.stats.presses_sent``). It prints the figures ``play`` printed
and one verdict line; it exits 1 when the command failed or the counts differ.

    python scripts/win32_play.py [--seconds 5] [--fps 30]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nitrogen_capture.demo.game import CAPTION
from nitrogen_capture.targets import get_window_backend

GAME_SIZE = "640x360"


def _wait_for_window(game: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """The game window's handle, once it is there."""
    backend = get_window_backend()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if game.poll() is not None:
            raise SystemExit(f"the demo game exited with {game.returncode} before its window")
        for w in backend.list_windows():
            if w.title == CAPTION and w.region is not None:
                return int(w.window_id)
        time.sleep(0.2)
    raise SystemExit(f"no window titled {CAPTION!r} within {timeout:g} s")


def _close(game: subprocess.Popen[bytes], hwnd: int) -> None:
    """Close the game's window: WM_CLOSE ends its loop, and it writes its log.

    A Windows process has no SIGTERM to ask that.
    """
    import ctypes

    ctypes.WinDLL("user32").PostMessageW(hwnd, 0x0010, 0, 0)  # WM_CLOSE
    try:
        game.wait(timeout=30)
    except subprocess.TimeoutExpired:
        game.kill()
        game.wait()


def main() -> int:
    """Play, compare, print; 0 when the game counted exactly what the policy sent."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ng-play-"))
    log, out = work / "game.json", work / "rollout"
    game = subprocess.Popen([sys.executable, "-m", "nitrogen_capture.demo.game", "--size",
                             GAME_SIZE, "--log", str(log)])
    hwnd = 0
    try:
        hwnd = _wait_for_window(game)
        done = subprocess.run(
            [sys.executable, "-m", "nitrogen_capture", "play", "--policy", "random",
             "--output", "sendinput", "--window-title", CAPTION, "--out", str(out),
             "--seconds", str(args.seconds), "--fps", str(args.fps), "--start-immediately",
             "--cue", "none", "--indicator", "none", "--status-interval", "0"],
            capture_output=True, text=True, timeout=300, check=False)
    finally:
        if hwnd:
            _close(game, hwnd)
        else:
            game.kill()
            game.wait()
    print(done.stdout.strip())
    if done.returncode != 0:
        print(f"play failed ({done.returncode}): {done.stderr.strip()}")
        return 1
    sent = json.loads((out / "meta.json").read_text(encoding="utf-8"))["play"]["stats"][
        "presses_sent"]
    counted = {k: v for k, v in json.loads(log.read_text(encoding="utf-8"))["presses"].items()
               if v}
    same = counted == sent
    print(f"{'ok' if same else 'MISMATCH'}: the game counted {counted}, the policy sent {sent}")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if same and sent else 1


if __name__ == "__main__":
    sys.exit(main())
