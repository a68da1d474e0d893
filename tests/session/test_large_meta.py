"""Long or hostile ``meta.json`` files cost linear time in every command.

A layout of 100k keys (1 MB) kept every command past 90 s (each key counted in the whole list),
30k chunk entries made ``label`` take 137 s (each chunk summed the ones before it), and a session
with 10^5 pauses made ``report`` draw 10^5 patches and ``validate`` compare every pause with every
frame. Each case below took minutes before; the bound asserted is far above what linear code
needs on a busy two-core machine and far below what the quadratic code took.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.session.meta_parts import Pause
from nitrogen_capture.session.timeline import pause_cuts, tick_jumps
from session_factory import make_session

BOUND_S = 30.0  # per command; linear code needs ~1-6 s here, the old code minutes to hours
PERIOD_NS = 33_333_333


def _build(root: Path, case: str) -> Path:
    make_session(root, (6, 6))
    meta = json.loads((root / "meta.json").read_text())
    if case == "keys":
        meta["layout"]["keys"] = [f"k{i}" for i in range(100_000)]
    elif case == "chunks":
        last = meta["chunks"][-1]
        meta["chunks"] += [{**last, "index": i, "complete": False} for i in range(3, 30_003)]
    else:  # pauses: one tick each, every other tick, inside and after the recorded span
        meta["pauses"] = [{"start_tick": 2 * i, "end_tick": 2 * i + 1,
                           "start_t_ns": 2 * i * PERIOD_NS, "end_t_ns": (2 * i + 1) * PERIOD_NS,
                           "reason": "focus"} for i in range(100_000)]
    (root / "meta.json").write_text(json.dumps(meta))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("case, commands", [
    ("keys", ("sessions", "label", "validate", "report", "preview")),
    ("chunks", ("sessions", "label", "preview")),
    ("pauses", ("sessions", "label", "validate", "report", "preview")),
])
def test_every_command_is_linear_in_meta_json(capsys, tmp_path: Path, case: str,
                                              commands: tuple[str, ...]) -> None:
    root = _build(tmp_path / case, case)
    argv = {"sessions": ["sessions", str(tmp_path)],
            "label": ["label", "--root", str(root), "--game", "g"],
            "validate": ["validate", "--root", str(root)],
            "report": ["report", "--root", str(root), "--no-progress"],
            "preview": ["preview", "--root", str(root), "--no-video"]}
    took = {}
    for command in commands:
        t0 = time.perf_counter()
        run = run_cli(capsys, *argv[command])
        took[command] = time.perf_counter() - t0
        assert "Traceback" not in run.err
        if case == "keys" and command == "validate":  # the report names the field
            assert run.code == 1 and "lists 100000 keys" in run.out, run.out
        elif case == "keys" and command != "sessions":  # refused in one line, at once
            run.one_line_error(1, "lists 100000 keys", "at most 512")
        elif command != "validate":
            assert run.code == 0, run.err
    slow = {c: round(s, 1) for c, s in took.items() if s > BOUND_S}
    assert not slow, f"{case}: {took}"


def test_pause_timeline_matches_the_brute_force_rule() -> None:
    """The binary-search timeline gives what comparing every pause with every frame gave."""
    rng = random.Random(7)
    for trial in range(200):
        pauses, t = [], 0
        for _ in range(rng.randint(0, 12)):
            start = t + rng.randint(0, 5)
            end = start + rng.randint(0, 6)
            pauses.append(Pause(start, end, start * PERIOD_NS, end * PERIOD_NS))
            t = end
        rng.shuffle(pauses)
        fi = np.cumsum([rng.randint(1, 4) for _ in range(rng.randint(0, 30))]).astype(np.int64)
        cut = np.zeros(max(len(fi) - 1, 0), dtype=bool)
        for p in pauses:
            cut |= (fi[:-1] < p.start_tick) & (fi[1:] >= p.start_tick)
        assert (pause_cuts(fi, pauses) == cut).all(), trial
        for jump in tick_jumps(fi, fi * PERIOD_NS, pauses):
            lo, hi = int(fi[jump.row - 1]) + 1, int(fi[jump.row])
            covered = sum(max(0, min(hi, p.end_tick) - max(lo, p.start_tick)) for p in pauses)
            assert jump.paused == min(covered, hi - lo), trial
            assert jump.cut == bool(cut[jump.row - 1])
