"""Bad input gets one clear line and a non-zero exit, never a traceback (docs/architecture.md 11).

The CLI runs in-process (``cli_run.run_cli``); only the repo-root shim scripts, whose point is
being run as programs, start a process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_run import run_cli
from markers import HAS_TORCH
from nitrogen_capture.keylayout import DEFAULT_HOTKEYS

REPO = Path(__file__).resolve().parents[2]

SYNTH = ["record", "--source", "synthetic", "--region", "0", "0", "64", "48",
         "--status-interval", "0"]


@pytest.mark.parametrize(("args", "needle"), [
    (["--fps", "0"], "--fps must be in (0, 240], got 0"),
    (["--fps", "abc"], "invalid float value"),
    (["--chunk-size", "0"], "--chunk-size must be >= 1, got 0"),
    (["--max-frames", "-1"], "--max-frames must be >= 0"),
    (["--encoder-workers", "0"], "--encoder-workers"),
])
def test_record_rejects_bad_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    args: list[str], needle: str) -> None:
    run_cli(capsys, *SYNTH, "--out", str(tmp_path / "s"), *args).one_line_error(2, needle)
    assert not (tmp_path / "s").exists()


def test_inverted_region(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = run_cli(capsys, "record", "--source", "synthetic", "--region", "10", "10", "5", "5",
                  "--out", str(tmp_path / "s"))
    res.one_line_error(2, "region 10 10 5 5 is empty or inverted")


def test_missing_out_and_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "record", "--source", "synthetic").one_line_error(2, "--out is required")
    res = run_cli(capsys, *SYNTH, "--out", str(tmp_path / "s"), "--layout",
                  str(tmp_path / "nope.toml"))
    res.one_line_error(2, "layout file not found")


def test_layout_file_is_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = tmp_path / "arrows.toml"
    layout.write_text('name = "arrows"\nkeys = ["up", "down", "space", "lmb"]\n')
    res = run_cli(capsys, *SYNTH, "--out", str(tmp_path / "s"), "--layout", str(layout),
                  "--max-frames", "10")
    assert res.code == 0, res.err
    meta = json.loads((tmp_path / "s" / "meta.json").read_text())
    assert meta["layout"] == {"name": "arrows", "keys": ["up", "down", "space", "lmb"],
                              "hotkeys": DEFAULT_HOTKEYS.to_dict()}


def test_existing_session_is_refused_and_untouched(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    assert run_cli(capsys, *SYNTH, "--out", str(out), "--max-frames", "5").code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    run_cli(capsys, *SYNTH, "--out", str(out), "--max-frames", "5").one_line_error(
        1, "already holds a session")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.skipif(sys.platform == "win32", reason="DISPLAY/WAYLAND_DISPLAY are X11's and "
                    "Wayland's: Windows always has a desktop, there is nothing to unset")
def test_no_display_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", "")
    monkeypatch.setenv("WAYLAND_DISPLAY", "")
    res = run_cli(capsys, "record", "--process-name", "game", "--out", str(tmp_path / "s"),
                  "--start-immediately")
    assert "display" in res.one_line_error(1).lower()


def test_merge_and_validate_bad_roots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "merge", "--root", str(tmp_path / "nope")).one_line_error(
        1, "is not a directory")
    (tmp_path / "empty").mkdir()
    res = run_cli(capsys, "validate", "--root", str(tmp_path / "empty"))
    assert res.code == 1 and "Traceback" not in res.err + res.out


def test_newer_schema_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s"
    assert run_cli(capsys, *SYNTH, "--out", str(out), "--max-frames", "5").code == 0
    meta = json.loads((out / "meta.json").read_text())
    meta["schema_version"] = 99
    (out / "meta.json").write_text(json.dumps(meta))
    run_cli(capsys, "merge", "--root", str(out)).one_line_error(1, "v99", "upgrade")


def run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A repo-root shim run as a program, the way the original tool's users run it."""
    return subprocess.run([sys.executable, str(REPO / script), *args], cwd=REPO,
                          env=dict(os.environ), capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_original_shims_run_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "session1"
    proc = run_script("capture_logger.py", "--out", str(out), "--fps", "30", "--source",
                      "synthetic", "--region", "0", "0", "96", "64", "--chunk-size", "8",
                      "--max-frames", "20", "--start-immediately", "--status-interval", "0")
    assert proc.returncode == 0, proc.stderr
    assert "recorded 20 frames in 3 chunk(s)" in proc.stdout
    proc = run_script("dataset_merge.py", "--root", str(out))
    assert proc.returncode == 0, proc.stderr
    for name in ("actions.npy", "mouse_deltas.npy", "frame_indices.npy", "dataset.npz",
                 "dataset.pt", "meta.json"):  # without torch: no .pt (test_session_read)
        assert (out / name).is_file() == (HAS_TORCH or name != "dataset.pt"), name
    assert (out / "frames" / "chunk_003" / "000004.png").is_file()
    assert not (out / "frames" / "chunk_003" / "000005.png").exists()
