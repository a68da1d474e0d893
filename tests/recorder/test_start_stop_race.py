"""A stop at any moment of the recorder's start-up leaves a whole session (docs/reliability.md 2).

A stop (SIGINT/SIGTERM: :meth:`Recorder.stop`, what ``record``'s handler calls) can come at any
moment: before the encoders are up, while the source opens or warms up, right after the first
``meta.json``, between the first chunk's journal opening and its first row. A killed ``demo``
sends the recorder its stop while its Xvfb dies, so the display can go at the same instant: a
part that then fails to close must not keep the writer from finishing the open chunk (it used to
leave ``journal_chunk_001.jsonl`` open and ``meta.json`` at ``recording``).

In-process, each stage is reached through the recorder's own parts (the stop injected where
that part runs), once with a clean stop and once with the display going with it. Then in
subprocesses: ``kill -9`` and Ctrl+C of ``record`` at seeded random moments of its start-up.
Whatever is left, ``merge`` and ``validate`` must agree.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nitrogen_capture.cli import main
from nitrogen_capture.errors import CaptureError, SessionExistsError
from nitrogen_capture.record import (
    Recorder,
    check_new_session_dir,
    never_began,
)
from nitrogen_capture.record import recorder as recorder_module
from nitrogen_capture.session import merge_session, validate_session
from nitrogen_capture.session.lock import LockHolder
from nitrogen_capture.session.paths import SessionPaths
from nitrogen_capture.session.writer import SessionWriter
from recording import synthetic_recorder
from waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="process groups and SIGKILL are Linux's here")


class DisplayGone(CaptureError):
    """What the parts of a recording raise once their display has gone (Xvfb killed)."""


def _display_goes(rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """From the stop on, every part that talks to the display fails (as mss/Xlib do)."""
    def gone(*_: Any) -> Any:
        raise DisplayGone("Connection to X server closed")

    def after_stop(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            if rec._stop.is_set():
                gone()
            return original(*args)
        return call

    monkeypatch.setattr(rec.source, "grab_raw", after_stop(rec.source.grab_raw))
    monkeypatch.setattr(rec.target, "is_focused", after_stop(rec.target.is_focused))
    monkeypatch.setattr(rec.source, "close", gone)
    monkeypatch.setattr(rec.target, "close", gone)
    monkeypatch.setattr(rec.inputs[0], "stop", gone)


def _stop_at(stage: str, rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``rec`` receive its stop at ``stage`` of the start-up (the first time it is reached)."""
    def stopping(original: Callable[..., Any], *, before: bool = True) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if before:
                rec.stop("SIGINT")
            result = original(*args, **kwargs)
            rec.stop("SIGINT")
            return result
        return call

    if stage == "before-run":
        rec.stop("SIGINT")
    elif stage == "encoders-starting":
        pool_class = recorder_module.EncoderPool

        class StoppedPool(pool_class):  # type: ignore[misc, valid-type]
            def wait_ready(self, timeout: float = 60.0) -> bool:
                rec.stop("SIGINT")
                return bool(super().wait_ready(timeout))

        monkeypatch.setattr(recorder_module, "EncoderPool", StoppedPool)
    elif stage == "source-open":
        monkeypatch.setattr(rec.source, "open", stopping(rec.source.open))
    elif stage == "warm-up":
        monkeypatch.setattr(rec.source, "warm_up", stopping(rec.source.warm_up))
    elif stage == "listeners-start":
        monkeypatch.setattr(rec.inputs[0], "start", stopping(rec.inputs[0].start))
    elif stage == "first-grab":
        _grab_stops(rec, monkeypatch)
    else:
        # The session writer's stages: its first meta.json (on the capture thread), then its
        # first journal line, row and encoded frame (on its own thread: the stop comes from
        # another thread than the capture loop's).
        hook = {"meta-written": "start", "journal-opened": "on_frame", "first-row": "on_row",
                "first-encoded": "on_encoded"}[stage]

        class StoppedWriter(SessionWriter):
            pass

        setattr(StoppedWriter, hook, stopping(getattr(SessionWriter, hook), before=False))
        monkeypatch.setattr(recorder_module, "SessionWriter", StoppedWriter)


STAGES = ["before-run", "encoders-starting", "source-open", "warm-up", "listeners-start",
          "meta-written", "first-grab", "journal-opened", "first-row", "first-encoded"]


def _grab_stops(rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    grab = rec.source.grab_raw

    def call() -> Any:
        frame = grab()
        rec.stop("SIGINT")  # the frame is queued: the journal opens with the stop pending
        return frame

    monkeypatch.setattr(rec.source, "grab_raw", call)


def _assert_whole_and_agreed(out: Path, frames: int) -> None:
    """No journal, no lock, ``complete``; merge writes ``frames`` rows and validate passes."""
    assert not list(out.glob("journal_*")), sorted(p.name for p in out.iterdir())
    assert not (out / "session.lock").exists()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "complete", meta["status"]
    assert meta["counters"]["frames"] == frames, meta["counters"]
    report = merge_session(out)
    assert report.frames == frames and not report.repair.changed, report.summary()
    assert len(np.load(out / "timestamps.npy")) == frames
    check = validate_session(out)
    assert check.ok, check.format()
    assert check.stats["frames"] == frames


@pytest.mark.slow  # ~1.5 s a recording (the encoder process starts each time)
@pytest.mark.parametrize("display", ["kept", "gone"])
@pytest.mark.parametrize("stage", STAGES)
def test_a_stop_at_each_start_up_stage_leaves_a_whole_session(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str, display: str) -> None:
    out = tmp_path / "s"
    rec = synthetic_recorder(out, size=(64, 48), max_frames=0, max_seconds=30)
    _stop_at(stage, rec, monkeypatch)
    if display == "gone":
        _display_goes(rec, monkeypatch)
    result = rec.run()  # a part failing after the stop is no error of the recording
    assert result.stop_reason == "SIGINT"
    # A stop before the first grab still ends the session it began: no frame, merged empty.
    # The writer's stages stop from its thread: the capture loop may grab a few more first.
    if STAGES.index(stage) < STAGES.index("first-grab"):
        assert result.frames == 0
    elif stage == "first-grab":
        assert result.frames == 1
    else:
        assert result.frames >= 1
    _assert_whole_and_agreed(out, result.frames)


@pytest.mark.slow  # one short recording
def test_a_display_lost_without_a_stop_fails_the_recording_but_keeps_it_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The display goes before the stop arrives: the error is the recording's, but what was
    # recorded up to it is finished (the open chunk written, meta.json final) and merges.
    out = tmp_path / "s"
    rec = synthetic_recorder(out, size=(64, 48), max_frames=0, max_seconds=30)
    focused = rec.target.is_focused
    calls = []

    def focus() -> bool:
        calls.append(1)
        if len(calls) > 5:
            raise DisplayGone("Connection to X server closed")
        return focused()

    monkeypatch.setattr(rec.target, "is_focused", focus)
    monkeypatch.setattr(rec.source, "close", lambda: (_ for _ in ()).throw(DisplayGone("gone")))
    with pytest.raises(DisplayGone):
        rec.run()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["stop_reason"].startswith("error: "), meta["stop_reason"]
    assert 1 <= rec.frames <= 5
    _assert_whole_and_agreed(out, rec.frames)


def _lock(root: Path, pid: int) -> None:
    holder = LockHolder.current("record")
    SessionPaths(root).lock.write_text(json.dumps(
        {"pid": pid, "host": holder.host, "started": "2026-12-06T10:00:00+00:00",
         "process_start": holder.process_start, "action": "record",
         "command": ["nitrogen-capture", "record", "--out", str(root)]}), encoding="utf-8")


def test_a_folder_left_by_a_recording_that_never_began_may_be_recorded_into(
        tmp_path: Path) -> None:
    # kill -9 between the lock and the first meta.json leaves the lock (and maybe frames/).
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    out = tmp_path / "s"
    (out / "frames").mkdir(parents=True)
    _lock(out, dead.pid)
    assert never_began(out)
    # killed while writing its first meta.json: the temporary of that write is no trace either
    (out / ".meta.json.partial").write_bytes(b'{"schema_ver')
    assert never_began(out)
    check_new_session_dir(out)  # taken over: the recorder's lock replaces the stale one
    rec = synthetic_recorder(out, size=(64, 48), max_frames=3)
    assert rec.run().frames == 3
    assert validate_session(out).ok
    # Anything more, or a lock whose process lives, is somebody's: refused as before.
    other = tmp_path / "t"
    (other / "frames").mkdir(parents=True)
    _lock(other, dead.pid)
    (other / "frames" / "x.png").write_bytes(b"")
    with pytest.raises(SessionExistsError):
        check_new_session_dir(other)
    (other / "frames" / "x.png").unlink()
    (other / "session.lock").unlink()
    assert never_began(other)  # what merge leaves of it: it removes a stale lock
    _lock(other, os.getpid())
    assert not never_began(other)
    with pytest.raises(SessionExistsError):
        check_new_session_dir(other)


# -- record in a subprocess, killed or interrupted at random moments of its start-up -----------
def _record_cmd(out: Path) -> list[str]:
    return [sys.executable, "-m", "nitrogen_capture", "record", "--source", "synthetic",
            "--region", "0", "0", "96", "64", "--fps", "30", "--chunk-size", "60",
            "--status-interval", "0", "--start-immediately", "--cue", "none", "--out", str(out)]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}


def _merge_and_validate(out: Path) -> tuple[int, bool, str]:
    with contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()) as err:
        rc = main(["merge", "--root", str(out), "--no-progress"])
    report = validate_session(out)
    return rc, report.ok, err.getvalue() + report.format()


def _early_trial(root: Path, sig: signal.Signals, after: str | None, delay_s: float) -> str:
    """Start ``record``, send its group ``sig`` ``delay_s`` after its start or after the file
    ``after`` (``session.lock``: the encoders are starting; ``meta.json``: the clock started)
    appeared, then check what is left; returns what the trial saw, for the report."""
    out = root / "s"
    root.mkdir()
    with (root / "record.log").open("wb") as log:
        proc = subprocess.Popen(_record_cmd(out), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=_env())
    try:
        start = time.monotonic()
        if after is not None:
            wait_until(lambda: (out / after).is_file(), after, 60, proc=proc, interval=0.002)
            start = time.monotonic()
        time.sleep(max(0.0, start + delay_s - time.monotonic()))  # the trial's kill moment
        os.killpg(proc.pid, sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log_text = (root / "record.log").read_text(errors="replace")
    seen = f"{sig.name} {delay_s:.3f} s after {after or 'the start'}: exit {proc.returncode}"
    if not (out / "meta.json").exists():
        # Stopped before the session began: nothing but (after kill -9) a stale lock is left.
        # (kill -9 while the first meta.json was written also leaves its temporary)
        left = sorted(p.name for p in out.iterdir()
                      if p.name != ".meta.json.partial") if out.exists() else []
        assert left in ([], ["session.lock"], ["frames", "session.lock"]), (seen, left, log_text)
        assert not any((out / "frames").iterdir()) if "frames" in left else True
        assert after != "meta.json"
        if left:  # not a session: merge and validate both say so, and record may reuse it
            assert never_began(out)
            rc, ok, said = _merge_and_validate(out)
            assert rc == 1 and not ok and "killed there before it began" in said, (seen, said)
            check_new_session_dir(out)
        return seen + f", nothing recorded (left: {left})"
    if sig == signal.SIGINT:  # a clean stop: record merged it itself
        assert proc.returncode == 0, (seen, log_text)
        assert (out / "actions.npy").is_file(), (seen, log_text)
    rc, ok, said = _merge_and_validate(out)
    assert rc == 0 and ok, (seen, said, log_text)
    assert not list(out.glob("journal_*")) and not (out / "session.lock").exists()
    return seen + f", {len(np.load(out / 'timestamps.npy'))} frames"


@linux_only
@pytest.mark.slow  # ~2-3 s a trial
@pytest.mark.parametrize(("sig", "seed"), [(signal.SIGKILL, 23), (signal.SIGINT, 29)],
                         ids=["kill-9", "ctrl-c"])
def test_record_stopped_at_random_moments_of_its_start_up_merges_and_validates(
        tmp_path: Path, sig: signal.Signals, seed: int) -> None:
    rng = random.Random(seed)
    seen = []
    # The start, the encoders' start-up (after the lock), the first second after meta.json
    # (the race's window) twice.
    for i, (after, longest) in enumerate([(None, 1.5), ("session.lock", 1.2),
                                          ("meta.json", 0.6), ("meta.json", 0.6)] * 2):
        seen.append(_early_trial(tmp_path / str(i), sig, after, rng.uniform(0.0, longest)))
    print("\n".join(seen))
