"""Bad input gets one clear line and a non-zero exit, never a traceback (DESIGN.md 11)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
        script: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, script] if script else [sys.executable, "-m", "nitrogen_capture"]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*cmd, *args], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=120)


def one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


SYNTH = ["record", "--source", "synthetic", "--region", "0", "0", "64", "48",
         "--status-interval", "0"]


@pytest.mark.parametrize(("args", "needle"), [
    (["--fps", "0"], "--fps must be in (0, 240], got 0"),
    (["--fps", "abc"], "invalid float value"),
    (["--chunk-size", "0"], "--chunk-size must be >= 1, got 0"),
    (["--max-frames", "-1"], "--max-frames must be >= 0"),
    (["--encoder-workers", "0"], "--encoder-workers"),
])
def test_record_rejects_bad_numbers(tmp_path: Path, args: list[str], needle: str) -> None:
    proc = run(*SYNTH, "--out", str(tmp_path / "s"), *args)
    one_line_error(proc, 2, needle)
    assert not (tmp_path / "s").exists()


def test_inverted_region(tmp_path: Path) -> None:
    proc = run("record", "--source", "synthetic", "--region", "10", "10", "5", "5",
               "--out", str(tmp_path / "s"))
    one_line_error(proc, 2, "region 10 10 5 5 is empty or inverted")


def test_missing_out_and_layout(tmp_path: Path) -> None:
    one_line_error(run("record", "--source", "synthetic"), 2, "--out is required")
    proc = run(*SYNTH, "--out", str(tmp_path / "s"), "--layout", str(tmp_path / "nope.toml"))
    one_line_error(proc, 2, "layout file not found")


def test_layout_file_is_used(tmp_path: Path) -> None:
    layout = tmp_path / "arrows.toml"
    layout.write_text('name = "arrows"\nkeys = ["up", "down", "space", "lmb"]\n')
    proc = run(*SYNTH, "--out", str(tmp_path / "s"), "--layout", str(layout),
               "--max-frames", "10")
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((tmp_path / "s" / "meta.json").read_text())
    assert meta["layout"] == {"name": "arrows", "keys": ["up", "down", "space", "lmb"]}


def test_existing_session_is_refused_and_untouched(tmp_path: Path) -> None:
    out = tmp_path / "s"
    assert run(*SYNTH, "--out", str(out), "--max-frames", "5").returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    one_line_error(run(*SYNTH, "--out", str(out), "--max-frames", "5"), 1,
                   "already holds a session")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_no_display_is_one_line(tmp_path: Path) -> None:
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}
    proc = run("record", "--process-name", "game", "--out", str(tmp_path / "s"),
               "--start-immediately", env=env)
    line = one_line_error(proc, 1)
    assert "display" in line.lower()


def test_merge_and_validate_bad_roots(tmp_path: Path) -> None:
    one_line_error(run("merge", "--root", str(tmp_path / "nope")), 1, "is not a directory")
    (tmp_path / "empty").mkdir()
    proc = run("validate", "--root", str(tmp_path / "empty"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "s"
    assert run(*SYNTH, "--out", str(out), "--max-frames", "5").returncode == 0
    meta = json.loads((out / "meta.json").read_text())
    meta["schema_version"] = 99
    (out / "meta.json").write_text(json.dumps(meta))
    one_line_error(run("merge", "--root", str(out)), 1, "v99", "upgrade")


def test_original_shims_run_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "session1"
    proc = run("--out", str(out), "--fps", "30", "--source", "synthetic", "--region", "0", "0",
               "96", "64", "--chunk-size", "8", "--max-frames", "20", "--start-immediately",
               "--status-interval", "0", script=str(REPO / "capture_logger.py"))
    assert proc.returncode == 0, proc.stderr
    assert "recorded 20 frames in 3 chunk(s)" in proc.stdout
    proc = run("--root", str(out), script=str(REPO / "dataset_merge.py"))
    assert proc.returncode == 0, proc.stderr
    for name in ("actions.npy", "mouse_deltas.npy", "frame_indices.npy", "dataset.npz",
                 "dataset.pt", "meta.json"):
        assert (out / name).is_file(), name
    assert (out / "frames" / "chunk_003" / "000004.png").is_file()
    assert not (out / "frames" / "chunk_003" / "000005.png").exists()
