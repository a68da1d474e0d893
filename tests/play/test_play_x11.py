"""``nitrogen-capture play`` end to end: the demo game under Xvfb, driven through XTEST.

Each test runs the real command in its own process group against the real demo game and reads
the truth from the game itself (its ``--log``: presses per key, the keys it showed held frame by
frame; its overlay read live) and from the rollout session the command wrote.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from e2e_fixtures import cli, running_game, wait_for_t0, x_env
from nitrogen_capture.config import TargetSpec
from nitrogen_capture.demo.player import Player
from nitrogen_capture.keylayout import DEFAULT_LAYOUT
from nitrogen_capture.targets import resolve_target
from play_fixtures import HOLD_W, PLAY_FLAGS, game_log, meta, play_process
from test_output_xtest import GameView
from waiting import wait_until

pytestmark = [pytest.mark.x11, pytest.mark.slow]

GAME_ARGS = ("--latch-ms", "20", "--fps", "60", "--size", "640x360")
W_BIT = 1 << DEFAULT_LAYOUT.keys.index("w")


def _stderr(tmp: Path) -> str:
    return (tmp / "play.stderr").read_text(encoding="utf-8")


def _presses(root: Path) -> list[tuple[int, str]]:
    """(t_ns since t0, key) of every key press the session recorded."""
    ev = np.load(root / "events.npy")
    return [(int(e["t_ns"]), str(e["code"])) for e in ev if e["device"] == "key" and e["value"] > 0]


def _view(display: str, pid: int, monkeypatch: pytest.MonkeyPatch) -> tuple[GameView, Any]:
    monkeypatch.setenv("DISPLAY", display)
    target = resolve_target(TargetSpec(pid=pid))
    return GameView(display, target.region()), target


def test_policy_presses_reach_the_game_and_every_row_is_the_policys(
        demo_display: str, tmp_path: Path) -> None:
    log, out = tmp_path / "game.json", tmp_path / "rollout"
    with running_game(demo_display, log, *GAME_ARGS) as game, play_process(
            demo_display, tmp_path, "--policy", "random", "--pid", str(game.pid),
            "--out", str(out), "--seconds", "4", *PLAY_FLAGS) as proc:
        stdout, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, _stderr(tmp_path)
    m = meta(out)
    stats = m["play"]["stats"]
    sent = stats["presses_sent"]
    assert sum(sent.values()) >= 10, stats
    # The game's own counters, the recorded input and the policy's sends agree key by key.
    assert {k: v for k, v in game_log(log)["presses"].items() if v} == sent
    assert Counter(k for _, k in _presses(out)) == Counter(sent)
    source = np.load(out / "action_source.npy")
    assert len(source) == m["counters"]["frames"] > 0 and (source == 1).all()
    proposed, executed = np.load(out / "policy_actions.npy"), np.load(out / "actions.npy")
    assert proposed.shape == executed.shape
    # What reached the game is what the policy proposed, row by row (a press that landed
    # just after a frame is in the next row of one and not the other: a few rows at most).
    assert (proposed == executed).all(axis=1).mean() > 0.8
    assert m["play"]["policy"]["spec"] == "random" and m["play"]["output"]["name"] == "xtest"
    assert stats["latency_ms"]["p50"] > 0 and stats["ready_share"] > 0.5
    assert "latency (frame grabbed -> action applied): p50" in stdout
    assert "takeovers: 0" in stdout


def test_player_input_takes_over_and_the_policy_waits_until_it_returns(
        demo_display: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log, out = tmp_path / "game.json", tmp_path / "rollout"
    with running_game(demo_display, log, *GAME_ARGS) as game, play_process(
            demo_display, tmp_path, "--policy", "random", "--policy-arg", "keys=d",
            "--return-after", "1", "--pid", str(game.pid), "--out", str(out),
            "--seconds", "7", *PLAY_FLAGS) as proc:
        wait_for_t0(out / "meta.json", proc)
        view, target = _view(demo_display, game.pid, monkeypatch)
        try:
            wait_until(lambda: view.read().presses >= 3, "the policy pressing D", proc=proc)
            with Player(demo_display) as player:  # the "player": XTEST too, so only the
                player.key("a", True)               # gate's matching can tell it apart
                view.wait_frames(10)
                player.key("a", False)
        finally:
            view.close()
            target.close()
        stdout, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, _stderr(tmp_path)
    takeovers = meta(out)["play"]["takeovers"]
    assert len(takeovers) == 1 and takeovers[0]["by"] == "input", takeovers
    start, end = takeovers[0]["start_ns"], takeovers[0]["end_ns"]
    presses = _presses(out)
    a_press = [t for t, k in presses if k == "a"]
    assert a_press == [start]  # dated at the player's own press
    a_release = max(int(e["t_ns"]) for e in np.load(out / "events.npy")
                    if e["code"] == "a" and e["value"] == 0)
    # Back after --return-after (1 s) of quiet, give or take the driver's tick on a busy machine.
    assert 1.0e9 <= end - a_release < 3.0e9, (a_release, end)
    # The policy sent nothing while the player had control (a send already on its way when
    # the player pressed may land inside the gate's grace), and it went on after.
    d_press = [t for t, k in presses if k == "d"]
    assert not [t for t in d_press if start + 300_000_000 < t < end], (start, end, d_press)
    assert [t for t in d_press if t > end]
    assert [t for t in d_press if t < start]
    # Rows: human exactly where the takeover overlaps the row's interval.
    ts, source = np.load(out / "timestamps.npy"), np.load(out / "action_source.npy")
    prev = np.concatenate([[np.iinfo(np.int64).min], ts[:-1]])
    expected = np.where((prev < end) & (ts >= start), 0, 1)
    assert (source == expected).all()
    assert (source == 0).sum() >= 30  # about 1.5 s of rows at 30 fps
    assert "takeover at" in stdout and "by input" in stdout


def _hold_w_until(demo_display: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  end_it: str) -> tuple[Path, Path, int]:
    """Play the hold-W policy, end it with ``end_it`` once the game shows W held."""
    policy = tmp_path / "hold.py"
    policy.write_text(HOLD_W, encoding="utf-8")
    log, out = tmp_path / "game.json", tmp_path / "rollout"
    with running_game(demo_display, log, *GAME_ARGS) as game, play_process(
            demo_display, tmp_path, "--policy", f"{policy}:hold_w", "--policy-space", "raw",
            "--pid", str(game.pid), "--out", str(out), "--seconds", "120", *PLAY_FLAGS) as proc:
        wait_for_t0(out / "meta.json", proc)
        view, target = _view(demo_display, game.pid, monkeypatch)
        try:
            wait_until(lambda: view.read().held_mask & W_BIT, "the game showing W held",
                       proc=proc)
            view.wait_frames(15)  # a quarter second of rows with W held before the end
            if end_it == "panic":
                with Player(demo_display) as player:
                    player.key("f12", True)
                    player.key("f12", False)
            else:  # what a terminal's Ctrl+C does: SIGINT to the whole process group
                os.killpg(proc.pid, signal.SIGINT)
            proc.communicate(timeout=120)
            wait_until(lambda: view.read().held_mask == 0, "the game showing nothing held")
            view.wait_frames(3)
        finally:
            view.close()
            target.close()
    return log, out, proc.returncode


@pytest.mark.parametrize("end_it", ["panic", "ctrl+c"])
def test_every_way_out_releases_what_the_policy_holds(
        demo_display: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, end_it: str) -> None:
    log, out, code = _hold_w_until(demo_display, tmp_path, monkeypatch, end_it)
    assert code == 0, _stderr(tmp_path)
    m = meta(out)
    assert m["stop_reason"] == ("panic" if end_it == "panic" else "SIGINT")
    assert m["play"]["ended"] == m["stop_reason"]
    assert m["status"] == "complete" and (out / "action_source.npy").is_file()
    # The game's own view, frame by frame: W held while the policy played, and its last frames
    # (after the command ended and the latch ran out) show nothing held.
    masks = game_log(log)["records"]["held_mask"]
    assert any(mask & W_BIT for mask in masks)
    assert masks[-3:] == [0, 0, 0], masks[-10:]
    w_rows = np.load(out / "actions.npy")[:, 0]
    assert w_rows.sum() >= 3  # the rows show W held before the end
    if end_it != "panic":  # the stop came first, the release after the last frame
        assert w_rows[-1]


def test_the_panic_key_is_never_recorded_and_the_session_validates(
        demo_display: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, code = _hold_w_until(demo_display, tmp_path, monkeypatch, "panic")
    assert code == 0
    assert "f12" not in {k for _, k in _presses(out)}
    import subprocess

    done = subprocess.run(cli("validate", "--root", str(out)), env=x_env(":0"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_rollout_killed_with_sigkill_is_recovered_with_its_rollout_rows(
        demo_display: str, tmp_path: Path) -> None:
    log, out = tmp_path / "game.json", tmp_path / "rollout"
    with running_game(demo_display, log, *GAME_ARGS) as game, play_process(
            demo_display, tmp_path, "--policy", "random", "--chunk-size", "20",
            "--pid", str(game.pid), "--out", str(out), "--seconds", "120", *PLAY_FLAGS) as proc:
        wait_for_t0(out / "meta.json", proc)
        # Two finished chunks, then a kill in the middle of the third.
        wait_until(lambda: len(meta(out)["chunks"]) >= 2 and any(out.glob("journal_*")),
                   "two chunks and an open one", proc=proc, ignore=(OSError, ValueError))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    import subprocess

    done = subprocess.run(cli("merge", "--root", str(out)), env=x_env(demo_display),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    m = meta(out)
    assert m["status"] == "recovered" and m["play"]["policy"]["spec"] == "random"
    frames = m["counters"]["frames"]
    source = np.load(out / "action_source.npy")
    proposed = np.load(out / "policy_actions.npy")
    assert len(source) == len(proposed) == frames > 40
    assert (source == 1).all()
    # The recovered chunk's rows carry what the journal held; the last ones (binned after the
    # kill) are counted, never silently filled.
    missing = m["play"]["stats"].get("rows_without_rollout", 0)
    assert 0 <= missing <= 30
    executed = np.load(out / "actions.npy")
    known = frames - missing
    assert (proposed[:known] == executed[:known]).all(axis=1).mean() > 0.8
    done = subprocess.run(cli("validate", "--root", str(out)), env=x_env(demo_display),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
