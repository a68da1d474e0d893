"""A recorder killed under Wine: its encoder workers leave, and merge recovers the session.

Windows has no PR_SET_PDEATHSIG: each encoder worker watches its parent through psutil
(encoderpool/worker.py). ``kill -9`` of the recorder's Wine process is the closest thing to a
crash or a Task Manager "End task" this tier has; the next ``merge`` must find the stale
``session.lock`` (a dead PID on this host), remove it, and recover the journaled rows.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil

from winetier import WineTier, winpath

WORKER_MARK = "--multiprocessing-fork"


def _workers() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(WORKER_MARK in part for part in cmdline) and any(
                "python.exe" in part.lower() for part in cmdline):
            found.append(proc)
    return found


def _rows_journaled(journal: Path) -> int:
    try:
        with journal.open(encoding="utf-8") as lines:
            return sum(1 for _ in lines)
    except OSError:
        return 0


def test_kill_9_of_the_recorder_ends_its_workers_and_merge_recovers(wine: WineTier,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "session"
    assert not _workers(), "encoder workers of an earlier test are still running"
    rec = wine.spawn("-m", "nitrogen_capture", "record", "--source", "synthetic",
                     "--region", "0", "0", "640", "360", "--fps", "30", "--seconds", "120",
                     "--start-immediately", "--status-interval", "0", "--cue", "none",
                     "--input-backend", "none", "--out", winpath(out))
    try:
        deadline = time.monotonic() + 60
        while _rows_journaled(out / "journal_chunk_001.jsonl") < 60:  # 2 s of frames
            assert rec.proc.poll() is None and time.monotonic() < deadline, rec.stderr
            time.sleep(0.2)
        workers = _workers()
        assert workers, "the PNG encoder pool runs in worker processes"
    finally:
        rec.kill()  # SIGKILL of the recorder's Wine process: no clean-up of its own runs
    killed_at = time.monotonic()
    _, alive = psutil.wait_procs(workers, timeout=30)
    left_after = time.monotonic() - killed_at
    print(f"\n{len(workers)} encoder workers left {left_after:.1f} s after kill -9")
    assert not alive, f"{len(alive)} workers outlived the killed recorder by 30 s"
    assert (out / "session.lock").is_file()  # a crash leaves it; merge decides it is stale

    merged = wine.python("-m", "nitrogen_capture", "merge", "--root", winpath(out), timeout=180)
    assert merged.returncode == 0, merged.stderr
    assert "removed the stale lock" in merged.stderr
    assert not (out / "session.lock").exists()
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["status"] == "recovered"
    assert meta["merged"]["frames"] >= 60
    validated = wine.python("-m", "nitrogen_capture", "validate", "--root", winpath(out),
                            timeout=180)
    assert validated.returncode == 0, validated.stdout + validated.stderr
