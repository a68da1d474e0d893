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
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from waiting import wait_until


def x_env(display: str) -> dict[str, str]:
    """Environment for a subprocess on ``display``."""
    return {**os.environ, "DISPLAY": display, "SDL_AUDIODRIVER": "dummy",
            "PYGAME_HIDE_SUPPORT_PROMPT": "1"}


@contextmanager
def demo_game(env: dict[str, str], log: Path, *args: str, stderr: Path | None = None,
              stop_timeout_s: float = 10.0) -> Iterator[subprocess.Popen[bytes]]:
    """Run the demo game with ``env``; SIGTERM on exit (the game then writes ``log``), a kill
    after ``stop_timeout_s``. Its stderr goes to the file ``stderr``, or nowhere."""
    cmd = [sys.executable, "-m", "nitrogen_capture.demo.game", "--log", str(log), *args]
    if stderr is None:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    else:
        with stderr.open("wb") as err:
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=stop_timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def running_game(display: str, log: Path,
                 *args: str) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """Run the demo game on the X ``display`` (:func:`demo_game`)."""
    return demo_game(x_env(display), log, *args)


def wait_for_t0(meta: Path, proc: subprocess.Popen[Any], timeout: float = 30.0) -> int:
    """The recorder's clock origin from its meta.json (fails if the recorder dies first)."""
    return wait_until(lambda: int(json.loads(meta.read_text(encoding="utf-8"))["clock"]["t0_ns"]),
                      f"the clock origin in {meta}", timeout, proc=proc,
                      ignore=(OSError, ValueError, KeyError))


def cli(*args: str) -> list[str]:
    """``python -m nitrogen_capture ARGS``."""
    return [sys.executable, "-m", "nitrogen_capture", *args]
