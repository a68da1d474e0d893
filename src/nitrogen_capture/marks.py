"""How this tool marks the files it writes, and recognises them again (docs/reliability.md 5).

A command replaces an existing file only when it holds this tool's output of the same kind
(:mod:`nitrogen_capture.outputs`); the mark is how it tells. Each kind carries it where its
format keeps such text anyway, so the files stay what they were for every other reader:

- HTML pages: ``<meta name="generator" content="nitrogen-capture">`` in the head;
- PNG images: a ``tEXt`` chunk ``Software`` = ``nitrogen-capture <kind>`` right after ``IHDR``;
- MP4 / Matroska videos: the container's ``comment`` tag, ``nitrogen-capture <kind>``;
- JSON and ``.pt`` files: their ``"format"`` field, ``nitrogen-capture.<kind>``.

The recognisers read a bounded head (and tail) of a regular file only: a FIFO, a device or a
huge file costs nothing.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path

__all__ = ["GENERATOR", "HTML_MARK", "has_format", "has_mark", "mark_png", "video_metadata"]

GENERATOR = "nitrogen-capture"
HTML_MARK = f'<meta name="generator" content="{GENERATOR}">'
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IHDR_END = 8 + 4 + 4 + 13 + 4  # signature, then IHDR's length, type, 13 bytes of data and CRC
_HEAD = 1 << 16


def mark_png(png: bytes, kind: str) -> bytes:
    """``png`` with a ``Software`` text chunk naming this tool and ``kind`` after its header."""
    if not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    body = b"tEXt" + b"Software\x00" + f"{GENERATOR} {kind}".encode("latin-1")
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return png[:_IHDR_END] + chunk + png[_IHDR_END:]


def video_metadata(kind: str) -> dict[str, str]:
    """The container tags a video of ``kind`` is written with."""
    return {"comment": f"{GENERATOR} {kind}"}


def _read_ends(path: Path, head: int, tail: int) -> bytes | None:
    """The first ``head`` and last ``tail`` bytes of a regular file (None: not one)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        data = os.read(fd, head)
        if tail and st.st_size > head:
            os.lseek(fd, max(head, st.st_size - tail), os.SEEK_SET)
            data += os.read(fd, tail)
        return data
    except OSError:
        return None
    finally:
        os.close(fd)


def has_mark(path: Path, *marks: bytes, tail: int = 0) -> bool:
    """Whether the regular file ``path`` holds one of ``marks`` in its head (or its tail)."""
    data = _read_ends(path, _HEAD, tail)
    return data is not None and any(m in data for m in marks)


def has_format(path: Path, fmt: str) -> bool:
    """Whether the JSON file ``path`` declares ``"format": fmt`` (read: its first 64 KiB)."""
    data = _read_ends(path, _HEAD, 0)
    if data is None:
        return False
    text = data.decode("utf-8", "replace")
    return any(f'"format":{sep}"{fmt}"' in text for sep in ("", " "))


def png_mark(kind: str) -> bytes:
    """The bytes :func:`mark_png` puts in a PNG of ``kind`` (what :func:`has_mark` looks for)."""
    return b"tEXtSoftware\x00" + f"{GENERATOR} {kind}".encode("latin-1")


def video_mark(kind: str) -> bytes:
    """The bytes a video written with :func:`video_metadata` holds in its container header."""
    return f"{GENERATOR} {kind}".encode()
