"""--format lerobot: the LeRobot v3.0 layout, checked with pyarrow, PyAV and numpy (no lerobot).

``make test-lerobot`` loads an export with LeRobot itself (docs/export.md, "LeRobot"); these
tests check the format that loader reads: every file's schema, row counts, episode bounds, the
videos' frame counts and pts, the pictures and actions against the sessions, the stats against
numpy, appending, segment episodes and the one-line refusals.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli_run import run_cli
from nitrogen_capture.binning import bin_events
from nitrogen_capture.export import ConvertSettings, convert, map_rows
from nitrogen_capture.export.lerobot.state import state_kind
from nitrogen_capture.export.lerobot.stats import sample_rows
from nitrogen_capture.export.resample import step_ns
from nitrogen_capture.export.settings import STATES
from nitrogen_capture.keylayout import PAD_AXES, PAD_BUTTONS
from session_factory import LAYOUT, PERIOD, Built, make_session

KEY = "observation.images.game"
STATE = "observation.state"
STAT_KEYS = {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"}
AV1_OR_H264 = "av1" if "libsvtav1" in av.codecs_available else "h264"
INFO_KEYS = {"codebase_version", "robot_type", "total_episodes", "total_frames", "total_tasks",
             "chunks_size", "data_files_size_in_mb", "video_files_size_in_mb", "fps", "splits",
             "data_path", "video_path", "features"}


def table(folder: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in sorted(folder.glob("*/*.parquet"))])


def grids(b: Built, bounds: list[tuple[int, int]], fps: int = 30) -> list[np.ndarray]:
    p = step_ns(fps)
    return [int(b.timestamps[a]) + np.arange(int(b.timestamps[e - 1] - b.timestamps[a]) // p + 1)
            * p for a, e in bounds]


def want_actions(b: Built, bounds: list[tuple[int, int]], fps: int = 30,
                 space: str = "raw") -> np.ndarray:
    """The actions re-binned on each segment's grid by the reference binner (not the export's)."""
    p, out = step_ns(fps), []
    for g in grids(b, bounds, fps):
        ref = bin_events(b.events, np.concatenate([[g[0] - p], g]), LAYOUT)
        pad = ref.gamepad[1:] if b.meta["gamepad"] else None
        out.append(map_rows(ref.actions[1:], ref.mouse_deltas[1:], pad, LAYOUT, space=space))
    return np.concatenate(out)


def shown_rows(b: Built, bounds: list[tuple[int, int]], fps: int = 30) -> np.ndarray:
    """The frame each row shows: the latest whose tick is at or before the row's, counted in
    periods from the segment's first frame (the factory's frames sit within 2 ms of their tick)."""
    out = []
    for (a, e), g in zip(bounds, grids(b, bounds, fps), strict=True):
        rel = b.frame_indices[a:e] - b.frame_indices[a]  # each frame's tick in the segment
        due = (g - g[0]) // PERIOD  # the tick each row's time falls in
        out.append(a + np.searchsorted(rel, due, side="right") - 1)
    return np.concatenate(out)


def decode(path: Path) -> tuple[list[np.ndarray], list[Fraction]]:
    with av.open(str(path)) as box:
        frames = list(box.decode(video=0))
        return ([f.to_ndarray(format="bgr24") for f in frames],
                [Fraction(f.pts) * f.time_base for f in frames])


def lerobot(tmp: Path, roots: list[Path], out: Path, *extra: str, capsys: Any) -> str:
    args = ["convert", "--format", "lerobot", "--out", str(out), "--no-progress", *extra]
    for r in roots:
        args += ["--root", str(r)]
    res = run_cli(capsys, *args)
    assert res.code == 0, res.err
    return res.out


def test_two_sessions_schema_rows_video_stats(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # Session 1 has a pause: one episode of two segments (the pause cut out); session 2 one.
    b1 = make_session(tmp_path / "s1", (20, 20), gaps={20: (10, "hotkey")}, seed=5)
    b2 = make_session(tmp_path / "s2", (15,), seed=6)
    out = tmp_path / "ds"
    line = lerobot(tmp_path, [b1.root, b2.root], out, "--img-size", "64", "--action-space",
                   "raw", "--repo-id", "me/game", capsys=capsys)
    assert "2 episode(s)" in line
    bounds1, bounds2 = [(0, 20), (20, 40)], [(0, 15)]
    lengths = [sum(len(g) for g in grids(b1, bounds1)), len(grids(b2, bounds2)[0])]

    info = json.loads((out / "meta/info.json").read_text())
    assert set(info) == INFO_KEYS and info["codebase_version"] == "v3.0"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (
        2, sum(lengths), 2)
    assert info["fps"] == 30 and info["splits"] == {"train": "0:2"}
    feats = info["features"]
    assert list(feats) == [KEY, STATE, "action", "frame_is_repeat", "action_source",
                           "timestamp", "frame_index", "episode_index", "index", "task_index"]
    assert feats["frame_is_repeat"] == {"dtype": "bool", "shape": [1], "names": None}
    assert feats["action_source"] == {"dtype": "int64", "shape": [1],
                                      "names": {"values": ["human", "policy"]}}
    # The default state: the row before's action, named after it (export/lerobot/state.py).
    assert feats[STATE] == {"dtype": "float32", "shape": [len(LAYOUT) + 4],
                            "names": [f"previous.{n}" for n in [*LAYOUT.keys, *PAD_AXES]]}
    assert feats[KEY]["dtype"] == "video" and feats[KEY]["shape"] == [64, 64, 3]
    assert feats[KEY]["info"]["video.fps"] == 30 and feats[KEY]["info"]["video.g"] == 2
    # LeRobot's default codec, AV1, where this FFmpeg build has SVT-AV1.
    assert feats[KEY]["info"]["video.codec"] == AV1_OR_H264
    assert feats["action"] == {"dtype": "float32", "shape": [len(LAYOUT) + 4],
                               "names": [*LAYOUT.keys, *PAD_AXES]}

    data = table(out / "data")
    assert data.column_names == [STATE, "action", "frame_is_repeat", "action_source",
                                 "timestamp", "frame_index", "episode_index", "index",
                                 "task_index"]
    assert set(data.column("action_source").to_pylist()) == {0}  # not rollouts: all human
    assert data.schema.field("action").type == pa.list_(pa.float32(), len(LAYOUT) + 4)
    assert data.schema.field("timestamp").type == pa.float32()
    d = data.to_pydict()
    assert d["index"] == list(range(sum(lengths)))
    assert d["episode_index"] == [0] * lengths[0] + [1] * lengths[1]
    frame_index = [*range(lengths[0]), *range(lengths[1])]
    assert d["frame_index"] == frame_index
    np.testing.assert_array_equal(np.float32(d["timestamp"]),
                                  (np.array(frame_index) / 30).astype(np.float32))
    actions = np.asarray(d["action"], np.float32)
    np.testing.assert_array_equal(actions, np.concatenate(
        [want_actions(b1, bounds1), want_actions(b2, bounds2)]))
    # Each episode's state is its actions one row later, zeros on its first row (the first
    # episode's pause does not reset it: the episode's rows follow one another).
    state = np.asarray(d[STATE], np.float32)
    for lo, n in ((0, lengths[0]), (lengths[0], lengths[1])):
        np.testing.assert_array_equal(state[lo], 0)
        np.testing.assert_array_equal(state[lo + 1:lo + n], actions[lo:lo + n - 1])
    assert actions[:lengths[0] - 1].any()  # something to carry over

    eps = table(out / "meta/episodes").to_pydict()
    assert eps["episode_index"] == [0, 1] and eps["length"] == lengths
    # The default task names the game: a synthetic session has none, so its folder's name.
    assert eps["tasks"] == [["Play s1"], ["Play s2"]]
    assert d["task_index"] == [0] * lengths[0] + [1] * lengths[1]
    assert eps["dataset_from_index"] == [0, lengths[0]]
    assert eps["dataset_to_index"] == [lengths[0], sum(lengths)]
    assert eps[f"videos/{KEY}/from_timestamp"] == [0.0, lengths[0] / 30]
    assert eps[f"videos/{KEY}/to_timestamp"] == [lengths[0] / 30, sum(lengths) / 30]
    for col in ("data/chunk_index", "data/file_index", f"videos/{KEY}/file_index",
                "meta/episodes/chunk_index", "meta/episodes/file_index"):
        assert eps[col] == [0, 0]
    tasks = pq.read_table(out / "meta/tasks.parquet").to_pandas()
    assert list(tasks.index) == ["Play s1", "Play s2"] and list(tasks["task_index"]) == [0, 1]

    # One video file: every frame at pts k / fps exactly, each the frame shown at its row time.
    frames, pts = decode(out / f"videos/{KEY}/chunk-000/file-000.mp4")
    assert len(frames) == sum(lengths)
    assert pts == [Fraction(k, 30) for k in range(sum(lengths))]
    shown = np.concatenate([shown_rows(b1, bounds1), shown_rows(b2, bounds2)])
    blue = np.array([np.median(f[..., 0]) for f in frames])  # frame_image: blue = row
    assert np.abs(blue - shown).max() <= 2, (blue, shown)
    assert frames[0].shape == (64, 64, 3)

    # Stats: per episode (episode table) and merged (stats.json), against numpy.
    stats = json.loads((out / "meta/stats.json").read_text())
    assert set(stats) == set(feats)
    for name in (STATE, "action", "index", "timestamp"):
        v = np.asarray(d[name], np.float64).reshape(sum(lengths), -1)
        assert set(stats[name]) == STAT_KEYS
        np.testing.assert_allclose(stats[name]["mean"], v.mean(0), atol=1e-9)
        np.testing.assert_allclose(stats[name]["std"], v.std(0), atol=1e-9)
        np.testing.assert_array_equal(stats[name]["min"], v.min(0))
        np.testing.assert_array_equal(stats[name]["max"], v.max(0))
        assert stats[name]["count"] == [sum(lengths)]
        for e, (lo, n) in enumerate(zip(eps["dataset_from_index"], lengths, strict=True)):
            ve = v[lo:lo + n]
            np.testing.assert_allclose(eps[f"stats/{name}/q50"][e], np.quantile(ve, 0.5, 0))
            np.testing.assert_allclose(eps[f"stats/{name}/q99"][e], np.quantile(ve, 0.99, 0))
    img = stats[KEY]
    assert np.asarray(img["mean"]).shape == (3, 1, 1) and set(img) == STAT_KEYS
    assert img["count"] == [sum(len(sample_rows(n)) for n in lengths)]
    assert np.min(img["min"]) >= 0 and np.max(img["max"]) <= 1
    # Blue (BGR channel 0) is LeRobot's channel 2: its mean is about the mean shown row.
    assert abs(img["mean"][2][0][0] * 255 - shown.mean()) < 4


def test_append_segments_and_gamepad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b1 = make_session(tmp_path / "a", (20, 20), gaps={20: (10, "hotkey")}, seed=1, gamepad=True)
    b2 = make_session(tmp_path / "b", (25,), seed=2, gamepad=True)
    out = tmp_path / "ds"
    lerobot(tmp_path, [b1.root], out, "--episode-per", "segment", "--task", "first",
            capsys=capsys)
    lerobot(tmp_path, [b2.root], out, "--task", "second", capsys=capsys)
    info = json.loads((out / "meta/info.json").read_text())
    assert info["features"]["gamepad"]["names"] == [*PAD_BUTTONS, *PAD_AXES]
    assert info["features"][KEY]["shape"] == [12, 16, 3]  # the capture size
    assert info["features"][KEY]["info"]["video.codec"] == AV1_OR_H264
    assert info["total_episodes"] == 3 and info["total_tasks"] == 2
    lengths = [len(g) for g in grids(b1, [(0, 20), (20, 40)])] + [len(grids(b2, [(0, 25)])[0])]
    assert info["total_frames"] == sum(lengths)
    # The append wrote new files (file-001), and the tables continue the indices.
    assert sorted(p.name for p in (out / "data/chunk-000").iterdir()) == [
        "file-000.parquet", "file-001.parquet"]
    eps = table(out / "meta/episodes").to_pydict()
    assert eps["episode_index"] == [0, 1, 2] and eps["length"] == lengths
    assert eps["tasks"] == [["first"], ["first"], ["second"]]
    assert eps["data/file_index"] == [0, 0, 1] and eps["meta/episodes/file_index"] == [0, 0, 1]
    assert eps[f"videos/{KEY}/from_timestamp"] == [0.0, lengths[0] / 30, 0.0]
    d = table(out / "data").to_pydict()
    assert d["index"] == list(range(sum(lengths)))
    assert d["task_index"] == [0] * (lengths[0] + lengths[1]) + [1] * lengths[2]
    pad = np.asarray(d["gamepad"], np.float32)
    p = step_ns(30)
    g = grids(b2, [(0, 25)])[0]
    ref = bin_events(b2.events, np.concatenate([[g[0] - p], g]), LAYOUT)
    np.testing.assert_array_equal(pad[-lengths[2]:], ref.gamepad[1:])
    stats = json.loads((out / "meta/stats.json").read_text())
    v = np.asarray(d["action"], np.float64)
    np.testing.assert_allclose(stats["action"]["mean"], v.mean(0), atol=1e-9)
    np.testing.assert_allclose(stats["action"]["std"], v.std(0), atol=1e-9)
    assert stats["action"]["count"] == [sum(lengths)]
    for f in (out / f"videos/{KEY}/chunk-000").iterdir():
        with av.open(str(f)) as box:
            assert box.streams.video[0].codec_context.codec.canonical_name == AV1_OR_H264
        frames, pts = decode(f)
        assert pts == [Fraction(k, 30) for k in range(len(frames))]
    assert not list(out.rglob("*.partial*"))


def test_refusals_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = make_session(tmp_path / "s", (12,), seed=3)
    out = tmp_path / "ds"
    lerobot(tmp_path, [b.root], out, capsys=capsys)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    base = ["convert", "--format", "lerobot", "--root", str(b.root), "--no-progress"]
    run_cli(capsys, *base, "--out", str(out), "--fps", "15").one_line_error(
        1, "cannot append", "30 fps")
    run_cli(capsys, *base, "--out", str(out), "--img-size", "32").one_line_error(
        1, "cannot append", "shape")
    run_cli(capsys, *base, "--out", str(out), "--action-space", "raw").one_line_error(
        1, "cannot append", "action")
    # A batch (--recursive, --sessions, Ray) writes a new dataset: it does not append to one
    # made without a batch manifest (docs/export.md, "Many sessions"), nor mix two rates.
    run_cli(capsys, *base, "--recursive", "--out", str(out)).one_line_error(
        1, "already exists and has no batch manifest", "--overwrite")
    run_cli(capsys, *base, "--recursive", "--out", str(tmp_path / "x"), "--fps", "30",
            "--action-hz", "60").one_line_error(2, "--fps 30 and --action-hz 60 differ")
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # untouched
    run_cli(capsys, "convert", "--format", "lerobot", "--root", str(tmp_path / "nope"),
            "--out", str(tmp_path / "x")).one_line_error(1, "nope")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    run_cli(capsys, *base, "--out", str(tmp_path / "other")).one_line_error(
        1, "not a LeRobot dataset")
    run_cli(capsys, *base, "--out", str(tmp_path / "y"), "--fps", "30",
            "--action-hz", "60").one_line_error(2, "--fps 30 and --action-hz 60 differ")


def held_before(b: Built, grid: np.ndarray, step: int) -> np.ndarray:
    """The layout's keys held at each row's previous grid time, replayed from the events."""
    held, out, k = np.zeros(len(LAYOUT), bool), [], 0
    events = [e for e in b.events if e.device in ("key", "button") and LAYOUT.get(e.code)
              is not None]
    for t in grid - step:
        while k < len(events) and events[k].t_ns <= t:
            held[LAYOUT.get(events[k].code)] = events[k].value > 0
            k += 1
        out.append(held.copy())
    return np.asarray(out, np.float32)


def test_state_choices_and_appending(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert [state_kind(name).name for name in STATES] == list(STATES)  # one variant each
    b = make_session(tmp_path / "s", (40,), seed=11)
    held = tmp_path / "held"
    lerobot(tmp_path, [b.root], held, "--state", "held-keys", capsys=capsys)
    feats = json.loads((held / "meta/info.json").read_text())["features"]
    assert feats[STATE] == {"dtype": "float32", "shape": [len(LAYOUT)],
                            "names": [f"held.{k}" for k in LAYOUT.keys]}
    d = table(held / "data").to_pydict()
    g = grids(b, [(0, 40)])[0]
    want = held_before(b, g, step_ns(30))
    assert want.any() and not (want == 1).all()
    np.testing.assert_array_equal(np.asarray(d[STATE], np.float32), want)
    stats = json.loads((held / "meta/stats.json").read_text())
    np.testing.assert_allclose(stats[STATE]["mean"], want.mean(0), atol=1e-9)

    # --state none: no state feature, and a dataset without one (an older version's) is
    # extended only with --state none; the default refuses it in one line, changing nothing.
    bare = tmp_path / "bare"
    lerobot(tmp_path, [b.root], bare, "--state", "none", capsys=capsys)
    feats = json.loads((bare / "meta/info.json").read_text())["features"]
    assert STATE not in feats and STATE not in table(bare / "data").column_names
    before = {p: p.read_bytes() for p in bare.rglob("*") if p.is_file()}
    base = ["convert", "--format", "lerobot", "--root", str(b.root), "--no-progress"]
    run_cli(capsys, *base, "--out", str(bare)).one_line_error(
        1, f"cannot append to {bare}: it has no observation.state", "--state none")
    run_cli(capsys, *base, "--out", str(held)).one_line_error(
        1, "feature observation.state has shape", "pass the --state it was written with")
    run_cli(capsys, *base, "--out", str(held), "--state", "none").one_line_error(
        1, "it has an observation.state, these episodes none")
    assert {p: p.read_bytes() for p in bare.rglob("*") if p.is_file()} == before
    lerobot(tmp_path, [b.root], bare, "--state", "none", capsys=capsys)
    assert json.loads((bare / "meta/info.json").read_text())["total_episodes"] == 2
    run_cli(capsys, *base, "--out", str(tmp_path / "x"), "--state", "joints").one_line_error(
        2, "--state", "joints")


def test_fps_resamples_and_overwrite(tmp_path: Path) -> None:
    b = make_session(tmp_path / "s", (30,), seed=4)
    out = tmp_path / "ds"
    kw: dict[str, Any] = {"format": "lerobot", "fps": 10, "img_size": 64, "img_size_set": True}
    convert(ConvertSettings(root=b.root, out=out, **kw))
    convert(ConvertSettings(root=b.root, out=out, overwrite=True, **kw))
    info = json.loads((out / "meta/info.json").read_text())
    n = len(grids(b, [(0, 30)], 10)[0])
    assert info["fps"] == 10 and info["total_episodes"] == 1 and info["total_frames"] == n
    frames, pts = decode(out / f"videos/{KEY}/chunk-000/file-000.mp4")
    assert pts == [Fraction(k, 10) for k in range(n)]
    blue = np.array([np.median(f[..., 0]) for f in frames])
    # Every third row at 10 fps: each frame is the one shown then (crf 30 is lossy: +-3).
    assert np.abs(blue - shown_rows(b, [(0, 30)], 10)).max() <= 3
    d = table(out / "data").to_pydict()
    np.testing.assert_array_equal(np.asarray(d["action"], np.float32),
                                  want_actions(b, [(0, 30)], 10, space="nitrogen"))


def test_failed_append_leaves_the_dataset_as_it_was(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    b1 = make_session(tmp_path / "a", (12,), seed=7)
    b2 = make_session(tmp_path / "b", (20, 20), gaps={20: (10, "hotkey")}, seed=8)
    out = tmp_path / "ds"
    convert(ConvertSettings(root=b1.root, out=out, format="lerobot"))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    from nitrogen_capture.export.lerobot import writer

    calls = []
    real = writer._Run.episode

    def fail_second(self: Any, ep: Any) -> None:
        calls.append(ep)
        if len(calls) == 2:  # the first new episode is encoded, the second fails
            raise OSError("disk on fire")
        real(self, ep)

    monkeypatch.setattr(writer._Run, "episode", fail_second)
    with pytest.raises(OSError, match="disk on fire"):
        convert(ConvertSettings(root=b2.root, out=out, format="lerobot", episode_per="segment"))
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_without_av1_the_videos_are_h264(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nitrogen_capture.codecs import encoders

    real = encoders.probe

    def no_av1(name: str, *a: Any, **kw: Any) -> str | None:
        return "not in this FFmpeg build" if "av1" in name else real(name, *a, **kw)

    monkeypatch.setattr(encoders, "probe", no_av1)
    b = make_session(tmp_path / "s", (12,), seed=9)
    out = tmp_path / "ds"
    convert(ConvertSettings(root=b.root, out=out, format="lerobot"))
    info = json.loads((out / "meta/info.json").read_text())
    assert info["features"][KEY]["info"]["video.codec"] == "h264"
    path = out / f"videos/{KEY}/chunk-000/file-000.mp4"
    with av.open(str(path)) as box:
        assert box.streams.video[0].codec_context.codec.canonical_name == "h264"
    frames, pts = decode(path)
    assert len(frames) == info["total_frames"] and pts[-1] == Fraction(len(frames) - 1, 30)


def test_failed_overwrite_leaves_the_old_dataset(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    b1 = make_session(tmp_path / "a", (12,), seed=7)
    b2 = make_session(tmp_path / "b", (20,), seed=8)
    out = tmp_path / "ds"
    convert(ConvertSettings(root=b1.root, out=out, format="lerobot"))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    from nitrogen_capture.export.lerobot import writer

    def fail(self: Any, ep: Any) -> None:
        raise KeyboardInterrupt  # Ctrl+C in the middle of the new dataset's first episode

    monkeypatch.setattr(writer._Run, "episode", fail)
    with pytest.raises(KeyboardInterrupt):
        convert(ConvertSettings(root=b2.root, out=out, format="lerobot", overwrite=True))
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "ds"]  # no staging left
    monkeypatch.undo()
    done = convert(ConvertSettings(root=b2.root, out=out, format="lerobot", overwrite=True))
    info = json.loads((out / "meta/info.json").read_text())
    n = len(grids(b2, [(0, 20)])[0])
    assert info["total_episodes"] == 1 and info["total_frames"] == n
    assert all(f.is_file() and out in f.parents for f in done.files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "ds"]
