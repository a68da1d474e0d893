"""kill -9 during a real recording: merge recovers finished chunks and the journaled rest.

The recorder is a real process (the point is killing it); the merge afterwards runs in-process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nitrogen_capture.capture._synthetic import read_frame_number
from nitrogen_capture.cli import main
from nitrogen_capture.session import validate_session
from waiting import wait_until


@pytest.mark.slow  # ~5 s of a real recording process, then kill -9
def test_kill_9_then_merge_recovers_all_but_the_last_second(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import cv2

    out = tmp_path / "s"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nitrogen_capture", "record", "--source", "synthetic",
         "--region", "0", "0", "320", "240", "--fps", "60", "--chunk-size", "100",
         "--out", str(out), "--status-interval", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # ~4.5 s of frames, 2+ finished chunks
        wait_until(lambda: len(list(out.glob("frames/chunk_*/*.png"))) >= 270,
                   "270 frames recorded", 60, proc=proc, interval=0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    captured = len(list(out.glob("frames/chunk_*/*.png")))
    meta = json.loads((out / "meta.json").read_text())
    finished = {c["index"]: np.load(out / c["files"]["actions"]) for c in meta["chunks"]}
    assert len(finished) >= 2
    assert list(out.glob("journal_chunk_*.jsonl")), "the open chunk left its journal"
    assert not validate_session(out).ok  # the leftover journal is reported

    assert main(["merge", "--root", str(out), "--no-progress"]) == 0, capsys.readouterr().err
    report = validate_session(out)
    assert report.ok, report.format()
    actions = np.load(out / "actions.npy")
    recovered = len(actions)
    # At most about one second (60 frames + the flush interval) is lost, never a finished chunk.
    assert captured - 90 <= recovered <= captured
    meta = json.loads((out / "meta.json").read_text())
    for c in meta["chunks"]:
        if c["index"] in finished:
            np.testing.assert_array_equal(np.load(out / c["files"]["actions"]),
                                          finished[c["index"]])
    last = meta["chunks"][-1]
    png = out / last["files"]["frames"] / f"{last['num_frames']:06d}.png"
    assert read_frame_number(cv2.imread(str(png))) == recovered - 1
