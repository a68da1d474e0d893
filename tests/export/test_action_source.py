"""``convert --action-source``: every format keeps one source or both, and carries it per row.

Rollouts from tests/rollout_factory.py; real .pt (torch.load), parquet and LeRobot files read back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_cli
from rollout_factory import Rollout, make_rollout
from session_factory import make_session

torch = pytest.importorskip("torch")
pq = pytest.importorskip("pyarrow.parquet")

# 30 rows: policy, a takeover of 10 rows, policy again.
SOURCES = "P" * 10 + "H" * 10 + "P" * 10


@pytest.fixture(scope="module")
def rollout(tmp_path_factory: pytest.TempPathFactory) -> Rollout:
    return make_rollout(tmp_path_factory.mktemp("r") / "r", SOURCES, chunk_sizes=(10, 10, 10),
                        merge=True)


def _pt(capsys: pytest.CaptureFixture[str], root: Path, out: Path, *args: str) -> dict:  # type: ignore[type-arg]
    r = run_cli(capsys, "convert", "--root", str(root), "--out", str(out), "--seq-len", "3",
                "--img-size", "8", "--no-progress", *args)
    assert r.code == 0, r.err
    return torch.load(out, weights_only=True)  # type: ignore[no-any-return]


@pytest.mark.parametrize("keep", ["all", "human", "policy"])
def test_pt_keeps_one_source_and_no_window_bridges_a_cut(
        rollout: Rollout, tmp_path: Path, capsys: pytest.CaptureFixture[str], keep: str) -> None:
    d = _pt(capsys, rollout.root, tmp_path / "o.pt", "--action-source", keep)
    src = d["action_source"]
    m = d["obs"].shape[0]
    assert src.dtype == torch.int8 and tuple(src.shape) == (m, 3)
    meta = d["meta"]
    assert meta["action_source_names"] == ["human", "policy"]
    kept = meta["source"]["action_source"]
    assert kept["kept"] == keep and kept["rollout"] is True
    assert kept["rows"] == {"human": 10, "policy": 20}
    assert kept["rows_left_out"] == {"all": 0, "human": 20, "policy": 10}[keep]
    rows = np.array(meta["windows"]["row"])
    shift = meta["params"]["action_shift"]
    # Each window's tensor is the sources of its action rows, taken from the session.
    want = np.stack([rollout.source[r + shift:r + shift + 3] for r in rows])
    np.testing.assert_array_equal(src.numpy(), want)
    if keep == "all":
        # 30 rows, one segment: every start whose shift + 3 steps fit
        assert m == 30 - shift - 3 + 1
        assert {0, 1} <= set(src.numpy().ravel().tolist())
        return
    value = {"human": 0, "policy": 1}[keep]
    # Every step of every window is the kept source, and every window lies in one of its runs:
    # the observation row too, so no window starts in the other source's stretch.
    assert (src.numpy() == value).all()
    assert (rollout.source[rows] == value).all()
    runs = [(10, 20)] if keep == "human" else [(0, 10), (20, 30)]
    assert m == sum(b - a - shift - 3 + 1 for a, b in runs)
    for r in rows:
        assert any(a <= r and r + shift + 3 <= b for a, b in runs), r


def test_pt_resampled_carries_the_source_of_each_step(
        rollout: Rollout, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _pt(capsys, rollout.root, tmp_path / "o.pt", "--action-hz", "60")
    src = d["action_source"].numpy()
    ts = rollout.timestamps
    rows = np.array(d["meta"]["windows"]["row"])
    step = round(1e9 / 60)
    shift = d["meta"]["params"]["action_shift"]
    for w, r in enumerate(rows):
        times = ts[r] + (shift + np.arange(3)) * step
        shown = np.searchsorted(ts, times, side="right") - 1  # the frame on screen then
        np.testing.assert_array_equal(src[w], rollout.source[shown])
    assert {0, 1} <= set(src.ravel().tolist())
    human = _pt(capsys, rollout.root, tmp_path / "h.pt", "--action-hz", "60",
                "--action-source", "human")
    assert (human["action_source"].numpy() == 0).all()
    assert 0 < human["obs"].shape[0] < d["obs"].shape[0]


def test_a_session_that_is_not_a_rollout_is_all_human(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = make_session(tmp_path / "s", (10, 10), merge=True).root
    every = _pt(capsys, s, tmp_path / "a.pt")
    human = _pt(capsys, s, tmp_path / "h.pt", "--action-source", "human")
    assert human["obs"].shape[0] == every["obs"].shape[0] > 0
    assert (human["action_source"].numpy() == 0).all()
    assert human["meta"]["source"]["action_source"]["rollout"] is False
    run_cli(capsys, "convert", "--root", str(s), "--out", str(tmp_path / "p.pt"),
            "--action-source", "policy").one_line_error(
        1, "--action-source policy", "is not a play rollout")
    assert not (tmp_path / "p.pt").exists()
    run_cli(capsys, "convert", "--root", str(s), "--out", str(tmp_path / "x.pt"),
            "--action-source", "robot").one_line_error(2, "--action-source")


def test_a_rollout_without_rows_of_the_kept_source_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = make_rollout(tmp_path / "r", "P" * 12)
    run_cli(capsys, "convert", "--root", str(r.root), "--out", str(tmp_path / "h.pt"),
            "--action-source", "human").one_line_error(
        1, "--action-source human", "has no human row (the player never took over for all "
        "12 rows)")
    assert not (tmp_path / "h.pt").exists()


def _tree_tables(out: Path) -> list[tuple[dict, object]]:  # type: ignore[type-arg]
    folders = sorted(p.parent for p in out.rglob("actions_raw.parquet"))
    return [(json.loads((f / "metadata.json").read_text()), pq.read_table(
        f / "actions_raw.parquet")) for f in folders]


def test_dataset_tree_has_an_action_source_column(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 60 rows (2 s) in three runs of 20, so each kept run holds a chunk of 18+ rows at 60 Hz.
    r = make_rollout(tmp_path / "r", "P" * 20 + "H" * 20 + "P" * 20,
                     chunk_sizes=(20, 20, 20), merge=True)
    for keep in ("all", "human", "policy"):
        out = tmp_path / keep
        run = run_cli(capsys, "convert", "--root", str(r.root), "--out", str(out), "--format",
                      "nitrogen-dataset", "--no-video", "--no-progress", "--action-source", keep)
        assert run.code == 0, run.err
        chunks = _tree_tables(out)
        assert chunks, keep
        for meta, table in chunks:
            assert table.column_names[-2:] == ["frame_is_repeat", "action_source"]
            assert str(table.schema.field("action_source").type) == "string"
            values = table.column("action_source").to_pylist()
            lo, hi = meta["source_rows"]
            # Each row's source is the source of the frame it shows (source_rows: the first and
            # last of them), so the ends agree with the session's.
            assert values[0] == ("policy" if r.source[lo] else "human")
            assert values[-1] == ("policy" if r.source[hi] else "human")
            assert meta["action_source"]["kept"] == keep
            if keep == "all":
                assert set(values) == {"human", "policy"}
            else:
                assert set(values) == {keep}
                assert (r.source[lo:hi + 1] == ["human", "policy"].index(keep)).all()
        if keep == "policy":  # two runs, two chunks: the human stretch is not bridged
            assert [m["source_rows"] for m, _ in chunks] == [[0, 19], [40, 59]]


def test_lerobot_has_an_action_source_feature(
        rollout: Rollout, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = {}
    for keep in ("all", "human"):
        out = tmp_path / keep
        run = run_cli(capsys, "convert", "--root", str(rollout.root), "--out", str(out),
                      "--format", "lerobot", "--no-progress", "--action-source", keep)
        assert run.code == 0, run.err
        info = json.loads((out / "meta/info.json").read_text())
        assert info["features"]["action_source"] == {
            "dtype": "int64", "shape": [1], "names": {"values": ["human", "policy"]}}
        data = pq.read_table(sorted(out.glob("data/*/*.parquet"))[0])
        values = np.array(data.column("action_source").to_pylist())
        frames[keep] = len(values)
        mark = json.loads((out / "meta/nitrogen-capture.json").read_text())
        assert mark["episodes"][0]["action_source"]["kept"] == keep
        if keep == "all":
            # the rows follow the session's runs: policy, then the takeover, then policy
            change = np.flatnonzero(np.diff(values)) + 1
            assert values[0] == 1 and len(change) == 2 and values[change[0]] == 0
        else:
            assert set(values.tolist()) == {0}
    assert 0 < frames["human"] < frames["all"]


def test_batch_pt_keeps_one_source_and_carries_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = tmp_path / "lib"
    r = make_rollout(lib / "r", SOURCES, chunk_sizes=(10, 10, 10), merge=True)
    make_session(lib / "s", (10, 10), merge=True)
    one = _pt(capsys, r.root, tmp_path / "one.pt", "--action-source", "human")
    out = tmp_path / "all.pt"
    run = run_cli(capsys, "convert", "--root", str(lib), "--recursive", "--out", str(out),
                  "--jobs", "1", "--no-progress", "--seq-len", "3", "--img-size", "8",
                  "--action-source", "human")
    assert run.code == 0, (run.out, run.err)
    d = torch.load(out, weights_only=True)
    meta = d["meta"]
    assert meta["action_source_names"] == ["human", "policy"]
    assert [s["action_source"]["rollout"] for s in meta["sources"]] == [True, False]
    assert all(s["action_source"]["kept"] == "human" for s in meta["sources"])
    sess = np.array(meta["windows"]["session"])
    src = d["action_source"].numpy()
    assert src.shape == (d["obs"].shape[0], 3) and (src == 0).all()
    # the rollout's windows are exactly what the one-session convert writes for it
    np.testing.assert_array_equal(d["actions"][sess == 0].numpy(), one["actions"].numpy())
    np.testing.assert_array_equal(np.array(meta["windows"]["row"])[sess == 0],
                                  one["meta"]["windows"]["row"])
    man = json.loads((tmp_path / "all.manifest.json").read_text())
    assert man["settings"]["action_source"] == "human"
