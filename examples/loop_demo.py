"""The whole loop on a laptop CPU: record the scripted player, convert, train, play, compare.

    python examples/loop_demo.py --out runs/loop        # or: make loop-demo

1. a private Xvfb (``nitrogen_capture.demo.xvfb``) and the demo game with ``--task chase``;
2. ``nitrogen-capture play --policy nitrogen_capture.demo.expert:chase_expert``: the scripted
   player plays, and the rollout is the demonstration;
3. ``nitrogen-capture convert --action-space raw --img-size 64 --seq-len 1 --action-shift 0`` to
   a ``.pt``: in a rollout, row i's action is the one the policy chose from frame i (``play``
   applies it within the row's period), so shift 0 pairs each frame with the decision made on it
   (99% of rows agree with the expert re-run on the exported frame; with the default shift 1,
   made for a person's reaction time, 55%);
4. ``examples/train_bc.py`` trains the tiny net on it (``examples/bc_policy.py``), the game's
   truth overlay blacked out (``--mask-top``): its held-key cells show the answer, and a net
   that sees them learns to copy the keys held instead of chasing (below random in play, 100%
   right on held-out rows);
5. ``nitrogen-capture play`` of the trained policy (``examples/bc_policy.py:load --policy-arg
   weights=...``), the random one (``random``, on the same keys ``w a s d``) and the scripted one,
   each in a fresh game with the same seed, for the same time;
6. a table of hits per minute, also written as ``loop.json``.

The score is the game's own: its ``--log`` lists when each hit happened, and the hits counted are
those inside the rollout's recorded span (first to last frame, meta.json's clock), so the time
``play`` takes to start and to finish its session counts for nobody.

Why ``play`` records the demonstration rather than ``record`` with the expert typing through
XTEST: it is one command and no second injector; what reaches the game is what a person's keys
would send (XTEST, seen by the recorder like a keyboard), and the rollout keeps what the policy
proposed beside it (``policy_actions``), which a demonstration by a person would not have. The
export reads the executed actions (``actions``) either way.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from nitrogen_capture.demo import markers
from nitrogen_capture.demo.game import GAME_LABEL
from nitrogen_capture.demo.player import Player
from nitrogen_capture.demo.runner import Started, cli_command
from nitrogen_capture.demo.xvfb import xvfb
from nitrogen_capture.errors import NitrogenCaptureError

HERE = Path(__file__).resolve().parent
# What every play run of the loop records with: no cue, no indicator, no status line.
PLAY_FLAGS = ("--start-immediately", "--cue", "none", "--indicator", "none",
              "--status-interval", "0", "--img-size", "64", "--game", GAME_LABEL)


def score(game_log: Path, session: Path) -> dict[str, Any]:
    """Hits per minute over the rollout's span, from the game's own hit times."""
    task = json.loads(game_log.read_text(encoding="utf-8"))
    meta = json.loads((session / "meta.json").read_text(encoding="utf-8"))
    stamps = np.load(session / "timestamps.npy")
    if len(stamps) < 2:
        raise RuntimeError(f"the rollout {session} holds {len(stamps)} frames")
    t0 = int(meta["clock"]["t0_ns"])
    start, end = t0 + int(stamps[0]), t0 + int(stamps[-1])
    hits = sum(start <= t <= end for t in task["task"]["hits_ns"])
    seconds = (end - start) / 1e9
    return {"hits": hits, "seconds": round(seconds, 2),
            "hits_per_minute": round(hits * 60 / seconds, 2), "frames": len(stamps),
            "game": {k: v for k, v in task["task"].items() if k != "hits_ns"},
            "held_at_exit": task["held_at_exit"], "play": meta["play"]["stats"]}


@contextmanager
def running_game(started: Started, display: str, work: Path, name: str, size: str,
                 seed: int) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """The demo game with the chase task; stopped (SIGTERM: it writes its log) after the block."""
    log = work / f"{name}.game.json"
    cmd = [sys.executable, "-m", "nitrogen_capture.demo.game", "--size", size, "--fps", "30",
           "--task", "chase", "--seed", str(seed), "--log", str(log)]
    env = {"DISPLAY": display, "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    game = started.spawn(cmd, signal.SIGTERM, 10.0, env={**os.environ, **env},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield game, log
    finally:
        started.stop(game)


def _run(cmd: list[str], log: Path) -> None:
    with log.open("ab") as fh:
        fh.write(f"$ {' '.join(cmd)}\n".encode())
        fh.flush()
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
    if rc:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed (exit {rc}): see {log}")


def play_in_fresh_game(started: Started, display: str, out: Path, name: str, a: Any,
                       seed: int, seconds: float, *policy: str) -> dict[str, Any]:
    """``nitrogen-capture play POLICY`` for ``seconds`` in a new game; its :func:`score`."""
    session = out / f"{name}-rollout"
    with (running_game(started, display, out, name, a.size, seed) as (game, log),
          Player(display) as player):
        player.focus(player.find_window(game.pid))  # no window manager: keys go to the focus
        _run(cli_command("play", *policy, "--pid", str(game.pid), "--out", str(session),
                         "--fps", f"{a.rate:g}", "--seconds", f"{seconds:g}", *PLAY_FLAGS),
             out / f"{name}.play.log")
    return score(log, session)


def run_loop(a: argparse.Namespace) -> dict[str, Any]:
    """Every step of the loop (see the top); returns the summary written to ``loop.json``."""
    out: Path = a.out
    out.mkdir(parents=True, exist_ok=True)
    steps_log = out / "steps.log"
    export, weights = out / "expert.pt", out / "bc.pt"
    w, h = (int(v) for v in a.size.split("x"))
    summary: dict[str, Any] = {"settings": {k: str(v) for k, v in vars(a).items()}}
    started = Started()
    expert = "nitrogen_capture.demo.expert:chase_expert"
    try:
        # Room around the window: the recorder's indicator wants a free screen corner.
        with xvfb((w + 256, h + 128)) as display:
            os.environ["DISPLAY"] = display  # for the commands run here
            summary["record"] = play_in_fresh_game(started, display, out, "demonstration", a,
                                                   a.seed, a.record_seconds, "--policy", expert)
            _run(cli_command("convert", "--root", str(out / "demonstration-rollout"), "--out",
                             str(export), "--action-space", "raw", "--img-size", "64",
                             "--seq-len", "1", "--action-shift", "0", "--no-progress",
                             "--overwrite"), steps_log)
            t0 = time.monotonic()
            # The truth overlay (its held-key cells) squashed to 64 rows: hidden from the net.
            band = math.ceil(64 * markers.overlay_height() / h)
            _run([sys.executable, str(HERE / "train_bc.py"), str(export), "--out", str(weights),
                  "--epochs", str(a.epochs), "--mask-top", str(band), "--json",
                  str(out / "train.json")], steps_log)
            summary["train"] = json.loads((out / "train.json").read_text(encoding="utf-8"))
            summary["train"]["wall_seconds"] = round(time.monotonic() - t0, 2)
            summary["train"]["export_bytes"] = export.stat().st_size
            policies = {
                "trained": ("--policy", str(HERE / "bc_policy.py:load"), "--policy-arg",
                            f"weights={weights}"),
                "random": ("--policy", "random", "--policy-arg", "keys=w,a,s,d", "--seed",
                           str(a.seed)),
                "scripted": ("--policy", expert),
            }
            summary["results"] = {
                name: play_in_fresh_game(started, display, out, name, a, a.seed + 1,
                                         a.eval_seconds, *args)
                for name, args in policies.items()}
    finally:
        started.stop_all()
    (out / "loop.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def table(summary: dict[str, Any]) -> str:
    """The comparison as text, one line per policy, from the game's own counters."""
    lines = [f"{'policy':<10} {'hits':>5} {'seconds':>8} {'hits/min':>9}   (the game's counters "
             f"over each rollout's span)"]
    for name, r in summary["results"].items():
        lines.append(f"{name:<10} {r['hits']:>5} {r['seconds']:>8.1f} "
                     f"{r['hits_per_minute']:>9.1f}")
    t = summary["train"]
    lines.append(f"trained on {t['train_windows']} windows ({summary['train']['export_bytes']:,} "
                 f"bytes of .pt) in {t['seconds']:.1f} s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point (see the top)."""
    p = argparse.ArgumentParser(description="Record the scripted player of the demo game's chase "
                                            "task, train a tiny BC net, compare it with random "
                                            "and scripted play.")
    p.add_argument("--out", type=Path, required=True, help="folder for everything it writes")
    p.add_argument("--record-seconds", type=float, default=120.0, help="demonstration (120)")
    p.add_argument("--eval-seconds", type=float, default=60.0, help="per policy (60)")
    p.add_argument("--rate", type=float, default=15.0,
                   help="frames recorded and policy steps a second, play's --fps (15)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs (30)")
    p.add_argument("--size", default="640x480", help="game window WxH (640x480)")
    p.add_argument("--seed", type=int, default=0, help="the task's seed (0)")
    a = p.parse_args(argv)
    if a.record_seconds < 5 or a.eval_seconds < 2 or not 1 <= a.rate <= 60 or a.epochs < 1:
        p.error("need --record-seconds >= 5, --eval-seconds >= 2, 1 <= --rate <= 60, "
                "--epochs >= 1")
    try:
        summary = run_loop(a)
    except (RuntimeError, ValueError, OSError, NitrogenCaptureError) as exc:
        print(f"loop_demo: {exc}", file=sys.stderr)
        return 1
    print(table(summary))
    print(f"written to {a.out / 'loop.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
