"""``report``: one self-contained HTML page per session, or an index over a folder of sessions.

``report --root S --out report.html`` writes session S's page; ``--contact-sheet sheet.png``
writes just the contact sheet (with ``--out`` too: both). ``report --root DIR`` over a folder of
sessions writes one page per session plus ``index.html`` linking each into ``--out`` (a folder,
default ``DIR/reports``). See docs/report.md.
"""

from __future__ import annotations

import argparse
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``report``."""
    from ..report import ReportOptions
    from .args import add_common, field_default, path_arg

    def opt(name: str) -> Any:
        return field_default(ReportOptions, name)

    p: argparse.ArgumentParser = sub.add_parser(
        "report", help="write one self-contained HTML page per session (or an index of a folder)",
        description="A page a person checks a session with: its facts, a contact sheet of "
                    "evenly spaced frames with their actions, fps over time, the frame-interval "
                    "histogram, dropped ticks, pauses and idle stretches on a timeline, per-key "
                    "activity, mouse speed, gamepad use, every problem validate finds and how "
                    "many NitroGen windows convert would make. Images are embedded: the file "
                    "opens offline.")
    p.add_argument("--root", required=True, type=path_arg,
                   help="a session directory, or a folder of sessions (then an index page)")
    p.add_argument("--out", type=path_arg, default=None,
                   help="the page (default: <session>/report.html); for a folder of sessions the "
                        "output folder (default: <folder>/reports)")
    p.add_argument("--contact-sheet", type=path_arg, default=None, metavar="PNG",
                   help="write the contact sheet to this PNG (alone, unless --out is given too)")
    p.add_argument("--idle-seconds", type=float, default=opt("idle_seconds"), metavar="N",
                   help="show stretches with no input for more than N s of session time "
                        "(pauses included), what convert "
                        "--drop-idle-seconds N would cut (default %(default)g)")
    p.add_argument("--tiles", type=int, default=opt("tiles"),
                   help="frames on the contact sheet, 1..400 (default %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_common(p)
    return p


def _bar(enabled: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

    from .progress import progress_bar

    # Progress goes to stderr so stdout keeps only the written paths.
    return progress_bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        enabled=enabled)


def run(args: argparse.Namespace) -> int:
    """Write the page(s) or the contact sheet and print what was written."""
    from ..errors import ConfigError, SessionError
    from ..report import check_report_options, write_index, write_report
    from ..session.library import UNSEARCHED_STATUSES
    from ..session.paths import META_NAME

    check_report_options(args.idle_seconds, args.tiles)
    root: Path = args.root
    if not root.is_dir():
        raise SessionError(f"--root {root} is not a directory")
    single = (root / META_NAME).is_file()
    bar_cm: AbstractContextManager[Any] = _bar(not args.no_progress)
    with bar_cm as bar:
        task = bar.add_task("contact sheet", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if single:
            out = args.out if args.out is not None or args.contact_sheet is not None \
                else root / "report.html"
            res = write_report(root, out, sheet=args.contact_sheet,
                               idle_seconds=args.idle_seconds, tiles=args.tiles,
                               progress=progress)
            lines = [f"{res.page}" if res.page else "",
                     f"{res.sheet}  ({res.tiles} frames)" if res.sheet else ""]
        else:
            if args.contact_sheet is not None:
                raise ConfigError(f"--contact-sheet takes one session; {root} holds no "
                                  f"{META_NAME} (a folder of sessions writes pages: use --out)",
                                  setting="contact_sheet")
            out_dir = args.out if args.out is not None else root / "reports"
            if out_dir.suffix.lower() in (".html", ".htm"):
                raise ConfigError(f"--out {out_dir}: a folder of sessions writes a folder "
                                  "(index.html and one page per session): give a directory",
                                  setting="out")

            def named(session: str) -> None:
                bar.update(task, description=f"{session}: contact sheet", completed=0,
                           total=None)

            idx = write_index(root, out_dir, idle_seconds=args.idle_seconds, tiles=args.tiles,
                              progress=progress, on_session=named)
            lines = [f"{page or session + ': ' + note}" for session, page, note in idx.pages]
            # A folder the search could not read or enter is listed, but it is no session.
            skipped = sum(1 for _, page, note in idx.pages
                          if page is None and note.startswith(UNSEARCHED_STATUSES))
            lines.append(f"{idx.index}  ({len(idx.pages) - skipped} session(s)"
                         + (f", {skipped} folder(s) not searched" if skipped else "") + ")")
    for line in lines:
        if line:
            print(line)
    return 0
