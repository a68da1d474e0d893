"""The live status line while recording (fps, missed periods, chunk, queue depth, state).

On a terminal the line is rewritten in place; otherwise (logs, CI) one line is written per
interval. It runs on its own thread and only reads the recorder's counters.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Protocol, TextIO

from .rates import LOSING_SHARE
from .recorder import RecordStats

__all__ = ["LOSING_SHARE", "StatusLine", "StatusReading", "format_status", "parse_status"]


class _HasStats(Protocol):
    def stats(self) -> RecordStats: ...


def format_status(s: RecordStats, start_hint: str = "") -> str:
    """One status line.

    While the recording waits for its first start, ``start_hint`` says how to start it
    (``PAUSED (start): press F8 to start``).
    """
    if s.phase == "starting":  # the encoders still importing (seconds on a starved machine)
        return "STARTING: the encoder processes and the capture are opening"
    if s.phase == "stopping":
        return (f"STOPPING: encoding the {s.queue_depth} frame(s) still queued "
                f"({s.frames} frames in {s.elapsed_s:.1f} s, total missed {s.dropped_ticks})")
    state = f"PAUSED ({s.pause_reason})" if s.paused else "REC"
    if s.paused and s.pause_reason in ("start", "reset") and start_hint:
        state += f": {start_hint}"
    focus = "focused" if s.focused else "unfocused"
    # fps and losses over the last seconds of recording (rates.py): a recording that starts to
    # lose frames says so at once, in capitals above LOSING_SHARE.
    loss = f"{s.missed_share:4.0%}"
    losing = "  LOSING FRAMES" if s.missed_share > LOSING_SHARE and not s.paused else ""
    # Frames the source said repeat the one before (nothing new on screen): only a source that
    # stamps its frames can tell (docs/format.md, "OS frame times").
    repeated = f"  repeated {s.repeated}" if s.repeated is not None else ""
    # auto's capture failed over to another backend (capture/_chain.py): said on every line.
    switched = f"  capture switched {s.switched}" if s.switched else ""
    audio = f"  audio {s.audio}" if s.audio else ""  # --audio: seconds stored, or LOST
    return (f"{state:<16} {s.elapsed_s:7.1f}s  frames {s.frames:>7}  {s.fps:6.2f} fps  "
            f"missed {loss} (total {s.dropped_ticks})  late {s.late_frames:>4}  "
            f"chunk {s.chunk:>3}  queue {s.queue_depth:>2}{repeated}  {focus}{losing}"
            f"{switched}{audio}")


# What format_status writes, read back (a benchmark or a test watching a recorder's output).
_STATUS_RE = re.compile(
    r"(?P<state>REC|PAUSED.*?)\s+(?P<elapsed>\d+\.\d)s\s+frames\s+(?P<frames>\d+)\s+"
    r"(?P<fps>[\d.]+) fps\s+missed\s+(?P<share>\d+)% \(total (?P<dropped>\d+)\)\s+"
    r"late\s+(?P<late>\d+)\s+chunk\s+(?P<chunk>\d+)\s+queue\s+(?P<queue>\d+)"
    r"(?:\s+repeated\s+(?P<repeated>\d+))?")


@dataclass(frozen=True)
class StatusReading:
    """The figures of one status line, as :func:`parse_status` reads them."""

    recording: bool
    elapsed_s: float
    frames: int
    fps: float
    missed_share: float
    dropped_ticks: int
    late_frames: int
    chunk: int
    queue_depth: int
    repeated: int | None = None  # None: the source stamps no frames


def parse_status(line: str) -> StatusReading | None:
    """The figures of a line :func:`format_status` wrote (None: not such a line)."""
    m = _STATUS_RE.search(line)
    if m is None:
        return None
    return StatusReading(m["state"] == "REC", float(m["elapsed"]), int(m["frames"]),
                         float(m["fps"]), int(m["share"]) / 100, int(m["dropped"]),
                         int(m["late"]), int(m["chunk"]), int(m["queue"]),
                         int(m["repeated"]) if m["repeated"] is not None else None)


class StatusLine:
    """Writes :func:`format_status` every ``interval`` seconds until stopped."""

    def __init__(self, recorder: _HasStats, interval: float, stream: TextIO,
                 start_hint: str = "", prefix: str = "") -> None:
        self.recorder = recorder
        self.prefix = prefix  # e.g. "ep 2/5  " in a collection run
        self.interval = interval
        self.stream = stream
        self.start_hint = start_hint
        self.tty = stream.isatty()

    def run(self, stop: threading.Event) -> None:
        """Thread body."""
        if self.interval <= 0:
            return
        while not stop.wait(self.interval):
            self._write(self.prefix + format_status(self.recorder.stats(), self.start_hint))
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _write(self, line: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
