"""``play --policy nitrogen://...`` against the test server that answers as NitroGen's does.

A slow server makes late ticks, never a stalled recording; a server that dies mid-run or sends a
hostile pickle ends the policy with one line, and the session recorded so far is kept whole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from e2e_fixtures import running_game, wait_for_t0
from nitrogen_capture.export.keymap import NITROGEN_BUTTONS
from nitrogen_server import NitroGenServer, nitrogen_pred
from play_fixtures import PLAY_FLAGS, game_log, meta, play_process
from waiting import wait_until

pytestmark = [pytest.mark.x11, pytest.mark.slow]

GAME_ARGS = ("--latch-ms", "20", "--fps", "60", "--size", "640x360")
SOUTH = NITROGEN_BUTTONS.index("SOUTH")  # space in the default keymap


def _press_then_release(count: int) -> dict[str, np.ndarray]:
    """Answers alternate: 4 steps with SOUTH down, then 4 with it up (space taps)."""
    return nitrogen_pred(4, buttons={SOUTH: 1.0 if count % 2 else 0.0})


def _stderr(tmp: Path) -> str:
    return (tmp / "play.stderr").read_text(encoding="utf-8")


def test_a_slow_server_makes_late_ticks_not_a_stalled_recording(
        demo_display: str, tmp_path: Path) -> None:
    log, out = tmp_path / "game.json", tmp_path / "rollout"
    with NitroGenServer(pred=_press_then_release, mode="slow", delay_s=0.4) as server, \
            running_game(demo_display, log, *GAME_ARGS) as game, play_process(
                demo_display, tmp_path, "--policy", server.address, "--pid", str(game.pid),
                "--out", str(out), "--seconds", "5", *PLAY_FLAGS) as proc:
        stdout, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, _stderr(tmp_path)
    m = meta(out)
    stats = m["play"]["stats"]
    # Each answer took at least the server's 0.4 s; its 4 steps last 4/60 s: most ticks late.
    assert stats["latency_ms"]["p50"] >= 400, stats
    assert stats["late_ticks"] > stats["ticks"] / 2, stats
    assert 3 <= stats["answers"] <= 5 / 0.4 + 1, stats
    # The recording kept its rate while the policy waited (the recorder never waits on it).
    assert m["fps"]["achieved"] > 0.9 * 30, m["fps"]
    assert m["counters"]["dropped_ticks"] <= 3
    # The game kept running: its frames kept coming at its own rate.
    assert game_log(log)["frames"] >= 0.8 * 60 * 5
    assert stats["presses_sent"].get("space", 0) >= 1
    assert game_log(log)["presses"]["space"] == stats["presses_sent"]["space"]
    assert m["play"]["policy"]["kind"] == "nitrogen"
    assert "late" in stdout


@pytest.mark.parametrize("failure", ["dead", "hostile"])
def test_a_server_that_dies_or_turns_hostile_ends_the_policy_and_keeps_the_session(
        demo_display: str, tmp_path: Path, failure: str) -> None:
    log, out = tmp_path / "game.json", tmp_path / "rollout"
    marker = tmp_path / "pwned"
    with NitroGenServer(pred=_press_then_release) as server, \
            running_game(demo_display, log, *GAME_ARGS) as game, play_process(
                demo_display, tmp_path, "--policy", server.address, "--policy-timeout", "1",
                "--pid", str(game.pid), "--out", str(out), "--seconds", "120",
                *PLAY_FLAGS) as proc:
        wait_for_t0(out / "meta.json", proc)
        wait_until(lambda: server.replied >= 6, "the policy playing", proc=proc)
        if failure == "dead":
            server.close()
        else:
            server.set_mode("hostile", marker=marker)
        proc.communicate(timeout=120)
    assert proc.returncode == 1
    err = _stderr(tmp_path).strip().splitlines()
    assert len(err) >= 1 and "Traceback" not in _stderr(tmp_path)
    line = err[-1]
    assert line.startswith("nitrogen-capture play: error: the policy failed: "), line
    assert server.address.removeprefix("nitrogen://") in line
    assert ("refused a reply" in line) if failure == "hostile" else ("within" in line), line
    assert not marker.exists()  # nothing of the hostile pickle ran
    m = meta(out)
    assert m["status"] == "complete" and m["stop_reason"].startswith("policy error: ")
    assert m["play"]["ended"] == m["stop_reason"] and m["play"]["stats"]["errors"] == 1
    rows = np.load(out / "action_source.npy")
    assert len(rows) == m["counters"]["frames"] > 0
    # The policy let go when it failed: the game's last frames show nothing held.
    assert game_log(log)["records"]["held_mask"][-3:] == [0, 0, 0]
