"""The demo game repaints what another window hid, once that window goes (tier 1, a real Xvfb).

The game pushes only the parts of its frame that changed; without a repaint on expose, a window
that was over it (``calibrate``'s, 480x200) stays in every later frame of a recording of the game.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from e2e_fixtures import x_env
from waiting import wait_until

pytestmark = pytest.mark.x11

MAGENTA = 0xFF00FF  # a colour the demo game never draws
COVER = (200, 200, 480, 200)  # x, y, w, h: inside the game's window, below its overlay band


def _grab(d: Any, x: int, y: int, w: int, h: int) -> np.ndarray:
    """The screen's pixels (BGRX) of the rectangle, as the recorder's grab reads them."""
    from Xlib import X

    img = d.screen().root.get_image(x, y, w, h, X.ZPixmap, 0xFFFFFFFF)
    return np.frombuffer(img.data, np.uint8).reshape(h, w, 4)


def _magenta(pixels: np.ndarray) -> int:
    return int(np.count_nonzero((pixels[..., 2] == 255) & (pixels[..., 1] == 0)
                                & (pixels[..., 0] == 255)))


@pytest.fixture()
def game(xvfb_display: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**x_env(xvfb_display), "SDL_VIDEO_WINDOW_POS": "0,0"}
    proc = subprocess.Popen([sys.executable, "-m", "nitrogen_capture.demo.game",
                             "--size", "800x480", "--fps", "30"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_demo_game_repaints_what_a_window_over_it_hid(
        game: subprocess.Popen[bytes]) -> None:
    from Xlib import X, display

    d: Any = display.Display()
    try:
        scr = d.screen()
        x, y, w, h = COVER
        # The game's background reaches the cover's rectangle: its window is up and drawing.
        wait_until(lambda: int(_grab(d, x, y, w, h)[..., :3].max()) > 0, "the game window", 30,
                   proc=game)
        cover = scr.root.create_window(x, y, w, h, 0, scr.root_depth, X.InputOutput,
                                       X.CopyFromParent, background_pixel=MAGENTA,
                                       override_redirect=True)
        cover.map()
        cover.clear_area()
        d.sync()
        wait_until(lambda: _magenta(_grab(d, x, y, w, h)) > 0.9 * w * h, "the cover window", 10)
        cover.destroy()
        d.sync()
        # The game gets an expose and pushes its whole frame: no pixel of the cover is left.
        wait_until(lambda: _magenta(_grab(d, x, y, w, h)) == 0,
                   lambda: f"{_magenta(_grab(d, x, y, w, h))} pixels of the cover stayed", 10)
        assert game.poll() is None
    finally:
        d.close()
