"""Fixtures and helpers of the tier-1 end-to-end tests (tests/test_e2e_x11.py).

The Xvfb here is the one ``nitrogen-capture demo`` uses (``nitrogen_capture.demo.xvfb``), started
once per test session and separate from the backend tests' display, so windows those tests leave
behind never take the focus from the demo game.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from nitrogen_capture.demo.xvfb import XvfbServer


@pytest.fixture(scope="session")
def demo_display() -> Iterator[str]:
    """A private 1280x720x24 Xvfb for the whole test session (skip when Xvfb is missing)."""
    server = XvfbServer((1280, 720))
    try:
        display = server.start()
    except Exception as exc:  # PlatformError: not installed / did not start
        pytest.skip(f"no Xvfb: {exc}")
    try:
        yield display
    finally:
        server.stop()


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"recorder exited early with {proc.returncode}"
        try:
            return int(json.loads(meta.read_text(encoding="utf-8"))["clock"]["t0_ns"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.02)
    raise AssertionError(f"no {meta} after {timeout} s")


def cli(*args: str) -> list[str]:
    """``python -m nitrogen_capture ARGS``."""
    return [sys.executable, "-m", "nitrogen_capture", *args]
