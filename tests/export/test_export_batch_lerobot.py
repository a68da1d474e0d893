"""``convert --format lerobot`` of many sessions (docs/export.md, "Many sessions").

Each session becomes a standalone LeRobot part, merged into one dataset without re-encoding: its
rows, episodes, stats and per-episode video frames must equal what the LeRobot writer's own
multi-``--root`` path writes for the same sessions; a damaged session fails alone; the bytes are
the same for any ``--jobs`` and on Ray; a rerun has nothing to do.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from batch_library import make_broken, make_library, tree_digest
from cli_run import run_cli
from nitrogen_capture.export import ConvertSettings
from nitrogen_capture.export.batch import BatchSettings, run_batch
from nitrogen_capture.export.batch.tasks import TaskJob, run_task
from test_export_lerobot import KEY, STATE, decode, table

pytestmark = pytest.mark.slow
GOOD = ("game_a/s1", "game_a/s2", "game_b/s3")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = make_library(tmp_path_factory.mktemp("lib") / "lib", damaged=False)
    make_broken(top / "broken")
    return top


def _batch(capsys: pytest.CaptureFixture[str], library: Path, out: Path, *extra: str) -> Any:
    return run_cli(capsys, "convert", "--format", "lerobot", "--root", str(library),
                   "--recursive", "--out", str(out), "--no-progress", *extra)


def _episodes(root: Path) -> list[dict[str, Any]]:
    return table(root / "meta/episodes").to_pylist()


def _episode_video(root: Path, row: dict[str, Any]) -> list[Fraction]:
    """The pts of the episode's frames, from the episode's own start (decoded with PyAV)."""
    c, f = row[f"videos/{KEY}/chunk_index"], row[f"videos/{KEY}/file_index"]
    _, pts = decode(root / f"videos/{KEY}/chunk-{c:03d}/file-{f:03d}.mp4")
    lo, hi = row[f"videos/{KEY}/from_timestamp"], row[f"videos/{KEY}/to_timestamp"]
    start = Fraction(lo).limit_denominator(1000)
    return [p - start for p in pts if lo - 1e-6 <= p < hi - 1e-6]


def _same_stats(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same_stats(a[k], b[k])
    else:
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-9,
                                   atol=1e-9)


def test_lerobot_batch_equals_the_multi_root_writer(library: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    r = _batch(capsys, library, out, "--jobs", "2")
    assert r.code == 1, (r.out, r.err)
    assert "1 of 4 sessions failed" in r.err and "Traceback" not in r.err
    lines = {ln.split()[0]: ln for ln in r.out.splitlines()[1:5]}
    assert "failed" in lines["broken"] and "000004.png" in lines["broken"], r.out
    assert "3 episodes" in r.out, r.out
    ref = tmp_path / "ref"
    args = [a for s in GOOD for a in ("--root", str(library / s))]
    assert run_cli(capsys, "convert", "--format", "lerobot", "--out", str(ref),
                   "--no-progress", *args).code == 0
    # Rows: every column equal (actions, timestamps, and the renumbered indices).
    assert table(out / "data").equals(table(ref / "data"))
    got, want = _episodes(out), _episodes(ref)
    assert len(got) == len(want) == 3
    videos = {c for e in got for c in (e[f"videos/{KEY}/file_index"],)}
    assert videos == {0, 1, 2}  # each part's video file became the next file of the output
    for g, w in zip(got, want, strict=True):
        assert g["length"] == w["length"] and g["tasks"] == w["tasks"]
        for k in ("episode_index", "dataset_from_index", "dataset_to_index"):
            assert g[k] == w[k], k
        span = [e[f"videos/{KEY}/to_timestamp"] - e[f"videos/{KEY}/from_timestamp"]
                for e in (g, w)]
        assert span[0] == pytest.approx(span[1])
        _same_stats({k: v for k, v in g.items() if k.startswith("stats/")},
                    {k: v for k, v in w.items() if k.startswith("stats/")})
        got_pts, want_pts = _episode_video(out, g), _episode_video(ref, w)
        assert len(got_pts) == g["length"] and got_pts == want_pts
    _same_stats(json.loads((out / "meta/stats.json").read_text()),
                json.loads((ref / "meta/stats.json").read_text()))
    info, ref_info = (json.loads((p / "meta/info.json").read_text()) for p in (out, ref))
    assert info == ref_info
    assert STATE in info["features"] and STATE in table(out / "data").column_names
    assert pq.read_table(out / "meta/tasks.parquet").equals(
        pq.read_table(ref / "meta/tasks.parquet"))
    assert not (out / ".parts").exists()
    # The same bytes with one job; a rerun has nothing to do.
    one = tmp_path / "one"
    assert _batch(capsys, library, one, "--jobs", "1").code == 1
    assert tree_digest(one) == tree_digest(out)
    again = _batch(capsys, library, out, "--jobs", "2")
    assert "nothing to do" in again.out, again.out


def test_rate_and_size_are_fixed_for_every_part(library: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    lst = tmp_path / "list.txt"
    lst.write_text("\n".join(str(library / s) for s in GOOD[:2]))
    r = run_cli(capsys, "convert", "--format", "lerobot", "--sessions", str(lst), "--out",
                str(out), "--no-progress", "--action-hz", "10", "--img-size", "8",
                "--state", "held-keys")
    assert r.code == 0, r.err
    info = json.loads((out / "meta/info.json").read_text())
    assert info["fps"] == 10 and info["features"][KEY]["shape"] == [8, 8, 3]
    # --state reaches every part: the merged dataset's state is the held keys.
    assert info["features"][STATE]["names"][0].startswith("held.")
    stats = json.loads((out / "meta/stats.json").read_text())
    assert stats[STATE]["count"] == [info["total_frames"]]
    assert info["total_episodes"] == 2
    rows = table(out / "data")
    assert rows.num_rows == info["total_frames"]
    assert rows.column("index").to_pylist() == list(range(rows.num_rows))
    # A flag that changes the dataset on a rerun is refused in one line (the manifest).
    run_cli(capsys, "convert", "--format", "lerobot", "--sessions", str(lst), "--out",
            str(out), "--no-progress", "--action-hz", "15", "--img-size", "8",
            "--state", "held-keys").one_line_error(1, "other settings", "fps 10 -> 15")
    run_cli(capsys, "convert", "--format", "lerobot", "--sessions", str(lst), "--out",
            str(out), "--no-progress", "--action-hz", "10", "--img-size", "8").one_line_error(
        1, "other settings", "state")


def other_rate(job: TaskJob, *, session: str) -> dict[str, Any]:
    """``run_task``, but the part of ``session`` is written at 15 fps (a mismatched part)."""
    if Path(job.task.session).name == session:
        job = dataclasses.replace(job, settings=dataclasses.replace(job.settings, fps=15))
    return run_task(job)


def test_a_part_of_another_rate_fails_alone(library: Path, tmp_path: Path) -> None:
    conv = ConvertSettings(root=library, out=tmp_path / "ds", format="lerobot")
    got = run_batch(BatchSettings(conv, (library,), recursive=True, jobs=1),
                    task_fn=functools.partial(other_rate, session="s2"))
    by_name = {Path(s).name: r for s, r in got.sessions.items()}
    assert by_name["s2"]["state"] == "failed", by_name["s2"]
    assert by_name["s2"]["reason"] == "its LeRobot part is 15 fps, the dataset 30 fps"
    assert [by_name[s]["state"] for s in ("s1", "s3", "broken")] == ["done", "done", "failed"]
    info = json.loads((tmp_path / "ds/meta/info.json").read_text())
    rows = table(tmp_path / "ds/data")
    assert info["total_episodes"] == got.windows == 2 and info["fps"] == 30
    assert rows.column("index").to_pylist() == list(range(info["total_frames"]))
    assert sorted(set(rows.column("episode_index").to_pylist())) == [0, 1]


def test_ray_writes_the_same_dataset_as_local(library: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ray")
    digests, summaries = {}, {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        r = _batch(capsys, library, out, "--engine", engine, "--jobs", "2")
        assert r.code == 1, (r.out, r.err)
        digests[engine] = tree_digest(out)
        summaries[engine] = r.out.splitlines()[:5]
    assert len(digests["ray"]) >= 8 and digests["ray"] == digests["local"]
    assert summaries["ray"] == summaries["local"]
