"""The benchmark scripts still run (their figures are read by people, not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.slow
def test_bench_run_quick_prints_its_json() -> None:
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == {"png_encode", "capture_thread_cost", "pacing"}
    assert result["capture_thread_cost"]["pool_handoff_ms"] > 0


@pytest.mark.slow
def test_bench_convert_quick_is_identical(tmp_path: Path) -> None:
    pytest.importorskip("pygame")
    pytest.importorskip("av")
    proc = subprocess.run([sys.executable, str(BENCH / "convert.py"), "--quick", "--keep",
                           str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    for name in ("video_720p", "png_720p"):
        assert result[name]["identical"] is True
        assert result[name]["parallel"]["frames_per_s"] > 0
        assert result[name]["parallel"]["peak_rss_mb"] < 1024
