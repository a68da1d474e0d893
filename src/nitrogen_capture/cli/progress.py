"""The one progress bar of every command (convert, batch, merge, report, preview).

The library never draws: it takes a ``progress(done, total)`` callback, and
:func:`progress_callback` makes one that draws this bar.

A rich bar on stderr, so stdout keeps only what a command prints for a reader (paths, a
summary) and ``convert ... | head -1`` reads a line, not a bar's escape codes. It is drawn only
on a terminal (rich draws nothing useful into a pipe or a file, only a stray blank line), and
its stream is a :class:`~nitrogen_capture.pipes.QuietStream`: when the reader of a piped
stderr goes away (``2>&1 | head -1``, ``FORCE_COLOR`` set) the bar goes quiet and the command
finishes with status 0 instead of rich's ``SystemExit(1)``. rich is imported only here, and
only when a bar is made.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ..pipes import QuietStream

__all__ = ["progress_bar", "progress_callback", "tracked"]

T = TypeVar("T")


def progress_bar(*columns: Any, enabled: bool = True) -> Any:
    """A transient ``rich.progress.Progress`` on stderr (rich's default columns when none).

    Disabled (every call a no-op) when ``enabled`` is False or stderr is not a terminal.
    """
    from rich.console import Console
    from rich.progress import Progress

    console = Console(file=QuietStream(sys.stderr))  # type: ignore[arg-type]  # a text stream
    return Progress(*columns, console=console, transient=True,
                    disable=not (enabled and console.is_terminal))


def tracked(items: Iterable[T], description: str, *, enabled: bool = True) -> Iterator[T]:
    """Yield ``items`` while a :func:`progress_bar` counts them."""
    if not enabled:
        yield from items
        return
    seq = list(items)
    with progress_bar(enabled=enabled) as bar:
        yield from bar.track(seq, total=len(seq), description=description)


@contextmanager
def progress_callback(description: str, *columns: Any,
                      enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback for the library, drawn as a :func:`progress_bar`."""
    with progress_bar(*columns, enabled=enabled) as bar:
        task = bar.add_task(description, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress
