"""Helpers of the tier-1 end-to-end tests (tests/demo/test_e2e_x11.py and the other ``*_x11`` ones).

The demo game's display is the ``demo_display`` fixture (tests/conftest.py, tests/xserver.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from waiting import wait_until


def x_env(display: str) -> dict[str, str]:
    """Environment for a subprocess on ``display``."""
    return {**os.environ, "DISPLAY": display, "SDL_AUDIODRIVER": "dummy",
            "PYGAME_HIDE_SUPPORT_PROMPT": "1"}


@contextmanager
def running_game(display: str, log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run the demo game on ``display``; SIGTERM on exit (the game then writes ``log``)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nitrogen_capture.demo.game", "--log", str(log), *args],
        env=x_env(display), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for_t0(meta: Path, proc: subprocess.Popen[Any], timeout: float = 30.0) -> int:
    """The recorder's clock origin from its meta.json (fails if the recorder dies first)."""
    return wait_until(lambda: int(json.loads(meta.read_text(encoding="utf-8"))["clock"]["t0_ns"]),
                      f"the clock origin in {meta}", timeout, proc=proc,
                      ignore=(OSError, ValueError, KeyError))


def cli(*args: str) -> list[str]:
    """``python -m nitrogen_capture ARGS``."""
    return [sys.executable, "-m", "nitrogen_capture", *args]
