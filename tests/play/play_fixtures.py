"""Running ``nitrogen-capture play`` against the demo game under Xvfb, for the play tests.

``play_process`` starts the command in its own process group (so a test can signal the group the
way a terminal's Ctrl+C does) with its stderr in a file, and always ends it. ``HOLD_W`` is a
local policy file that holds W on every step, for tests that need a key held when control ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from e2e_fixtures import cli, x_env

__all__ = ["HOLD_W", "PLAY_FLAGS", "game_log", "meta", "play_process"]

# What every play test records with: the demo game by PID, no cue, no indicator, no status line.
PLAY_FLAGS = ("--start-immediately", "--fps", "30", "--cue", "none", "--indicator", "none",
              "--status-interval", "0")

HOLD_W = '''\
import numpy as np


def hold_w(frame):
    """Hold W (the default layout's first key) whatever the frame shows."""
    row = np.zeros(28, dtype=np.float32)
    row[0] = 1.0
    return row
'''


@contextmanager
def play_process(display: str, tmp: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``nitrogen-capture play ARGS`` in its own process group; killed if still running."""
    err = (tmp / "play.stderr").open("w", encoding="utf-8")
    proc = subprocess.Popen(cli("play", *args), env=x_env(display), stdout=subprocess.PIPE,
                            stderr=err, text=True, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        err.close()


def meta(root: Path) -> dict[str, Any]:
    """A session's meta.json."""
    return dict(json.loads((root / "meta.json").read_text(encoding="utf-8")))


def game_log(path: Path) -> dict[str, Any]:
    """The demo game's ``--log`` JSON."""
    return dict(json.loads(path.read_text(encoding="utf-8")))
