"""The X11 indicator on a real Xvfb, and ``record --indicator x11`` of the demo game.

The point of the indicator is a visible state that is never in the data, so the recordings here
scan every decoded frame for the indicator's colours (its background and every dot colour,
none of which the demo game draws) while full-screen grabs of the same display, taken during
the same recording, must find them: a test that could not see the indicator could not fail.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from e2e_fixtures import cli, running_game, wait_for_t0, x_env
from nitrogen_capture.capture.base import Region
from nitrogen_capture.demo.player import Player
from nitrogen_capture.indicator import IndicatorState, get_indicator
from nitrogen_capture.indicator._x11 import X11Indicator
from nitrogen_capture.indicator.base import BACKGROUND, DOT_COLOURS
from nitrogen_capture.indicator.place import overlaps
from nitrogen_capture.session.reader import SessionReader
from nitrogen_capture.targets._x11 import X11WindowBackend
from waiting import wait_until
from xserver import private_xvfb

pytestmark = pytest.mark.x11

SCREEN = (1280, 720)
GAME_SIZE = "800x450"  # the demo centres it: corners of the screen stay free
INDICATOR_COLOURS = (BACKGROUND, *DOT_COLOURS.values())
FLAT_BACKGROUND = (40, 44, 52)  # the demo's flat scene (demo/scene.py): the frames are the game
REC = IndicatorState("recording", 2, 5, 42.0)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A private Xvfb: no window left by another test module covers a corner here."""
    with private_xvfb(SCREEN) as display:
        yield display


@pytest.fixture(scope="module")
def game(display: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int, Region]]:
    """The demo game (pid, window id, its client rectangle) for the whole module."""
    log = tmp_path_factory.mktemp("game") / "game.json"
    with running_game(display, log, "--size", GAME_SIZE) as proc, Player(display) as player:
        wid = player.find_window(proc.pid)
        backend = X11WindowBackend(display)
        try:
            region = backend.geometry(wid)
        finally:
            backend.close()
        assert region is not None
        yield proc.pid, wid, region




def screen_rgb(display: str) -> npt.NDArray[np.uint8]:
    """A full-screen grab of ``display`` (H, W, 3) RGB, on a connection of its own."""
    from Xlib import X
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    try:
        img = d.screen().root.get_image(0, 0, *SCREEN, X.ZPixmap, 0xFFFFFFFF)
    finally:
        d.close()
    bgrx = np.frombuffer(img.data, np.uint8).reshape(SCREEN[1], SCREEN[0], 4)
    return np.ascontiguousarray(bgrx[:, :, 2::-1])


def colour_mask(rgb: npt.NDArray[np.uint8],
                colours: tuple[tuple[int, int, int], ...] = INDICATOR_COLOURS
                ) -> npt.NDArray[np.bool_]:
    """Pixels of ``rgb`` that have exactly one of ``colours``."""
    mask = np.zeros(rgb.shape[:2], bool)
    for c in colours:
        mask |= (rgb == np.array(c, np.uint8)).all(axis=-1)
    return mask


def bbox(mask: npt.NDArray[np.bool_]) -> Region:
    ys, xs = np.nonzero(mask)
    return Region(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def x_window(display: str, wid: int) -> tuple[Any, Any]:
    from Xlib import display as xdisplay

    d = xdisplay.Display(display)
    return d, d.create_resource_object("window", wid)


def top_level(win: Any) -> int:
    """The id of the root's child that holds ``win``."""
    while True:
        tree = win.query_tree()
        if tree.parent.id == tree.root.id:
            return int(win.id)
        win = tree.parent


# -- the window --------------------------------------------------------------------------------
def test_window_is_override_redirect_above_the_game_and_outside_the_capture(
        display: str, game: tuple[int, int, Region]) -> None:
    _, game_wid, region = game
    ind = X11Indicator(display)
    try:
        ind.avoid(region)
        ind.show(REC)
        wait_until(lambda: ind.paints >= 1, what="first paint")
        d, win = x_window(display, ind.window.id)
        try:
            attrs = win.get_attributes()
            assert attrs.override_redirect and attrs.map_state == 2  # IsViewable
            geo = win.get_geometry()
            spot = Region(geo.x, geo.y, geo.x + geo.width, geo.y + geo.height)
            assert spot.right == SCREEN[0] - 4 and spot.top == 4  # the top-right corner
            assert not overlaps(spot, region)
            # Above the game in the stacking order (query_tree lists bottom to top).
            game_win = d.create_resource_object("window", game_wid)
            order = [c.id for c in d.screen().root.query_tree().children]
            assert order.index(win.id) > order.index(top_level(game_win))
        finally:
            d.close()
        # Untitled: the window lookup of `record` never offers it as a target.
        backend = X11WindowBackend(display)
        try:
            assert ind.window.id not in {w.window_id for w in backend.list_windows()}
        finally:
            backend.close()
        # On the screen where it says, red for REC, and nowhere inside the game.
        shot = screen_rgb(display)
        assert bbox(colour_mask(shot)) == spot
        red = colour_mask(shot, (DOT_COLOURS["recording"],))
        assert red.sum() > 50 and not red[region.top:region.bottom, region.left:region.right].any()
        # The capture moves into the top-right corner: the indicator goes to the top left.
        ind.avoid(Region(640, 0, 1280, 400))
        wait_until(lambda: ind.spot == (4, 4), what="move to the top-left corner")
        wait_until(lambda: bbox(colour_mask(screen_rgb(display))).left == 4, what="drawn there")
        assert not colour_mask(screen_rgb(display))[:, 640:].any()
    finally:
        ind.close()
    wait_until(lambda: not colour_mask(screen_rgb(display)).any(), what="gone after close")


def test_repaints_after_being_covered(display: str) -> None:
    from Xlib import X
    from Xlib import display as xdisplay

    ind = X11Indicator(display)
    d = xdisplay.Display(display)
    try:
        ind.avoid(Region(0, 0, 600, 600))
        ind.show(REC)
        wait_until(lambda: ind.paints >= 1, what="first paint")
        red = DOT_COLOURS["recording"]
        dot = int(colour_mask(screen_rgb(display), (red,)).sum())
        assert dot > 50
        x, y = ind.spot or (0, 0)
        # Another override-redirect window (a game's fullscreen popup, a notification) on top.
        cover = d.screen().root.create_window(x - 20, y - 2, 600, 80, 0, d.screen().root_depth,
                                              X.InputOutput, X.CopyFromParent,
                                              background_pixel=0x00C800, override_redirect=True)
        cover.map()
        d.flush()
        wait_until(lambda: not colour_mask(screen_rgb(display), (red,)).any(), what="covered")
        paints = ind.paints
        cover.destroy()
        d.flush()
        # The server clears the uncovered area to the background; the dot is ours to redraw.
        wait_until(lambda: int(colour_mask(screen_rgb(display), (red,)).sum()) == dot,
                   what="the dot repainted")
        assert ind.paints > paints
    finally:
        d.close()
        ind.close()


def test_full_screen_capture_draws_nothing_and_says_so_once(
        display: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="nitrogen_capture.indicator"):
        ind = get_indicator("x11", display=display)
        assert isinstance(ind, X11Indicator)
        try:
            for s in range(5):
                ind.avoid(Region(0, 0, *SCREEN))
                ind.show(IndicatorState("recording", elapsed_s=s))
            ind.show(IndicatorState("paused", text="focus"))
            wait_until(lambda: ind.no_place_logged, what="the warning")
            time.sleep(0.3)  # (more states are handled; none may draw or warn again)
            assert ind.spot is None and not colour_mask(screen_rgb(display)).any()
            d, win = x_window(display, ind.window.id)
            assert win.get_attributes().map_state == 0  # IsUnmapped
            d.close()
            # A capture that shrinks frees a corner: then it is shown.
            ind.avoid(Region(0, 100, *SCREEN))
            wait_until(lambda: ind.spot is not None and colour_mask(screen_rgb(display)).any(),
                       what="shown once a corner is free")
        finally:
            ind.close()
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1, warned
    assert "no screen corner free" in warned[0] and "0 0 1280 720" in warned[0]


# -- record --indicator x11 --------------------------------------------------------------------
def _record(display: str, out: Path, *args: str, during: Callable[[], None],
            env: dict[str, str] | None = None) -> str:
    rec = subprocess.Popen(
        cli("record", *args, "--out", str(out), "--fps", "20", "--start-immediately",
            "--seconds", "4", "--capture-backend", "mss", "--input-backend", "pynput",
            "--status-interval", "0", "--no-merge", "--no-focus-pause",
            "--encoder-workers", "1"),
        env={**x_env(display), **(env or {})}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    try:
        wait_for_t0(out / "meta.json", rec)
        during()
        output, _ = rec.communicate(timeout=90)
    finally:
        if rec.poll() is None:
            rec.kill()
            rec.wait()
    text = output.decode(errors="replace")
    assert rec.returncode == 0, text[-2000:]
    return text


def _frames(out: Path) -> Iterator[npt.NDArray[np.uint8]]:
    """Every recorded frame, decoded, as RGB."""
    reader = SessionReader(out)
    for c in reader.included_chunks():
        for bgr in reader.iter_chunk_frames(c):
            yield np.ascontiguousarray(bgr[:, :, ::-1])


@pytest.mark.slow
def test_recorded_frames_hold_no_indicator_pixel(display: str, game: tuple[int, int, Region],
                                                 tmp_path: Path) -> None:
    pid, _, region = game
    seen: list[Region] = []

    def watch() -> None:  # while recording: the indicator is on the screen, REC, outside
        rec_dots = (DOT_COLOURS["recording"], DOT_COLOURS["losing"])  # (a busy machine loses)

        def red_on_screen() -> bool:
            shot = screen_rgb(display)
            if colour_mask(shot, rec_dots).sum() < 50:
                return False
            seen.append(bbox(colour_mask(shot)))
            return True

        wait_until(red_on_screen, timeout=30, what="the REC indicator on the screen")

    out = tmp_path / "s"
    output = _record(display, out, "--pid", str(pid), "--indicator", "x11", "--cue", "none",
                     during=watch)
    assert "WARNING nitrogen_capture.indicator" not in output, output  # it had a place
    assert seen and not overlaps(seen[0], region), (seen, region)
    frames = 0
    for rgb in _frames(out):
        frames += 1
        assert rgb.shape[:2] == (region.height, region.width)
        assert colour_mask(rgb, (FLAT_BACKGROUND,)).any()  # the game's own pixels
        assert not colour_mask(rgb).any(), f"indicator pixels in frame {frames}"
    assert frames >= 20
    print(f"{frames} frames scanned, no indicator pixel; on the screen meanwhile: {seen[0]}")


@pytest.mark.slow
def test_full_screen_recording_has_no_indicator_and_says_so_once(display: str,
                                                                 tmp_path: Path) -> None:
    shots: list[int] = []

    def watch() -> None:  # a few grabs while it records: nothing of the indicator
        for _ in range(5):
            shots.append(int(colour_mask(screen_rgb(display)).sum()))
            time.sleep(0.2)

    out = tmp_path / "s"
    # The default --indicator and --cue, on a PATH without a sound player.
    output = _record(display, out, "--region", "0", "0", *map(str, SCREEN), during=watch,
                     env={"PATH": str(Path(sys.executable).parent)})
    lines = [ln for ln in output.splitlines()
             if ln.startswith("WARNING nitrogen_capture.indicator")]
    assert len(lines) == 1 and "no screen corner free" in lines[0], output
    cue = [ln for ln in output.splitlines() if "no sound cues" in ln]
    assert len(cue) == 1 and "indicator" in cue[0], output
    assert shots == [0] * 5
    clean = [not colour_mask(rgb).any() for rgb in _frames(out)]
    assert len(clean) >= 20 and all(clean), f"{clean.count(False)} frames with indicator pixels"
    print(f"{len(clean)} full-screen frames scanned, no indicator pixel; warnings: {lines + cue}")
