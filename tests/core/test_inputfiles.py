"""``inputfiles.read_input_bytes``: the one reader of small input files checks type and size
before it reads, and raises the caller's error class with one line."""

from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path

import pytest

from hostile_fs import BIG_SPARSE, needs_dev_zero, needs_fifo, needs_sparse
from nitrogen_capture.errors import ConfigError, SessionFormatError
from nitrogen_capture.inputfiles import read_input_bytes, read_input_text


def test_a_file_up_to_its_bound_is_read_whole(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"x" * 100)
    assert read_input_bytes(f, what="list", max_bytes=100) == b"x" * 100
    with pytest.raises(ConfigError, match=r"^list .*a\.txt is too large: 101 B > 100 B allowed$"):
        f.write_bytes(b"x" * 101)
        read_input_bytes(f, what="list", max_bytes=100)


@needs_sparse
def test_a_huge_sparse_file_is_refused_by_its_size(tmp_path: Path) -> None:
    f = tmp_path / "meta.json"
    with open(f, "wb") as out:
        out.truncate(BIG_SPARSE)
    with pytest.raises(SessionFormatError) as info:
        read_input_bytes(f, what="", max_bytes=64_000_000,
                         error=partial(SessionFormatError, path=f))
    assert str(info.value) == f"{f} is too large: 3.2 GB > 64.0 MB allowed"
    assert info.value.path == f  # the caller's error class, with its attributes


def test_missing_directory_and_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^keymap not found: "):
        read_input_bytes(tmp_path / "nope", what="keymap", max_bytes=10)
    with pytest.raises(ConfigError, match=r"^run calibrate first$"):
        read_input_bytes(tmp_path / "nope", what="profile", max_bytes=10,
                         missing="run calibrate first")
    with pytest.raises(ConfigError, match=r"is a directory, not a regular file$"):
        read_input_bytes(tmp_path, what="layout file", max_bytes=10)
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match=r"bin is not UTF-8 text \(invalid start byte at "
                                          r"byte 0\)$"):
        read_input_text(tmp_path / "bin", what="list", max_bytes=10)


@needs_fifo
@pytest.mark.timeout(60)  # opening a FIFO for reading blocks until a writer comes
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ConfigError, match=r"pipe is a FIFO \(named pipe\), not a regular file$"):
        read_input_bytes(tmp_path / "pipe", what="layout file", max_bytes=10)


@needs_dev_zero
def test_a_device_is_refused_before_it_is_opened() -> None:
    shown = re.escape(str(Path("/dev/zero")))  # \dev\zero under Wine, which maps it too
    with pytest.raises(ConfigError, match=rf"^keymap file {shown} is a character device"):
        read_input_bytes("/dev/zero", what="keymap file", max_bytes=10)
