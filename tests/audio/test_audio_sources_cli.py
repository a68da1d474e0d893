"""``nitrogen-capture audio-sources``: the listing, ``--json``, and one line without a server."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from cli_run import run_cli
from pulse_server import MONITOR, PulseServer

_LINUX_PULSE = pytest.mark.skipif(
    not sys.platform.startswith("linux") or importlib.util.find_spec("soundcard") is None,
    reason="PulseAudio runs on Linux, with soundcard (the audio extra)")


def test_synthetic_listing_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    table = run_cli(capsys, "audio-sources", "--backend", "synthetic")
    assert table.code == 0, table.err
    assert table.out.splitlines()[1].split()[:3] == ["*", "synthetic", "monitor"]
    listed = run_cli(capsys, "audio-sources", "--backend", "synthetic", "--json")
    assert listed.code == 0
    assert json.loads(listed.out) == [{"id": "synthetic", "name": "synthetic click track",
                                       "kind": "monitor", "backend": "synthetic",
                                       "default": True, "details": ""}]


def test_a_bad_backend_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "audio-sources", "--backend", "alsa")
    assert run.code == 2 and "Traceback" not in run.err and "--backend" in run.err


@_LINUX_PULSE
def test_pulse_listing(capsys: pytest.CaptureFixture[str], pulse_server: PulseServer) -> None:
    table = run_cli(capsys, "audio-sources", "--backend", "pulse")
    assert table.code == 0, table.err
    row = table.out.splitlines()[1].split()
    assert row[:3] == ["*", MONITOR, "monitor"]
    listed = json.loads(run_cli(capsys, "audio-sources", "--json").out)  # auto: pulse here
    assert [(d["id"], d["kind"], d["default"]) for d in listed] == [(MONITOR, "monitor", True)]


@_LINUX_PULSE
def test_no_server_is_exit_1_and_one_line(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/native")
    run_cli(capsys, "audio-sources", "--backend", "pulse").one_line_error(
        1, "audio-sources: error: no PulseAudio/PipeWire sound server at unix:", "without --audio")


@_LINUX_PULSE
@pytest.mark.parametrize("server", ["none", "running"])
def test_wasapi_off_windows_is_one_line(capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        request: pytest.FixtureRequest, server: str) -> None:
    # Off Windows soundcard is its PulseAudio backend: no server (an AssertionError at its
    # import) or a server (it would list PulseAudio's devices as WASAPI's) are both refused.
    if server == "running":
        request.getfixturevalue("pulse_server")
    else:
        monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/native")
    run_cli(capsys, "audio-sources", "--backend", "wasapi").one_line_error(
        1, "wasapi backend records on Windows only")
