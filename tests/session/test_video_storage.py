"""--frame-format video: real synthetic recordings stored as H.264 in one MKV per chunk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from markers import needs_torch
from nitrogen_capture.capture._synthetic import read_frame_number
from nitrogen_capture.cli import main
from nitrogen_capture.errors import ConfigError, DependencyError
from nitrogen_capture.session import SessionReader, validate_session
from recording import record_synthetic
from waiting import wait_until

av = pytest.importorskip("av")


def _decoded_rows(reader: SessionReader) -> list[list[int | None]]:
    """The barcode read back from every decoded frame, per included chunk."""
    return [[read_frame_number(img) for img in reader.iter_chunk_frames(c)]
            for c in reader.included_chunks()]


def _merge_validate(root: Path) -> SessionReader:
    assert main(["merge", "--root", str(root)]) == 0
    report = validate_session(root)
    assert report.ok, report.format()
    return SessionReader(root)


@pytest.mark.slow  # 130 frames at 30 fps
@needs_torch  # the export step writes a .pt
def test_video_recording_rows_match_frames_and_export(tmp_path: Path) -> None:
    out = tmp_path / "s"
    # 480 px wide or more: the synthetic barcode then uses 16 px cells, which survive crf 18.
    result, _ = record_synthetic(out, size=(512, 288), frame_format="video", max_frames=130,
                                 chunk_size=50, fps=30.0, video_crf=18,
                                 video_encoder="libx264")
    meta = result.meta.to_json()
    assert meta["frame_format"] == {
        "kind": "video", "codec": "h264", "encoder": "libx264", "crf": 18,
        "preset": "ultrafast", "pix_fmt": "yuv420p", "container": "mkv", "ext": "mkv",
        "odd_size": meta["frame_format"]["odd_size"],
        "encoder_options": {"crf": "18", "preset": "ultrafast"},
        "requested_encoder": "libx264"}
    assert meta["status"] == "complete" and meta["encoder"]["workers"] == 1
    assert [c["files"]["frames"] for c in meta["chunks"]] == [
        "frames/chunk_001.mkv", "frames/chunk_002.mkv", "frames/chunk_003.mkv"]
    assert not (out / "frames" / "chunk_001").exists()  # no PNG folder
    sizes = sum((out / c["files"]["frames"]).stat().st_size for c in meta["chunks"])
    assert meta["encoder"]["bytes_written"] == sizes

    reader = _merge_validate(out)
    per_chunk = _decoded_rows(reader)
    assert [len(r) for r in per_chunk] == [50, 50, 30]
    # Frame k of chunk c is row k: the barcode drawn at grab time equals the merged row.
    assert [n for rows in per_chunk for n in rows] == list(range(130))

    pt = tmp_path / "x.pt"
    assert main(["convert", "--root", str(out), "--out", str(pt), "--img-size", "32",
                 "--seq-len", "4", "--no-progress"]) == 0
    import torch

    data: dict[str, Any] = torch.load(pt, weights_only=True)
    # 4-step windows, shifted by the default action shift of 1, inside each contiguous run of
    # ticks: 130 - 4 - 1 + 1 = 126 when no tick was dropped; a tick a loaded machine dropped
    # splits the run, and no window spans the gap (the exporter's rule, docs/export.md).
    ticks = np.load(out / "frame_indices.npy")
    runs = np.diff(np.flatnonzero(np.diff(ticks) != 1), prepend=-1, append=len(ticks) - 1)
    windows = sum(max(0, int(n) - 4) for n in runs)
    assert tuple(data["obs"].shape) == (windows, 3, 32, 32)
    assert data["actions"].shape[:2] == (windows, 4)


def test_odd_size_is_padded_and_cropped_back(tmp_path: Path) -> None:
    out = tmp_path / "s"
    record_synthetic(out, size=(481, 271), frame_format="video", max_frames=12, chunk_size=50,
                     fps=30.0)
    with av.open(str(out / "frames" / "chunk_001.mkv")) as c:
        stream = c.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (482, 272)
    reader = _merge_validate(out)
    frames = [img for _, img in reader.iter_frames()]
    assert {f.shape for f in frames} == {(271, 481, 3)}
    assert [read_frame_number(f) for f in frames] == list(range(12))


@pytest.mark.slow  # a real recording process, killed
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX (Windows has no "
                    "signal.SIGKILL; its TerminateProcess analogue is not what this test checks)")
def test_kill_9_leaves_a_decodable_prefix_that_merge_recovers(tmp_path: Path) -> None:
    out = tmp_path / "s"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nitrogen_capture", "record", "--source", "synthetic",
         "--region", "0", "0", "480", "270", "--fps", "60", "--chunk-size", "100",
         "--frame-format", "video", "--out", str(out), "--status-interval", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    open_mkv = out / "frames" / "chunk_002.mkv"
    try:
        # Chunk 1 finished and chunk 2's file holds at least one whole cluster (~1 s).
        wait_until(lambda: open_mkv.is_file() and open_mkv.stat().st_size > 30_000,
                   "the open chunk's first cluster", 60, proc=proc, interval=0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    journal = out / "journal_chunk_002.jsonl"
    assert journal.is_file(), "the open chunk left its journal"
    journaled = sum('"kind":"frame"' in line for line in journal.read_text().splitlines())

    reader = _merge_validate(out)
    chunk = reader.chunk(2)
    assert chunk.recovered and chunk.files["frames"] == "frames/chunk_002.mkv"
    assert 0 < chunk.num_frames <= journaled
    assert (out / "frames" / "orphans" / "chunk_002.mkv").is_file()  # the original, kept
    per_chunk = _decoded_rows(reader)
    assert [len(r) for r in per_chunk] == [100, chunk.num_frames]
    assert [n for rows in per_chunk for n in rows] == list(range(100 + chunk.num_frames))
    assert len(np.load(out / "actions.npy")) == 100 + chunk.num_frames


def test_video_flags_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nitrogen_capture.config import RecordConfig

    with pytest.raises(ConfigError, match=r"--video-crf must be in 0\.\.51"):
        RecordConfig(out=tmp_path / "a", frame_format="video", video_crf=60)
    with pytest.raises(ConfigError, match="--video-preset must be one of"):
        RecordConfig(out=tmp_path / "a", frame_format="video", video_preset="quick")
    RecordConfig(out=tmp_path / "a", video_crf=60)  # only checked for video storage
    assert main(["record", "--source", "synthetic", "--out", str(tmp_path / "b"),
                 "--frame-format", "video", "--video-crf", "-1"]) == 2
    assert "--video-crf must be in 0..51 (lower = better), got -1" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_missing_pyav_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from nitrogen_capture.codecs.video import check_video_support

    monkeypatch.setitem(sys.modules, "av", None)  # import av -> ImportError
    with pytest.raises(DependencyError, match=r"nitrogen-capture\[video\]"):
        check_video_support()


def test_meta_of_a_video_session_round_trips(tmp_path: Path) -> None:
    out = tmp_path / "s"
    record_synthetic(out, frame_format="video", video_preset="veryfast", video_crf=23,
                     max_frames=5)
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["frame_format"]["crf"], meta["frame_format"]["preset"]) == (23, "veryfast")
    assert SessionReader(out).frame_kind == "video"
    assert validate_session(out).ok
