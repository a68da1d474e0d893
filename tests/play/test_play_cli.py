"""``play``'s bad input: one line and a non-zero exit, before anything is written or asked."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from cli_run import run_cli
from nitrogen_capture.session.paths import META_NAME

BASE = ("play", "--region", "0", "0", "64", "48", "--seconds", "1", "--start-immediately")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# A bad setting exits 2 (as every command's bad flags do); a policy that cannot load exits 1.
@pytest.mark.parametrize(("flags", "code", "needles"), [
    (("--policy", "no_such_module_xyz:act"), 1, ("no_such_module_xyz",)),
    (("--policy", "gopher://x"), 2, ("--policy",)),
    (("--policy", "random", "--action-hz", "0"), 2, ("--action-hz",)),
    (("--policy", "random", "--img-size", "4"), 2, ("--img-size",)),
    (("--policy", "random", "--return-after", "-1"), 2, ("--return-after",)),
    (("--policy", "random", "--policy-arg", "noequals"), 2, ("--policy-arg",)),
])
def test_bad_policy_settings_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          flags: tuple[str, ...], code: int,
                                          needles: tuple[str, ...]) -> None:
    out = tmp_path / "rollout"
    run_cli(capsys, *BASE, "--out", str(out), *flags).one_line_error(code, *needles)
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.skipif(sys.platform == "win32", reason="vigem is the Windows pad")
def test_the_windows_pad_on_linux_is_one_line(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    line = run_cli(capsys, *BASE, "--out", str(tmp_path / "r"), "--policy", "idle",
                   "--output", "vigem").one_line_error(1)
    assert "uinput" in line


def test_an_existing_session_is_refused_before_the_server_is_asked(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / META_NAME).write_text("{}", encoding="utf-8")
    dead = f"nitrogen://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    run_cli(capsys, *BASE, "--out", str(out), "--policy", dead, "--policy-timeout", "30",
            ).one_line_error(1, "already holds a session")
    assert time.monotonic() - started < 20  # the 30 s answer timeout was never waited out
    assert (out / META_NAME).read_text(encoding="utf-8") == "{}"


def test_a_dead_server_at_the_start_is_one_line_and_writes_nothing(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("zmq", reason="nitrogen:// needs pyzmq (the play extra)")
    out = tmp_path / "rollout"
    dead = f"nitrogen://127.0.0.1:{_free_port()}"
    run_cli(capsys, *BASE, "--out", str(out), "--policy", dead, "--policy-timeout", "0.3",
            ).one_line_error(1, dead.removeprefix("nitrogen://"))
    assert not out.exists() or not any(out.iterdir())
