"""The demo game's chase task: its scoring (no pygame), its picture, and the game's ``--log``.

The task is stepped directly for the rules; the scene is drawn headless (SDL's dummy video
driver) to check what a 64x64 policy sees; the game itself runs once under the dummy driver to
check the log's ``task`` and ``held_at_exit``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nitrogen_capture.demo.task import AVATAR_SPEED, ChaseTask, TaskCounters, movement


def _task(seed: int = 1) -> ChaseTask:
    return ChaseTask(640, 48, 440, seed=seed)


def test_movement_keys_and_arrows() -> None:
    assert movement({"w", "d"}) == (1, -1)
    assert movement({"left", "down"}) == (-1, 1)
    assert movement({"a", "d"}) == (0, 0)  # opposite keys cancel
    assert movement({"space", "lmb"}) == (0, 0)


def test_avatar_moves_and_stays_in_the_playfield() -> None:
    task = _task()
    x0 = task.x
    task.update(0.1, {"d"})
    assert task.x == pytest.approx(x0 + AVATAR_SPEED * 0.1)
    for _ in range(100):
        task.update(0.1, {"w", "a"})
    assert (task.x, task.y) == (task.side / 2, task.top + task.side / 2)


def test_touching_the_target_scores_and_respawns_it_away() -> None:
    task = _task()
    task.x, task.y = task.tx, task.ty  # put the avatar on the target
    assert task.update(0.0, set()) is True
    assert task.hits == 1
    far = min(task.width, task.bottom - task.top) / 4
    assert ((task.tx - task.x) ** 2 + (task.ty - task.y) ** 2) ** 0.5 >= far
    assert task.update(0.01, set()) is False and task.hits == 1


def test_target_bounces_inside_the_playfield_and_a_seed_replays_it() -> None:
    a, b, c = _task(3), _task(3), _task(4)
    path_a, path_b = [], []
    for _ in range(2000):  # 20 s: many bounces
        a.update(0.01, set())
        b.update(0.01, set())
        c.update(0.01, set())
        path_a.append((a.tx, a.ty))
        path_b.append((b.tx, b.ty))
        h = a.side / 2
        assert h <= a.tx <= a.width - h and a.top + h <= a.ty <= a.bottom - h
    assert path_a == path_b
    assert (c.tx, c.ty) != (a.tx, a.ty)
    assert a.counters == TaskCounters("chase", a.hits, pytest.approx(20.0))


def test_counters_json() -> None:
    c = TaskCounters("chase", 6, 30.0)
    assert c.hits_per_minute == 12.0
    assert c.to_json() == {"name": "chase", "hits": 6, "seconds": 30.0, "hits_per_minute": 12.0,
                           "hits_ns": []}
    assert TaskCounters("chase", 0, 0.0).hits_per_minute == 0.0


def test_too_small_a_playfield_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        ChaseTask(100, 48, 90)


def test_game_log_has_the_task_and_the_keys_held_at_exit(tmp_path: Path) -> None:
    """The game under SDL's dummy driver (no X), for one second of its own time."""
    log = tmp_path / "game.json"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
           "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    run = subprocess.run([sys.executable, "-m", "nitrogen_capture.demo.game", "--size",
                          "640x480", "--task", "chase", "--seed", "2", "--seconds", "1",
                          "--log", str(log)], env=env, capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    data = json.loads(log.read_text())
    assert data["held_at_exit"] == []
    assert data["task"]["name"] == "chase"
    assert data["task"]["hits"] == 0 and data["task"]["hits_ns"] == []  # nobody played
    assert 0.5 <= data["task"]["seconds"] <= 1.5  # game time: the frames' clock ticks
    assert data["frames"] == len(data["records"]["frame"]) > 0


def test_game_without_a_task_logs_none(tmp_path: Path) -> None:
    log = tmp_path / "game.json"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
           "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    run = subprocess.run([sys.executable, "-m", "nitrogen_capture.demo.game", "--size",
                          "640x480", "--seconds", "0.3", "--log", str(log)], env=env,
                         capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    data = json.loads(log.read_text())
    assert data["task"] is None and data["held_at_exit"] == []
