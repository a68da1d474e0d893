"""Every clean stop of ``record`` ends with the merged outputs of the original tool.

After the chunks, ``record`` runs the same merge as ``nitrogen-capture merge`` (docs/format.md):
``actions.npy``, ``mouse_deltas.npy``, ``frame_indices.npy``, ``dataset.npz`` and ``dataset.pt``
beside the chunks. ``--no-merge`` skips it; a failed stop never merges; an interrupted merge
leaves whole files and one line saying to rerun ``merge``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from markers import HAS_TORCH, needs_torch
from nitrogen_capture.cli import main
from waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
# The synthetic source stamps its frames: os_timestamps and repeated too (docs/format.md).
MERGED_NPY = ("actions.npy", "mouse_deltas.npy", "frame_indices.npy", "timestamps.npy",
              "os_timestamps.npy", "repeated.npy", "events.npy")
MERGED = (*MERGED_NPY, "dataset.npz", "dataset.pt")
ORIGINAL_LAYOUT = ("frames/chunk_001/000001.png", "actions_chunk_001.npy",
                   "mouse_deltas_chunk_001.npy", "frame_indices_chunk_001.npy", "actions.npy",
                   "mouse_deltas.npy", "frame_indices.npy", "dataset.npz", "dataset.pt",
                   "meta.json")


def synth(out: Path, frames: int, *extra: str) -> list[str]:
    return ["--source", "synthetic", "--region", "0", "0", "320", "240", "--fps", "60",
            "--max-frames", str(frames), "--chunk-size", "50", "--start-immediately",
            "--status-interval", "0", "--out", str(out), *extra]


def assert_same_as_a_later_merge(root: Path, tmp_path: Path) -> None:
    """Merge ``root`` again and compare every merged file with what ``record`` wrote."""
    import torch

    aside = tmp_path / "aside"
    aside.mkdir()
    for name in (*MERGED, "meta.json"):
        shutil.copy2(root / name, aside / name)
    assert main(["merge", "--root", str(root), "--no-progress"]) == 0
    for name in MERGED_NPY:
        assert (root / name).read_bytes() == (aside / name).read_bytes(), name
    with np.load(root / "dataset.npz") as again, np.load(aside / "dataset.npz") as first:
        assert sorted(again.files) == sorted(first.files)
        for key in first.files:
            np.testing.assert_array_equal(again[key], first[key])
    again_pt = torch.load(root / "dataset.pt", weights_only=True)
    first_pt = torch.load(aside / "dataset.pt", weights_only=True)
    assert again_pt.keys() == first_pt.keys()
    for key, value in first_pt.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(again_pt[key], value), key
    assert again_pt["meta"] == first_pt["meta"]
    assert again_pt["events"]["code"] == first_pt["events"]["code"]
    assert (root / "meta.json").read_text() == (aside / "meta.json").read_text()


def last_line(text: str) -> str:
    return [ln for ln in text.splitlines() if ln.strip()][-1]


@pytest.mark.slow
@needs_torch  # compares the .pt with a later merge's
def test_record_writes_the_original_layout_merged(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "S"
    assert main(["record", *synth(root, 120)]) == 0
    out = capsys.readouterr().out
    assert "recorded 120 frames in 3 chunk(s)" in out
    assert (
        "merged 120 frames from 3 chunk(s) into actions.npy, mouse_deltas.npy, "
        "frame_indices.npy, timestamps.npy, os_timestamps.npy, repeated.npy, events.npy, "
        "dataset.npz, dataset.pt\n"
        f"session: {root}  (the merged files above are in this folder)\nnext:\n") in out
    assert last_line(out) == f"  nitrogen-capture convert --root {root} --out {root}.pt"
    for name in ORIGINAL_LAYOUT:
        assert (root / name).is_file(), name
    assert len(np.load(root / "actions.npy")) == 120
    assert_same_as_a_later_merge(root, tmp_path)


@pytest.mark.slow
@needs_torch  # compares the .pt with a later merge's
def test_capture_logger_shim_merges_too(tmp_path: Path) -> None:
    root = tmp_path / "S"
    proc = subprocess.run([sys.executable, "capture_logger.py", *synth(root, 120)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "\nmerged 120 frames from 3 chunk(s) into actions.npy" in proc.stdout
    assert last_line(proc.stdout).startswith("  nitrogen-capture convert --root")
    for name in ORIGINAL_LAYOUT:
        assert (root / name).is_file(), name
    assert_same_as_a_later_merge(root, tmp_path)


def test_no_merge_leaves_only_the_chunks(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "S"
    assert main(["record", *synth(root, 20, "--no-merge")]) == 0
    assert last_line(capsys.readouterr().out).startswith("not merged (--no-merge)")
    assert (root / "actions_chunk_001.npy").is_file() and (root / "meta.json").is_file()
    assert [name for name in MERGED if (root / name).exists()] == []


def test_failed_stop_does_not_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from nitrogen_capture import session
    from nitrogen_capture.errors import EncodeError
    from nitrogen_capture.record.recorder import Recorder

    def fail(self: Recorder) -> Any:
        raise EncodeError("writing the session failed (the disk is full: 0 MiB free): run "
                          "`nitrogen-capture merge`")

    def must_not_merge(*args: Any, **kw: Any) -> Any:
        raise AssertionError("merged after a failed stop")

    monkeypatch.setattr(Recorder, "run", fail)
    monkeypatch.setattr(session, "merge_session", must_not_merge)
    assert main(["record", *synth(tmp_path / "S", 20)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == ("nitrogen-capture record: error: writing the session failed "
                                    "(the disk is full: 0 MiB free): run `nitrogen-capture merge`")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_final_merge_leaves_whole_files_and_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        signum: signal.Signals) -> None:
    from nitrogen_capture.session import io as session_io  # merge writes through it

    real_write = session_io.write_new
    saved: list[str] = []

    def write_then_interrupt(tmp: Path, data: Any) -> None:
        if len(saved) == 2:  # the third merged file: Ctrl+C (or SIGTERM) while it is written
            signal.raise_signal(signum)  # not os.kill: on Windows that terminates the process
        real_write(tmp, data)
        saved.append(tmp.name)

    monkeypatch.setattr(session_io, "write_new", write_then_interrupt)
    root = tmp_path / "S"
    assert main(["record", *synth(root, 20)]) == 130
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        f"nitrogen-capture record: {signum.name} during the final merge: the recording is "
        f"complete; run `nitrogen-capture merge --root {root}` to write the merged files")
    assert saved == [".actions.npy.partial", ".mouse_deltas.npy.partial"]
    assert not list(root.glob(".*.partial")), "no temporary is left behind"
    # Outputs are renamed only once all are written: an interrupted merge leaves none of them.
    assert not [name for name in MERGED if (root / name).exists()]
    monkeypatch.undo()
    assert main(["merge", "--root", str(root), "--no-progress"]) == 0
    for name in MERGED:  # without torch merge writes no .pt (and says so: test_session_read)
        assert (root / name).is_file() == (HAS_TORCH or name != "dataset.pt"), name


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="process groups and killpg are POSIX; "
                    "Windows' Ctrl+C is a console event")
def test_sigint_to_the_process_group_stops_and_merges(tmp_path: Path) -> None:
    root = tmp_path / "S"
    cmd = [sys.executable, "-m", "nitrogen_capture", "record", *synth(root, 0)]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # meta.json is written once the clock has started and lists each finished chunk
        wait_until(lambda: json.loads((root / "meta.json").read_text(encoding="utf-8"))["chunks"],
                   "a finished chunk", 60, proc=proc, ignore=(OSError, ValueError))
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C in a terminal does
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped: SIGINT" in out and "\nmerged " in out
    assert last_line(out).startswith("  nitrogen-capture convert --root")
    for name in ORIGINAL_LAYOUT:
        assert (root / name).is_file(), name
