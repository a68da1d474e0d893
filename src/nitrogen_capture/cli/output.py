"""What the CLI prints and how it stops when stdout's reader goes away.

A reader that closes stdout early (``validate | head -1``) is not an error: the command stops
quietly with 0 (:mod:`nitrogen_capture.pipes`; a progress bar goes quiet the same way, see
:mod:`.progress`). Error lines quote what the user gave, so :func:`one_line` keeps them one line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from .. import pipes

__all__ = ["guard_stdout", "one_line", "stdout_gone", "stdout_takes_file_names"]


def one_line(message: str) -> str:
    """``message`` on one line: a newline, tab or other unprintable character is escaped.

    Error messages quote what the user gave (a path, an argument), which may hold any
    character; printed as is, a newline in it would make the one error line two.
    """
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in message)


def guard_stdout(run: Callable[[], int]) -> int:
    """``run()``'s exit code, or 0 when stdout's reader went away while it printed.

    ``run`` lets through only the OSError of a closed stdout (see :func:`stdout_gone`).
    """
    stdout_takes_file_names()
    try:
        code = run()
        sys.stdout.flush()  # a closed pipe fails here, not in the interpreter's final flush
        return code
    except OSError as exc:  # stdout's reader went away (run lets only that one through)
        if not isinstance(exc, BrokenPipeError) and not (pipes.broken_pipe(exc)
                                                         and stdout_gone()):
            raise
        pipes.drop(pipes.fileno(sys.stdout))
        return 0


def stdout_takes_file_names() -> None:
    """Let stdout print any path a user gave, as Python's UTF-8 mode does.

    A file name that is not valid UTF-8 reaches Python with lone surrogates (PEP 383); a strict
    stdout refuses to print it, after the work is done ("wrote ... to NAME"). With
    ``surrogateescape`` the name's own bytes are printed back.
    """
    if getattr(sys.stdout, "errors", None) == "strict":
        reconfigure = getattr(sys.stdout, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")


def stdout_gone() -> bool:
    """True when stdout is a pipe whose reader has closed it (``| head -1``)."""
    return pipes.reader_gone(pipes.fileno(sys.stdout))
