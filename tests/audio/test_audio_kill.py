"""``kill -9`` of ``record --audio`` at random moments: the sound is recovered like the frames.

The process group gets SIGKILL 1.5-4.5 s after the clock started (the first ``meta.json``);
``merge`` then turns the open chunk's ``.part`` pair into a finished chunk and renders
``audio.flac``, and ``validate`` passes. The audio kept reaches as close to the kill as the
frames do: both are flushed every 0.5 s behind a 0.4 s delay (docs/reliability.md promises
under 1 s lost; the bound here, 1.5 s, allows a loaded machine's late flush).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nitrogen_capture.session.audio_store import open_parts, read_session_audio
from nitrogen_capture.session.merge import merge_session
from nitrogen_capture.session.validate import validate_session
from waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
BOUND_S = 1.5


def _record(out: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "nitrogen_capture", "record", "--source", "synthetic",
           "--region", "0", "0", "96", "64", "--fps", "30", "--chunk-size", "45",
           "--status-interval", "0", "--cue", "none", "--out", str(out), "--seconds", "60",
           "--audio", "--audio-rate", "16000", "--audio-source", "drift_ppm=-250;click_s=0.2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(3))
def test_kill_9_keeps_the_sound_up_to_the_frames(tmp_path, trial):
    out = tmp_path / "s"
    proc = _record(out)
    try:
        wait_until(lambda: (out / "meta.json").is_file(), "meta.json", 60, proc=proc)
        t0 = json.loads((out / "meta.json").read_text())["clock"]["t0_ns"]
        delay = random.Random(trial).uniform(1.5, 4.5)
        time.sleep(max(0.0, delay - (time.monotonic_ns() - t0) / 1e9))
        killed_rel = time.monotonic_ns() - t0
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert open_parts_left(out)  # the open chunk's audio was still being written
    merge_session(out)
    assert not open_parts_left(out)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "recovered"
    ts = np.load(out / "timestamps.npy")
    audio = read_session_audio(out)
    assert audio is not None
    loud = np.flatnonzero(np.abs(audio.samples[:, 0].astype(np.int32)) > 5000)
    last_sound_s = loud[-1] / audio.rate  # clicks every 0.2 s: the last one stored
    kill_s, last_frame_s = killed_rel / 1e9, ts[-1] / 1e9
    assert kill_s - last_frame_s < BOUND_S, (kill_s, last_frame_s)
    assert kill_s - last_sound_s < BOUND_S + 0.2, (kill_s, last_sound_s)
    assert meta["audio"]["stats"]["recorded_s"] > 0.5
    report = validate_session(out)
    assert report.ok, report.format()


def open_parts_left(out: Path) -> bool:
    from nitrogen_capture.session.paths import SessionPaths

    return bool(open_parts(SessionPaths(out)))
