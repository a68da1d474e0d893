"""validate on ``play`` rollouts: merge carries their arrays and meta, mislabels are errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_cli
from nitrogen_capture.session.paths import SessionPaths
from nitrogen_capture.session.reader import SessionReader
from nitrogen_capture.session.validate import validate_session
from rollout_factory import make_rollout

SOURCES = "PPPPHHHPPPPH"  # 12 rows in chunks of 5, 4, 3; the last takeover is still open


def _errors(root: Path) -> list[str]:
    return [f"{p.where}: {p.message}" for p in validate_session(root).errors]


def _edit_meta(root: Path, edit: object) -> None:
    path = SessionPaths(root).meta
    meta = json.loads(path.read_text())
    edit(meta)  # type: ignore[operator]
    path.write_text(json.dumps(meta))


def _set_source(root: Path, chunk: int, row: int, value: int) -> None:
    path = SessionPaths(root).chunk_array("action_source", chunk)
    arr = np.load(path)
    arr[row] = value
    np.save(path, arr)


@pytest.mark.parametrize("gamepad", [False, True])
def test_merge_carries_the_rollout_and_validate_passes(tmp_path: Path, gamepad: bool) -> None:
    r = make_rollout(tmp_path / "r", SOURCES, gamepad=gamepad, merge=True)
    reader = SessionReader(r.root)
    assert reader.is_rollout
    assert reader.meta.play is not None and len(reader.meta.play.takeovers) == 2
    assert reader.meta.play.takeovers[1].end_ns is None
    merged = {s: np.load(reader.paths.merged(s)) for s in ("action_source", "policy_actions",
                                                           "policy_mouse")}
    assert merged["action_source"].dtype == np.int8
    np.testing.assert_array_equal(merged["action_source"], r.source)
    np.testing.assert_array_equal(merged["policy_actions"], r.policy_actions)
    np.testing.assert_array_equal(merged["policy_mouse"], r.policy_mouse)
    if gamepad:
        assert r.policy_gamepad is not None
        np.testing.assert_array_equal(np.load(reader.paths.merged("policy_gamepad")),
                                      r.policy_gamepad)
    else:
        assert not reader.paths.merged("policy_gamepad").exists()
    npz = np.load(reader.paths.npz)
    np.testing.assert_array_equal(npz["action_source"], r.source)
    rep = validate_session(r.root)
    assert rep.ok, rep.format()
    play = rep.stats["play"]
    assert (play["policy_rows"], play["human_rows"], play["takeovers"]) == (8, 4, 2)
    # the closed takeover plus the open one, run to the last frame
    ts = r.timestamps
    want = (int(ts[6]) - int(ts[3]) - 1 + int(ts[11]) - int(ts[10]) - 1) / 1e9
    assert play["takeover_s"] == pytest.approx(want, abs=1e-3)
    assert play["latency_ms"] == {"p50": 12.5, "p99": 30.0, "max": 41.0}
    assert play["ready_share"] == 0.95
    assert "rollout: 8 policy rows, 4 human rows; 2 takeover(s)" in rep.format()


def test_validate_json_carries_stats_play(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    r = make_rollout(tmp_path / "r", SOURCES)
    run = run_cli(capsys, "validate", "--root", str(r.root), "--json")
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["stats"]["play"]["policy_rows"] == 8
    assert set(doc["stats"]["play"]) >= {"policy_rows", "human_rows", "takeovers", "takeover_s",
                                         "latency_ms", "ready_share"}


def test_a_session_that_is_not_a_rollout_has_no_play_stats(tmp_path: Path) -> None:
    from session_factory import make_session

    make_session(tmp_path / "s")
    assert "play" not in validate_session(tmp_path / "s").stats


def test_a_policy_row_inside_a_takeover_is_an_error(tmp_path: Path) -> None:
    r = make_rollout(tmp_path / "r", SOURCES)
    _set_source(r.root, 2, 0, 1)  # merged row 5, in the middle of the first takeover
    errors = _errors(r.root)
    assert any("1 row(s) overlapping a takeover are not marked human (first merged row 5" in e
               for e in errors), errors


def test_a_human_row_outside_every_takeover_is_an_error(tmp_path: Path) -> None:
    r = make_rollout(tmp_path / "r", SOURCES)
    _set_source(r.root, 1, 1, 0)  # merged row 1: policy in control, now said human
    errors = _errors(r.root)
    assert any("1 human row(s) overlap no takeover" in e and "merged row 1," in e
               for e in errors), errors


def test_a_source_value_other_than_0_or_1_is_an_error(tmp_path: Path) -> None:
    r = make_rollout(tmp_path / "r", SOURCES)
    _set_source(r.root, 3, 0, 7)
    errors = _errors(r.root)
    assert any("action_source: 1 row(s) hold a value other than 0 (human) or 1 (policy), "
               "first merged row 9: 7" in e for e in errors), errors


def test_stats_that_disagree_with_the_arrays_are_an_error(tmp_path: Path) -> None:
    r = make_rollout(tmp_path / "r", SOURCES, stats={"policy_rows": 9})
    errors = _errors(r.root)
    assert errors == ["meta.json: play.stats policy_rows is 9, the action_source arrays "
                      "hold 8"]


def test_takeovers_out_of_order_overlapping_or_outside_are_errors(tmp_path: Path) -> None:
    r = make_rollout(tmp_path / "r", SOURCES)
    ts = r.timestamps

    def overlap(meta: dict) -> None:  # type: ignore[type-arg]
        t = meta["play"]["takeovers"]
        t[0]["end_ns"] = t[1]["start_ns"] + 10

    _edit_meta(r.root, overlap)
    assert any("before takeover 0 has ended" in e for e in _errors(r.root))

    def outside(meta: dict) -> None:  # type: ignore[type-arg]
        meta["play"]["takeovers"][0]["end_ns"] = int(ts[-1]) + 10**9
    _edit_meta(r.root, outside)
    assert any("lies outside the session" in e for e in _errors(r.root))

    def backwards(meta: dict) -> None:  # type: ignore[type-arg]
        t = meta["play"]["takeovers"][0]
        t["end_ns"] = t["start_ns"] - 1
    _edit_meta(r.root, backwards)
    assert any("ends (" in e and "before it starts" in e for e in _errors(r.root))


def test_a_chunk_without_its_rollout_array_is_an_error(tmp_path: Path) -> None:
    r = make_rollout(tmp_path / "r", SOURCES)
    SessionPaths(r.root).chunk_array("policy_mouse", 2).unlink()
    errors = _errors(r.root)
    assert any(e.startswith("chunk 2:") and "policy_mouse" in e for e in errors), errors


def test_merged_rollout_arrays_that_differ_from_the_chunks_are_an_error(tmp_path: Path) -> None:
    r = make_rollout(tmp_path / "r", SOURCES, merge=True)
    path = SessionPaths(r.root).merged("action_source")
    arr = np.load(path)
    arr[0] = 0
    np.save(path, arr)
    assert any("action_source.npy disagrees with the chunk files" in e
               for e in _errors(r.root))


@pytest.mark.parametrize("journal_rows", [None, 1])
def test_a_killed_rollout_is_recovered_with_its_rollout_rows(tmp_path: Path,
                                                             journal_rows: int | None) -> None:
    from nitrogen_capture.session import merge_session

    # The last chunk (3 rows, policy) is left open: a journal with its rollout lines, or with
    # only the first (the writer journals a row a moment after its frame).
    r = make_rollout(tmp_path / "r", "PPPPHHHPPPPP", open_last=True, journal_rows=journal_rows)
    assert any("open (crash or kill)" in e or "left open" in e for e in _errors(r.root))
    merge_session(r.root)
    reader = SessionReader(r.root)
    assert reader.meta.status == "recovered" and reader.meta.play is not None
    np.testing.assert_array_equal(np.load(reader.paths.merged("action_source")), r.source)
    proposed = np.load(reader.paths.merged("policy_actions"))
    if journal_rows is None:
        np.testing.assert_array_equal(proposed, r.policy_actions)
    else:  # rows without their line: nothing proposed, counted in play.stats
        np.testing.assert_array_equal(proposed[:10], r.policy_actions[:10])
        assert not proposed[10:].any()
        assert reader.meta.play.stats["rows_without_rollout"] == 2
    rep = validate_session(r.root)
    assert rep.ok, rep.format()
    assert rep.stats["play"]["policy_rows"] == 9


def test_stats_of_a_recovered_rollout_that_disagree_are_a_warning(tmp_path: Path) -> None:
    from nitrogen_capture.session import merge_session

    # play.stats as written before the crash: the open chunk's 3 policy rows not counted yet
    r = make_rollout(tmp_path / "r", "PPPPHHHPPPPP", open_last=True,
                     stats={"policy_rows": 6})
    merge_session(r.root)
    rep = validate_session(r.root)
    assert rep.ok, rep.format()
    assert [(p.where, p.message) for p in rep.warnings] == [
        ("meta.json", "play.stats policy_rows is 6, the action_source arrays hold 9 (written "
                      "before the crash the session was recovered from)")]
