"""A researcher's first hour: the hints the commands give on the way (tier 0, no display).

The end of ``record`` (where the merged files are, the next commands), ``convert``'s output size
line and uint8 default, the demo summary's explanations, and the one message for a missing X
display or a Wayland session.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cli_run import run_cli
from nitrogen_capture.errors import PlatformError
from nitrogen_capture.xdisplay import check_x11_display, no_display_message

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
        assert "native Wayland capture is not supported yet" in msg
        assert "Proton/Wine" in msg and "DISPLAY=:0" in msg
    with pytest.raises(PlatformError, match="XWayland"):
        check_x11_display({"WAYLAND_DISPLAY": "wayland-0"})


@linux_only
@pytest.mark.parametrize("wayland", [False, True])
@pytest.mark.parametrize("command", [["record", "--window-title", "x"], ["windows"]])
def test_record_and_windows_without_x_display(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        wayland: bool, command: list[str]) -> None:
    _no_x(monkeypatch, wayland)
    args = [*command, "--out", str(tmp_path / "s")] if command[0] == "record" else command
    r = run_cli(capsys, *args)
    line = r.one_line_error(1, "native Wayland capture is not supported yet"
                            if wayland else "no X display: set DISPLAY or run under Xvfb")
    if wayland:
        assert "DISPLAY=:0" in line
    assert not (tmp_path / "s").exists()


@linux_only
def test_xi2_raw_motion_without_x_display(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("Xlib")
    from nitrogen_capture.inputs._xi2_raw import _open_display

    _no_x(monkeypatch, wayland=True)
    with pytest.raises(PlatformError, match="native Wayland capture is not supported yet"):
        _open_display(None)


@linux_only
def test_demo_visible_without_x_display(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    _no_x(monkeypatch, wayland=True)
    r = run_cli(capsys, "demo", "--visible", "--out", str(tmp_path / "d"))
    line = r.one_line_error(1, "--visible needs an X display",
                            "native Wayland capture is not supported yet")
    assert "DISPLAY=:0" in line


def test_record_ends_with_the_session_and_the_next_commands(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "my runs" / "S"
    r = run_cli(capsys, "record", "--source", "synthetic", "--region", "0", "0", "64", "48",
                "--fps", "60", "--max-frames", "6", "--start-immediately",
                "--status-interval", "0", "--out", str(root))
    assert r.code == 0, r.err
    q = f"'{root}'"  # a path with a space is quoted, ready to paste
    assert r.out.splitlines()[-5:] == [
        f"session: {root}  (the merged files above are in this folder)",
        "next:",
        f"  nitrogen-capture validate --root {q}",
        f"  nitrogen-capture preview --root {q}",
        f"  nitrogen-capture convert --root {q} --out '{root}.pt'",
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
    first, last = r.out.splitlines()[0], r.out.splitlines()[-1]
    estimate = pt_size_estimate(17, 16, "uint8", 4, 25)
    assert estimate == 17 * (3 * 16 * 16 + 4 * 25 * 4 + 64)
    assert first == f"writing ~{human_bytes(estimate)} to {out}"
    assert last.startswith("wrote 17 windows in 1 file(s)")
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
    shim = str(Path(__file__).resolve().parents[1] / "convert_to_nitrogen.py")
    for given, dtype in (([], torch.float32), (["--obs-dtype", "uint8"], torch.uint8)):
        out = tmp_path / f"s{len(given)}.pt"
        monkeypatch.setattr(sys, "argv", [shim, "--root", str(session.root), "--out", str(out),
                                          "--img-size", "8", "--seq-len", "4", "--no-progress",
                                          *given])
        with pytest.raises(SystemExit) as exc:
            runpy.run_path(shim, run_name="__main__")
        assert exc.value.code == 0
        assert load(out)["obs"].dtype == dtype
