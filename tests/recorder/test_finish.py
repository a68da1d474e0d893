"""The one error of an unfinished recording (src/nitrogen_capture/record/finish.py).

The full-disk line is tested end to end in tests/core/test_disk_full.py; here the other causes,
on a real recorder's session writer and writer thread (neither started: only their state is read).
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from nitrogen_capture.binning import ActionBinner
from nitrogen_capture.errors import CaptureError, DiskSpaceError, EncodeError
from nitrogen_capture.record.finish import raise_unfinished
from nitrogen_capture.record.pipeline import WriterThread
from nitrogen_capture.session.writer import SessionWriter
from recording import synthetic_recorder


def _parts(tmp_path: Path) -> tuple[SessionWriter, WriterThread, Path]:
    out = tmp_path / "session"
    rec = synthetic_recorder(out)
    writer = SessionWriter(rec.paths, rec.meta, gamepad=False)
    return writer, WriterThread(writer, ActionBinner(rec.config.layout), 0), out


def test_a_failed_write_names_its_cause_and_file_and_how_to_recover(tmp_path: Path) -> None:
    writer, wt, out = _parts(tmp_path)
    wt.error = OSError(errno.EIO, "Input/output error", "frames/chunk_000001.npz")
    if shutil.disk_usage(tmp_path).free < 64 * 2**20:  # then it counts as a full disk
        pytest.skip("too little free space here to tell a failed write from a full disk")
    with pytest.raises(EncodeError) as caught:
        raise_unfinished(writer.meta, writer, wt, writer.paths, out)
    msg = str(caught.value)
    assert not isinstance(caught.value, DiskSpaceError)
    assert msg.startswith("writing the session failed (Input/output error: "
                          "frames/chunk_000001.npz): the 0 finished chunk(s) are intact; "), msg
    assert msg.endswith("to recover the journaled rest") and "merge" in msg
    assert caught.value.__cause__ is wt.error


def test_frames_not_written_are_counted_and_a_whole_session_raises_nothing(
        tmp_path: Path) -> None:
    writer, wt, out = _parts(tmp_path)
    raise_unfinished(writer.meta, writer, wt, writer.paths, out)  # nothing failed: no error
    writer.errors.extend(["chunk 1 row 3: boom", "chunk 1 row 4: boom"])
    with pytest.raises(CaptureError, match=r"^2 frame\(s\) could not be written "
                                           r"\(chunk 1 row 3: boom\): the 0 finished chunk"):
        raise_unfinished(writer.meta, writer, wt, writer.paths, out)
