"""Disk full while recording: a clean stop, one clear line, every finished chunk intact.

Uses a real, tiny tmpfs (needs root to mount; CI runs as root). Skipped where mounting is not
allowed, since nothing else fills a disk for real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6M", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.slow  # records until a 6 MB disk is full
def test_disk_full_stops_cleanly_and_keeps_finished_chunks(small_disk: Path) -> None:
    out = small_disk / "s"
    proc = subprocess.run(
        [sys.executable, "-m", "nitrogen_capture", "record", "--source", "synthetic",
         "--region", "0", "0", "320", "240", "--fps", "60", "--chunk-size", "10",
         "--out", str(out), "--status-interval", "0"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "the disk is full" in lines[0] and "finished chunk(s) are intact" in lines[0]
    meta = json.loads((out / "meta.json").read_text())
    assert len(meta["chunks"]) >= 2
    for c in meta["chunks"]:
        n = c["num_frames"]
        for stem in ("actions", "mouse_deltas", "frame_indices", "timestamps"):
            assert len(np.load(out / c["files"][stem], allow_pickle=False)) == n
        assert len(list((out / c["files"]["frames"]).glob("*.png"))) == n
    assert not list(out.rglob("*.tmp")), "no half-written temporaries are left behind"
