"""The demo game's textured scene, rendered headless (SDL's dummy video driver, no X).

The truth overlay must read back exactly over the busy background, a 720p frame must weigh
about what a real game's does as PNG, and every frame must differ from the last.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from nitrogen_capture.demo import markers
from nitrogen_capture.demo.scene import SCENES, Scene, noise_tile
from nitrogen_capture.keylayout import DEFAULT_LAYOUT

pygame = pytest.importorskip("pygame")
cv2 = pytest.importorskip("cv2")

K = len(DEFAULT_LAYOUT)


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    pygame.display.init()
    try:
        yield pygame.display.set_mode((1280, 720))
    finally:
        pygame.display.quit()


def _frames(screen: Any, scene: Scene, n: int, held: set[str] | None = None,
            ) -> Iterator[tuple[int, int, int, npt.NDArray[np.uint8]]]:
    """Draw ``n`` frames the way the game loop does (overlay band, then the scene); yield
    (frame number, presses, mask, BGR pixels)."""
    band_h = markers.overlay_height()
    overlay = np.zeros((band_h, scene.width, 3), np.uint8)
    for i in range(1, n + 1):
        frame, presses, mask = 1000 + 7 * i, 3 * i, (0b1011 << i) & ((1 << K) - 1)
        scene.update(1 / 60, held or set(), (5, -3), i % 4 == 0, i == 2)
        overlay[:] = 0
        markers.draw_overlay(overlay, frame, presses, mask, K)
        screen.blit(pygame.surfarray.make_surface(overlay.transpose(1, 0, 2)), (0, 0))
        scene.draw(pygame, screen, held or set())
        rgb = pygame.surfarray.array3d(screen).transpose(1, 0, 2)
        yield frame, presses, mask, np.ascontiguousarray(rgb[:, :, ::-1])


def test_textured_frames_keep_the_overlay_readable(screen: Any) -> None:
    scene = Scene(1280, 720, markers.overlay_height(), look="textured")
    scene.prepare(pygame)
    scene.aim_y = scene.top  # the reticle at the band's edge: clipped, never drawn into it
    for frame, presses, mask, img in _frames(screen, scene, 20, {"d", "lmb"}):
        ov = markers.read_overlay(img, K)
        assert (ov.frame, ov.presses, ov.held_mask) == (frame, presses, mask)


def test_textured_720p_frame_weighs_like_a_game_and_every_frame_differs(screen: Any) -> None:
    scene = Scene(1280, 720, markers.overlay_height(), look="textured")
    imgs = [img for *_, img in _frames(screen, scene, 3)]
    sizes = []
    for img in imgs:
        ok, buf = cv2.imencode(".png", img)
        assert ok
        sizes.append(len(buf))
    assert all(0.5e6 <= s <= 2e6 for s in sizes), sizes
    below = markers.overlay_height()
    for a, b in itertools.pairwise(imgs):
        changed = np.any(a[below:] != b[below:], axis=2).mean()
        assert changed > 0.5, f"only {changed:.0%} of the scene's pixels changed"


def test_flat_stays_the_default_and_cheap(screen: Any) -> None:
    assert SCENES == ("flat", "textured")
    scene = Scene(1280, 720, markers.overlay_height())
    assert scene.look == "flat"
    *_, (_, _, _, img) = _frames(screen, scene, 2)
    ok, buf = cv2.imencode(".png", img)
    assert ok and len(buf) < 0.1e6
    with pytest.raises(ValueError, match="scene must be one of flat, textured"):
        Scene(1280, 720, 48, look="shiny")


def test_flat_frames_never_look_frozen(screen: Any) -> None:
    """With no input at all, consecutive flat frames differ by more than physlint's
    ``video.frozen_frames`` threshold (mean absolute difference 0.5 of 255): the gravel scrolls.
    A flat scene where only the square moved failed that rule on a clean demo recording."""
    for fps in (30, 60):
        scene = Scene(1280, 720, markers.overlay_height())
        frames = []
        for _ in range(4):
            scene.update(1 / fps, set(), (0, 0), False, False)
            scene.draw(pygame, screen, set())
            frames.append(pygame.surfarray.array3d(screen).astype(np.int16))
        diffs = [float(np.abs(b - a).mean()) for a, b in itertools.pairwise(frames)]
        assert min(diffs) > 0.5, (fps, diffs)


def test_noise_tile_tiles_seamlessly() -> None:
    tile = noise_tile(512, 256, seed=3).astype(np.int32)
    assert tile.shape == (256, 512, 3) and tile.std() > 20
    # Across the wrap the step is no larger than between neighbours inside the tile.
    inner = np.abs(np.diff(tile, axis=1)).mean()
    wrap = np.abs(tile[:, 0] - tile[:, -1]).mean()
    assert wrap < 2 * inner + 1
    assert np.array_equal(noise_tile(512, 256, seed=3), tile.astype(np.uint8))  # seeded


def test_game_runs_textured_headless(tmp_path: Path) -> None:
    log = tmp_path / "game.json"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
           "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "nitrogen_capture.demo.game", "--size",
                           "640x360", "--scene", "textured", "--seconds", "1", "--log",
                           str(log)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(log.read_text())["frames"] > 10


def test_render_frames_off_screen_reads_back() -> None:
    from nitrogen_capture.demo.scene import render_frames

    frames = render_frames(640, 360, 4)
    assert [f.shape for f in frames] == [(360, 640, 3)] * 4
    assert [markers.read_overlay(f, K).frame for f in frames] == [1, 2, 3, 4]
    assert not np.array_equal(frames[1], frames[2])


def test_demo_scene_flag_reaches_the_options(tmp_path: Path) -> None:
    import argparse

    from nitrogen_capture.cli.demo import add_demo_arguments, options_from_args
    from nitrogen_capture.demo.runner import DemoOptions
    from nitrogen_capture.errors import ConfigError

    parser = argparse.ArgumentParser()
    add_demo_arguments(parser)
    assert options_from_args(parser.parse_args(["--out", "d"])).scene == "flat"
    opts = options_from_args(parser.parse_args(
        ["--out", "d", "--scene", "textured", "--frame-format", "video",
         "--video-encoder", "libx264"]))
    assert opts.scene == "textured"
    assert opts.record_args == ("--frame-format", "video", "--video-encoder", "libx264")
    with pytest.raises(ConfigError, match="--scene must be one of flat, textured"):
        DemoOptions(out=tmp_path, scene="shiny")
