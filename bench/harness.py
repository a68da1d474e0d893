"""What the recording benchmarks share: the textured game, the recorder's command line, clean-up.

``bench/record.py`` and ``bench/soak.py`` record the same game the same way: a private Xvfb at
the game's size, ``python -m nitrogen_capture.demo.game --scene textured`` filling it (every
frame differs: scrolling noise and sprites, ~1 MB per 720p PNG), then
``python -m nitrogen_capture record --pid <game> ...`` with no input backend. Every process is
started through :class:`~nitrogen_capture.demo.runner.Started` inside :func:`run_cleanly`, so
a signal at any point finds it, and every process and the work folder are gone when it returns.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nitrogen_capture.demo.runner import DemoInterrupted, Started, stop_on_signals
from nitrogen_capture.demo.xvfb import XvfbServer

GAME_STOP_S = 10.0  # SIGTERM, then this long before SIGKILL
RECORDER_STOP_S = 60.0  # SIGINT is the recorder's clean stop; it merges before it exits


@dataclass(frozen=True)
class TexturedGame:
    """A running textured game: its display, the environment to run X clients in, the PIDs."""

    display: str
    env: dict[str, str]
    pid: int
    xvfb_pid: int


def wait_window(game: subprocess.Popen[bytes], display: str, log: Path,
                timeout: float = 30.0) -> None:
    """Wait until the game's window is mapped (so no run counts the game's start-up).

    Raises RuntimeError with the game's last line of ``log`` when it exits first.
    """
    from nitrogen_capture.targets import get_window_backend

    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    try:
        backend = get_window_backend("x11")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if game.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:]
                raise RuntimeError(f"the demo game exited with {game.returncode}: "
                                   f"{' / '.join(tail) or '(no output)'}")
            if any(w.pid == game.pid and w.region is not None for w in backend.list_windows()):
                return
            time.sleep(0.1)
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
    raise RuntimeError(f"the demo game (PID {game.pid}) showed no window within {timeout:g} s")


@contextlib.contextmanager
def textured_game(size: tuple[int, int], game_fps: float, started: Started,
                  log: Path, frames_log: Path | None = None) -> Iterator[TexturedGame]:
    """A private Xvfb of ``size`` and the textured game filling it, its window mapped.

    The game's stderr goes to ``log``; with ``frames_log`` it writes there, when it stops, the
    monotonic time of every frame it drew (its own fps: bench/load.py). Both are stopped when
    the block ends.
    """
    server = XvfbServer(size)
    display = server.start()
    try:
        assert server.pid is not None
        env = {**os.environ, "DISPLAY": display, "SDL_AUDIODRIVER": "dummy",
               "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
        with log.open("wb") as err:
            game = started.spawn(
                [sys.executable, "-m", "nitrogen_capture.demo.game", "--scene", "textured",
                 "--size", f"{size[0]}x{size[1]}", "--fps", f"{game_fps:g}",
                 *(["--log", str(frames_log)] if frames_log is not None else [])],
                signal.SIGTERM, GAME_STOP_S, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_window(game, display, log)
            yield TexturedGame(display, env, game.pid, server.pid)
        finally:
            started.stop(game)
    finally:
        server.stop()


def record_cmd(pid: int, out: Path, *, fps: float, seconds: float, kind: str,
               status_interval: float = 0.0, merge: bool = False,
               extra: tuple[str, ...] = ()) -> list[str]:
    """``python -m nitrogen_capture record`` of the game ``pid`` into the new session ``out``.

    No input backend, no cue, no focus pause (nothing plays), the mss backend, and libx264 for
    video: what ``auto`` falls back to on a machine without a hardware encoder (``auto`` would
    probe hardware encoders first), and the baseline's encoder. ``extra``: more flags (e.g.
    ``--encoder-priority low``, to compare a policy).
    """
    return [sys.executable, "-m", "nitrogen_capture", "record", "--pid", str(pid),
            "--fps", f"{fps:g}", "--seconds", f"{seconds:g}", "--frame-format", kind,
            "--start-immediately", "--status-interval", f"{status_interval:g}",
            "--input-backend", "none", "--cue", "none", "--no-focus-pause",
            "--capture-backend", "mss", "--out", str(out),
            *([] if merge else ["--no-merge"]),
            *(["--video-encoder", "libx264"] if kind == "video" else []), *extra]


def run_cleanly(prefix: str, body: Callable[[Path, Started], None],
                parent: Path | None = None) -> bool:
    """Run ``body(work, started)`` in a new folder ``work`` (under ``parent``); False if stopped.

    The first SIGINT or SIGTERM stops it (later ones are ignored until the clean-up is done).
    Whatever happens, every process registered in ``started`` is stopped, newest first, and
    ``work`` is removed.
    """
    started = Started()
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        with stop_on_signals():
            try:
                body(work, started)
            finally:
                started.stop_all()
    except DemoInterrupted as exc:
        print(f"interrupted ({exc.signal_name}): stopped everything, removed {work}",
              file=sys.stderr)
        return False
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return True
