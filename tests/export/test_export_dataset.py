"""--format nitrogen-dataset: the chunk tree, parquet schema and rows, metadata.json, video.mp4."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

from nitrogen_capture.binning import bin_events
from nitrogen_capture.errors import DiskSpaceError
from nitrogen_capture.export import ConvertSettings, convert, map_rows
from nitrogen_capture.export.dataset_tree import CHUNK_ROWS
from nitrogen_capture.export.resample import step_ns
from session_factory import LAYOUT, make_session

BOOL_COLUMNS = ["dpad_down", "dpad_left", "dpad_right", "dpad_up", "left_shoulder", "left_thumb",
                "left_trigger", "right_shoulder", "right_thumb", "right_trigger", "south", "west",
                "east", "north", "back", "start", "guide"]
META_KEYS = {"uuid", "chunk_id", "chunk_size", "game", "controller_type", "original_video",
             "bbox_controller_overlay"}
VIDEO_KEYS = {"resolution", "video_id", "source", "url", "start_time", "end_time", "duration",
              "start_frame", "end_frame"}


def test_chunk_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 30 fps, 20 + 20 frames with a pause between: two segments of ~0.63 s -> 38 rows each.
    b = make_session(tmp_path / "my game", (20, 20), gaps={20: (10, "hotkey")}, seed=5)
    # Small chunks so the test sees a chunk boundary inside a segment.
    monkeypatch.setattr("nitrogen_capture.export.dataset_tree.CHUNK_ROWS", 16)
    # Tails shorter than MIN_CHUNK_ROWS are not written; 8 here keeps this test's arithmetic.
    monkeypatch.setattr("nitrogen_capture.export.dataset_tree.MIN_CHUNK_ROWS", 8)
    out = tmp_path / "ds"
    res = convert(ConvertSettings(root=b.root, out=out, format="nitrogen-dataset", game="Demo"))
    base = out / "actions" / "SHARD_0000" / "my_game"
    folders = sorted(base.iterdir())
    assert [f.name for f in folders] == [f"my_game_chunk_{k:04d}" for k in range(len(folders))]
    assert res.files == folders
    p = step_ns(60)
    seg_rows = [(int(b.timestamps[19] - b.timestamps[0]) // p + 1),
                (int(b.timestamps[39] - b.timestamps[20]) // p + 1)]
    sizes = []
    for seg in seg_rows:
        sizes += [16] * (seg // 16) + ([seg % 16] if seg % 16 >= 8 else [])
    assert len(folders) == len(sizes) and res.frames == sum(sizes)
    grid = b.timestamps[0] + np.arange(16) * p
    ref = bin_events(b.events, np.concatenate([[grid[0] - p], grid]), LAYOUT)
    want = map_rows(ref.actions[1:], ref.mouse_deltas[1:], None, LAYOUT)
    for k, (folder, n) in enumerate(zip(folders, sizes, strict=True)):
        assert sorted(x.name for x in folder.iterdir()) == [
            "actions_raw.parquet", "metadata.json", "video.mp4"]
        table = pq.read_table(folder / "actions_raw.parquet")
        # The dataset's 19 columns, then ours: frame_is_repeat, action_source (docs/export.md);
        # a session that is not a play rollout is all human.
        assert table.column_names == [*BOOL_COLUMNS, "j_left", "j_right", "frame_is_repeat",
                                      "action_source"]
        assert set(table.column("action_source").to_pylist()) == {"human"}
        assert all(str(table.schema.field(c).type) == "bool"
                   for c in [*BOOL_COLUMNS, "frame_is_repeat"])
        assert str(table.schema.field("j_left").type).startswith("list<")
        assert table.num_rows == n
        meta = json.loads((folder / "metadata.json").read_text())
        assert set(meta) >= META_KEYS and set(meta["original_video"]) >= VIDEO_KEYS
        assert meta["uuid"] == f"my_game_chunk_{k:04d}_actions" and meta["chunk_id"] == f"{k:04d}"
        assert meta["chunk_size"] == n and meta["game"] == "Demo"
        assert meta["bbox_controller_overlay"] == [0, 0, 0, 0]
        assert meta["original_video"]["resolution"] == [12, 16]
        with av.open(str(folder / "video.mp4")) as c:
            assert c.streams.video[0].average_rate == 60
            assert sum(1 for _ in c.decode(video=0)) == n
        if k == 0:
            lists = table.to_pydict()
            j_left = np.array(lists["j_left"], np.float32)
            np.testing.assert_allclose(j_left, want[:, 21:23], atol=1e-6)
            np.testing.assert_allclose(np.array(lists["j_right"]), want[:, 23:25], atol=1e-6)
            assert lists["south"] == [bool(v) for v in want[:, 18]]


def test_no_video_and_disk_check(tmp_path: Path) -> None:
    b = make_session(tmp_path / "s", (10,))
    with pytest.raises(DiskSpaceError, match=r"only 10 B \(10 bytes\) is free"):
        convert(ConvertSettings(root=b.root, out=tmp_path / "ds", format="nitrogen-dataset"),
                free_bytes=lambda p: 10)
    assert not (tmp_path / "ds").exists()
    convert(ConvertSettings(root=b.root, out=tmp_path / "ds", format="nitrogen-dataset",
                            video=False))
    (folder,) = (tmp_path / "ds" / "actions" / "SHARD_0000" / "s").iterdir()
    assert sorted(x.name for x in folder.iterdir()) == ["actions_raw.parquet", "metadata.json"]
    assert CHUNK_ROWS == 1200


def test_a_killed_convert_leaves_nothing_the_rerun_trips_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A kill mid-chunk leaves only temporaries: the rerun removes them (one line) and needs no
    --overwrite; a finished chunk still needs it."""
    b = make_session(tmp_path / "s", (30,))
    out = tmp_path / "tree"
    unfinished = out / "actions" / "SHARD_0000" / "s" / "s_chunk_0000"
    unfinished.mkdir(parents=True)
    (unfinished / ".actions_raw.parquet.partial").write_bytes(b"half")
    (unfinished / ".video.mp4.partial").write_bytes(b"half")
    settings = ConvertSettings(root=b.root, out=out, format="nitrogen-dataset", video=False)
    with caplog.at_level("WARNING"):
        result = convert(settings)
    assert result.windows == 1
    assert [r.getMessage() for r in caplog.records if "interrupted convert" in r.getMessage()] \
        == [f"removed {unfinished}, an unfinished chunk left by an interrupted convert"]
    assert sorted(p.name for p in unfinished.iterdir()) == ["actions_raw.parquet",
                                                            "metadata.json"]
    from nitrogen_capture.errors import ExportError

    with pytest.raises(ExportError, match="already holds chunks: pass --overwrite"):
        convert(settings)
