"""Damaged sessions: validate names every problem, merge refuses or skips, nothing is destroyed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from markers import make_symlink, needs_torch, wine_lacks_symlinks
from nitrogen_capture.errors import SchemaVersionError, SessionFormatError
from nitrogen_capture.session import SessionReader, merge_session, validate_session
from session_factory import make_session


def _errors(rep):
    return [(p.where, p.message) for p in rep.problems if p.level == "error"]


def _truncate(path, keep=0.6):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_newer_schema_is_refused(tmp_path):
    b = make_session(tmp_path / "s1", (3,))
    meta = json.loads(b.paths.meta.read_text())
    meta["schema_version"] = 2
    b.paths.meta.write_text(json.dumps(meta))
    with pytest.raises(SchemaVersionError, match=r"format v2, this tool reads v1: upgrade"):
        SessionReader(b.root)
    rep = validate_session(b.root)
    assert not rep.ok and "upgrade nitrogen-capture" in rep.errors[0].message
    with pytest.raises(SchemaVersionError):
        merge_session(b.root)


@pytest.mark.parametrize("content", [None, "{not json", "[]", '{"layout": {"keys": ["w"]}}'])
def test_missing_or_invalid_meta(tmp_path, content):
    root = tmp_path / "s"
    root.mkdir()
    if content is not None:
        (root / "meta.json").write_text(content)
    with pytest.raises(SessionFormatError):
        SessionReader(root)
    assert not validate_session(root).ok


def test_truncated_npy_named(tmp_path):
    b = make_session(tmp_path / "s", (4, 4))
    _truncate(b.paths.chunk_array("actions", 2))
    with pytest.raises(SessionFormatError, match=r"actions_chunk_002\.npy"):
        SessionReader(b.root).chunk_arrays(SessionReader(b.root).chunk(2))
    errs = _errors(validate_session(b.root))
    assert errs == [("chunk 2", errs[0][1])] and "actions_chunk_002.npy" in errs[0][1]


def test_validate_collects_every_problem(tmp_path):
    b = make_session(tmp_path / "s", (4, 4, 4))
    p = b.paths
    p.frame_png(1, 2).unlink()                                    # missing PNG
    (p.chunk_frames_dir(1) / "000009.png").write_bytes(p.frame_png(1, 1).read_bytes())  # extra
    np.save(p.chunk_array("mouse_deltas", 2), np.zeros((3, 2), np.float32))  # length mismatch
    np.save(p.chunk_array("actions", 3), np.zeros((4, 5), np.int8))   # K != len(layout)
    _truncate(p.frame_png(3, 4))                                   # undecodable frame
    p.journal(4).write_text('{"kind": "chunk", "chunk": 4, "first_row": 12}\n')  # leftover
    rep = validate_session(b.root)
    errs = _errors(rep)
    text = "\n".join(f"{w}: {m}" for w, m in errs)
    assert "1 frames missing: 000002.png" in text
    assert "extra files without rows: 000009.png" in text
    assert "mouse_deltas_chunk_002.npy has 3 rows, meta.json says num_frames 4" in text
    assert "actions_chunk_003.npy is int8[4, 5], expected int8[n, 4]" in text
    assert "000004.png truncated" in text
    assert "journal_chunk_004.jsonl: a chunk was left open (crash or kill): run merge" in text
    assert len(errs) == 6 and not rep.ok
    assert "ERROR" in rep.format()


def test_non_monotonic_timestamps_and_indices(tmp_path):
    b = make_session(tmp_path / "s", (4, 4))
    ts = np.load(b.paths.chunk_array("timestamps", 2))
    ts[1] = ts[0] - 5
    np.save(b.paths.chunk_array("timestamps", 2), ts)
    fi = np.load(b.paths.chunk_array("frame_indices", 1))
    fi[3] = fi[2]
    np.save(b.paths.chunk_array("frame_indices", 1), fi)
    errs = dict(_errors(validate_session(b.root)))
    assert "merged row 5" in errs["timestamps"]
    assert "merged row 3" in errs["frame_indices"]


def test_merged_arrays_disagreeing_with_chunks(tmp_path):
    b = make_session(tmp_path / "s", (3, 3), merge=True)
    assert validate_session(b.root).ok
    a = np.load(b.paths.merged("actions"))
    a[0, 0] ^= 1
    np.save(b.paths.merged("actions"), a)
    errs = _errors(validate_session(b.root))
    assert errs == [("merged", "actions.npy disagrees with the chunk files: run merge again")]


def _snapshot(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ("chunk_" in p.name or p.parent.name.startswith("chunk_"))}


@pytest.mark.parametrize("damage", ["truncate", "rows"])
def test_merge_refuses_bad_chunk_and_skip_bad_skips_it(tmp_path, damage):
    b = make_session(tmp_path / "s", (4, 4, 4))
    bad = b.paths.chunk_array("timestamps", 2)
    if damage == "truncate":
        _truncate(bad)
    else:
        np.save(bad, np.arange(5, dtype=np.int64))
    before = _snapshot(b.root)
    with pytest.raises(SessionFormatError, match=r"chunk 2.*timestamps_chunk_002.npy.*--skip-bad"):
        merge_session(b.root)
    assert not b.paths.merged("actions").exists()
    report = merge_session(b.root, skip_bad=True)
    assert report.chunks == (1, 3) and report.frames == 8
    assert [i for i, _ in report.skipped] == [2] and "timestamps_chunk_002" in report.skipped[0][1]
    merged = np.load(b.paths.merged("actions"))
    np.testing.assert_array_equal(merged, np.concatenate([b.actions[:4], b.actions[8:]]))
    meta = json.loads(b.paths.meta.read_text())
    assert meta["merged"]["skipped_chunks"] == [2] and meta["merged"]["chunks"] == [1, 3]
    assert _snapshot(b.root) == before  # chunk files untouched
    # The reader maps merged rows through the merged chunk list, skipping chunk 2.
    r = SessionReader(b.root)
    assert r.row_offsets() == {1: 0, 3: 4}
    assert [row for row, _ in r.iter_frames()] == list(range(8))
    assert "skipped chunk 2" in report.summary()


def test_stray_files_that_look_like_chunks_are_ignored(tmp_path) -> None:
    from nitrogen_capture.session import merge_session, validate_session
    from session_factory import make_session

    b = make_session(tmp_path / "s")
    (b.root / "journal_chunk_abc.jsonl").write_text("{}\n")
    (b.root / "actions_chunk_.npy").write_bytes(b"")
    assert validate_session(b.root).ok
    assert merge_session(b.root).frames == 12


# -- full disk, interrupted writes, outputs that would overwrite the input ----------------------
def _tree(root):
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else b"dir")
            for p in sorted(root.rglob("*"))}


def test_merge_on_a_full_disk_says_so_and_replaces_nothing(tmp_path, monkeypatch):
    from nitrogen_capture import diskspace
    from nitrogen_capture.errors import DiskSpaceError

    b = make_session(tmp_path / "s", (4, 4), merge=True)
    before = _tree(b.root)

    class Usage:
        free = 1000

    monkeypatch.setattr(diskspace.shutil, "disk_usage", lambda p: Usage)
    with pytest.raises(DiskSpaceError, match=r"s: the disk is full writing the merged files: it "
                                             r"needs about [\d.]+ KB \(\d+ bytes\) more but only "
                                             r"1\.0 KB \(1000 bytes\) free there: .*nothing was "
                                             r"replaced"):
        merge_session(b.root)
    assert _tree(b.root) == before


def test_merge_write_error_removes_every_temporary(tmp_path, monkeypatch):
    from nitrogen_capture.errors import DiskSpaceError
    from nitrogen_capture.session import merge as merge_mod

    b = make_session(tmp_path / "s", (4, 4), merge=True)
    before = _tree(b.root)
    real_save, calls = np.save, []

    def save(f, arr, **kw):
        calls.append(1)
        if len(calls) == 3:  # numpy's own message when the disk fills mid-write
            raise OSError("1700 requested and 1168 written")
        real_save(f, arr, **kw)

    monkeypatch.setattr(merge_mod.np, "save", save)
    with pytest.raises(DiskSpaceError, match="the disk is full writing the merged files"):
        merge_session(b.root)
    assert _tree(b.root) == before  # old outputs intact, no .tmp left


def test_repair_of_a_video_chunk_names_the_space_its_copy_needs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("av")
    from nitrogen_capture import diskspace
    from nitrogen_capture.cli import main
    from test_damage_corpus import _make_video

    b = make_session(tmp_path / "s", (3, 3), open_last=True)
    _make_video(b.root, (3, 3))
    before = _tree(b.root)

    class Usage:
        free = 10

    monkeypatch.setattr(diskspace.shutil, "disk_usage", lambda p: Usage)
    assert main(["merge", "--root", str(b.root), "--no-progress"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert (f"{b.root / 'frames' / 'chunk_002.mkv'}: the disk is full writing a copy of chunk "
            "2's frames for its repair: it needs about ") in line
    assert "only 10 B (10 bytes) free there" in line and "run merge again" in line
    assert _tree(b.root) == before


@pytest.mark.parametrize("out, fmt", [("s/meta.json", "pt"), ("s", "pt"), ("s/sub/x.pt", "pt"),
                                      ("s/dataset.pt", "pt"),
                                      (".", "nitrogen-dataset"), ("s", "nitrogen-dataset")])
def test_convert_never_writes_into_or_over_its_session(tmp_path, capsys, out, fmt):
    from nitrogen_capture.cli import main

    b = make_session(tmp_path / "s", (5, 5))
    before = _tree(b.root)
    rc = main(["convert", "--root", str(b.root), "--out", str(tmp_path / out), "--format", fmt,
               "--overwrite", "--seq-len", "2", "--no-progress"])
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    if fmt == "pt" and not out.endswith(".pt"):
        assert rc == 2 and "--out" in err  # not a .pt name: refused as a usage error first
    else:
        assert rc == 1 and "session" in err and "--out" in err
    assert _tree(b.root) == before
    assert not list(tmp_path.glob("*.partial"))


@needs_torch
@pytest.mark.parametrize("workers", ["1", "2"])  # inline, and raised in a decode thread
def test_convert_interrupted_leaves_no_partial(tmp_path, monkeypatch, capsys, workers):
    from nitrogen_capture.cli import main
    from nitrogen_capture.export import nitrogen

    b = make_session(tmp_path / "s", (5, 5))
    real = nitrogen.obs_transform

    def transform(size, dtype):
        inner, n = real(size, dtype), [0]

        def run(img):
            n[0] += 1
            if n[0] == 3:
                raise KeyboardInterrupt
            return inner(img)
        return run

    monkeypatch.setattr(nitrogen, "obs_transform", transform)
    out = tmp_path / "out"
    rc = main(["convert", "--root", str(b.root), "--out", str(out / "x.pt"), "--seq-len", "2",
               "--workers", workers, "--no-progress"])
    assert rc == 130
    assert not out.exists()  # no temporary, and the folder made for the export is gone again


def test_dataset_chunk_is_complete_or_has_no_metadata(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    pytest.importorskip("av")
    from nitrogen_capture.cli import main
    from nitrogen_capture.export import dataset_tree

    b = make_session(tmp_path / "s", (40, 40))
    out = tmp_path / "ds"
    args = ["convert", "--root", str(b.root), "--out", str(out), "--format", "nitrogen-dataset",
            "--no-progress"]
    assert main(args) == 0
    (folder,) = out.glob("actions/SHARD_0000/*/*_chunk_0000")
    assert sorted(p.name for p in folder.iterdir()) == ["actions_raw.parquet", "metadata.json",
                                                        "video.mp4"]
    before = _tree(folder)

    def killed(path, images):
        path.write_bytes(b"half a video")
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset_tree, "_write_video", killed)
    assert main([*args, "--overwrite"]) == 130
    # Killed while the new chunk was written: the old complete chunk is untouched (the new files
    # were temporaries, now removed), never a new video beside old metadata.
    assert _tree(folder) == before


@wine_lacks_symlinks
def test_skip_bad_with_a_linked_orphans_folder_keeps_every_complete_chunk(tmp_path) -> None:
    """A link at frames/orphans blocks crash repair of the open chunk only: --skip-bad leaves
    that chunk out and merges the complete ones (it used to drop them all)."""
    from test_damage_corpus import _make_video

    root = tmp_path / "s"
    make_session(root, (5, 4, 3), open_last=True)
    _make_video(root, (5, 4, 3))
    outside = tmp_path / "outside"
    outside.mkdir()
    make_symlink(root / "frames" / "orphans", outside)
    report = merge_session(root, skip_bad=True)
    assert report.chunks == (1, 2) and report.frames == 9
    assert [i for i, _ in report.skipped] == [3]
    assert list(outside.iterdir()) == []
