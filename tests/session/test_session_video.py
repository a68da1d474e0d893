"""Video frame storage (frames/chunk_NNN.mkv): read, validate and recover with PyAV."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nitrogen_capture.session import SessionReader, repair_session, validate_session
from session_factory import chunk_to_video, frame_image, make_session

av = pytest.importorskip("av")


def _video_meta(b) -> None:
    meta = json.loads(b.paths.meta.read_text())
    meta["frame_format"] = {"kind": "video", "codec": "ffv1", "ext": "mkv"}
    for c in meta["chunks"]:
        c["files"]["frames"] = f"frames/chunk_{c['index']:03d}.mkv"
    b.paths.meta.write_text(json.dumps(meta))


def test_video_session_reads_and_validates(tmp_path):
    b = make_session(tmp_path / "s", (3, 2))
    chunk_to_video(b.root, 1, 0, 3)
    chunk_to_video(b.root, 2, 3, 2)
    _video_meta(b)
    r = SessionReader(b.root)
    got = list(r.iter_frames())
    assert [row for row, _ in got] == [0, 1, 2, 3, 4]
    for row, img in got:
        np.testing.assert_array_equal(img, frame_image(row))
    assert r.segments() == [(0, 5)]
    assert validate_session(b.root).ok
    # One frame short in the video: validate says so.
    chunk_to_video(b.root, 2, 3, 1)
    errs = [p.message for p in validate_session(b.root).errors]
    assert errs == ["chunk_002.mkv has 1 frames, meta.json says 2"]


def test_open_video_chunk_keeps_decodable_frames(tmp_path):
    b = make_session(tmp_path / "s", (3, 4), open_last=True)
    chunk_to_video(b.root, 1, 0, 3)
    chunk_to_video(b.root, 2, 3, 3)  # 4 rows journaled, the encoder died after 3 frames
    _video_meta(b)
    (rc,) = repair_session(b.root).recovered
    assert rc.rows_kept == 3 and rc.journal_frames == 4
    r = SessionReader(b.root)
    np.testing.assert_array_equal(r.chunk_arrays(r.chunk(2))["actions"], b.actions[3:6])
    assert r.chunk(2).files["frames"] == "frames/chunk_002.mkv"
    assert validate_session(b.root).ok
