"""The whole loop on a laptop CPU: record the scripted player, convert, train, play, compare.

    python examples/loop_demo.py --out runs/loop        # or: make loop-demo

1. a private Xvfb (``nitrogen_capture.demo.xvfb``) and the demo game with ``--task chase``;
2. ``nitrogen-capture record`` of the game while the scripted player
   (``nitrogen_capture.demo.expert:chase_expert``) plays it through XTEST;
3. ``nitrogen-capture convert --action-space raw --img-size 64 --seq-len 1`` to a ``.pt``;
4. ``examples/train_bc.py`` trains the tiny net on it (``examples/bc_policy.py``);
5. a fresh game with the same seed for each of three policies in turn, the trained one, a random
   one and the scripted one, for the same time each; the game's own ``--log`` counters (hits,
   seconds played, keys held at exit) give the score;
6. a table of hits per minute, also written as ``loop.json``.

The policies are driven by :func:`drive`: every ``1/--rate`` s it grabs the game window, squashes
it to 64x64 with ``cv2.INTER_AREA`` (what ``play`` and the exporter do), asks the policy for its
row of keys and presses or releases through XTEST what changed; at the end it releases every key
it holds. The demonstration is recorded with ``record`` rather than through ``play``: the
recording is then exactly what a person's would be (keys from the X server, no rollout columns),
so this loop trains on the same kind of session a user records.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nitrogen_capture.demo.expert import chase_expert
from nitrogen_capture.demo.game import GAME_LABEL
from nitrogen_capture.demo.player import Player
from nitrogen_capture.demo.runner import Started, cli_command
from nitrogen_capture.demo.xvfb import xvfb
from nitrogen_capture.errors import NitrogenCaptureError
from nitrogen_capture.keylayout import DEFAULT_LAYOUT

Policy = Callable[[npt.NDArray[np.uint8]], npt.NDArray[Any]]
HERE = Path(__file__).resolve().parent
MOVES = ("w", "a", "s", "d")


def random_policy(seed: int) -> Policy:
    """Each movement key held with probability 1/2 at each step: a random walk."""
    rng = random.Random(seed)
    cols = [DEFAULT_LAYOUT.keys.index(k) for k in MOVES]

    def act(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        row = np.zeros(len(DEFAULT_LAYOUT), np.float32)
        for c in cols:
            row[c] = float(rng.random() < 0.5)
        return row
    return act


def drive(player: Player, window: int, policy: Policy, seconds: float, rate: float,
          img_size: int = 64) -> dict[str, Any]:
    """Run ``policy`` on the window for ``seconds`` at ``rate`` steps a second (see the top)."""
    import cv2
    import mss

    left, top, width, height = player.window_rect(window)
    region = {"left": left, "top": top, "width": width, "height": height}
    keys = DEFAULT_LAYOUT.keys
    held: set[str] = set()
    steps = late = 0
    period = 1.0 / rate
    new_mss = getattr(mss, "MSS", None) or mss.mss  # mss 10.2 renamed it
    with new_mss() as sct:
        start = time.monotonic()
        deadline = start
        try:
            while time.monotonic() - start < seconds:
                shot = np.asarray(sct.grab(region))  # BGRA
                rgb = cv2.cvtColor(shot, cv2.COLOR_BGRA2RGB)
                frame = cv2.resize(rgb, (img_size, img_size), interpolation=cv2.INTER_AREA)
                row = policy(np.ascontiguousarray(frame, np.uint8))
                want = {keys[i] for i in np.flatnonzero(np.asarray(row)[:len(keys)] > 0.5)}
                want &= set(MOVES) | {"up", "down", "left", "right"}  # the task's keys only
                for k in sorted(held - want):
                    player.key(k, False)
                for k in sorted(want - held):
                    player.key(k, True)
                held = want
                steps += 1
                deadline += period
                wait = deadline - time.monotonic()
                if wait > 0:
                    time.sleep(wait)  # to an absolute deadline: no drift
                else:
                    late += 1
                    deadline = time.monotonic()  # skip, never burst to catch up
        finally:
            for k in sorted(held):
                player.key(k, False)
    return {"steps": steps, "late_steps": late, "seconds": round(time.monotonic() - start, 2)}


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


def _wait_for_meta(meta: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not meta.is_file():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the recorder did not start (exit {proc.poll()}): see its log")
        time.sleep(0.05)


def _run(cmd: list[str], log: Path) -> None:
    with log.open("ab") as fh:
        fh.write(f"$ {' '.join(cmd)}\n".encode())
        fh.flush()
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
    if rc:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed (exit {rc}): see {log}")


def run_loop(a: argparse.Namespace) -> dict[str, Any]:
    """Every step of the loop (see the top); returns the summary written to ``loop.json``."""
    out: Path = a.out
    out.mkdir(parents=True, exist_ok=True)
    steps_log = out / "steps.log"
    session, export, weights = out / "expert-session", out / "expert.pt", out / "bc.pt"
    w, h = (int(v) for v in a.size.split("x"))
    summary: dict[str, Any] = {"settings": {k: str(v) for k, v in vars(a).items()}}
    started = Started()
    try:
        with xvfb((w + 64, h + 64)) as display:
            os.environ["DISPLAY"] = display  # mss and the recorder find the display here
            # 1-2. the demonstration
            with (running_game(started, display, out, "record", a.size, a.seed) as (game, log),
                  Player(display) as player):
                win = player.find_window(game.pid)
                player.focus(win)
                rec = cli_command("record", "--pid", str(game.pid), "--out", str(session),
                                  "--fps", f"{a.rate:g}", "--seconds", f"{a.record_seconds:g}",
                                  "--start-immediately", "--capture-backend", "mss",
                                  "--input-backend", "pynput", "--status-interval", "0",
                                  "--game", GAME_LABEL)
                with (out / "record.log").open("wb") as fh:
                    recorder = started.spawn(rec, signal.SIGINT, 60.0, stdout=fh,
                                             stderr=subprocess.STDOUT)
                _wait_for_meta(session / "meta.json", recorder)
                summary["record"] = drive(player, win, chase_expert, a.record_seconds + 1.0,
                                          a.rate)
                if recorder.wait(timeout=120) != 0:
                    raise RuntimeError(f"record failed: see {out / 'record.log'}")
            summary["record"]["game"] = json.loads(log.read_text())["task"]
            # 3-4. convert and train
            _run(cli_command("convert", "--root", str(session), "--out", str(export),
                             "--action-space", "raw", "--img-size", "64", "--seq-len", "1",
                             "--no-progress", "--overwrite"), steps_log)
            t0 = time.monotonic()
            _run([sys.executable, str(HERE / "train_bc.py"), str(export), "--out", str(weights),
                  "--epochs", str(a.epochs), "--json", str(out / "train.json")], steps_log)
            summary["train"] = json.loads((out / "train.json").read_text())
            summary["train"]["wall_seconds"] = round(time.monotonic() - t0, 2)
            summary["train"]["export_bytes"] = export.stat().st_size
            # 5. the three policies, a fresh game with the same seed each
            sys.path.insert(0, str(HERE))
            from bc_policy import load

            policies: dict[str, Policy] = {"trained": load(weights),
                                           "random": random_policy(a.seed),
                                           "scripted": chase_expert}
            results: dict[str, Any] = {}
            for name, policy in policies.items():
                with (running_game(started, display, out, name, a.size, a.seed + 1)
                      as (game, log), Player(display) as player):
                    win = player.find_window(game.pid)
                    player.focus(win)
                    drove = drive(player, win, policy, a.eval_seconds, a.rate)
                counters = json.loads(log.read_text())
                results[name] = {**counters["task"], "held_at_exit": counters["held_at_exit"],
                                 "drive": drove}
            summary["results"] = results
    finally:
        started.stop_all()
    (out / "loop.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def table(summary: dict[str, Any]) -> str:
    """The comparison as text, one line per policy, from the game's own counters."""
    lines = [f"{'policy':<10} {'hits':>5} {'seconds':>8} {'hits/min':>9}"]
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
                   help="frames recorded and policy steps a second (15)")
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
