"""Reading a small input file whole: its type and size are checked before a byte is read.

Every file a flag names (``--layout``, ``--keymap``, ``--latency-profile``, ``--sessions``) and
every small file of a session that is read whole (``meta.json``, the lock file) goes through
:func:`read_input_bytes` (or :func:`read_input_text`). A path can name something that is no file
at all: a FIFO (a plain ``open`` waits for a writer forever), a device (``/dev/zero`` never ends,
a terminal waits for a key), a socket or a directory; or a regular file far larger than any real
one (a damaged ``meta.json`` of 3 GB is a MemoryError when read whole). Each is one line naming
the file, what it is or its size and the bound, raised as the caller's error class: a flag's
file is a :class:`~nitrogen_capture.errors.ConfigError` (a usage error, exit 2), a session's
file a :class:`~nitrogen_capture.errors.SessionFormatError`.

How: ``os.stat`` refuses anything but a regular file before it is opened (opening a device can
do things: a tape rewinds, a terminal becomes the controlling one). The open adds
``O_NONBLOCK``, so a FIFO swapped in after the stat does not block either, and ``fstat`` checks
the opened file again. At most ``max_bytes + 1`` bytes are read, so a file that grows in the
meantime is refused too, never read to its end. Windows has neither FIFOs nor ``O_NONBLOCK``:
the open flags that do not exist there are 0, and its "a directory cannot be opened" EACCES is
told apart from a real permission error.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

from .bounds import human_bytes
from .errors import ConfigError, NitrogenCaptureError

__all__ = ["ErrorFactory", "file_kind", "read_input_bytes", "read_input_text"]

ErrorFactory = Callable[[str], NitrogenCaptureError]

_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_BINARY", 0))
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def file_kind(mode: int) -> str:
    """What a ``st_mode`` names, for messages: ``a regular file``, ``a FIFO (named pipe)``..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _refuse_kind(mode: int, name: str, error: ErrorFactory) -> None:
    if not stat.S_ISREG(mode):
        raise error(f"{name} is {file_kind(mode)}, not a regular file")


def read_input_bytes(path: str | Path, *, what: str, max_bytes: int,
                     error: ErrorFactory = ConfigError, missing: str | None = None) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them.

    Args:
        path: the file.
        what: names it in messages before its path (``"layout file"``); ``""``: the path alone.
        max_bytes: the largest size accepted; a larger file is refused before it is read.
        error: builds the error raised (the class of the caller's domain).
        missing: the whole message when the file does not exist (default ``<what> not found:
            <path>``), e.g. to say how to make it.

    Raises:
        NitrogenCaptureError: (from ``error``) the file is missing, not a regular file (FIFO,
            device, socket, directory), larger than ``max_bytes`` or cannot be read.
    """
    p = Path(path)
    name = f"{what} {p}" if what else str(p)
    try:
        _refuse_kind(os.stat(p).st_mode, name, error)
        fd = os.open(p, _OPEN_FLAGS)
    except FileNotFoundError:
        raise error(missing or f"{what or 'file'} not found: {p}") from None
    except OSError as exc:
        # Windows refuses to open a directory with EACCES rather than EISDIR.
        if exc.errno in (errno.EISDIR, errno.EACCES) and p.is_dir():
            raise error(f"{name} is a directory, not a regular file") from None
        raise error(f"{name} cannot be read: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        _refuse_kind(st.st_mode, name, error)  # swapped after the stat
        if st.st_size > max_bytes:
            raise error(f"{name} is too large: {human_bytes(st.st_size)} > "
                        f"{human_bytes(max_bytes)} allowed")
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            block = os.read(fd, min(left, 1 << 20))
            if not block:
                break
            chunks.append(block)
            left -= len(block)
    except OSError as exc:
        raise error(f"{name} cannot be read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:  # it grew after the fstat
        raise error(f"{name} is too large: more than {human_bytes(max_bytes)} "
                    "(it grew while being read)")
    return data


def read_input_text(path: str | Path, *, what: str, max_bytes: int,
                    error: ErrorFactory = ConfigError, missing: str | None = None) -> str:
    """:func:`read_input_bytes` decoded as UTF-8; text that is not UTF-8 is ``error`` too."""
    data = read_input_bytes(path, what=what, max_bytes=max_bytes, error=error, missing=missing)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        name = f"{what} {path}" if what else str(path)
        raise error(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
