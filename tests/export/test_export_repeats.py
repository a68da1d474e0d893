"""Exports say which rows are real: every repeated frame is marked, counted and can be left out.

A session of an earlier version hid missed periods in its timestamps (``frame_indices`` stayed
contiguous): a LeRobot export then repeated the latest frame at each of those grid times, and
nothing said so (docs/export.md, "Repeated frames"). Here the truth is computed from the
session's own timestamps, independently of the exporter's code: each frame's tick counted from
the grid's first frame is its time difference rounded to whole periods (the factory's capture
jitter is under 2 ms), a grid row falls in the tick ``floor(offset / period)``, and a row is a
repeat when no frame's tick lies after the previous row's tick and at or before its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from cli_run import run_cli
from markers import HAS_TORCH, needs_torch
from nitrogen_capture.export import NitrogenDataset
from nitrogen_capture.export.resample import step_ns
from session_factory import PERIOD, Built, make_session

if HAS_TORCH:
    import torch

# 30 fps, 80 frames: missed periods hidden in the timestamps before rows 10 (3) and 25 (7),
# dropped ticks the index shows before row 50 (a cut) and a pause before row 60.
HIDDEN = {10: 3, 25: 7}
SEGMENTS = [(0, 50), (50, 60), (60, 80)]
BOOL_COLUMNS = ["dpad_down", "dpad_left", "dpad_right", "dpad_up", "left_shoulder", "left_thumb",
                "left_trigger", "right_shoulder", "right_thumb", "right_trigger", "south", "west",
                "east", "north", "back", "start", "guide"]


def lossy(root: Path, seed: int = 3) -> Built:
    return make_session(root, (40, 40), gaps={50: (2, None), 60: (15, "hotkey")},
                        hidden=HIDDEN, seed=seed)


def ticks_from(b: Built, anchor: int, rows: range) -> np.ndarray:
    """Each frame's tick counted from the anchor frame: its capture delay rounded to periods."""
    return np.round((b.timestamps[list(rows)] - b.timestamps[anchor]) / PERIOD).astype(int)


def truth_flags(b: Built, lo: int, hi: int, offsets: np.ndarray, anchor: int | None = None,
                ) -> np.ndarray:
    """Repeat flags of grid rows at ``t[anchor] + offsets`` inside segment ``[lo, hi)``."""
    a = lo if anchor is None else anchor
    ticks = ticks_from(b, a, range(a, hi))
    due = offsets // PERIOD
    flags = np.zeros(len(offsets), dtype=bool)
    for k in range(1, len(offsets)):
        flags[k] = not np.any((ticks > due[k - 1]) & (ticks <= due[k]))
    return flags


def segment_grid_flags(b: Built, hz: float) -> list[np.ndarray]:
    """Truth flags of every segment's grid at ``hz`` from its first frame to its last."""
    step, out = step_ns(hz), []
    for lo, hi in SEGMENTS:
        n = (int(b.timestamps[hi - 1]) - int(b.timestamps[lo])) // step + 1
        out.append(truth_flags(b, lo, hi, np.arange(n, dtype=np.int64) * step))
    return out


def longest(flags: np.ndarray) -> int:
    best = run = 0
    for f in flags:
        run = run + 1 if f else 0
        best = max(best, run)
    return best


def cut(flags: np.ndarray, n: int) -> list[np.ndarray]:
    """The pieces of a segment's flags left once runs of more than ``n`` repeats are cut."""
    pieces, start, k = [], 0, 0
    while k < len(flags):
        if flags[k]:
            e = k
            while e < len(flags) and flags[e]:
                e += 1
            if e - k > n:
                pieces.append(flags[start:k])
                start = e
            k = e
        else:
            k += 1
    pieces.append(flags[start:])
    return [p for p in pieces if len(p)]


def tree_rows(out: Path, vid: str) -> list[tuple[dict[str, Any], Any]]:
    base = out / "actions" / "SHARD_0000" / vid
    return [(json.loads((c / "metadata.json").read_text()),
             pq.read_table(c / "actions_raw.parquet")) for c in sorted(base.iterdir())]


def test_dataset_tree_marks_exactly_the_repeated_rows(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    b = lossy(tmp_path / "s")
    # The truth sees the hidden periods, which the index does not show: at the session's own
    # rate they are the repeats, nothing else.
    assert list(b.frame_indices[:50]) == list(range(50))
    own = segment_grid_flags(b, 30)
    assert [int(f.sum()) for f in own] == [10, 0, 0]
    assert np.flatnonzero(own[0]).tolist() == [10, 11, 12, *range(28, 35)]
    monkeypatch.setattr("nitrogen_capture.export.dataset_tree.CHUNK_ROWS", 40)
    monkeypatch.setattr("nitrogen_capture.export.dataset_tree.MIN_CHUNK_ROWS", 1)
    out = tmp_path / "tree"
    r = run_cli(capsys, "convert", "--root", str(b.root), "--out", str(out), "--format",
                "nitrogen-dataset", "--no-video", "--no-progress")
    assert r.code == 0, r.err
    truth = np.concatenate(segment_grid_flags(b, 60))
    chunks = tree_rows(out, "s")
    got = np.concatenate([t.column("frame_is_repeat").to_numpy(zero_copy_only=False)
                          for _, t in chunks])
    np.testing.assert_array_equal(got, truth)
    assert [m["repeated_frames"] for m, _ in chunks] == [
        int(t.column("frame_is_repeat").to_numpy(zero_copy_only=False).sum()) for _, t in chunks]
    assert all("repeat_cut" not in m for m, _ in chunks)
    assert f"repeated frames: {int(truth.sum())} of {len(truth)} rows (frame_is_repeat)" in \
        r.out.splitlines()[0]
    # A reader that selects the dataset's 19 columns by name gets exactly them.
    names = [*BOOL_COLUMNS, "j_left", "j_right"]
    first = out / "actions" / "SHARD_0000" / "s" / "s_chunk_0000" / "actions_raw.parquet"
    assert pq.read_table(first, columns=names).column_names == names

    # --max-repeat-frames 10: at 60 Hz the 3 hidden periods freeze the picture for 7 rows (kept),
    # the 7 periods for 15 (cut); every other row repeats anyway (a 30 fps session).
    monkeypatch.setattr("nitrogen_capture.export.dataset_tree.CHUNK_ROWS", 1200)
    out10 = tmp_path / "tree10"
    r = run_cli(capsys, "convert", "--root", str(b.root), "--out", str(out10), "--format",
                "nitrogen-dataset", "--no-video", "--no-progress", "--max-repeat-frames", "10")
    assert r.code == 0, r.err
    pieces = [p for f in segment_grid_flags(b, 60) for p in cut(f, 10)]
    assert [longest(f) for f in segment_grid_flags(b, 60)] == [15, 1, 1]
    chunks = tree_rows(out10, "s")
    # No chunk spans the cut: each piece is written as its own chunk.
    assert len(chunks) == len(pieces) == 4
    for (m, t), p in zip(chunks, pieces, strict=True):
        np.testing.assert_array_equal(t.column("frame_is_repeat").to_numpy(zero_copy_only=False),
                                      p)
        assert m["repeat_cut"] == {"max_repeat_frames": 10, "stretches": 1, "rows": 15}
        assert m["repeated_frames"] == int(p.sum())
    assert "left out 1 stretch(es) of more than 10 repeated frames: 15 rows" in r.out


def test_lerobot_flags_counts_and_cuts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = lossy(tmp_path / "s")
    out = tmp_path / "ds"
    r = run_cli(capsys, "convert", "--format", "lerobot", "--root", str(b.root), "--out",
                str(out), "--no-progress", "--img-size", "16")
    assert r.code == 0, r.err
    truth = np.concatenate(segment_grid_flags(b, 30))
    data = pq.read_table(out / "data/chunk-000/file-000.parquet")
    got = data.column("frame_is_repeat").to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(got, truth)
    assert int(got.sum()) == 10
    mark = json.loads((out / "meta/nitrogen-capture.json").read_text())
    assert mark["format"] == "nitrogen-capture.lerobot-dataset"
    assert mark["repeated_frames"] == 10 and "repeat_cut" not in mark
    stats = json.loads((out / "meta/stats.json").read_text())["frame_is_repeat"]
    assert stats["count"] == [len(truth)] and stats["max"] == [1.0]
    assert stats["mean"][0] == pytest.approx(10 / len(truth))
    assert r.out.splitlines()[0].endswith(
        f"; repeated frames: 10 of {len(truth)} frames (frame_is_repeat)"), r.out

    # --max-repeat-frames 5 cuts the run of 7 and keeps the run of 3, marked.
    out5 = tmp_path / "ds5"
    r = run_cli(capsys, "convert", "--format", "lerobot", "--root", str(b.root), "--out",
                str(out5), "--no-progress", "--img-size", "16", "--max-repeat-frames", "5")
    assert r.code == 0, r.err
    want = np.concatenate([p for f in segment_grid_flags(b, 30) for p in cut(f, 5)])
    d5 = pq.read_table(out5 / "data/chunk-000/file-000.parquet")
    np.testing.assert_array_equal(d5.column("frame_is_repeat").to_numpy(zero_copy_only=False),
                                  want)
    assert len(want) == len(truth) - 7 and int(want.sum()) == 3
    assert d5.column("frame_index").to_pylist() == list(range(len(want)))
    mark = json.loads((out5 / "meta/nitrogen-capture.json").read_text())
    assert mark["repeated_frames"] == 3 and mark["repeat_cut"] == {"stretches": 1, "rows": 7}
    assert "left out 1 stretch(es) of more than 5 repeated frames: 7 rows" in r.out
    # 0: every repeated row is left out.
    out0 = tmp_path / "ds0"
    assert run_cli(capsys, "convert", "--format", "lerobot", "--root", str(b.root), "--out",
                   str(out0), "--no-progress", "--img-size", "16",
                   "--max-repeat-frames", "0").code == 0
    d0 = pq.read_table(out0 / "data/chunk-000/file-000.parquet")
    assert len(d0) == len(truth) - 10
    assert not any(d0.column("frame_is_repeat").to_pylist())


def pt_truth(b: Built, starts: list[int], seq_len: int, hz: float | None) -> tuple[
        list[int], list[int]]:
    """Per window: repeated frames from its observation to its last step, and the longest run."""
    counts, runs = [], []
    for i in starts:
        lo, hi = next((a, e) for a, e in SEGMENTS if a <= i < e)
        if hz is None:  # per frame: the periods with no frame between its rows
            ticks = ticks_from(b, i, range(i, i + seq_len))
            gaps = np.diff(ticks) - 1
            counts.append(int(gaps.sum()))
            runs.append(int(gaps.max(initial=0)))
        else:
            flags = truth_flags(b, lo, hi, np.arange(seq_len) * step_ns(hz), anchor=i)
            counts.append(int(flags.sum()))
            runs.append(longest(flags))
    return counts, runs


@needs_torch
@pytest.mark.parametrize("hz", [None, 30.0, 60.0])
def test_pt_windows_count_their_repeats_and_long_runs_are_dropped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], hz: float | None) -> None:
    b = lossy(tmp_path / "s")
    rate = [] if hz is None else ["--action-hz", f"{hz:g}"]
    out = tmp_path / "all.pt"
    # pt_truth counts from the observation's own row: --action-shift 0.
    r = run_cli(capsys, "convert", "--root", str(b.root), "--out", str(out), "--img-size", "8",
                "--seq-len", "8", "--action-shift", "0", "--no-progress", *rate)
    assert r.code == 0, r.err
    meta = torch.load(out, weights_only=True)["meta"]
    w = meta["windows"]
    counts, runs = pt_truth(b, w["row"], 8, hz)
    assert w["repeated_frames"] == counts and w["repeat_run"] == runs
    assert meta["repeated_frames"] == sum(counts) > 0
    ds = NitrogenDataset(out)
    assert [ds.repeated_frames(i) for i in range(len(ds))] == counts
    assert meta["params"]["max_repeat_frames"] is None and "repeat_cut" not in meta["source"]
    with_any = sum(c > 0 for c in counts)
    line = next(ln for ln in r.out.splitlines() if ln.startswith("wrote "))
    assert line.endswith(f"; repeated frames: {sum(counts)} in {with_any} of {len(counts)} "
                         "windows (meta windows.repeated_frames)"), line

    # --max-repeat-frames 2 drops exactly the windows holding a run of 3 or more.
    out2 = tmp_path / "two.pt"
    r = run_cli(capsys, "convert", "--root", str(b.root), "--out", str(out2), "--img-size", "8",
                "--seq-len", "8", "--action-shift", "0", "--no-progress", "--max-repeat-frames",
                "2", *rate)
    assert r.code == 0, r.err
    data = torch.load(out2, weights_only=True)
    kept = [row for row, run in zip(w["row"], runs, strict=True) if run <= 2]
    dropped = len(w["row"]) - len(kept)
    assert dropped > 0 and data["meta"]["windows"]["row"] == kept
    assert data["obs"].shape[0] == data["actions"].shape[0] == len(kept)
    assert max(data["meta"]["windows"]["repeat_run"]) <= 2
    assert data["meta"]["source"]["repeat_cut"] == {"max_repeat_frames": 2, "windows": dropped}
    assert data["meta"]["params"]["max_repeat_frames"] == 2
    assert f"left out {dropped} window(s) with more than 2 repeated frames in a row" in r.out
    # The windows kept are the same windows, byte for byte.
    full = torch.load(out, weights_only=True)
    keep = torch.tensor([run <= 2 for run in runs])
    assert torch.equal(data["obs"], full["obs"][keep])
    assert torch.equal(data["actions"], full["actions"][keep])


@needs_torch
def test_a_clean_session_has_no_repeat_at_its_own_rate(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # Capture jitter of up to 2 ms on every frame: it must not read as repeats (and skips).
    b = make_session(tmp_path / "s", (30, 30), seed=11)
    out = tmp_path / "ds"
    assert run_cli(capsys, "convert", "--format", "lerobot", "--root", str(b.root), "--out",
                   str(out), "--no-progress", "--img-size", "16").code == 0
    data = pq.read_table(out / "data/chunk-000/file-000.parquet")
    assert not any(data.column("frame_is_repeat").to_pylist()) and len(data) >= 59
    assert json.loads((out / "meta/nitrogen-capture.json").read_text())["repeated_frames"] == 0
    for rate in ([], ["--action-hz", "30"]):
        pt = tmp_path / f"c{len(rate)}.pt"
        assert run_cli(capsys, "convert", "--root", str(b.root), "--out", str(pt), "--img-size",
                       "8", "--no-progress", *rate).code == 0
        meta = torch.load(pt, weights_only=True)["meta"]
        assert meta["repeated_frames"] == 0 and not any(meta["windows"]["repeat_run"])
    # A 60 fps session in the 60 Hz tree: none; a 30 fps session there: every other row.
    b60 = make_session(tmp_path / "s60", (60,), seed=12, fps=60)
    for sess, every in ((b60, None), (b, 2)):
        tree = tmp_path / f"tree-{sess.root.name}"
        assert run_cli(capsys, "convert", "--root", str(sess.root), "--out", str(tree),
                       "--format", "nitrogen-dataset", "--no-video", "--no-progress").code == 0
        ((m, t),) = tree_rows(tree, sess.root.name)
        flags = np.asarray(t.column("frame_is_repeat").to_pylist())
        if every is None:
            assert not flags.any() and m["repeated_frames"] == 0
        else:
            np.testing.assert_array_equal(flags, np.arange(len(flags)) % 2 == 1)
            assert m["repeated_frames"] == len(flags) // 2


def test_each_capture_is_shown_once_at_its_own_rate(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The pictures, not only the flags: a row shows the frame of its own tick."""
    import av
    import cv2

    b = make_session(tmp_path / "s", (40,), seed=13)
    for r in range(40):  # grey 6 x row: far apart enough for a lossy AV1 at crf 30
        cv2.imwrite(str(b.paths.frame_png(1, r + 1)), np.full((12, 16, 3), 6 * r, np.uint8))
    out = tmp_path / "ds"
    assert run_cli(capsys, "convert", "--format", "lerobot", "--root", str(b.root), "--out",
                   str(out), "--no-progress").code == 0
    with av.open(str(out / "videos/observation.images.game/chunk-000/file-000.mp4")) as box:
        grey = [float(np.median(f.to_ndarray(format="gray"))) for f in box.decode(video=0)]
    shown = [round(g / 6) for g in grey]
    # Row k shows capture k: no capture twice, none skipped, whatever its 0-2 ms of jitter.
    assert len(shown) >= 39 and shown == list(range(len(shown))), shown


def test_bad_max_repeat_frames_is_one_line(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    b = make_session(tmp_path / "s", (20,), seed=14)
    for value, needle in (("-1", "--max-repeat-frames must be >= 0, got -1"),
                          ("100001", "--max-repeat-frames must be <= 100000"),
                          ("x", "invalid int value")):
        run_cli(capsys, "convert", "--root", str(b.root), "--out", str(tmp_path / "o.pt"),
                "--max-repeat-frames", value, "--no-progress").one_line_error(2, needle)
    assert not (tmp_path / "o.pt").exists()


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("lib") / "lib"
    lossy(top / "a")
    make_session(top / "b", (30,), seed=5)
    return top


@pytest.mark.slow
@needs_torch
def test_pt_batch_carries_the_counts_of_one_convert(library: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    flags = ["--img-size", "8", "--seq-len", "8", "--action-hz", "60", "--max-repeat-frames",
             "2", "--no-progress"]
    out = tmp_path / "all.pt"
    # Tasks of 20 frames: the 80-frame session is cut into 4, each counting the same cut.
    r = run_cli(capsys, "convert", "--root", str(library), "--recursive", "--out", str(out),
                "--task-frames", "20", "--jobs", "1", *flags)
    assert r.code == 0, r.err
    data = torch.load(out, weights_only=True)
    meta, lo, total = data["meta"], 0, 0
    for k, name in enumerate(("a", "b")):
        one = tmp_path / f"{name}.pt"
        assert run_cli(capsys, "convert", "--root", str(library / name), "--out", str(one),
                       *flags).code == 0
        ref = torch.load(one, weights_only=True)
        n = ref["obs"].shape[0]
        for key in ("row", "repeated_frames", "repeat_run"):
            assert meta["windows"][key][lo:lo + n] == ref["meta"]["windows"][key], key
        assert torch.equal(data["obs"][lo:lo + n], ref["obs"])
        assert meta["sources"][k]["repeat_cut"] == ref["meta"]["source"]["repeat_cut"]
        total += ref["meta"]["repeated_frames"]
        lo += n
    assert meta["sources"][0]["repeat_cut"]["windows"] > 0
    assert lo == meta["total_windows"] and meta["repeated_frames"] == total > 0
    assert f"repeated frames: {total} (marked in the output" in r.out


@pytest.mark.slow
def test_tree_batch_equals_one_convert(library: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from batch_library import tree_digest

    flags = ["--format", "nitrogen-dataset", "--no-video", "--no-progress",
             "--max-repeat-frames", "10"]
    out = tmp_path / "tree"
    r = run_cli(capsys, "convert", "--root", str(library), "--recursive", "--out", str(out),
                "--jobs", "1", *flags)
    assert r.code == 0, r.err
    repeated = 0
    for name in ("a", "b"):
        one = tmp_path / f"one-{name}"
        assert run_cli(capsys, "convert", "--root", str(library / name), "--out", str(one),
                       *flags).code == 0
        got = tree_digest(out / "actions" / "SHARD_0000" / name)
        assert got == tree_digest(one / "actions" / "SHARD_0000" / name)
        repeated += sum(m["repeated_frames"] for m, _ in tree_rows(one, name))
    assert repeated > 0 and f"repeated frames: {repeated} (marked" in r.out


@pytest.mark.slow
def test_lerobot_batch_equals_the_multi_root_writer(library: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    flags = ["--format", "lerobot", "--no-progress", "--img-size", "16",
             "--max-repeat-frames", "5"]
    out = tmp_path / "ds"
    r = run_cli(capsys, "convert", "--root", str(library), "--recursive", "--out", str(out),
                "--jobs", "1", *flags)
    assert r.code == 0, r.err
    ref = tmp_path / "ref"
    assert run_cli(capsys, "convert", "--root", str(library / "a"), "--root",
                   str(library / "b"), "--out", str(ref), *flags).code == 0

    def rows(root: Path) -> Any:
        return pq.read_table(sorted((root / "data").glob("*/*.parquet"))[0])

    got = np.concatenate([pq.read_table(p).column("frame_is_repeat").to_numpy(
        zero_copy_only=False) for p in sorted((out / "data").glob("*/*.parquet"))])
    want = rows(ref).column("frame_is_repeat").to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(got, want)
    marks = [json.loads((p / "meta/nitrogen-capture.json").read_text()) for p in (out, ref)]
    assert marks[0] == marks[1]
    assert marks[0]["repeated_frames"] == int(want.sum()) == 3
    assert marks[0]["repeat_cut"] == {"stretches": 1, "rows": 7}
    assert "repeated frames: 3 (marked" in r.out


def test_appending_to_a_dataset_without_the_flag_keeps_its_features(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A dataset written before frame_is_repeat existed is extended without it, not refused."""
    a, b = lossy(tmp_path / "a"), make_session(tmp_path / "b", (20,), seed=6)
    out = tmp_path / "ds"
    assert run_cli(capsys, "convert", "--format", "lerobot", "--root", str(a.root), "--out",
                   str(out), "--no-progress", "--img-size", "16").code == 0
    # What an earlier version wrote: the same dataset without the feature.
    info = json.loads((out / "meta/info.json").read_text())
    del info["features"]["frame_is_repeat"]
    (out / "meta/info.json").write_text(json.dumps(info, indent=4))
    stats = json.loads((out / "meta/stats.json").read_text())
    del stats["frame_is_repeat"]
    (out / "meta/stats.json").write_text(json.dumps(stats, indent=4))
    for folder, drop in (("data", ["frame_is_repeat"]), ("meta/episodes", None)):
        for p in (out / folder).glob("*/*.parquet"):
            t = pq.read_table(p)
            names = drop or [c for c in t.column_names if "frame_is_repeat" in c]
            pq.write_table(t.drop_columns(names), p)
    (out / "meta/nitrogen-capture.json").write_text(
        '{"format": "nitrogen-capture.lerobot-dataset", "format_version": 1}\n')
    r = run_cli(capsys, "convert", "--format", "lerobot", "--root", str(b.root), "--out",
                str(out), "--no-progress")
    assert r.code == 0, r.err
    assert "frame_is_repeat" not in json.loads((out / "meta/info.json").read_text())["features"]
    assert all("frame_is_repeat" not in pq.read_table(p).column_names
               for p in (out / "data").glob("*/*.parquet"))
    mark = json.loads((out / "meta/nitrogen-capture.json").read_text())
    assert "repeated_frames" not in mark  # unknown for the earlier episodes
    assert "; repeated frames: 0 of" in r.out  # the new episode's, counted all the same
