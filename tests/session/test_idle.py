"""Idle stretches (session/idle.py) and ``convert --drop-idle-seconds`` on a real recording."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.events import (
    BUTTON,
    CONTROL,
    EVENT_DTYPE,
    KEY,
    MOTION,
    PAD_AXIS,
    InputEvent,
    events_to_array,
)
from nitrogen_capture.export import ConvertSettings
from nitrogen_capture.session.idle import IdleStretch, cut_segments, idle_rows, idle_stretches
from nitrogen_capture.session.merge import merge_session
from nitrogen_capture.session.reader import SessionReader
from recording import synthetic_recorder

S = 1_000_000_000
MS = 1_000_000


def _ev(*events: tuple[float, str, str, float]) -> np.ndarray:
    return events_to_array([InputEvent(int(t * S), d, c, v) for t, d, c, v in events])


def test_a_silence_longer_than_n_is_one_stretch_bounded_by_the_inputs_around_it() -> None:
    ev = _ev((0.5, KEY, "w", 1), (0.6, KEY, "w", 0), (4.0, MOTION, "dx", 3), (4.5, BUTTON,
             "lmb", 1), (4.6, BUTTON, "lmb", 0))
    got = idle_stretches([ev], 0, 6 * S, 2.0)
    assert got == [IdleStretch(int(0.6 * S), 4 * S)]
    # The quiet start and end count when long enough; 1 s is exceeded by both.
    got1 = idle_stretches([ev], 0, 6 * S, 0.45)
    assert got1[0] == IdleStretch(0, int(0.5 * S)) and got1[-1] == IdleStretch(int(4.6 * S),
                                                                               6 * S)


def test_a_held_key_or_deflected_stick_is_play_and_stick_noise_or_control_is_not() -> None:
    held = _ev((0.1, KEY, "w", 1), (9.0, KEY, "w", 0))
    assert idle_stretches([held], 0, 10 * S, 2.0) == []
    stick = _ev((0.1, PAD_AXIS, "lx", 0.9), (9.0, PAD_AXIS, "lx", 0.0))
    assert idle_stretches([stick], 0, 10 * S, 2.0) == []
    noise = _ev((0.1, KEY, "a", 1), (0.2, KEY, "a", 0), *((0.5 + k, PAD_AXIS, "ly", 0.05)
                                                           for k in range(8)),
                (3.0, CONTROL, "pause", 1), (9.5, KEY, "a", 1), (9.6, KEY, "a", 0))
    assert idle_stretches([noise], 0, 10 * S, 2.0) == [IdleStretch(int(0.2 * S),
                                                                   int(9.5 * S))]
    assert idle_stretches([np.zeros(0, EVENT_DTYPE)], 0, 10 * S, 2.0) == [IdleStretch(0, 10 * S)]


def test_idle_rows_are_the_frames_strictly_inside_and_cuts_split_segments() -> None:
    ts = np.arange(10, dtype=np.int64) * S
    mask = idle_rows(ts, [IdleStretch(2 * S, 5 * S), IdleStretch(int(8.5 * S), 20 * S)])
    assert np.flatnonzero(mask).tolist() == [3, 4, 9]
    assert cut_segments([(0, 7), (7, 10)], mask) == [(0, 3), (5, 7), (7, 9)]
    assert cut_segments([(0, 10)], np.zeros(10, bool)) == [(0, 10)]


@pytest.fixture(scope="module")
def quiet_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s at 30 fps: input in the first 0.5 s and the last 0.6 s, nothing in between."""
    timeline = [(100 * MS, KEY, "w", 1.0), (400 * MS, KEY, "w", 0.0),
                *((420 * MS + k * 10 * MS, MOTION, "dx", 4.0) for k in range(5)),
                (2400 * MS, KEY, "a", 1.0), (2700 * MS, KEY, "a", 0.0),
                (2750 * MS, BUTTON, "lmb", 1.0), (2800 * MS, BUTTON, "lmb", 0.0)]
    out = tmp_path_factory.mktemp("idle") / "s"
    synthetic_recorder(out, timeline=timeline, fps=30.0, max_frames=90).run()
    merge_session(out)
    return out


@pytest.mark.slow
def test_convert_drop_idle_seconds_leaves_the_stretch_out_and_records_it(
        quiet_session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    reader = SessionReader(quiet_session)
    ts = reader.concat_arrays()["timestamps"]
    full, cut = tmp_path / "full.pt", tmp_path / "cut.pt"
    base = ("convert", "--root", str(quiet_session), "--img-size", "16", "--seq-len", "4",
            "--no-progress")
    r = run_cli(capsys, *base, "--out", str(full))
    assert r.code == 0, r.err
    r = run_cli(capsys, *base, "--out", str(cut), "--drop-idle-seconds", "1.5")
    assert r.code == 0, r.err
    assert "left out 1 idle stretch(es) of more than 1.5 s" in r.out
    m_full = torch.load(full, weights_only=True)["meta"]
    m_cut = torch.load(cut, weights_only=True)["meta"]
    idle = m_cut["source"]["idle"]
    assert idle["count"] == 1 and idle["drop_idle_seconds"] == 1.5
    start, end = idle["stretches"][0]
    # From the last motion (~0.46 s after the first frame) to the "a" press (~2.4 s).
    assert 1.5 < end - start < 2.2
    inside = (ts > start * S) & (ts < end * S)
    assert idle["rows_dropped"] == int(inside.sum()) > 30
    rows = np.asarray(m_cut["windows"]["row"])
    assert not inside[rows].any()
    # No window spans the cut: all T rows of every window are on one side of it.
    for r0 in rows:
        assert not inside[r0:r0 + 4].any()
    assert m_cut["num_windows"] < m_full["num_windows"] - 30
    assert m_cut["params"]["drop_idle_seconds"] == 1.5 and "idle" not in m_full["source"]


@pytest.mark.slow
def test_dataset_export_chunks_carry_the_cut(quiet_session: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pyarrow")
    out = tmp_path / "ds"
    r = run_cli(capsys, "convert", "--root", str(quiet_session), "--out", str(out), "--format",
                "nitrogen-dataset", "--no-video", "--drop-idle-seconds", "1.5", "--no-progress")
    assert r.code == 0, r.err
    metas = [json.loads(p.read_text()) for p in out.rglob("metadata.json")]
    # Both sides of the cut (~0.45 s and ~0.6 s: 27 and 36 rows at 60 Hz) are chunks of their own.
    assert len(metas) == 2 and all(m["idle"]["count"] == 1 for m in metas)
    spans = sorted((m["original_video"]["start_time"], m["original_video"]["end_time"])
                   for m in metas)
    start, end = metas[0]["idle"]["stretches"][0]
    assert spans[0][1] <= start + 0.05 and spans[1][0] >= end - 0.05


@pytest.mark.parametrize("value", ["0.5", "nan", "-3", "1e9"])
def test_a_bad_drop_idle_seconds_is_one_line(value: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "convert", "--root", str(tmp_path), "--out", str(tmp_path / "x.pt"),
                "--drop-idle-seconds", value)
    r.one_line_error(2, "--drop-idle-seconds must be in [1, 86400] seconds")
    with pytest.raises(ValueError, match="drop-idle-seconds"):
        ConvertSettings(root=tmp_path, out=tmp_path / "x.pt", drop_idle_seconds=float(value))
