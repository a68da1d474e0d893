"""A reader that closes its end of a pipe early (``| head -1``) is not an error.

The CLI (cli.py) ends a command quietly with status 0 when a write to stdout finds its reader
gone; a progress bar writes from its own thread, so its stream is a :class:`QuietStream`, which
goes quiet for good instead (rich's own answer, ``Console.on_broken_pipe``, is a
``SystemExit(1)`` in the middle of a conversion that should finish). Both recognise the reader's
departure the same way (:func:`broken_pipe`, :func:`reader_gone`) and then point the descriptor
at the null device (:func:`drop`), so the interpreter's last flush has nothing to complain about.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, TextIO

__all__ = ["QuietStream", "broken_pipe", "drop", "fileno", "reader_gone"]

# Windows: a write to a pipe whose reader has closed it fails with ERROR_NO_DATA ("the pipe is
# being closed"); the C runtime's write() that CPython uses maps that to EINVAL, so Python raises
# a plain OSError(EINVAL) with no winerror and no file name, not BrokenPipeError.
_ERROR_BROKEN_PIPE = 109
_ERROR_NO_DATA = 232


def broken_pipe(exc: BaseException) -> bool:
    """Whether ``exc`` may say a pipe's reader went away (BrokenPipeError or its Windows form).

    On Windows the form is ambiguous (EINVAL), so callers also ask :func:`reader_gone`.
    """
    if isinstance(exc, BrokenPipeError):
        return True
    return (isinstance(exc, OSError) and sys.platform == "win32" and exc.errno == errno.EINVAL
            and getattr(exc, "winerror", None) is None and exc.filename is None)


def fileno(stream: Any) -> int | None:
    """The descriptor under ``stream``; None when it has none (a test's captured stream)."""
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


def reader_gone(fd: int | None) -> bool:
    """True when ``fd`` is a pipe whose reader has closed it (``| head -1``)."""
    if fd is None:
        return False
    if sys.platform == "win32":  # no poll(): a zero-byte write says whether the reader is gone
        import _winapi
        import msvcrt

        try:
            _winapi.WriteFile(msvcrt.get_osfhandle(fd), b"")
        except OSError as exc:
            return getattr(exc, "winerror", None) in (_ERROR_NO_DATA, _ERROR_BROKEN_PIPE)
        return False
    import select

    poll = select.poll()
    poll.register(fd, select.POLLOUT)
    # A pipe whose reader closed it reports POLLERR to its writer.
    return any(events & select.POLLERR for _, events in poll.poll(0))


def drop(fd: int | None) -> None:
    """Point ``fd`` at the null device after its reader went away (the Python docs' recipe).

    Without this the interpreter's last flush of the dead pipe prints "Exception ignored".
    """
    if fd is None:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class QuietStream:
    """A text stream (stdout or stderr) that goes quiet for good once its reader is gone.

    Every other write error is raised as it was. Anything else is the wrapped stream's
    (``isatty``, ``fileno``, ``encoding``), so a progress bar sees the stream it would have.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        """Write ``text``, or drop it once the reader is gone."""
        if not self.gone:
            try:
                return self._stream.write(text)
            except OSError as exc:
                self._went_away(exc)
        return len(text)

    def flush(self) -> None:
        """Flush, unless the reader is gone."""
        if not self.gone:
            try:
                self._stream.flush()
            except OSError as exc:
                self._went_away(exc)

    def _went_away(self, exc: OSError) -> None:
        fd = fileno(self._stream)
        if not broken_pipe(exc) or not (isinstance(exc, BrokenPipeError) or reader_gone(fd)):
            raise exc
        self.gone = True
        drop(fd)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
