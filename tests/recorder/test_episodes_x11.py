"""Tier 1: a collection run of the demo game under Xvfb, its episode keys pressed through XTEST.

The run (``record --episodes 3``) sees: episode 1 discarded by F11 while it records, and so
recorded again and ended by F9 (a success); episode 2 ends when its time runs out and is marked
a failure by F10 during the next reset; episode 3 is ended by F12, unmarked. Each step waits on
what the recorder wrote (the next session's meta.json), never on a fixed time; the resets are
long and ended by the start key, so a slow machine cannot make a key land in the wrong phase.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from e2e_fixtures import cli, running_game, wait_for_t0, x_env
from nitrogen_capture.demo.player import Player
from nitrogen_capture.session.meta import SessionMeta
from nitrogen_capture.session.reader import SessionReader
from waiting import wait_until

pytestmark = [pytest.mark.x11, pytest.mark.slow]


def _session(top: Path, seq: int, rec: subprocess.Popen[bytes]) -> Path:
    """The run's recording number ``seq`` once its clock has started."""
    found = wait_until(lambda: sorted(top.glob(f"*/*-{seq:03d}/meta.json")),
                       f"recording {seq} started", 60, proc=rec)
    wait_for_t0(found[0], rec)
    return found[0].parent


def _paused_reason(root: Path) -> str | None:
    pauses = json.loads((root / "meta.json").read_text())["pauses"]
    return pauses[-1]["reason"] if pauses else None


def _tap(player: Player, key: str) -> None:
    player.type_keys([key], hold=0.05)


def _wait_recording(root: Path, rec: subprocess.Popen[bytes]) -> None:
    """Wait until recording ``root`` has stored frames (its reset is over)."""
    wait_until(lambda: any((root / "frames").glob("chunk_001*")) or list(root.glob("*chunk_001*")),
               f"{root} started recording", 60, proc=rec)


def test_a_run_with_a_discarded_a_failed_and_an_unmarked_episode(
        tmp_path: Path, demo_display: str) -> None:
    top = tmp_path / "runs"
    with running_game(demo_display, tmp_path / "game.json") as game, \
            Player(demo_display) as player:
        player.focus(player.find_window(game.pid))
        rec = subprocess.Popen(
            cli("record", "--pid", str(game.pid), "--out-dir", str(top), "--episodes", "3",
                "--episode-seconds", "2", "--reset-seconds", "60", "--start-immediately",
                "--task", "reach the flag", "--fps", "30", "--capture-backend", "mss",
                "--input-backend", "pynput", "--status-interval", "0"),
            env=x_env(demo_display), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            first = _session(top, 1, rec)
            _wait_recording(first, rec)
            _tap(player, "w")
            _tap(player, "f11")  # discard: episode 1 is recorded again
            second = _session(top, 2, rec)
            _tap(player, "f8")  # end the reset now
            _wait_recording(second, rec)
            _tap(player, "a")
            _tap(player, "f9")  # success
            third = _session(top, 3, rec)
            _tap(player, "f8")  # episode 2 then runs out of time (2 s of recording)
            fourth = _session(top, 4, rec)
            _tap(player, "f10")  # in the reset: episode 2 was a failure
            _tap(player, "f8")
            _wait_recording(fourth, rec)
            _tap(player, "d")
            _tap(player, "f12")  # end episode 3 unmarked
            output, _ = rec.communicate(timeout=120)
        finally:
            if rec.poll() is None:
                rec.kill()
                rec.wait()
    text = output.decode(errors="replace")
    assert rec.returncode == 0, text[-3000:]
    metas = [SessionMeta.load(r / "meta.json") for r in (first, second, third, fourth)]
    got = [(m.episode.index, m.episode.attempt, m.episode.ended, m.effective_labels.outcome)
           for m in metas if m.episode]
    assert got == [(1, 1, "key", "discarded"), (1, 2, "key", "success"),
                   (2, 1, "time", "failure"), (3, 1, "key", None)], text[-3000:]
    assert {m.effective_labels.task for m in metas} == {"reach the flag"}
    assert {m.effective_labels.game for m in metas} == {metas[0].effective_labels.game}
    assert "3 episode(s) kept, 1 discarded" in text
    assert f"episode 2 of 3: marked failure during the reset -> {third}" in text
    for root, m in zip((first, second, third, fourth), metas, strict=True):
        assert m.merged is not None and m.merged.frames > 0, root
        ev = SessionReader(root).merged_arrays()["events"]
        codes = set(ev[np.isin(ev["device"], ["key", "button"])]["code"].tolist())
        assert not codes & {"f8", "f9", "f10", "f11", "f12"}, codes  # keys of the run: never data
    assert _paused_reason(second) == "reset" and metas[1].pauses[0].start_tick == 0
    # The reset ended at the start key, long before its 60 s.
    assert metas[1].pauses[0].end_t_ns - metas[1].pauses[0].start_t_ns < 30e9
