"""``nitrogen-capture report``: one self-contained HTML page per session (docs/report.md).

:func:`write_report` gathers a session (:mod:`.facts`), draws its contact sheet (:mod:`.sheet`)
and plots (:mod:`.plots`, matplotlib from the ``report`` extra) and writes the page
(:mod:`.page`); :func:`write_index` does that for every session under a folder plus an
``index.html`` linking each page. Each file is written whole or not at all; a full disk stops
the command with one line (diskspace.py) and leaves no empty folder it made. Importing this
package imports neither matplotlib nor any frame decoder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_write, existing_level, make_dirs, prune_empty
from ..diskspace import check_free, on_disk, said_when_full
from ..errors import DiskSpaceError, NitrogenCaptureError, check_settings
from ..marks import HTML_MARK, has_mark, mark_png, png_mark
from ..outputs import OutputKind, check_output
from .facts import DEFAULT_IDLE_SECONDS, DEFAULT_TILES, SessionReport, gather

__all__ = ["DEFAULT_IDLE_SECONDS", "IndexResult", "ReportOptions", "ReportResult",
           "SessionReport", "check_report_options", "gather", "write_index", "write_report"]

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
MAX_TILES = 400


@dataclass(frozen=True)
class ReportResult:
    """What :func:`write_report` wrote (None: not asked for)."""

    page: Path | None
    sheet: Path | None
    report: SessionReport
    tiles: int


@dataclass(frozen=True)
class IndexResult:
    """What :func:`write_index` wrote: the index and each session's page (None: failed)."""

    index: Path
    pages: tuple[tuple[str, Path | None, str], ...]


def check_report_options(idle_seconds: float, tiles: int) -> None:
    """A bad ``--idle-seconds`` or ``--tiles`` is a ConfigError naming the flag."""
    from ..bounds import number_check
    from ..export.settings import MAX_IDLE_SECONDS, MIN_IDLE_SECONDS

    check_settings((
        number_check(idle_seconds, "idle_seconds", "--idle-seconds", MIN_IDLE_SECONDS,
                     MAX_IDLE_SECONDS, interval=True, note=" seconds"),
        number_check(tiles, "tiles", "--tiles", 1, MAX_TILES, interval=True),
    ))


@dataclass(frozen=True)
class ReportOptions:
    """The numbers of a report (the ``report`` flags), checked; the one place of their defaults.

    Attributes:
        idle_seconds: show stretches with no input longer than this, in seconds.
        tiles: frames on the contact sheet, 1..400.
    """

    idle_seconds: float = DEFAULT_IDLE_SECONDS
    tiles: int = DEFAULT_TILES

    def __post_init__(self) -> None:
        check_report_options(self.idle_seconds, self.tiles)


def _page_is_ours(path: Path) -> bool:
    # Pages of earlier versions carry no generator mark, but their title says what they are.
    return has_mark(path, HTML_MARK.encode(), b"nitrogen-capture report</title>",
                    b"nitrogen-capture sessions</title>")


SHEET_MARK = "contact-sheet"
REPORT_PAGE = OutputKind("report page", _page_is_ours, home_names=("report.html",))
CONTACT_SHEET = OutputKind("contact sheet",
                           lambda p: has_mark(p, png_mark(SHEET_MARK)))
# The index folder: its pages are checked one by one, the folder only for where it is.
REPORT_FOLDER = OutputKind("report folder", lambda p: True, folder=True)


def write_report(root: str | Path, out: Path | None, *, sheet: Path | None = None,
                 idle_seconds: float = ReportOptions.idle_seconds,
                 tiles: int = ReportOptions.tiles,
                 progress: Progress | None = None, back: str | None = None) -> ReportResult:
    """Write session ``root``'s page to ``out`` and/or its contact sheet PNG to ``sheet``."""
    import cv2

    from .page import session_page
    from .plots import ALL_PLOTS, load_matplotlib
    from .sheet import render_sheet

    check_report_options(idle_seconds, tiles)
    root = Path(root)
    # Where the outputs go is checked before any reading (outputs.py): never into another
    # session, never over a file that is not a page (or sheet) this tool wrote.
    if out is not None:
        check_output(out, REPORT_PAGE, label="--out", home=root)
    if sheet is not None:
        check_output(sheet, CONTACT_SHEET, label="--contact-sheet", home=root)
    if out is not None:
        load_matplotlib("The report's plots")
    rep = gather(root, idle_seconds=idle_seconds)
    img = render_sheet(rep, tiles=tiles, progress=progress)
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
        raise NitrogenCaptureError("the contact sheet could not be encoded as PNG")
    sheet_png = buf.tobytes()
    if sheet is not None:
        _write_file(sheet, mark_png(sheet_png, SHEET_MARK), "the contact sheet")
    if out is not None:
        plots = [(a, h, png) for a, h, fn in ALL_PLOTS if (png := fn(rep)) is not None]
        _write_file(out, _page_bytes(session_page(rep, sheet_png, plots, back=back)),
                    "the report page")
        log.info("wrote %s", out)
    from .sheet import sheet_rows

    return ReportResult(out, sheet, rep, len(sheet_rows(rep, tiles)))


def _write_file(path: Path, data: bytes, what: str) -> None:
    """Write ``path`` whole or not at all (atomic.py), its folder made if missing.

    A full disk is one line with the space needed and free (diskspace.py), and a folder made
    for the file is removed again: a failed report leaves no empty folder behind.
    """
    keep = existing_level(path.parent)
    needed = on_disk([len(data)])
    todo = "free some space (or choose another --out) and run report again"
    try:
        check_free(path, needed, what, todo)
        with said_when_full(path, needed, what, todo):
            if not path.parent.is_dir():
                make_dirs(path.parent)
            atomic_write(path, data)
    except BaseException:
        prune_empty(path.parent, keep)
        raise


def _page_bytes(page: str) -> bytes:
    """A page as UTF-8, whatever text it shows.

    A name that is not UTF-8 (a POSIX file name of other bytes, or a label an older version
    stored) reaches Python as lone surrogates: they show as U+FFFD instead of failing the report.
    """
    return page.encode("utf-8", "surrogatepass").decode("utf-8", "replace").encode("utf-8")


def write_index(top: Path, out_dir: Path, *, idle_seconds: float = ReportOptions.idle_seconds,
                tiles: int = ReportOptions.tiles, progress: Progress | None = None,
                on_session: Callable[[str], None] | None = None) -> IndexResult:
    """Write a page per session under ``top`` and ``out_dir/index.html`` linking each.

    Sessions are found by :func:`~..session.library.scan_tree`; the index has one summary
    row per session (:func:`~..session.library.library_row`). A session whose report fails
    (damaged) gets a row saying why and no page; so does a folder the scan could not search
    (unreadable, too deep). Page names come from :func:`.names.page_names`: safe, unique,
    never ``index``.
    """
    from ..session.library import LibraryRow, library_row, row_name, scan_tree
    from .names import page_names
    from .page import index_page

    check_report_options(idle_seconds, tiles)
    check_output(out_dir, REPORT_FOLDER, label="--out")
    index = check_output(out_dir / "index.html", REPORT_PAGE, label="--out")
    entries: list[tuple[LibraryRow, str | None, str]] = []
    pages: list[tuple[str, Path | None, str]] = []
    found = list(scan_tree(top))
    names = page_names(row_name(f.path, top) for f in found if f.problem is None)
    for item in found:
        row = library_row(item, top)
        if item.problem is not None:  # a folder that could not be searched: its row says why
            entries.append((row, None, "not searched"))
            pages.append((row.session, None, item.problem))
            continue
        if on_session is not None:
            on_session(row.session)
        name = names[row.session]
        try:
            write_report(item.path, out_dir / name, idle_seconds=idle_seconds, tiles=tiles,
                         progress=progress, back="index.html")
        except DiskSpaceError:  # not this session's fault: every next page would fail too
            raise
        except NitrogenCaptureError as exc:
            note = "no report: " + " ".join(str(exc).split())[:200]
            log.warning("%s: %s", item.path, note)
            entries.append((row, None, note))
            pages.append((row.session, None, note))
            continue
        entries.append((row, name, ""))
        pages.append((row.session, out_dir / name, ""))
    _write_file(index, _page_bytes(index_page(str(top), entries)), "the index page")
    return IndexResult(index, tuple(pages))
