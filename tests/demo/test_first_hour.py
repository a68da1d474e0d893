"""A researcher's first hour: the hints the commands give on the way (tier 0, no display).

The end of ``record`` (where the merged files are, the next commands), ``convert``'s output size
line and uint8 default, the demo summary's explanations, and the one message for a missing X
display or a Wayland session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_run import run_cli
from nitrogen_capture.errors import PlatformError
from nitrogen_capture.xdisplay import check_x11_display, no_display_message, open_x11_display

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 is Linux here")


def _no_x(monkeypatch: pytest.MonkeyPatch, wayland: bool) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    if wayland:
        monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    else:
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


@linux_only
def test_display_message_for_x11_and_wayland() -> None:
    assert no_display_message({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}) is None
    assert no_display_message({}) == "no X display: set DISPLAY or run under Xvfb"
    for env in ({"WAYLAND_DISPLAY": "wayland-0"}, {"XDG_SESSION_TYPE": "wayland"}):
        msg = no_display_message(env)
        assert msg is not None
        assert "the X11 parts need XWayland" in msg
        assert "ScreenCast portal" in msg and "DISPLAY=:0" in msg
    with pytest.raises(PlatformError, match="XWayland"):
        check_x11_display({"WAYLAND_DISPLAY": "wayland-0"})


@linux_only
def test_opening_no_display_is_the_one_no_display_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("Xlib")
    _no_x(monkeypatch, wayland=False)
    with pytest.raises(PlatformError, match="no X display"):
        open_x11_display(None, "the X11 indicator")


@linux_only
@pytest.mark.parametrize("wayland", [False, True])
@pytest.mark.parametrize("command", [["record", "--window-title", "x"], ["windows"]])
def test_record_and_windows_without_x_display(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        wayland: bool, command: list[str]) -> None:
    _no_x(monkeypatch, wayland)
    args = [*command, "--out", str(tmp_path / "s")] if command[0] == "record" else command
    r = run_cli(capsys, *args)
    # On Wayland without XWayland or sway's IPC no window can be looked up: the portal's picker
    # is what chooses there (desktop.py).
    line = r.one_line_error(1, "gives no window list (no sway IPC, no XWayland)"
                            if wayland else "no X display: set DISPLAY or run under Xvfb")
    if wayland:
        assert "the portal's picker decides" in line
    assert not (tmp_path / "s").exists()


@linux_only
def test_xi2_raw_motion_without_x_display(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("Xlib")
    from nitrogen_capture.inputs._xi2_raw import _open_display

    _no_x(monkeypatch, wayland=True)
    with pytest.raises(PlatformError, match="the X11 parts need XWayland"):
        _open_display(None)


@linux_only
def test_demo_visible_without_x_display(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    _no_x(monkeypatch, wayland=True)
    r = run_cli(capsys, "demo", "--visible", "--out", str(tmp_path / "d"))
    line = r.one_line_error(1, "--visible needs an X display",
                            "the X11 parts need XWayland")
    assert "DISPLAY=:0" in line


def test_record_ends_with_the_session_and_the_next_commands(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "my runs" / "S"
    r = run_cli(capsys, "record", "--source", "synthetic", "--region", "0", "0", "64", "48",
                "--fps", "60", "--max-frames", "6", "--start-immediately",
                "--status-interval", "0", "--out", str(root))
    assert r.code == 0, r.err
    mark = '"' if os.name == "nt" else "'"  # cmd.exe and PowerShell take double quotes
    q = f"{mark}{root}{mark}"  # a path with a space is quoted, ready to paste
    assert r.out.splitlines()[-5:] == [
        f"session: {root}  (the merged files above are in this folder)",
        "next:",
        f"  nitrogen-capture validate --root {q}",
        f"  nitrogen-capture preview --root {q}",
        f"  nitrogen-capture convert --root {q} --out {mark}{root}.pt{mark}",
    ]
    assert r.out.splitlines()[-6].startswith("merged 6 frames from 1 chunk(s) into actions.npy")


def test_convert_defaults_to_uint8_and_says_the_size_first(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    from nitrogen_capture.export import ConvertSettings, NitrogenDataset, load
    from nitrogen_capture.export.nitrogen import human_bytes, pt_size_estimate
    from session_factory import make_session

    assert ConvertSettings(root=tmp_path, out=tmp_path / "o.pt").obs_dtype == "uint8"
    session = make_session(tmp_path / "sess", (8, 7, 5))
    out = tmp_path / "c.pt"
    r = run_cli(capsys, "convert", "--root", str(session.root), "--out", str(out),
                "--img-size", "16", "--seq-len", "4", "--no-progress")
    assert r.code == 0, r.err
    first, wrote, shift = r.out.splitlines()[0], r.out.splitlines()[-2], r.out.splitlines()[-1]
    estimate = pt_size_estimate(16, 16, "uint8", 4, 25)  # 20 rows - shift 1 - 4 + 1
    assert estimate == 16 * (3 * 16 * 16 + 4 * 25 * 4 + 64)
    assert first == f"writing ~{human_bytes(estimate)} to {out}"
    assert wrote.startswith("wrote 16 windows in 1 file(s)")
    assert shift.startswith("action shift 1 (the default")
    # The estimate is the tensors' bytes; the file adds only a small header and the meta.
    assert estimate <= out.stat().st_size < estimate + 64 * 1024
    assert load(out)["obs"].dtype == torch.uint8
    obs, _ = NitrogenDataset(out)[0]  # the loader hands out float in [0, 1]
    assert obs.dtype == torch.float32 and float(obs.max()) <= 1.0


def test_convert_to_nitrogen_shim_keeps_float32_unless_told(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import runpy

    torch = pytest.importorskip("torch")
    from nitrogen_capture.export import load
    from session_factory import make_session

    session = make_session(tmp_path / "sess", (8, 7, 5))
    shim = str(Path(__file__).resolve().parents[2] / "convert_to_nitrogen.py")
    for given, dtype in (([], torch.float32), (["--obs-dtype", "uint8"], torch.uint8)):
        out = tmp_path / f"s{len(given)}.pt"
        monkeypatch.setattr(sys, "argv", [shim, "--root", str(session.root), "--out", str(out),
                                          "--img-size", "8", "--seq-len", "4", "--no-progress",
                                          *given])
        with pytest.raises(SystemExit) as exc:
            runpy.run_path(shim, run_name="__main__")
        assert exc.value.code == 0
        assert load(out)["obs"].dtype == dtype


def test_demo_summary_explains_each_figure(tmp_path: Path) -> None:
    from nitrogen_capture.demo.check import CheckReport
    from nitrogen_capture.demo.runner import DemoResult, format_summary

    res = DemoResult(out=tmp_path, display=":5", record_rc=0, merge_rc=0, validate_rc=0,
                     report=CheckReport(frames=10, alignment=0.998, alignment_rows=0.992),
                     files={"timing.png": tmp_path / "demo" / "timing.png"})
    lines = format_summary(res).splitlines()
    for figure in ("frames:", "barcodes:", "presses:", "mouse:", "alignment:"):
        i = next(k for k, ln in enumerate(lines) if ln.startswith(figure))
        assert lines[i + 1].startswith("  = "), (figure, lines[i + 1])
    assert "markers agree with actions in 99.8% of frames (row by row 99.2%" in "\n".join(lines)
    why = next(ln for ln in lines if "the moment the game read its input" in ln)
    assert "+-1 frame" in why and "without the game's timing" in why
    assert any(ln.startswith("  = preview.mp4") for ln in lines)
    assert lines[-1] == "OK"
    res.preview_error = "PyAV is missing"
    assert "  preview: not written (PyAV is missing)" in format_summary(res)


def test_demo_no_preview_flag() -> None:
    import argparse

    from nitrogen_capture.cli.demo import add_demo_arguments, options_from_args

    parser = argparse.ArgumentParser()
    add_demo_arguments(parser)
    assert options_from_args(parser.parse_args(["--out", "d"])).preview
    assert not options_from_args(parser.parse_args(["--out", "d", "--no-preview"])).preview


def test_demo_preview_step_writes_into_out_demo(tmp_path: Path) -> None:
    pytest.importorskip("av")
    from nitrogen_capture.demo.runner import DemoResult, _preview
    from session_factory import make_session

    session = make_session(tmp_path / "sess", (8, 7, 5))
    res = DemoResult(out=session.root, display=":5")
    _preview(session.root, res)
    assert res.preview_error is None
    assert res.files["preview.mp4"] == session.root / "demo" / "preview.mp4"
    assert res.files["timing.png"].is_file() and res.files["preview.mp4"].stat().st_size > 0


def test_demo_preview_failure_is_a_note_not_a_crash(tmp_path: Path) -> None:
    from nitrogen_capture.demo.runner import DemoResult, _preview

    res = DemoResult(out=tmp_path / "missing", display=":5")
    _preview(tmp_path / "missing", res)
    assert res.preview_error is not None and "is not a directory" in res.preview_error
    assert not res.files


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_keeps_the_three_newest_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    names = ["demo-20251231-235959", "demo-20260101-000001", "demo-20260101-000002",
             "demo-20260102-000000", "demo-20260103-120000"]
    for name in [*names, "mine"]:
        (runs / name).mkdir(parents=True)
    for name in names[:2] + names[-1:]:
        (runs / f"{name}.pt").write_bytes(b"pt")  # the demo's export beside its session
    (runs / names[-1] / "big").write_bytes(b"\0" * 2_500_000)
    makefile = Path(__file__).resolve().parents[2] / "Makefile"
    r = subprocess.run(["make", "-s", "-f", str(makefile), "demo-prune"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in runs.iterdir()) == [*names[-3:-1], names[-1],
                                                      f"{names[-1]}.pt", "mine"]
    assert r.stdout.strip() == ("kept the 3 newest demo runs in runs/; remove runs/ to free "
                                "3 MB")


def test_the_readme_names_every_debian_package_make_installs() -> None:
    root = Path(__file__).resolve().parents[2]
    line = next(ln for ln in (root / "Makefile").read_text().splitlines()
                if ln.startswith("APT_PACKAGES"))
    packages = line.split(":=", 1)[1].split()
    assert "chromium" in packages
    readme = (root / "README.md").read_text()
    assert f"packages `{' '.join(packages)}` when missing" in " ".join(readme.split())


def test_the_demo_labels_its_recordings_with_the_demo_game(tmp_path: Path) -> None:
    from nitrogen_capture.demo.runner import DemoOptions, record_argv

    argv = record_argv(DemoOptions(out=tmp_path / "s"), 123)
    assert argv[argv.index("--game") + 1] == "nitrogen-demo"  # not its process, python3
    mine = record_argv(DemoOptions(out=tmp_path / "s", record_args=("--game", "mine")), 123)
    assert mine.count("--game") == 1 and mine[mine.index("--game") + 1] == "mine"
