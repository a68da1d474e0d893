"""Damaged LeRobot datasets: an append reads and checks every file first.

``convert --format lerobot`` into an existing dataset (docs/export.md, "LeRobot") must refuse a
hostile or damaged file in one line naming it and its field, and leave every byte as it was. The
builders and the tree hash are the damage corpus's (tests/session/test_damage_corpus.py).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from nitrogen_capture.cli import main
from session_factory import make_session
from test_damage_corpus import Build, tree, unlink, write

DS_INFO, DS_STATS = "meta/info.json", "meta/stats.json"
DS_DATA, DS_EPISODES = "data/chunk-000/file-000.parquet", "meta/episodes/chunk-000/file-000.parquet"
DS_VIDEO = "videos/observation.images.game/chunk-000/file-000.mp4"
DS_EXTRA, DS_FILES = "data/chunk-000/file-001.parquet", "chunk-{chunk_index}/file-{file_index}"


def edit_json(rel: str, fn: Callable[[dict], None]) -> Build:
    def build(ds: Path, outside: Path) -> None:
        doc = json.loads((ds / rel).read_text())
        fn(doc)
        (ds / rel).write_text(json.dumps(doc))  # NaN and Infinity as Python's json writes them
    return build


def set_info(key: str, value: object) -> Build:
    return edit_json(DS_INFO, lambda d: d.update({key: value}))


def add_info(key: str, delta: int) -> Build:
    return edit_json(DS_INFO, lambda d: d.update({key: d[key] + delta}))


def set_stat(feature: str, stat: str, value: object) -> Build:
    return edit_json(DS_STATS, lambda d: d[feature].update({stat: value}))


def edit_column(rel: str, column: str, fn: Callable[[list], list]) -> Build:
    def build(ds: Path, outside: Path) -> None:
        import pyarrow.parquet as pq

        table = pq.read_table(ds / rel)
        i = table.schema.get_field_index(column)
        values = fn(table.column(column).to_pylist())
        pq.write_table(table.set_column(i, table.schema.field(i), [values]), ds / rel)
    return build


DATASET_CASES: list[tuple[str, Build, str]] = [
    ("info-not-json", write(DS_INFO, b"{not json"), DS_INFO),
    ("info-nesting", write(DS_INFO, b"[" * 100_000), DS_INFO),
    ("info-fps-nan", set_info("fps", float("nan")), "NaN"),
    ("info-fps-string", set_info("fps", "30"), "fps"),
    ("info-fps-fraction", set_info("fps", 30.7), "fps"),
    ("info-fps-zero", set_info("fps", 0), "fps"),
    ("info-episodes-negative", set_info("total_episodes", -5), "total_episodes"),
    ("info-episodes-string", set_info("total_episodes", "1"), "total_episodes"),
    ("info-episodes-fraction", set_info("total_episodes", 1.5), "total_episodes"),
    ("info-episodes-huge", set_info("total_episodes", 10**30), "total_episodes"),
    ("info-episodes-more", add_info("total_episodes", 1), "total_episodes"),
    ("info-frames-negative", set_info("total_frames", -1), "total_frames"),
    ("info-frames-more", add_info("total_frames", 1), "total_frames"),
    ("info-tasks-more", add_info("total_tasks", 2), "total_tasks"),
    ("info-chunks-zero", set_info("chunks_size", 0), "chunks_size"),
    ("info-chunks-five", set_info("chunks_size", 5), "chunks_size"),
    ("info-data-mb-zero", set_info("data_files_size_in_mb", 0), "data_files_size_in_mb"),
    ("info-video-mb-inf", set_info("video_files_size_in_mb", float("inf")), "Infinity"),
    ("info-data-path-dotdot", set_info("data_path", f"../../x/{DS_FILES}.parquet"), "data_path"),
    ("info-data-path-absolute", set_info("data_path", f"/tmp/x/{DS_FILES}.parquet"), "data_path"),
    ("info-video-path-dotdot", set_info("video_path", f"../v/{DS_FILES}.mp4"), "video_path"),
    ("info-splits-string", set_info("splits", "0:1"), "splits"),
    ("info-video-shape-negative", edit_json(DS_INFO, lambda d: d["features"][
        "observation.images.game"].update(shape=[-12, 16, 3])), "observation.images.game"),
    ("info-video-shape-huge", edit_json(DS_INFO, lambda d: d["features"][
        "observation.images.game"].update(shape=[100_000, 16, 3])), "observation.images.game"),
    ("stats-not-json", write(DS_STATS, b'{"action": {"min": [0'), DS_STATS),
    ("stats-nan", set_stat("action", "mean", [float("nan")] * 25), "NaN"),
    ("stats-huge", set_stat("action", "mean", [1e300] * 25), "action.mean"),
    ("stats-strings", set_stat("index", "max", ["x"]), "index.max"),
    ("stats-shape", set_stat("action", "std", [0.0]), "action.std"),
    ("stats-count-zero", set_stat("action", "count", [0]), "action.count"),
    ("stats-std-negative", set_stat("timestamp", "std", [-1.0]), "timestamp.std"),
    ("stats-feature-missing", edit_json(DS_STATS, lambda d: d.pop("action")), DS_STATS),
    ("stats-missing", unlink(DS_STATS), DS_STATS),
    ("tasks-garbage", write("meta/tasks.parquet", b"PAR1 not parquet"), "meta/tasks.parquet"),
    ("tasks-missing", unlink("meta/tasks.parquet"), "meta/tasks.parquet"),
    ("tasks-index-repeated", edit_column("meta/tasks.parquet", "task_index",
                                         lambda v: [7] * len(v)), "task_index"),
    ("episodes-garbage", write(DS_EPISODES, b"PAR1 not parquet"), DS_EPISODES),
    ("episodes-index", edit_column(DS_EPISODES, "episode_index", lambda v: [3] * len(v)),
     "meta/episodes"),
    ("episodes-length", edit_column(DS_EPISODES, "length", lambda v: [x + 5 for x in v]),
     "meta/episodes"),
    ("data-missing", unlink(DS_DATA), DS_DATA),
    ("data-garbage", write(DS_DATA, b"PAR1 not parquet"), DS_DATA),
    ("data-extra", lambda ds, out: shutil.copy(ds / DS_DATA, ds / DS_EXTRA), DS_EXTRA),
    ("video-empty", write(DS_VIDEO, b""), DS_VIDEO),
    ("video-missing", unlink(DS_VIDEO), DS_VIDEO),
]


@pytest.mark.parametrize(("name", "build", "says"), [
    pytest.param(*c, id=c[0]) for c in DATASET_CASES])
def test_damaged_lerobot_dataset(name: str, build: Build, says: str, tmp_path: Path,
                                 capsys) -> None:
    make_session(tmp_path / "a", (12,), seed=1)
    make_session(tmp_path / "b", (9,), seed=2)
    ds = tmp_path / "ds"
    base = ["convert", "--format", "lerobot", "--out", str(ds), "--no-progress", "--root"]
    assert main([*base, str(tmp_path / "a")]) == 0
    build(ds, tmp_path)
    before = tree(tmp_path)
    capsys.readouterr()
    rc = main([*base, str(tmp_path / "b")])
    _, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 1 and len(lines) == 1 and "Traceback" not in err, (rc, err)
    assert "cannot append" in lines[0] and says in lines[0], lines[0]
    assert tree(tmp_path) == before  # the dataset byte for byte, and nothing beside it
