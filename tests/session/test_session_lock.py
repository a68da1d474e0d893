"""The session lock (docs/format.md, "Lock"): nothing changes a session while it is recorded.

Live recordings run in a real process (``python -m nitrogen_capture record``), as a user starts
them; the commands under test run in-process through ``main(argv)``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nitrogen_capture.session.merge as merge_module
from cli_run import run_cli
from nitrogen_capture.errors import (
    CaptureError,
    SessionExistsError,
    SessionFormatError,
    SessionLockedError,
)
from nitrogen_capture.session import merge_session, repair_session, validate_session
from nitrogen_capture.session.lock import (
    LockHolder,
    LockStatus,
    SessionLock,
    check_not_locked,
    lock_status,
)
from nitrogen_capture.session.paths import SessionPaths
from recording import synthetic_recorder
from session_factory import make_session
from waiting import wait_until

FOREIGN = "other-host.example"


def dead_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


def write_lock(root: Path, **fields: Any) -> Path:
    """A lock file as another process would have written it (``fields`` override)."""
    holder = LockHolder.current("record")
    data = {"pid": holder.pid, "host": holder.host, "started": "2026-11-29T10:00:00+00:00",
            "process_start": holder.process_start, "action": "record",
            "command": ["nitrogen-capture", "record", "--out", str(root)]}
    data.update(fields)
    path = SessionPaths(root).lock
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# -- live recordings --------------------------------------------------------------------------


@pytest.fixture
def live_recording(tmp_path: Path, request: pytest.FixtureRequest
                   ) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A ``record`` process in another interpreter, once its first chunk is finished."""
    frame_format = request.param
    if frame_format == "video":
        pytest.importorskip("av")
    out = tmp_path / "s"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nitrogen_capture", "record", "--out", str(out), "--source",
         "synthetic", "--region", "0", "0", "320", "240", "--fps", "30", "--max-frames", "180",
         "--chunk-size", "30", "--start-immediately", "--status-interval", "0",
         "--frame-format", frame_format],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        meta = out / "meta.json"

        def mid_recording() -> bool:  # a finished chunk and an open one
            assert proc.poll() is None, proc.communicate()
            return bool(meta.is_file() and json.loads(meta.read_text())["chunks"]
                        and list(out.glob("journal_chunk_*.jsonl")))

        wait_until(mid_recording, "the recording started", 60, ignore=(ValueError,))
        yield out, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def _finished(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


@pytest.mark.slow  # 6 s of a real recording per frame format
@pytest.mark.parametrize("live_recording", ["png", "video"], indirect=True)
def test_live_recording_is_refused_and_unharmed(
        live_recording: tuple[Path, subprocess.Popen[str]],
        capsys: pytest.CaptureFixture[str]) -> None:
    out, proc = live_recording
    who = f"being recorded by PID {proc.pid} on host"
    for _ in range(2):  # the reported damage came from merging twice
        run_cli(capsys, "merge", "--root", str(out), "--no-progress").one_line_error(1, who)
    run_cli(capsys, "convert", "--root", str(out), "--out", str(out.parent / "x.pt"),
            "--no-progress").one_line_error(1, who)
    run_cli(capsys, "convert", "--root", str(out), "--out", str(out.parent / "tree"),
            "--format", "nitrogen-dataset", "--no-progress").one_line_error(1, who)
    with pytest.raises(SessionLockedError) as info:
        repair_session(out)
    assert info.value.pid == proc.pid and info.value.path == SessionPaths(out).lock

    live = validate_session(out, check_frames=False)  # runs, and warns
    assert any(p.where == "session.lock" and "being recorded" in p.message
               for p in live.warnings), live.format()
    assert not any("journal" in p.where for p in live.errors), live.format()

    stdout = _finished(proc)
    assert "recorded 180 frames" in stdout and "merged 180 frames" in stdout  # record's merge
    assert not SessionPaths(out).lock.exists()
    assert not list(out.glob("frames/**/orphans"))
    report = validate_session(out)
    assert report.ok and report.stats["frames"] == 180, report.format()
    # The only warning a loaded machine may add: periods the recorder missed, as counted.
    others = [p for p in report.warnings if p.where != "frame_indices"]
    assert not others, report.format()
    assert report.stats["dropped_ticks"] == json.loads(
        (out / "meta.json").read_text())["counters"]["dropped_ticks"], report.format()
    assert run_cli(capsys, "merge", "--root", str(out), "--no-progress").code == 0
    assert len(np.load(out / "actions.npy")) == 180


@pytest.mark.slow  # ~2 s of a real recording, then kill -9
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("live_recording", ["png"], indirect=True)
def test_kill_9_leaves_a_stale_lock_that_merge_removes(
        live_recording: tuple[Path, subprocess.Popen[str]],
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    out, proc = live_recording
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    status = lock_status(SessionPaths(out))
    assert status is not None and status.state == "stale" and status.holder is not None
    assert status.holder.pid == proc.pid
    before = validate_session(out, check_frames=False)
    assert any("stale lock" in p.message for p in before.warnings), before.format()
    assert any("run merge to recover" in p.message for p in before.errors), before.format()

    run = run_cli(capsys, "merge", "--root", str(out), "--no-progress")
    assert run.code == 0, run.err
    assert f"removed the stale lock of PID {proc.pid}" in caplog.text
    assert not SessionPaths(out).lock.exists()
    report = validate_session(out)
    assert report.ok, report.format()


# -- the recorder's side ------------------------------------------------------------------------


def test_the_recorder_holds_the_lock_and_removes_it(tmp_path: Path) -> None:
    out = tmp_path / "s"
    rec = synthetic_recorder(out, max_frames=10)
    seen: list[LockStatus | None] = []
    grab = rec.source.grab_raw  # what the recorder's capture loop calls

    def grab_and_look() -> Any:
        seen.append(lock_status(rec.paths))
        return grab()

    rec.source.grab_raw = grab_and_look  # type: ignore[method-assign]
    assert rec.run().frames == 10
    status = seen[0]
    assert status is not None and status.state == "live" and status.holder is not None
    assert status.holder.pid == os.getpid() and status.holder.action == "record"
    assert not rec.paths.lock.exists()
    assert merge_session(out).frames == 10  # what `record` does next


def test_a_failed_recording_removes_the_lock(tmp_path: Path) -> None:
    out = tmp_path / "s"
    rec = synthetic_recorder(out, max_frames=100)
    grab, calls = rec.source.grab_raw, []  # what the recorder's capture loop calls

    def failing_grab() -> Any:
        calls.append(1)
        if len(calls) > 5:
            raise CaptureError("the capture backend died")
        return grab()

    rec.source.grab_raw = failing_grab  # type: ignore[method-assign]
    with pytest.raises(CaptureError, match="backend died"):
        rec.run()
    assert not rec.paths.lock.exists()
    assert merge_session(out).frames >= 0  # and the session is not locked


def test_the_recorder_refuses_a_locked_session(tmp_path: Path) -> None:
    out = tmp_path / "s"
    rec = synthetic_recorder(out, max_frames=5)  # --out checked: new directory
    out.mkdir()
    lock = write_lock(out, host=FOREIGN)  # another recorder got there first
    with pytest.raises(SessionLockedError, match=FOREIGN):
        rec.run()
    assert sorted(p.name for p in out.iterdir()) == [lock.name]  # nothing written
    with pytest.raises(SessionExistsError, match="not empty"):
        synthetic_recorder(out)


# -- stale and foreign locks ----------------------------------------------------------------------


def test_stale_lock_of_a_dead_pid_is_removed_and_merge_recovers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    b = make_session(tmp_path / "s", open_last=True)
    pid = dead_pid()
    write_lock(b.root, pid=pid, process_start=None)
    run = run_cli(capsys, "merge", "--root", str(b.root), "--no-progress")
    assert run.code == 0, run.err
    assert f"removed the stale lock of PID {pid}" in caplog.text  # one log line
    assert "chunk 3: recovered" in run.out
    assert not b.paths.lock.exists()
    assert validate_session(b.root).ok


def test_a_reused_pid_does_not_keep_a_lock_alive(tmp_path: Path) -> None:
    b = make_session(tmp_path / "s")
    me = LockHolder.current("record")
    assert me.process_start is not None
    write_lock(b.root, process_start=me.process_start - 3600)  # our PID, an older holder
    status = lock_status(b.paths)
    assert status is not None and status.state == "stale"
    removed = check_not_locked(b.paths, "convert")
    assert removed is not None and removed.pid == os.getpid()
    assert not b.paths.lock.exists()


def test_a_live_lock_of_this_host_is_kept(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    b = make_session(tmp_path / "s")
    write_lock(b.root)  # this very process, correct start time: alive
    line = run_cli(capsys, "merge", "--root", str(b.root)).one_line_error(
        1, f"being recorded by PID {os.getpid()}", "wait for it to finish")
    assert "nitrogen-capture merge: error: session" in line
    assert b.paths.lock.exists() and not b.paths.merged("actions").exists()


def test_foreign_host_lock_is_never_stale(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    b = make_session(tmp_path / "s", open_last=True)
    lock = write_lock(b.root, pid=dead_pid(), host=FOREIGN)
    run_cli(capsys, "merge", "--root", str(b.root)).one_line_error(
        1, f"on host {FOREIGN}", "another machine", f"delete {lock} by hand")
    with pytest.raises(SessionLockedError) as info:
        merge_session(b.root)
    assert info.value.host == FOREIGN and info.value.path == lock
    with pytest.raises(SessionLockedError):
        check_not_locked(b.paths, "convert")
    assert lock.exists() and b.paths.journals()  # nothing touched
    report = validate_session(b.root)
    assert any(FOREIGN in p.message for p in report.warnings), report.format()


def test_unreadable_old_lock_is_refused(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    b = make_session(tmp_path / "s")
    b.paths.lock.write_bytes(b"{not json")
    old = time.time() - 60
    os.utime(b.paths.lock, (old, old))
    run_cli(capsys, "merge", "--root", str(b.root)).one_line_error(
        1, "unreadable lock file", "delete that file")
    with pytest.raises(SessionLockedError) as info:
        repair_session(b.root)
    assert info.value.pid is None


# -- merge against merge --------------------------------------------------------------------------


def test_two_merges_at_once_one_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    b = make_session(tmp_path / "s", open_last=True)
    inside, go_on = threading.Event(), threading.Event()
    real_repair = merge_module.repair_session

    def slow_repair(root: Path, *, held: SessionLock | None = None) -> Any:
        inside.set()
        assert go_on.wait(30)
        return real_repair(root, held=held)

    monkeypatch.setattr(merge_module, "repair_session", slow_repair)
    results: list[Any] = []
    first = threading.Thread(target=lambda: results.append(merge_session(b.root)))
    first.start()
    try:
        assert inside.wait(30)
        run_cli(capsys, "merge", "--root", str(b.root)).one_line_error(
            1, f"being merged by PID {os.getpid()}")
        with pytest.raises(SessionLockedError, match="being merged"):
            repair_session(b.root)
        with pytest.raises(SessionLockedError, match="being merged"):
            check_not_locked(b.paths, "convert")
    finally:
        go_on.set()
        first.join(60)
    assert results and results[0].frames == sum(b.chunk_sizes)
    assert not b.paths.lock.exists()


# -- the lock itself ------------------------------------------------------------------------------


def test_acquire_is_exclusive_and_release_idempotent(tmp_path: Path) -> None:
    paths = SessionPaths(tmp_path)
    with SessionLock.acquire(paths, "merge") as lock:
        content = json.loads(paths.lock.read_text())
        assert content["pid"] == os.getpid() and content["action"] == "merge"
        assert {"host", "started", "process_start", "command"} <= set(content)
        with pytest.raises(SessionLockedError, match="being merged"):
            SessionLock.acquire(paths, "merge")
    assert not paths.lock.exists()
    lock.release()  # again: nothing happens


def test_release_leaves_a_lock_that_is_no_longer_ours(tmp_path: Path) -> None:
    paths = SessionPaths(tmp_path)
    lock = SessionLock.acquire(paths, "record")
    write_lock(tmp_path, host=FOREIGN)  # removed by hand and taken by someone else
    lock.release()
    assert paths.lock.exists()


def test_missing_session_directory(tmp_path: Path) -> None:
    with pytest.raises(SessionFormatError, match="does not exist"):
        merge_session(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()

