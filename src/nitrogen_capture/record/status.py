"""The live status line while recording (fps, missed periods, chunk, queue depth, state).

On a terminal the line is rewritten in place; otherwise (logs, CI) one line is written per
interval. It runs on its own thread and only reads the recorder's counters.
"""

from __future__ import annotations

import threading
from typing import Protocol, TextIO

from .recorder import RecordStats

__all__ = ["LOSING_SHARE", "StatusLine", "format_status"]

LOSING_SHARE = 0.02  # more than 1 period in 50 missed over the last seconds


class _HasStats(Protocol):
    def stats(self) -> RecordStats: ...


def format_status(s: RecordStats, start_hint: str = "") -> str:
    """One status line.

    While the recording waits for its first start, ``start_hint`` says how to start it
    (``PAUSED (start): press F8 to start``).
    """
    state = f"PAUSED ({s.pause_reason})" if s.paused else "REC"
    if s.paused and s.pause_reason == "start" and start_hint:
        state += f": {start_hint}"
    focus = "focused" if s.focused else "unfocused"
    # fps and losses over the last seconds of recording (rates.py): a recording that starts to
    # lose frames says so at once, in capitals above LOSING_SHARE.
    loss = f"{s.missed_share:4.0%}"
    losing = "  LOSING FRAMES" if s.missed_share > LOSING_SHARE and not s.paused else ""
    return (f"{state:<16} {s.elapsed_s:7.1f}s  frames {s.frames:>7}  {s.fps:6.2f} fps  "
            f"missed {loss} (total {s.dropped_ticks})  late {s.late_frames:>4}  "
            f"chunk {s.chunk:>3}  queue {s.queue_depth:>2}  {focus}{losing}")


class StatusLine:
    """Writes :func:`format_status` every ``interval`` seconds until stopped."""

    def __init__(self, recorder: _HasStats, interval: float, stream: TextIO,
                 start_hint: str = "") -> None:
        self.recorder = recorder
        self.interval = interval
        self.stream = stream
        self.start_hint = start_hint
        self.tty = stream.isatty()

    def run(self, stop: threading.Event) -> None:
        """Thread body."""
        if self.interval <= 0:
            return
        while not stop.wait(self.interval):
            self._write(format_status(self.recorder.stats(), self.start_hint))
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _write(self, line: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
