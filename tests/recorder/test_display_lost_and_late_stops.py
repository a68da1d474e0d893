"""A display that goes away, a Ctrl+C after the recording, a folder of a recording never begun.

Three moments of ``record`` found by the start-up race work (docs/reliability.md 2):

- the X server is killed under a recording (a real private Xvfb, the demo game's window as
  the target): the session ends as ``display lost``, finished and merged, and ``record`` exits
  1 with one line and no traceback (neither its own nor a listener thread's);
- the process group gets Ctrl+C just after the recorder returned, before the merge began: the
  merge still runs (it used to exit 130 "interrupted" with the session unmerged);
- merge and validate of a folder holding only a stale lock say what it is and what to do.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from e2e_fixtures import cli, running_game, wait_for_t0, x_env
from nitrogen_capture.cli import main
from nitrogen_capture.session import validate_session
from nitrogen_capture.session.lock import LockHolder
from nitrogen_capture.session.paths import SessionPaths
from waiting import wait_until
from xserver import kill_xvfb, private_xvfb

REPO = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="Xvfb and process groups are Linux's here")


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}


def _frames_on_disk(out: Path) -> int:
    frames = out / "frames"
    return sum(1 for _ in frames.rglob("*.png")) if frames.is_dir() else 0


@linux_only
@pytest.mark.slow  # the demo game, a recording and its merge: ~10 s
def test_an_x_server_killed_under_a_recording_ends_it_as_display_lost(tmp_path: Path) -> None:
    out = tmp_path / "s"
    with private_xvfb((640, 480)) as display, \
            running_game(display, tmp_path / "game.log"):
        env = x_env(display) | _env()
        with (tmp_path / "err.log").open("wb") as err:
            proc = subprocess.Popen(
                cli("record", "--window-title", "NitroGen Capture demo game", "--out", str(out),
                    "--fps", "10", "--start-immediately", "--status-interval", "0",
                    "--cue", "none", "--indicator", "none", "--wait", "30"),
                env=env, stdout=subprocess.PIPE, stderr=err, start_new_session=True)
            try:
                wait_for_t0(out / "meta.json", proc, 60)
                wait_until(lambda: _frames_on_disk(out) >= 3, "three frames written", 60,
                           proc=proc)
                kill_xvfb(display)  # the window, the listeners and the grabs lose it at once
                stdout, _ = proc.communicate(timeout=120)
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    said = (tmp_path / "err.log").read_text(errors="replace")
    assert proc.returncode == 1, (stdout, said)
    assert "Traceback" not in said and "Traceback" not in stdout.decode(), said
    # One error line, the last one: what happened and where the kept recording is.
    errors = [ln for ln in said.splitlines() if ln.startswith("nitrogen-capture record:")]
    assert errors == [said.strip().splitlines()[-1]], said
    assert "display went away" in errors[0] and str(out) in errors[0]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["stop_reason"] == "display lost" and meta["status"] == "complete", meta
    assert "stopped: display lost" in stdout.decode()
    assert "merged" in stdout.decode()
    frames = len(np.load(out / "timestamps.npy"))
    assert frames >= 3 and frames == meta["counters"]["frames"]
    check = validate_session(out)
    assert check.ok, check.format()


_CTRL_C_AFTER_RUN = """
import os, signal, sys
from nitrogen_capture.cli import main, record

run = record.record_with_status

def then_ctrl_c(*args, **kwargs):
    result = run(*args, **kwargs)
    # The user's Ctrl+C (the whole process group) right after the recorder returned, before
    # the merge: the handler runs at once, in this frame.
    os.killpg(os.getpgrp(), signal.SIGINT)
    print("ctrl-c sent after the recording", file=sys.stderr, flush=True)
    return result

record.record_with_status = then_ctrl_c
sys.exit(main(sys.argv[1:]))
"""


@linux_only
@pytest.mark.slow  # a short synthetic recording and its merge
def test_ctrl_c_between_the_recording_and_the_merge_still_merges(tmp_path: Path) -> None:
    out = tmp_path / "s"
    proc = subprocess.run(
        [sys.executable, "-c", _CTRL_C_AFTER_RUN, "record", "--source", "synthetic",
         "--region", "0", "0", "96", "64", "--fps", "30", "--max-frames", "6",
         "--status-interval", "0", "--cue", "none", "--out", str(out)],
        env=_env(), capture_output=True, text=True, timeout=180, start_new_session=True)
    assert "ctrl-c sent after the recording" in proc.stderr, proc.stderr
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "interrupted" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "merged 6 frames" in proc.stdout, proc.stdout
    assert (out / "actions.npy").is_file() and (out / "dataset.pt").is_file()
    assert validate_session(out).ok


def _stale_lock(root: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    holder = LockHolder.current("record")
    SessionPaths(root).lock.write_text(json.dumps(
        {"pid": dead.pid, "host": holder.host, "started": "2026-12-06T10:00:00+00:00",
         "process_start": holder.process_start, "action": "record",
         "command": ["nitrogen-capture", "record", "--out", str(root)]}), encoding="utf-8")


def _run(*argv: str) -> tuple[int, str]:
    with contextlib.redirect_stdout(io.StringIO()) as out, \
            contextlib.redirect_stderr(io.StringIO()) as err:
        rc = main(list(argv))
    return rc, out.getvalue() + err.getvalue()


def test_merge_and_validate_name_a_folder_of_a_recording_killed_before_it_began(
        tmp_path: Path) -> None:
    root = tmp_path / "s"
    (root / "frames").mkdir(parents=True)
    _stale_lock(root)
    # validate first (it leaves the lock), then merge (it removes the stale lock), then
    # validate again on what merge left: each says the same one line.
    for argv in (["validate", "--root", str(root)], ["merge", "--root", str(root),
                                                     "--no-progress"],
                 ["validate", "--root", str(root)]):
        rc, said = _run(*argv)
        assert rc == 1, said
        assert "killed there before it began" in said, said
        assert f"record --out {root}" in said and "or delete the folder" in said, said
        assert "not a session directory" not in said
        line = [ln for ln in said.splitlines() if "killed there" in ln]
        assert len(line) == 1, said
    # A folder with anything else in it, or nothing (merge's own lock is no trace of a
    # recording), is still just "not a session directory".
    other = tmp_path / "t"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    empty = tmp_path / "u"
    empty.mkdir()
    for argv in (["validate", "--root", str(other)], ["merge", "--root", str(empty)],
                 ["validate", "--root", str(empty)]):
        rc, said = _run(*argv)
        assert rc == 1 and "has no meta.json: not a session directory" in said, (argv, said)
