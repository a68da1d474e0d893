"""The benchmark scripts still run (their figures are read by people, not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


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


@pytest.mark.slow
def test_bench_convert_batch_quick_is_identical(tmp_path: Path) -> None:
    """Local and Ray, 1 and 2 workers: five runs, every output the same bytes."""
    for module in ("pygame", "av", "ray", "torch"):
        pytest.importorskip(module)
    proc = subprocess.run([sys.executable, str(BENCH / "convert_batch.py"), "--quick", "--keep",
                           str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["identical"] is True and result["total_frames"] == 240
    assert {(r["engine"], r["jobs"]) for r in result["runs"]} == {
        ("local", 1), ("local", 2), ("ray", 1), ("ray", 2)}
    assert all(r["frames_per_s"] > 0 and r["convert_fps"] > 0 for r in result["runs"])


@pytest.mark.slow
def test_bench_stream_quick_measures_every_loader(tmp_path: Path) -> None:
    """The streaming loaders against the .pt loader, 0 and 2 workers, cold and warm."""
    for module in ("pygame", "av", "torch", "pyarrow"):
        pytest.importorskip(module)
    proc = subprocess.run([sys.executable, str(BENCH / "stream.py"), "--quick", "--keep",
                           str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    runs = {(r["loader"], r["workers"]): r for r in result["runs"]}
    assert set(runs) == {(n, w) for n in ("pt", "png", "video", "tree") for w in (0, 2)}
    assert all(r["cold_windows_per_s"] > 0 and r["warm_windows_per_s"] > 0
               for r in runs.values())
    assert runs[("png", 0)]["windows"] == runs[("pt", 0)]["windows"] > 0
    # Warm at 0 workers: every observation came from the cache, none decoded again.
    assert runs[("png", 0)]["cache"]["misses"] == runs[("png", 0)]["windows"]
    assert result["bytes"]["pt"] > result["bytes"]["video_frames"]


@pytest.mark.slow
@pytest.mark.x11
def test_bench_record_short_run_reports_every_field(tmp_path: Path) -> None:
    """Two seconds of 720p60 PNG, ours and the baseline: the JSON has every field, sanely;
    ``--profile`` leaves a py-spy flame graph of our recorder."""
    out = tmp_path / "latest.json"
    proc = subprocess.run([sys.executable, str(BENCH / "record.py"), "--seconds", "3",
                           "--configs", "720p60-png", "--out", str(out),
                           "--profile", str(tmp_path / "prof")],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert json.loads(out.read_text()) == result
    assert set(result["configs"]) == {"720p60-png"}
    cfg = result["configs"]["720p60-png"]
    assert cfg["size"] == [1280, 720] and cfg["fps"] == 60
    for side in ("ours", "baseline"):
        m = cfg[side]
        # loose bounds: the baseline gets a few fps on a busy 2-core machine
        assert m["frames"] >= 3, (side, m)
        assert 0.5 < m["span_s"] <= 3.5
        assert 1 < m["fps_achieved"] <= 61
        assert m["dropped_ticks"] >= 0 and m["missed_periods"] >= 0
        iv = m["interval_ms"]
        assert 0 <= iv["std"] <= iv["max"] and 0 < iv["p99"] <= iv["max"] < 2000
        assert set(m["cpu_pct"]) == {"recorder", "recorder_main", "game", "xvfb", "others"}
        assert 0 <= m["cpu_pct"]["recorder_main"] <= m["cpu_pct"]["recorder"]
        assert m["cpu_ms_per_frame"]["recorder"] > 0
        assert m["cpu_pct"]["recorder"] > 0 and all(v >= 0 for v in m["cpu_pct"].values())
        assert m["bytes_per_frame"] > 10_000  # textured 720p PNG: ~1 MB
    assert cfg["ours"]["encoder"]["name"] in ("fpng", "opencv")
    assert cfg["ratio"]["fps"] == pytest.approx(
        cfg["ours"]["fps_achieved"] / cfg["baseline"]["fps_achieved"], rel=1e-2)
    metrics = {t["metric"] for t in result["targets"] if t["config"] == "720p60-png"}
    assert metrics == {"dropped_ticks", "fps", "interval_std_ms"}
    assert all(t["pass"] in (True, False) for t in result["targets"])
    assert "| config | metric | ours | baseline | ratio | target | pass/miss |" in proc.stderr
    svg = (tmp_path / "prof" / "720p60-png.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg and "Recorder._loop" in svg


@pytest.mark.slow
@pytest.mark.x11
def test_capture_probe_measures_mss_on_the_textured_game_and_refuses_gdi(
        demo_display: str) -> None:
    """bench/capture_probe.py, the part of the capture-cost bench the Windows workflow runs."""
    pytest.importorskip("pygame")
    from e2e_fixtures import x_env

    proc = subprocess.run([sys.executable, str(BENCH / "capture_probe.py"), "mss", "gdi",
                           "--start-game", "--size", "480x270", "--seconds", "1.5",
                           "--fps", "30"],
                          env=x_env(demo_display), capture_output=True, text=True, timeout=300)
    lines = proc.stdout.splitlines()
    results = [json.loads(line) for line in lines if line.startswith("{")]
    assert [r["backend"] for r in results] == ["mss", "gdi"], proc.stdout + proc.stderr
    mss, gdi = results
    assert lines.index("BEGIN mss") < lines.index("END mss")
    assert mss["size"] == [480, 270] and mss["grabs"] >= 20
    assert 0 < mss["grab_ms"]["p50"] <= mss["grab_ms"]["max"]
    assert mss["cpu_ms_per_grab"] > 0
    # The textured scene moves every frame: most grabs see a new one.
    assert mss["new_frames"] > 0.5
    assert mss["stamp_source"] is None and mss["stamped"] == 0
    # GDI is Windows-only: refused in one line, and the probe exits 1 for it.
    assert "gdi" in gdi["refused"] and "\n" not in gdi["refused"]
    assert proc.returncode == 1
