"""``label`` (a session's game, notes and controller) and ``sessions`` (the library view).

``label --root S`` prints the labels; with ``--game``, ``--notes`` or ``--controller`` it
replaces those and rewrites ``meta.json`` atomically, holding the session lock so that no
recording or merge rewrites meta.json at the same time (a locked session is refused in one
line). ``sessions DIR`` prints one row per session under DIR and a total line (``--json``: a
JSON list); a folder that cannot be searched (unreadable, too deep) is a row with its reason
and the others are listed; see :mod:`nitrogen_capture.session.library`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import TYPE_CHECKING, Any

from .session.meta_parts import CONTROLLERS

if TYPE_CHECKING:
    from .session.library import LibraryRow

__all__ = ["add_parser", "format_library", "run_label", "run_sessions"]

# status last: a damaged session's reason is the longest cell.
_COLUMNS = ("session", "game", "date", "duration", "size", "frames", "fps", "dropped", "merged",
            "status")
_NUMERIC = frozenset({"duration", "size", "frames", "fps", "dropped"})


def add_parser(sub: Any) -> None:
    """Register ``label`` and ``sessions``."""
    from .cli import add_common, path_arg

    lab = sub.add_parser("label", help="show or edit a session's game, notes and controller",
                         description="Print the session's labels (meta.json 'labels'); with an "
                                     "option, replace that label and rewrite meta.json "
                                     "atomically. A session being recorded or merged is "
                                     "refused.")
    lab.add_argument("--root", required=True, type=path_arg, help="session directory")
    lab.add_argument("--game", help="the game played")
    lab.add_argument("--notes", help="free-form notes (replace the old ones)")
    lab.add_argument("--controller", choices=CONTROLLERS, help="the controller played with")
    add_common(lab)
    lab.set_defaults(handler=run_label)

    ses = sub.add_parser("sessions", help="list the sessions under a directory",
                         description="One row per session found under DIR (a directory with a "
                                     "meta.json; links are not followed): game, date, "
                                     "duration, size on disk, frames, fps, dropped ticks, "
                                     "status and whether it is merged, then a total line.")
    ses.add_argument("dir", type=path_arg, metavar="DIR", help="directory to search")
    ses.add_argument("--json", action="store_true", help="print a JSON list of the rows")
    add_common(ses)
    ses.set_defaults(handler=run_sessions)


def run_label(args: argparse.Namespace) -> int:
    """Print, or edit, the labels of one session."""
    from .config import check_labels
    from .errors import SessionError
    from .session.lock import SessionLock
    from .session.meta import SessionMeta
    from .session.paths import SessionPaths

    if not args.root.is_dir():
        raise SessionError(f"--root {args.root} is not a directory")
    paths = SessionPaths(args.root)
    given = {k: v for k in ("game", "notes", "controller")
             if (v := getattr(args, k)) is not None}
    if not given:
        meta = SessionMeta.load(paths.meta)
        stored = "" if meta.labels is not None else " (not stored: the recording defaults)"
        print(meta.effective_labels.describe() + stored)
        return 0
    check_labels(given.get("game"), given.get("notes"), given.get("controller"))
    SessionMeta.load(paths.meta)  # not a session, or a damaged one: refused before locking it
    with SessionLock.acquire(paths, "label"):
        meta = SessionMeta.load(paths.meta)
        meta.labels = dataclasses.replace(meta.effective_labels, **given)
        meta.save(paths.meta)
    print(f"{args.root}: {meta.labels.describe()}")
    return 0


def run_sessions(args: argparse.Namespace) -> int:
    """Print the library view of a directory."""
    from .errors import SessionError
    from .session.library import scan_library

    if not args.dir.is_dir():
        raise SessionError(f"{args.dir} is not a directory")
    rows = scan_library(args.dir)
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
    else:
        print(format_library(rows))
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


def _cells(r: LibraryRow) -> tuple[str, ...]:
    bad = r.problem
    return (r.session, r.game or "-", r.date or "-", _duration(r.duration_s),
            _size(r.size_bytes), "-" if bad else str(r.frames),
            f"{r.fps_achieved:.2f}" if r.fps_achieved is not None else "-",
            "-" if bad else str(r.dropped_ticks), "-" if bad else "yes" if r.merged
            else "no", r.status)


def format_library(rows: list[LibraryRow]) -> str:
    """The rows as an aligned table plus the total line."""
    table = [_COLUMNS, *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS))]
    out = []
    for line in table:
        cells = [c.rjust(w) if name in _NUMERIC else c.ljust(w)
                 for c, w, name in zip(line, widths, _COLUMNS, strict=True)]
        out.append("  ".join(cells).rstrip())
    total_s = sum(r.duration_s or 0.0 for r in rows)
    # A damaged session has a meta.json: it counts; a folder not searched is no session.
    unsearched = sum(1 for r in rows if not r.is_session)
    out.append(f"total: {len(rows) - unsearched} session(s), {sum(r.frames for r in rows)} "
               f"frames, {_duration(total_s)}, {_size(sum(r.size_bytes for r in rows))}"
               + (f"; {unsearched} folder(s) not searched (see their status)"
                  if unsearched else ""))
    return "\n".join(out)
