"""``--format nitrogen-dataset`` with audio: each chunk's audio.flac and its time mapping."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.session import merge_session
from nitrogen_capture.session.audio_store import read_flac
from recording import record_synthetic
from session_audio import add_audio, audio_samples

pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("av")

RATE = 24000
CLICKS_S = (0.5, 1.25, 2.0)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("dsaudio")
    root = base / "s"
    record_synthetic(root, max_frames=150, fps=60.0, size=(64, 48))
    merge_session(root)
    add_audio(root, audio_samples(2.6, RATE, 2, CLICKS_S), RATE)
    from nitrogen_capture.cli import main

    assert main(["convert", "--root", str(root), "--out", str(base / "tree"),
                 "--format", "nitrogen-dataset", "--no-progress"]) == 0
    return root, base / "tree"


def _chunks(tree: Path) -> list[Path]:
    return sorted(p for p in (tree / "actions" / "SHARD_0000").glob("*/*_chunk_*") if p.is_dir())


def test_chunk_audio_and_its_mapping(tree: tuple[Path, Path]) -> None:
    _, out = tree
    chunks = _chunks(out)
    assert chunks
    heard, covered = 0, 0
    for folder in chunks:
        meta = json.loads((folder / "metadata.json").read_text())
        a = meta["audio"]
        samples, rate = read_flac(folder / "audio.flac")
        assert rate == RATE and a["rate"] == RATE and a["channels"] == 2
        assert len(samples) == a["samples"]
        rows = meta["chunk_size"]
        assert abs(len(samples) - rows * RATE / 60) <= 1  # the chunk's whole span, no more
        col = pq.read_table(folder / "actions_raw.parquet").column("audio_sample").to_numpy()
        first = a["session_first_sample"]
        start_ns = round(meta["original_video"]["start_time"] * 1e9)
        step = 1e9 / 60
        want = np.round((start_ns + np.arange(rows) * step) * RATE / 1e9).astype(np.int64) - first
        assert np.abs(col - want).max() <= 1  # start_time is rounded to float seconds
        # A click in dropped ticks between two chunks (a loaded machine) is in neither.
        covered += sum(first <= round(c * RATE) < first + len(samples) for c in CLICKS_S)
        loud = np.flatnonzero(np.abs(samples[:, 0].astype(int)) > 10000)
        if not len(loud):
            continue
        onsets = loud[np.concatenate(([True], np.diff(loud) > RATE // 20))]
        for i in onsets:  # lossless: the click is at its session sample exactly
            click = (first + int(i)) / RATE
            assert min(abs(click - c) for c in CLICKS_S) < 1 / RATE
            k = int(np.searchsorted(col, i, side="right")) - 1  # the row the click falls in
            assert 0 <= i - col[k] < RATE / 60 + 1
            heard += 1
    assert heard == covered > 0


def test_no_audio_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "s"
    record_synthetic(root, max_frames=40, fps=60.0, size=(64, 48))
    merge_session(root)
    res = run_cli(capsys, "convert", "--root", str(root), "--out", str(tmp_path / "t"),
                  "--format", "nitrogen-dataset", "--no-video", "--no-progress")
    assert res.code == 0, res.err
    (folder,) = _chunks(tmp_path / "t")
    assert not (folder / "audio.flac").exists()
    assert "audio" not in json.loads((folder / "metadata.json").read_text())
    assert "audio_sample" not in pq.read_schema(folder / "actions_raw.parquet").names
