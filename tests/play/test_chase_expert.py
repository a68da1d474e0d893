"""The chase task's scripted player on frames the game's own scene draws (headless pygame).

Each frame is drawn by :class:`~nitrogen_capture.demo.scene.Scene` with the chase task, squashed
to 64x64 with ``cv2.INTER_AREA`` as ``play`` squashes the window, and handed to the expert; the
keys it answers drive the task. The closed loop must score, and score more than random keys.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from nitrogen_capture.demo import markers
from nitrogen_capture.demo.expert import ChaseExpert, chase_expert, find_colour
from nitrogen_capture.demo.scene import Scene
from nitrogen_capture.demo.task import AVATAR_RGB, TARGET_RGB
from nitrogen_capture.errors import PolicyError
from nitrogen_capture.keylayout import DEFAULT_LAYOUT, KeyLayout

pygame = pytest.importorskip("pygame")
cv2 = pytest.importorskip("cv2")

SIZE = (640, 480)


@pytest.fixture
def surface(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    try:
        yield pygame.display.set_mode(SIZE)
    finally:
        pygame.display.quit()


def _frame(surface: Any, scene: Scene, side: int = 64) -> npt.NDArray[np.uint8]:
    scene.draw(pygame, surface, set())
    rgb = np.ascontiguousarray(pygame.surfarray.array3d(surface).transpose(1, 0, 2))
    return np.asarray(cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA), np.uint8)


def _scene(seed: int) -> Scene:
    return Scene(*SIZE, markers.overlay_height(), seed=seed, task="chase")


def test_expert_finds_both_squares_at_64px(surface: Any) -> None:
    scene = _scene(1)
    frame = _frame(surface, scene)
    assert scene.chase is not None
    sx, sy = 64 / SIZE[0], 64 / SIZE[1]
    avatar, target = find_colour(frame, AVATAR_RGB), find_colour(frame, TARGET_RGB)
    assert avatar is not None and target is not None
    assert avatar == pytest.approx((scene.chase.x * sx, scene.chase.y * sy), abs=1.5)
    assert target == pytest.approx((scene.chase.tx * sx, scene.chase.ty * sy), abs=1.5)


def test_expert_steers_towards_the_target(surface: Any) -> None:
    scene = _scene(1)
    chase = scene.chase
    assert chase is not None
    chase.x, chase.y = 100.0, 150.0  # target below and right of the avatar
    chase.tx, chase.ty = 500.0, 380.0
    keys = ChaseExpert().keys(_frame(surface, scene))
    assert keys == {"d", "s"}
    row = chase_expert(_frame(surface, scene))
    assert row.shape == (len(DEFAULT_LAYOUT),) and row.dtype == np.float32
    assert {DEFAULT_LAYOUT.keys[i] for i in np.flatnonzero(row)} == {"d", "s"}
    chase.tx, chase.ty = 100.0, 60.0 + chase.side  # straight above: no sideways key
    assert ChaseExpert().keys(_frame(surface, scene)) == {"w"}


def test_nothing_in_sight_holds_nothing() -> None:
    assert ChaseExpert().keys(np.zeros((64, 64, 3), np.uint8)) == frozenset()


def test_bad_frames_and_layouts_are_one_line() -> None:
    with pytest.raises(PolicyError, match=r"\(H, W, 3\) uint8"):
        chase_expert(np.zeros((64, 64), np.uint8))
    with pytest.raises(PolicyError, match="lacks s d"):
        ChaseExpert(layout=KeyLayout(("w", "a", "space")))


def _closed_loop(surface: Any, seed: int, keys_for: Callable[[npt.NDArray[np.uint8]], set[str]],
                 seconds: float = 30.0, fps: float = 15.0) -> int:
    scene = _scene(seed)
    held: set[str] = set()
    for _ in range(int(seconds * fps)):
        scene.update(1 / fps, held, (0, 0), False, False)
        held = keys_for(_frame(surface, scene))
    assert scene.chase is not None
    return scene.chase.hits


def test_expert_scores_and_beats_random_keys(surface: Any) -> None:
    expert = ChaseExpert()
    rng = random.Random(0)
    moves = ["w", "a", "s", "d"]
    scripted = _closed_loop(surface, 5, lambda f: set(expert.keys(f)))
    rand = _closed_loop(surface, 5, lambda f: {k for k in moves if rng.random() < 0.5})
    assert scripted >= 8, scripted  # ~one hit every 2 s at least
    assert scripted > 2 * rand, (scripted, rand)
