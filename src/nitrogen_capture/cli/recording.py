"""Running one recording for ``record`` (and each episode of ``record --episodes``).

The status line and the on-screen indicator around :meth:`Recorder.run`, SIGINT/SIGTERM as a
stop, the summary line, the merge that follows a clean stop (with its progress bar) and the
commands printed after it. :mod:`.record` and :mod:`.episodes` both use these, so neither
imports the other's internals.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from ..session.paths import run_merge
from ..stopsignals import handling_stop_signals

if TYPE_CHECKING:
    from ..config import RecordConfig
    from ..record import Recorder, RecordResult
    from ..record.indicate import IndicatorFeed
    from ..session import MergeReport

__all__ = ["merge_recorded", "next_steps", "print_merged", "record_with_status", "shell_arg",
           "summary_line"]


def record_with_status(recorder: Recorder, config: RecordConfig, prefix: str = "",
            feed: IndicatorFeed | None = None, episode: int | None = None) -> RecordResult:
    """Run the recorder with the status line and the indicator; Ctrl+C, SIGTERM stop it.

    ``prefix`` starts each status line (a run's ``ep 2/5``); ``feed`` is a run's indicator,
    kept open across its episodes (``episode``: the one shown); without it the recording
    opens and closes its own.
    """
    from ..indicator import get_indicator
    from ..record.indicate import IndicatorFeed
    from ..record.status import StatusLine

    def stop(signum: int, frame: FrameType | None) -> None:
        recorder.stop(signal.Signals(signum).name)

    hotkeys = config.layout.hotkeys
    status = StatusLine(recorder, config.status_interval, sys.stderr, hotkeys.start_hint(),
                        prefix)
    if not config.start_immediately:
        print(f"PAUSED (start): {hotkeys.start_hint()} in the game window (hotkeys: "
              f"{hotkeys.describe()}); Ctrl+C stops", file=sys.stderr)
    stop_status = threading.Event()
    status_thread = threading.Thread(target=status.run, args=(stop_status,), daemon=True)
    own = feed is None
    if feed is None:
        feed = IndicatorFeed(get_indicator(config.indicator), start_hint=hotkeys.start_hint())
    with handling_stop_signals(stop):
        status_thread.start()
        feed.follow(recorder, episode)
        feed.start()
        try:
            return recorder.run()
        finally:
            stop_status.set()
            status_thread.join()
            if own:
                feed.close()
            else:
                feed.reset(episode)


def summary_line(result: RecordResult) -> str:
    """The recording's summary line (the one place this command reads the result's meta)."""
    meta, c = result.meta, result.meta.counters
    return (f"recorded {result.frames} frames in {result.chunks} chunk(s) to {result.out} "
            f"({meta.fps_achieved} fps of {meta.fps_target or 0:g} target, "
            f"{c.dropped_ticks} dropped ticks, {c.late_frames} late, "
            f"{c.events} input events; stopped: {result.stop_reason})")


def merge_recorded(config: RecordConfig) -> MergeReport:
    """Merge the finished session as ``nitrogen-capture merge`` does."""
    from ..errors import DiskSpaceError, SessionError
    from ..session import merge_session
    from .progress import progress_callback

    try:
        with progress_callback("merging chunks", enabled=sys.stderr.isatty()
                               or config.status_interval > 0) as progress:
            return merge_session(config.out, progress=progress)
    except (SessionError, OSError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        # A full disk stays the one full-disk error (diskspace.py), the context added.
        error = DiskSpaceError if isinstance(exc, DiskSpaceError) else SessionError
        raise error(f"the recording is complete but the final merge failed ({detail}); "
                    f"fix that and {run_merge(config.out)}") from exc


def print_merged(report: MergeReport) -> None:
    """Print what the merge did and the commands that usually come next."""
    if report.repair.changed:
        print(report.repair.summary())
    for index, why in report.skipped:
        print(f"skipped chunk {index}: {why}")
    for note in report.notes:
        print(note)
    print(f"merged {report.frames} frames from {len(report.chunks)} chunk(s) into "
          f"{', '.join(report.files)}")
    print("\n".join(next_steps(report.root)))


def shell_arg(text: str) -> str:
    """``text`` quoted for the user's shell: POSIX quoting, or cmd/PowerShell double quotes.

    POSIX quoting would wrap every Windows path in single quotes (its backslashes), which
    cmd.exe does not understand.
    """
    if os.name == "nt":
        return subprocess.list2cmdline([text])
    return shlex.quote(text)


def next_steps(root: str | Path) -> list[str]:
    """Where the merged files are and the commands that usually come next (the end of record).

    Check the session (``validate``), look at it (``preview``: preview.mp4 and timing.png in the
    session folder) and export it (``convert`` to ``<session>.pt`` beside the folder).
    """
    from ..export.settings import pt_beside

    root = Path(root)
    q = shell_arg
    pt = pt_beside(root)
    return [f"session: {root}  (the merged files above are in this folder)",
            "next:",
            f"  nitrogen-capture validate --root {q(str(root))}",
            f"  nitrogen-capture preview --root {q(str(root))}",
            f"  nitrogen-capture convert --root {q(str(root))} --out {q(str(pt))}"]
