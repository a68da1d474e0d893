"""Disk full while recording: a clean stop, one clear line, every finished chunk intact.

Uses a real, tiny tmpfs (needs root to mount; CI runs as root). Skipped where mounting is not
allowed, since nothing else fills a disk for real.
"""

from __future__ import annotations

import json
import shutil
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
def test_disk_full_stops_cleanly_and_keeps_finished_chunks(small_disk: Path,
                                                           tmp_path: Path) -> None:
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
    # How many chunks are sealed when the disk fills depends on how far the PNG workers ran
    # ahead (frames of up to five chunks are in flight), so only "at least one" is certain;
    # the rest is journaled, and the merge below shows none of it is lost.
    assert len(meta["chunks"]) >= 1
    for c in meta["chunks"]:
        n = c["num_frames"]
        for stem in ("actions", "mouse_deltas", "frame_indices", "timestamps"):
            assert len(np.load(out / c["files"][stem], allow_pickle=False)) == n
        assert len(list((out / c["files"]["frames"]).glob("*.png"))) == n
    assert not list(out.rglob("*.partial")), "no half-written temporaries are left behind"

    # Off the full disk, merge recovers the journaled chunks too: the 6 MB held about 40
    # frames of ~140 KB, so well over two chunks' worth come back.
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, symlinks=True)
    merged = subprocess.run(
        [sys.executable, "-m", "nitrogen_capture", "merge", "--root", str(copy)],
        capture_output=True, text=True, timeout=120)
    assert merged.returncode == 0, merged.stderr
    rows = sum(c["num_frames"] for c in json.loads((copy / "meta.json").read_text())["chunks"])
    assert rows >= 20 and len(np.load(copy / "actions.npy")) == rows
