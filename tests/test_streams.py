"""The media-stream seam: a fake audio stream stored beside a real session's frames.

The stream kind is declared from this test; its chunks are written into a session the real
recorder made, read back checked against the declaration, and aligned to the rows by the
binner's ``(t_{i-1}, t_i]`` rule. The session's own readers ignore the extra files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from nitrogen_capture.errors import SessionFormatError
from nitrogen_capture.session.chunkcheck import check_chunk_arrays
from nitrogen_capture.session.paths import SessionPaths
from nitrogen_capture.session.reader import SessionReader
from nitrogen_capture.session.streams import (
    FRAMES,
    STREAM_KINDS,
    StreamKind,
    read_stream_chunk,
    register_stream_kind,
    rows_of,
    stream_files,
    unregister_stream_kind,
    write_stream_chunk,
)
from recording import record_synthetic

BLOCK_NS = 5_000_000  # one 5 ms block of samples per item


@pytest.fixture
def audio() -> Iterator[StreamKind]:
    kind = StreamKind("fakeaudio", "audio", np.dtype(np.int16), (240, 2), rate=200.0,
                      details={"sample_rate": 48000, "channels": ["left", "right"]})
    register_stream_kind(kind)
    try:
        yield kind
    finally:
        unregister_stream_kind(kind.name)
    assert set(STREAM_KINDS) == {"frames"}


def test_a_fake_audio_stream_rides_beside_the_frames(tmp_path: Path, audio: StreamKind) -> None:
    out = tmp_path / "s"
    result, _ = record_synthetic(out, max_frames=40, chunk_size=20)
    assert result.chunks == 2
    reader = SessionReader(out)
    paths = SessionPaths(out)
    previous_last: int | None = None
    for c in reader.chunks:
        frame_t = np.load(paths.chunk_array("timestamps", c.index), allow_pickle=False)
        # Blocks that start inside this chunk's span (t_last of the previous chunk, t_last].
        start = previous_last + 1 if previous_last is not None else int(frame_t[0]) - BLOCK_NS
        t = np.arange(start, int(frame_t[-1]) + 1, BLOCK_NS, dtype=np.int64)
        rng = np.random.default_rng(c.index)
        samples = rng.integers(-2000, 2000, size=(len(t), 240, 2), dtype=np.int16)
        write_stream_chunk(paths, audio.name, c.index, samples, t)
        got, got_t = read_stream_chunk(paths, audio.name, c.index)
        assert np.array_equal(got, samples) and np.array_equal(got_t, t)
        row = rows_of(got_t, frame_t)
        assert row.min() == 0 and row.max() == len(frame_t) - 1  # all inside this chunk's rows
        for r, ts in zip(row, got_t, strict=True):  # the binner's interval rule
            assert ts <= frame_t[r] and (r == 0 or ts > frame_t[r - 1])
        assert not check_chunk_arrays(reader, c).problems  # the rows' checks ignore the stream
        previous_last = int(frame_t[-1])
    data, times = stream_files(paths, audio.name, 1)
    assert (data.name, times.name) == ("fakeaudio_chunk_001.npy",
                                       "fakeaudio_timestamps_chunk_001.npy")
    assert len(SessionReader(out).concat_arrays()["timestamps"]) == 40
    assert audio.to_json()["details"]["sample_rate"] == 48000


def test_the_declaration_is_enforced(tmp_path: Path, audio: StreamKind) -> None:
    paths = SessionPaths(tmp_path)
    t = np.array([1, 2], np.int64)
    with pytest.raises(ValueError, match=r"declared int16\[n, 240, 2\]"):
        write_stream_chunk(paths, audio.name, 1, np.zeros((2, 240, 1), np.int16), t)
    with pytest.raises(ValueError, match="increasing"):
        write_stream_chunk(paths, audio.name, 1, np.zeros((2, 240, 2), np.int16),
                           np.array([2, 2], np.int64))
    with pytest.raises(SessionFormatError, match="stream 'fakeaudio' chunk 3"):
        read_stream_chunk(paths, audio.name, 3)
    np.save(paths.chunk_array("fakeaudio", 4), np.zeros((2, 240, 2), np.float32))
    np.save(paths.chunk_array("fakeaudio_timestamps", 4), t)
    with pytest.raises(SessionFormatError, match="declared int16"):
        read_stream_chunk(paths, audio.name, 4)
    for taken in ("frames", "actions", "events", "fakeaudio", "Audio"):
        with pytest.raises(ValueError, match="taken"):
            register_stream_kind(StreamKind(taken, "audio", np.dtype(np.int16)))
    with pytest.raises(ValueError, match="not a declared stream"):
        stream_files(paths, FRAMES.name, 1)
