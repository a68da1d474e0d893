"""The whole loop, as ``examples/loop_demo.py`` runs it, with small settings (slow, tier 1).

Record the scripted player of the chase task through ``play``, convert, train the tiny BC net,
then run the trained, a random and the scripted policy through ``play``, each in a fresh game
with the same seed. The score is the game's own (its ``--log``'s hit times inside each rollout's
span): the trained policy must beat random, the scripted player both, and no policy may leave a
key held in the game.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.x11, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "loop_demo.py"


def test_trained_policy_beats_random_and_the_scripted_player_beats_both(tmp_path: Path) -> None:
    out = tmp_path / "loop"
    env = {**os.environ, "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    run = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--record-seconds",
                          "40", "--eval-seconds", "25", "--epochs", "20"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (run.stdout[-2000:], run.stderr[-3000:])
    summary = json.loads((out / "loop.json").read_text())
    res = summary["results"]
    assert set(res) == {"trained", "random", "scripted"}
    for name, r in res.items():
        assert r["game"]["name"] == "chase"
        assert r["held_at_exit"] == [], name  # play released everything its policy held
        assert r["seconds"] >= 20, name  # the rollout's span: --eval-seconds, less a frame
        assert r["game"]["hits"] >= r["hits"]  # the span's hits are among the game's
        assert r["play"]["latency_ms"]["p50"] > 0, name
    rate = {name: r["hits_per_minute"] for name, r in res.items()}
    assert rate["trained"] > rate["random"], rate
    assert rate["scripted"] > rate["trained"], rate
    assert summary["record"]["hits"] >= 10  # the demonstration shows the task done
    train = summary["train"]
    assert train["train_windows"] >= 250 and train["export_bytes"] > 0
    # The printed table is the JSON's figures.
    for name, r in res.items():
        line = next(ln for ln in run.stdout.splitlines() if ln.startswith(name))
        assert line.split()[1:] == [str(r["hits"]), f"{r['seconds']:.1f}",
                                    f"{r['hits_per_minute']:.1f}"], line
