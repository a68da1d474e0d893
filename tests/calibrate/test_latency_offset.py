"""The input-to-frame latency offset: record stores it, every exporter applies it.

A synthetic session whose frames sit exactly on the 30 fps grid (tests/session_factory.py,
``jitter_ns=0``) makes the expectation exact: moving every event by ``k`` frame periods moves
every action row by exactly ``k`` rows (rows before the first shifted one are empty), and an
offset of 0 leaves the recorder's rows untouched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.calibrate import LatencyProfile, best_offset
from nitrogen_capture.export.resample import step_ns
from nitrogen_capture.export.settings import ConvertSettings
from nitrogen_capture.export.source import ExportSource
from nitrogen_capture.session.meta import SessionMeta
from session_factory import PERIOD, make_session


def _session(tmp_path: Path, offset_ns: int | None = None) -> Path:
    root = tmp_path / "s"
    make_session(root, (20, 20), seed=3, jitter_ns=0)
    if offset_ns is not None:
        meta = json.loads((root / "meta.json").read_text())
        meta["latency_offset_ns"] = offset_ns
        (root / "meta.json").write_text(json.dumps(meta))
    return root


def _rows(root: Path, override_ms: float | None = None, **kw: Any) -> np.ndarray:
    settings = ConvertSettings(root=root, out=root.parent / "x.pt", action_space="raw",
                               latency_offset_ms=override_ms, **kw)
    return ExportSource(settings).frame_rows()


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_positive_offset_moves_actions_k_rows_later(tmp_path: Path, k: int) -> None:
    root = _session(tmp_path, offset_ns=k * PERIOD)
    base = _rows(root, override_ms=0)  # 0 turns the session's offset off
    shifted = _rows(root)  # the session's meta.json offset
    assert base.any() and not np.array_equal(base, shifted)
    np.testing.assert_array_equal(shifted[k:], base[:-k])
    assert not shifted[:k].any()  # nothing had happened yet k periods before the first frame


def test_offset_zero_is_the_recorders_rows_and_negative_moves_earlier(tmp_path: Path) -> None:
    root = _session(tmp_path)
    src = ExportSource(ConvertSettings(root=root, out=tmp_path / "x.pt", action_space="raw"))
    assert (src.latency_offset_ns, src.latency_source) == (0, "none")
    stored = src.map(src.arrays["actions"], src.arrays["mouse_deltas"], None)
    np.testing.assert_array_equal(src.frame_rows(), stored)
    earlier = _rows(root, override_ms=-2 * PERIOD / 1e6)
    # Row 0 gathers everything up to t_0 + 2 periods (rows 0..2's motion); the rest move 2 up.
    np.testing.assert_array_equal(earlier[1:-2], stored[3:])


def test_the_resampler_applies_the_offset_too(tmp_path: Path) -> None:
    root = _session(tmp_path, offset_ns=4 * step_ns(60))
    grid = np.arange(0, 36 * PERIOD, step_ns(60), dtype=np.int64)

    def binned(override: float | None) -> np.ndarray:
        src = ExportSource(ConvertSettings(root=root, out=tmp_path / "x.pt", action_space="raw",
                                           latency_offset_ms=override))
        b = src.resampler().bin_grid(grid, step_ns(60))
        return src.map(b.actions, b.mouse_deltas, None)

    base, shifted = binned(0), binned(None)
    assert base.any()
    np.testing.assert_array_equal(shifted[4:], base[:-4])


@pytest.mark.slow
def test_pt_and_dataset_exports_apply_and_record_the_offset(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq
    import torch

    root = _session(tmp_path, offset_ns=2 * PERIOD)
    for name, extra in (("off.pt", ["--latency-offset-ms", "0"]), ("on.pt", [])):
        r = run_cli(capsys, "convert", "--root", str(root), "--out", str(tmp_path / name),
                    "--seq-len", "4", "--action-space", "raw", "--img-size", "8",
                    "--no-progress", *extra)
        assert r.code == 0, r.err
    off = torch.load(tmp_path / "off.pt", weights_only=True)
    on = torch.load(tmp_path / "on.pt", weights_only=True)
    assert on["meta"]["source"]["latency_offset_ns"] == 2 * PERIOD
    assert on["meta"]["source"]["latency_offset_source"] == "meta.json"
    assert off["meta"]["source"]["latency_offset_source"] == "--latency-offset-ms"
    assert off["meta"]["params"]["latency_offset_ms"] == 0
    starts = on["meta"]["windows"]["row"]
    assert starts == off["meta"]["windows"]["row"]
    # Window at row i: actions of rows i..i+3; shifted by 2 they are rows i-2..i+1 of the base.
    by_row = {r: w for w, r in enumerate(starts)}
    for w, r in enumerate(starts):
        if r - 2 in by_row:
            assert torch.equal(on["actions"][w], off["actions"][by_row[r - 2]])
    assert not torch.equal(on["actions"], off["actions"])

    out = {}
    for name, extra in (("ds_off", ["--latency-offset-ms", "0"]), ("ds_on", [])):
        r = run_cli(capsys, "convert", "--root", str(root), "--out", str(tmp_path / name),
                    "--format", "nitrogen-dataset", "--no-video", "--no-progress", *extra)
        assert r.code == 0, r.err
        chunk = next((tmp_path / name / "actions").rglob("metadata.json")).parent
        table = pq.read_table(chunk / "actions_raw.parquet")
        cols = [np.array(table.column(c).to_pylist(), np.float64).reshape(table.num_rows, -1)
                for c in table.column_names  # 17 buttons, the two [x, y] sticks, then ours
                if c != "action_source"]  # (the one text column: "human"/"policy")
        out[name] = (json.loads((chunk / "metadata.json").read_text()), np.hstack(cols))
    assert out["ds_on"][0]["latency_offset_ns"] == 2 * PERIOD
    assert out["ds_off"][0]["latency_offset_ns"] == 0
    a, b = out["ds_off"][1], out["ds_on"][1]
    assert a.any() and not np.array_equal(a, b)
    # 2 periods of 30 fps = 4 rows of 60 Hz, give or take a 2 ns rounding of the grid step.
    assert (a[:-4] == b[4:]).mean() > 0.95


def _profile_file(tmp_path: Path) -> tuple[Path, LatencyProfile]:
    lower = [-10_000_000 + k * 100_000 for k in range(10)]
    delay = [x + PERIOD for x in lower]
    prof = LatencyProfile(fps=30, method="xtest", injected=10, logged=10,
                          delays_ns=tuple(delay), lower_ns=tuple(lower), row_lags=(0,) * 10,
                          offset_ns=best_offset(lower, delay))
    path = tmp_path / "lat.json"
    prof.save(path)
    return path, prof


@pytest.mark.slow
def test_record_stores_the_offset_from_a_profile_or_a_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, prof = _profile_file(tmp_path)
    base = ["record", "--source", "synthetic", "--max-frames", "5", "--region", "0", "0", "64",
            "48", "--status-interval", "0", "--cue", "none", "--no-merge"]
    r = run_cli(capsys, *base, "--out", str(tmp_path / "a"), "--latency-profile", str(path))
    assert r.code == 0, r.err
    meta = SessionMeta.load(tmp_path / "a" / "meta.json")
    assert meta.latency_offset_ns == prof.offset_ns
    assert meta.latency is not None and meta.latency.source == "profile"
    assert meta.latency.file == str(path.resolve()) and meta.latency.fps == 30
    assert meta.latency.p50_ms == pytest.approx(prof.stats.p50_ms, abs=1e-3)
    assert meta.latency.events == 10
    r = run_cli(capsys, *base, "--out", str(tmp_path / "b"), "--latency-offset-ms", "12.5")
    assert r.code == 0, r.err
    meta = SessionMeta.load(tmp_path / "b" / "meta.json")
    assert meta.latency_offset_ns == 12_500_000 and meta.latency.source == "flag"
    r = run_cli(capsys, *base, "--out", str(tmp_path / "c"))
    assert SessionMeta.load(tmp_path / "c" / "meta.json").latency_offset_ns is None


def test_bad_latency_flags_are_one_line(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = ["--out", str(tmp_path / "x"), "--source", "synthetic"]
    run_cli(capsys, "record", *out, "--latency-profile", str(tmp_path / "missing.json")
            ).one_line_error(2, "latency profile not found")
    (tmp_path / "bad.json").write_text("{garbled")
    run_cli(capsys, "record", *out, "--latency-profile", str(tmp_path / "bad.json")
            ).one_line_error(2, "not valid JSON")
    run_cli(capsys, "record", *out, "--latency-offset-ms", "inf").one_line_error(
        2, "--latency-offset-ms")
    run_cli(capsys, "record", *out, "--latency-offset-ms", "1", "--latency-profile",
            "x.json").one_line_error(2, "not allowed with")
    assert not (tmp_path / "x").exists()  # nothing was recorded
    root = _session(tmp_path)
    run_cli(capsys, "convert", "--root", str(root), "--out", str(tmp_path / "y.pt"),
            "--latency-offset-ms", "5000").one_line_error(2, "--latency-offset-ms")


def test_meta_json_refuses_a_wild_offset(tmp_path: Path) -> None:
    from nitrogen_capture.errors import SessionFormatError

    root = _session(tmp_path, offset_ns=5 * 10**9)
    with pytest.raises(SessionFormatError, match="latency_offset_ns"):
        SessionMeta.load(root / "meta.json")
