"""Every export carries a session's task and outcome (docs/export.md, "Task and outcome"), and
leaves a discarded session out unless ``--include-discarded``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli_run import run_cli
from session_factory import make_session

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

EPISODE = {"run": "run-1", "index": 2, "count": 5, "attempt": 1, "ended": "key"}


def labelled(root: Path, frames: int = 30, *, seed: int = 0, episode: bool = False,
             **labels: Any) -> Path:
    """A factory session whose meta.json labels are ``labels`` (and an episode object)."""
    b = make_session(root, (frames,), seed=seed)
    meta = json.loads(b.paths.meta.read_text())
    meta["labels"] = {"game": "Celeste", "notes": "", "controller": "keyboard", **labels}
    if episode:
        meta["episode"] = EPISODE
    b.paths.meta.write_text(json.dumps(meta))
    return b.root


def episodes_table(out: Path) -> dict[str, list[Any]]:
    files = sorted((out / "meta/episodes").glob("*/*.parquet"))
    return dict(pa.concat_tables([pq.read_table(p) for p in files]).to_pydict())


def mark(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "meta/nitrogen-capture.json").read_text()))


def lerobot(capsys: pytest.CaptureFixture[str], roots: list[Path], out: Path,
            *extra: str) -> Any:
    args = ["convert", "--format", "lerobot", "--out", str(out), "--no-progress",
            "--img-size", "16", *extra]
    for r in roots:
        args += ["--root", str(r)]
    return run_cli(capsys, *args)


def test_lerobot_task_text_outcome_column_and_mark(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    a = labelled(tmp_path / "a", task="Reach the flag", outcome="success", tags=["night"],
                 episode=True)
    b = labelled(tmp_path / "b", seed=1)  # no task, no outcome: "Play <game>", ""
    out = tmp_path / "ds"
    run = lerobot(capsys, [a, b], out)
    assert run.code == 0, run.err
    eps = episodes_table(out)
    assert eps["tasks"] == [["Reach the flag"], ["Play Celeste"]]
    assert eps["outcome"] == ["success", ""]
    tasks = pq.read_table(out / "meta/tasks.parquet").to_pandas()
    assert list(tasks.index) == ["Reach the flag", "Play Celeste"]
    episodes = mark(out)["episodes"]
    # neither session is a play rollout: every row human, all kept (export/action_source.py)
    assert [e.pop("action_source")["rollout"] for e in episodes] == [False, False]
    assert episodes == [
        {"episode_index": 0, "session": "a", "task": "Reach the flag", "outcome": "success",
         "tags": ["night"], "episode": EPISODE},
        {"episode_index": 1, "session": "b", "task": "Play Celeste", "outcome": None,
         "tags": [], "episode": None}]
    # An explicit --task wins over the label; an append continues the mark's list.
    c = labelled(tmp_path / "c", seed=2, task="Ignored", outcome="failure")
    assert lerobot(capsys, [c], out, "--task", "Beat it").code == 0
    eps = episodes_table(out)
    assert eps["tasks"][2] == ["Beat it"] and eps["outcome"] == ["success", "", "failure"]
    assert [e["episode_index"] for e in mark(out)["episodes"]] == [0, 1, 2]


def test_appending_to_a_dataset_without_the_outcome_column_keeps_one_schema(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    assert lerobot(capsys, [labelled(tmp_path / "a", outcome="success")], out).code == 0
    (path,) = (out / "meta/episodes").glob("*/*.parquet")
    pq.write_table(pq.read_table(path).drop_columns(["outcome"]), path)  # an older dataset
    assert lerobot(capsys, [labelled(tmp_path / "b", seed=1, outcome="failure")], out).code == 0
    eps = episodes_table(out)  # concat_tables: both files have the same columns
    assert "outcome" not in eps and len(eps["episode_index"]) == 2


def test_pt_and_dataset_tree_metadata_carry_the_labels(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = labelled(tmp_path / "s", 40, task="Reach the flag", outcome="failure",
                    tags=["a", "b"], episode=True)
    ds = tmp_path / "tree"
    run = run_cli(capsys, "convert", "--root", str(root), "--format", "nitrogen-dataset",
                  "--no-video", "--out", str(ds), "--no-progress")
    assert run.code == 0, run.err
    meta = json.loads(next(ds.rglob("metadata.json")).read_text())
    assert (meta["task"], meta["outcome"], meta["tags"], meta["episode"]) == (
        "Reach the flag", "failure", ["a", "b"], EPISODE)
    torch = pytest.importorskip("torch")
    pt = tmp_path / "o.pt"
    run = run_cli(capsys, "convert", "--root", str(root), "--out", str(pt), "--seq-len", "4",
                  "--img-size", "8", "--no-progress")
    assert run.code == 0, run.err
    source = torch.load(pt, weights_only=True)["meta"]["source"]
    assert (source["task"], source["outcome"], source["tags"], source["episode"]) == (
        "Reach the flag", "failure", ["a", "b"], EPISODE)


@pytest.mark.parametrize("fmt", ["pt", "lerobot"])
def test_a_discarded_session_alone_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    root = labelled(tmp_path / "s", outcome="discarded")
    out = tmp_path / ("o.pt" if fmt == "pt" else "ds")
    args = ["convert", "--root", str(root), "--format", fmt, "--out", str(out), "--no-progress",
            "--img-size", "16", "--seq-len", "4"]
    run_cli(capsys, *args).one_line_error(1, "discarded", "--include-discarded")
    assert not out.exists()
    run = run_cli(capsys, *args, "--include-discarded")
    assert run.code == 0, run.err
    assert out.exists()


def test_lerobot_leaves_a_discarded_session_out_of_several(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    keep = labelled(tmp_path / "keep", outcome="success")
    gone = labelled(tmp_path / "gone", seed=1, outcome="discarded")
    out = tmp_path / "ds"
    run = lerobot(capsys, [gone, keep], out)
    assert run.code == 0, run.err
    # One warning line (stderr in a shell; pytest's log capture here).
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(lines) == 1 and str(gone) in lines[0] and "discarded" in lines[0]
    assert episodes_table(out)["outcome"] == ["success"]
    out2 = tmp_path / "ds2"
    assert lerobot(capsys, [gone, keep], out2, "--include-discarded").code == 0
    assert episodes_table(out2)["outcome"] == ["discarded", "success"]
    run_cli(capsys, "convert", "--format", "lerobot", "--root", str(gone), "--root", str(gone),
            "--out", str(tmp_path / "ds3")).one_line_error(1, "discarded")


def test_a_batch_skips_discarded_sessions_with_one_line_each(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = tmp_path / "lib"
    labelled(lib / "kept", 40, outcome="success")
    labelled(lib / "gone", 40, seed=1, outcome="discarded")
    out = tmp_path / "tree"
    args = ["convert", "--root", str(lib), "--recursive", "--format", "nitrogen-dataset",
            "--no-video", "--out", str(out), "--no-progress", "--jobs", "1"]
    run = run_cli(capsys, *args)
    assert run.code == 0, run.err
    rows = {ln.split()[0]: ln for ln in run.out.splitlines()[1:3]}
    assert rows["gone"].split()[1] == "skipped" and "discarded" in rows["gone"]
    assert rows["kept"].split()[1] == "done"
    assert "converted 1 of 2 sessions (1 skipped, 0 failed)" in run.out
    assert {json.loads(p.read_text())["outcome"] for p in out.rglob("metadata.json")} == {
        "success"}
    # --include-discarded is another batch (its fingerprint differs): the discarded one too.
    run = run_cli(capsys, *args[:-2], "--jobs", "1", "--include-discarded", "--overwrite")
    assert run.code == 0, run.err
    assert "converted 2 of 2 sessions (0 skipped, 0 failed)" in run.out
    assert {json.loads(p.read_text())["outcome"] for p in out.rglob("metadata.json")} == {
        "success", "discarded"}


def test_a_lerobot_batch_merges_outcomes_and_renumbers_the_mark(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = tmp_path / "lib"
    labelled(lib / "a", task="Reach the flag", outcome="success", episode=True)
    labelled(lib / "b", seed=1, outcome="failure", tags=["x"])
    labelled(lib / "c", seed=2, outcome="discarded")
    out = tmp_path / "ds"
    run = run_cli(capsys, "convert", "--root", str(lib), "--recursive", "--format", "lerobot",
                  "--out", str(out), "--no-progress", "--jobs", "1", "--img-size", "16")
    assert run.code == 0, run.err
    assert "converted 2 of 3 sessions (1 skipped, 0 failed)" in run.out
    eps = episodes_table(out)
    assert eps["tasks"] == [["Reach the flag"], ["Play Celeste"]]
    assert eps["outcome"] == ["success", "failure"]
    assert [(e["episode_index"], e["session"], e["outcome"], e["tags"])
            for e in mark(out)["episodes"]] == [(0, "a", "success", []),
                                                (1, "b", "failure", ["x"])]
