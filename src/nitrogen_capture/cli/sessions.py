"""``sessions``: the library view of a folder of sessions.

``sessions DIR`` prints one row per session under DIR and a total line (``--json``: a JSON list
of every field); a folder that cannot be searched (unreadable, too deep) is a row with its
reason and the others are listed; see :mod:`nitrogen_capture.session.library`. The task,
outcome, episode and tags columns appear when a row shown has one. ``--game``, ``--task``,
``--outcome``, ``--tag`` and ``--episode-run`` filter the rows; the total line counts the rows
shown and says how many were filtered out.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ..session.labels import OUTCOMES

if TYPE_CHECKING:
    from ..session.library import LibraryRow

__all__ = ["add_parser", "format_library", "run"]

# status last: a damaged session's reason is the longest cell.
_COLUMNS = ("session", "game", "date", "duration", "size", "frames", "fps", "dropped", "merged",
            "status")
# Shown after "game" when a row has one (a library without episodes keeps its old table).
_LABEL_COLUMNS = ("task", "outcome", "episode", "tags")
_CELL_CHARS = 28  # a long task or tag list is cut to this in the table (--json has it whole)
_NUMERIC = frozenset({"duration", "size", "frames", "fps", "dropped"})


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``sessions``."""
    from .args import add_common, session_dir

    ses: argparse.ArgumentParser = sub.add_parser(
        "sessions", help="list the sessions under a directory",
        description="One row per session found under DIR (a directory with a meta.json; links "
                    "are not followed): game, date, duration, size on disk, frames, fps, dropped "
                    "ticks, status and whether it is merged (with task, outcome, episode and tags "
                    "when a session has them), then a total line. A damaged session or a folder "
                    "not searched is shown whatever the filters.")
    ses.add_argument("dir", type=session_dir, metavar="DIR", help="directory to search")
    ses.add_argument("--json", action="store_true", help="print a JSON list of the rows")
    ses.add_argument("--game", help="only sessions of this game (case ignored)")
    ses.add_argument("--task", help="only sessions whose task contains TEXT (case ignored)",
                     metavar="TEXT")
    ses.add_argument("--outcome", choices=(*OUTCOMES, "none"),
                     help="only sessions with this outcome ('none': not marked)")
    ses.add_argument("--tag", action="append", default=[], metavar="TAG",
                     help="only sessions with this tag (repeatable: all must match)")
    ses.add_argument("--episode-run", metavar="RUN",
                     help="only the episodes of this record --episodes run")
    add_common(ses)
    return ses


def run(args: argparse.Namespace) -> int:
    """Print the library view of a directory."""
    from ..config import check_labels
    from ..session.library import RowFilter, filter_rows, scan_library

    check_labels(None, None, None, task=args.task, tags=tuple(args.tag))
    keep = RowFilter(args.game, args.task, args.outcome, tuple(args.tag), args.episode_run)
    rows, hidden = filter_rows(scan_library(args.dir), keep)
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
    else:
        print(format_library(rows, hidden))
    return 0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover - the loop returns


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _CELL_CHARS else text[:_CELL_CHARS - 3] + "..."


def _label_cells(r: LibraryRow) -> dict[str, str]:
    return {"task": _cut(r.task) or "-", "outcome": r.outcome or "-", "episode": r.episode_label,
            "tags": _cut(",".join(r.tags)) or "-"}


def _cells(r: LibraryRow, extra: tuple[str, ...]) -> tuple[str, ...]:
    bad = r.problem
    labels = _label_cells(r)
    return (r.session, r.game or "-", *(labels[c] for c in extra), r.date or "-",
            _duration(r.duration_s), _size(r.size_bytes), "-" if bad else str(r.frames),
            f"{r.fps_achieved:.2f}" if r.fps_achieved is not None else "-",
            "-" if bad else str(r.dropped_ticks), "-" if bad else "yes" if r.merged
            else "no", r.status)


def format_library(rows: list[LibraryRow], hidden: int = 0) -> str:
    """The rows as an aligned table plus the total line (``hidden``: rows filtered out)."""
    extra = tuple(c for c in _LABEL_COLUMNS
                  if any(_label_cells(r)[c] != "-" for r in rows))
    columns = (*_COLUMNS[:2], *extra, *_COLUMNS[2:])
    table = [columns, *(_cells(r, extra) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    out = []
    for line in table:
        cells = [c.rjust(w) if name in _NUMERIC else c.ljust(w)
                 for c, w, name in zip(line, widths, columns, strict=True)]
        out.append("  ".join(cells).rstrip())
    total_s = sum(r.duration_s or 0.0 for r in rows)
    # A damaged session has a meta.json: it counts; a folder not searched is no session.
    unsearched = sum(1 for r in rows if not r.is_session)
    out.append(f"total: {len(rows) - unsearched} session(s), {sum(r.frames for r in rows)} "
               f"frames, {_duration(total_s)}, {_size(sum(r.size_bytes for r in rows))}"
               + (f"; {unsearched} folder(s) not searched (see their status)"
                  if unsearched else "")
               + (f"; {hidden} session(s) filtered out" if hidden else ""))
    return "\n".join(out)
