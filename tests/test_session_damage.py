"""Damaged sessions: validate names every problem, merge refuses or skips, nothing is destroyed."""

from __future__ import annotations

import json

import numpy as np
import pytest

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
