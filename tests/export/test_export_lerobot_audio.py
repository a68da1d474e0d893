"""``--format lerobot`` with audio: a FLAC per episode, ``audio_sample``, the docs' loader."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.session import merge_session
from nitrogen_capture.session.audio_store import read_flac
from recording import record_synthetic
from session_audio import add_audio, audio_samples

pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("av")

RATE = 16000
CLICKS = {"a": (0.4, 1.1), "b": (0.7,)}
DOC = Path(__file__).resolve().parents[2] / "docs" / "export-audio.md"


def _session(folder: Path, name: str, seed: int) -> Path:
    root = folder / name
    record_synthetic(root, max_frames=90, fps=30.0, size=(64, 48), seed=seed)
    merge_session(root)
    add_audio(root, audio_samples(8.0, RATE, 1, CLICKS[name], seed=seed), RATE)
    return root


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    lib = tmp_path_factory.mktemp("lraudio") / "lib"
    return _session(lib, "a", 1), _session(lib, "b", 2)


def _episodes(ds: Path) -> list[dict[str, Any]]:
    return pq.read_table(ds / "meta/episodes/chunk-000/file-000.parquet").to_pylist()


def _check(ds: Path, roots: tuple[Path, ...]) -> None:
    import json

    info = json.loads((ds / "meta/info.json").read_text())
    assert info["features"]["audio_sample"]["dtype"] == "int64"
    import pyarrow as pa

    data = pa.concat_tables(pq.read_table(f) for f in sorted(ds.glob("data/*/*.parquet")))
    eps = _episodes(ds)
    assert [e["audio/path"] for e in eps] == [f"audio/chunk-000/episode-{i:06d}.flac"
                                              for i in range(len(roots))]
    for ep, root in zip(eps, roots, strict=True):
        sound, rate = read_flac(ds / ep["audio/path"])
        assert rate == RATE == ep["audio/rate"] and len(sound) == ep["audio/samples"]
        whole, _ = read_flac(root / "audio.flac")
        first = ep["audio/session_first_sample"]
        assert np.array_equal(sound, whole[first:first + len(sound)])  # the session's, cut
        mine = np.asarray(data["episode_index"]) == ep["episode_index"]
        col = np.asarray(data["audio_sample"])[mine]
        ts = np.load(root / "timestamps.npy")
        assert first + col[0] == round(ts[0] * RATE / 1e9) and col[0] == 0
        steps = np.diff(col)  # a frame period on the grid; else only across a dropped tick
        on_grid = np.isin(steps, (RATE // 30, RATE // 30 + 1))
        assert on_grid.mean() > 0.8 and (steps > 0).all() and col[-1] < len(sound)
        assert ep["audio/start_ns"] == round(first * 1e9 / RATE)
        clicks = np.flatnonzero(np.abs(sound[:, 0].astype(int)) > 10000)
        onsets = clicks[np.concatenate(([True], np.diff(clicks) > RATE // 20))]
        got = sorted((first + onsets) / RATE)
        assert got == pytest.approx(sorted(CLICKS[root.name]), abs=1 / RATE)


def test_two_roots_one_file_each(sessions: tuple[Path, Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    ds = tmp_path / "lerobot-ds"  # the docs' name: their loader runs as pasted, beside it
    res = run_cli(capsys, "convert", "--format", "lerobot", "--root", str(sessions[0]),
                  "--root", str(sessions[1]), "--out", str(ds), "--no-progress")
    assert res.code == 0, res.err
    _check(ds, sessions)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    (code,) = [b for b in blocks if "audio_sample" in b]
    run = subprocess.run([sys.executable, "-c", code], cwd=ds.parent, capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert re.fullmatch(rf"frame 20: 533 samples at {RATE} Hz, session time \d+\.\d{{3}} s\n",
                        run.stdout), run.stdout


def test_batch_renumbers_the_files(sessions: tuple[Path, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    ds = tmp_path / "batch"
    res = run_cli(capsys, "convert", "--format", "lerobot", "--root", str(sessions[0].parent),
                  "--recursive",
                  "--out", str(ds), "--no-progress", "--jobs", "1")
    assert res.code == 0, res.err
    names = [Path(e["audio/path"]).name for e in _episodes(ds)]
    assert names == ["episode-000000.flac", "episode-000001.flac"]
    order = {e["episode_index"]: e["audio/session_first_sample"] for e in _episodes(ds)}
    assert len(order) == 2
    _check(ds, tuple(sorted(sessions)))


def test_mixed_sessions_refused(sessions: tuple[Path, Path], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain"
    record_synthetic(plain, max_frames=30, fps=30.0, size=(64, 48))
    merge_session(plain)
    res = run_cli(capsys, "convert", "--format", "lerobot", "--root", str(sessions[0]),
                  "--root", str(plain), "--out", str(tmp_path / "ds"), "--no-progress")
    res.one_line_error(1, "some sessions have audio and some do not (plain not)")
    assert not (tmp_path / "ds").exists()
