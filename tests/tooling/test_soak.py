"""The soak's short version: 3 minutes of the textured game recorded as video (bench/soak.py).

What a soak must show, from its raw samples (every 10 s) rather than only its own verdicts:
after a 1-minute warm-up the recorder's memory stays within the bounds of docs/reliability.md
("Long recordings": over the first sample after the warm-up, 4 MB + 8 MB an hour for its main
process, 16 MB + 8 MB an hour with its encoder processes), its open
fds, threads, processes and /dev/shm entries do not grow, no frame slot stays linked in
/dev/shm and nothing it mapped is left there; the session ends complete, validates, and holds
on disk the frames meta.json counts. 640x360 at 30 fps so that it holds on a loaded 2-core
machine; the fps only gets loose sanity bounds there, and dropped ticks are not asserted (they
are a quiet machine's target). About 3.5 minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
MINUTES, WARMUP_S, SAMPLE_S = 3, 60, 10
# docs/reliability.md, "Long recordings"
MAIN_BASE_MB, TREE_BASE_MB, MEM_RATE_MB_PER_H = 4.0, 16.0, 8.0
TOLERANCE = {"fds_tree": 4, "threads_tree": 2, "children": 0, "shm_mapped": 0}


def _steady(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in samples if s["phase"] == "recording" and s["t_s"] >= WARMUP_S]


@pytest.mark.slow
@pytest.mark.x11
def test_soak_three_minutes_memory_flat_nothing_grows(tmp_path: Path) -> None:
    pytest.importorskip("pygame")
    pytest.importorskip("av")
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "soak.py"), "--minutes", str(MINUTES), "--format", "video",
         "--size", "640x360", "--fps", "30", "--sample-seconds", str(SAMPLE_S),
         "--warmup-minutes", str(WARMUP_S / 60), "--out", str(out), "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=MINUTES * 60 + 240)
    # 1: a check failed (the table on stderr says which); the JSON is there either way
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert json.loads(out.read_text()) == result
    assert list(tmp_path.iterdir()) == [out], "the work folder was not removed"

    samples = result["samples"]
    after = _steady(samples)
    assert len(after) >= 10, samples  # a sample every 10 s from 60 s to 180 s
    assert all(s["children"] >= 1 for s in after)  # the encoder process was measured
    ref = after[0]
    hours = (after[-1]["t_s"] - ref["t_s"]) / 3600
    for key, base in (("rss_mb", MAIN_BASE_MB), ("rss_tree_mb", TREE_BASE_MB)):
        growth = max(s[key] for s in after) - ref[key]
        bound = result["memory"][key]["bound_mb"]
        assert bound <= base + MEM_RATE_MB_PER_H * hours + 0.1
        assert growth <= bound, (key, growth, bound, [s[key] for s in samples])
    for key, tol in TOLERANCE.items():
        values = [s[key] for s in after]
        assert max(values) - ref[key] <= tol, (key, values)
    assert all(s["shm_linked"] == 0 for s in after), [s["shm_linked"] for s in after]

    final = result["final"]
    assert final["shm_left"] == []
    assert final["status"] == "complete"
    assert final["validate_ok"], final["validate"]
    assert final["frames_on_disk"] == final["frames_meta"] == final["frames"] > 0
    # Loose below (the shared 2-core machine has run this at a load average of 15); above, the
    # pacer never bursts to catch up, so no interval beats the target (+1%: the status line's
    # elapsed is printed to 0.1 s)
    assert MINUTES * 60 * 30 / 3 <= final["frames"] <= MINUTES * 60 * 30 + 1
    assert 10 <= final["fps_achieved"] <= 30.05
    rates = [s["fps"] for s in after if "fps" in s]
    assert len(rates) >= 10 and all(1 <= r <= 30.3 for r in rates), rates

    failed = {c["check"] for c in result["checks"] if not c["pass"]}
    assert failed <= {"dropped ticks + missed periods"}, result["checks"]
    assert (proc.returncode == 0) == (not failed)
    assert "| check | value | bound | pass |" in proc.stderr
