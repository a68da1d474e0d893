"""The report's HTML: one self-contained page per session and an index page for a folder.

Self-contained: the CSS is inline and every image is a ``data:image/png;base64`` URI, so the file
opens offline and can be mailed as is; the page names no external URL at all. Every value that
comes from the session (window titles, labels, notes, problem messages: user data) goes through
:func:`html.escape`.
"""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Iterable, Sequence
from html import escape

import numpy as np

from .. import __version__
from ..marks import HTML_MARK
from ..session.library import LibraryRow
from .facts import SessionReport
from .names import page_link

__all__ = ["data_uri", "index_page", "session_page"]

# The mark that tells a later run this page is ours to replace (marks.py).
_HEAD = f'<html lang="en"><head><meta charset="utf-8">{HTML_MARK}'
CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1160px; }
h1 { font-size: 22px; margin: 0 0 4px; } .lead { font-size: 15px; max-width: 900px; }
h2 { font-size: 17px; margin: 28px 0 8px;
  border-bottom: 1px solid #ddd; padding-bottom: 3px; }
table { border-collapse: collapse; } td, th { padding: 3px 10px 3px 0; text-align: left;
  vertical-align: top; } th { color: #555; font-weight: 600; }
table.grid td, table.grid th { border-bottom: 1px solid #eee; padding-right: 16px; }
.error { color: #b00020; font-weight: 600; } .warning { color: #a65e00; } .info { color: #555; }
.ok { color: #1b7f2a; font-weight: 600; } .dim { color: #777; }
img { display: block; max-width: 100%; margin: 6px 0; }
nav a { margin-right: 12px; }
"""


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _table(rows: Iterable[Sequence[str]], head: Sequence[str] = (), cls: str = "") -> str:
    """A table of already-escaped cells."""
    h = "<tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>" if head else ""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}">{h}{body}</table>'


def _problems(rep: SessionReport) -> str:
    v = rep.validation
    head = (f'<p class="{"ok" if v.ok else "error"}">validate: {"OK" if v.ok else "ERRORS"} '
            f"({len(v.errors)} errors, {len(v.warnings)} warnings)</p>")
    if not v.problems:
        return head + '<p class="dim">validate found no problem.</p>'
    return head + _table(([f'<span class="{escape(p.level)}">{escape(p.level)}</span>',
                           escape(p.where), escape(p.message)] for p in v.problems),
                         ("level", "where", "problem"), "grid")


def _exports(rep: SessionReport) -> str:
    rows = [[escape(e.rate), "yes" if e.idle_dropped else "no", str(e.windows), str(e.segments),
             str(e.rows)] for e in rep.exports]
    note = (f"<p>Windows of <code>convert</code>'s defaults (T = {rep.seq_len} action steps, "
            f"shift {rep.shift}) inside one contiguous segment (no pause, no dropped tick, "
            "frame on disk); with idle trimming: <code>--drop-idle-seconds "
            f"{rep.idle_seconds:g}</code>.</p>"
            + (f'<p class="dim">{escape(rep.shift_note)}</p>' if rep.shift_note else ""))
    return note + _table(rows, ("action rate", f"idle &gt; {rep.idle_seconds:g} s cut",
                                "windows", "segments", "rows in segments"), "grid")


def _idle(rep: SessionReport) -> str:
    if not rep.idle:
        return (f'<p class="dim">No stretch without input for more than {rep.idle_seconds:g} s: '
                "idle trimming would cut nothing.</p>")
    ts = np.asarray(rep.series.arrays["timestamps"], dtype=np.int64)
    rows = []
    for s in rep.idle:
        lo, hi = np.searchsorted(ts, s.start_ns, "right"), np.searchsorted(ts, s.end_ns, "left")
        rows.append([f"{s.start_ns / 1e9:.2f} s", f"{s.end_ns / 1e9:.2f} s", f"{s.seconds:.2f} s",
                     str(int(hi - lo))])
    total = sum(s.seconds for s in rep.idle)
    return (f"<p><code>convert --drop-idle-seconds {rep.idle_seconds:g}</code> would leave out "
            f"{len(rep.idle)} stretch(es), {total:.1f} s, {int(rep.idle_mask.sum())} frames:</p>"
            + _table(rows, ("from", "to", "length", "frames"), "grid"))


def _rollout(rep: SessionReport) -> str:
    """The "Policy rollout" part: what play ran and measured, and the takeovers."""
    from .rollout import rollout_facts, takeover_rows

    table = _table([f"<th>{escape(k)}</th>", escape(v)] for k, v in rollout_facts(rep))
    takeovers = takeover_rows(rep)
    if not takeovers:
        return table + '<p class="dim">The player never took over.</p>'
    return (table + "<p>Takeovers (the player had control; the timeline shows them as the "
            "human band):</p>" + _table(([escape(c) for c in r] for r in takeovers),
                                        ("start", "duration", "by"), "grid"))


def session_page(rep: SessionReport, sheet_png: bytes, plots: Sequence[tuple[str, str, bytes]],
                 *, back: str | None = None) -> str:
    """The HTML of one session's report; ``back``: relative link to an index page."""
    name = rep.root.resolve().name
    game = rep.reader.meta.effective_labels.game
    title = f"{name}" + (f" ({game})" if game else "")
    rollout = rep.reader.meta.play is not None
    sections = [("facts", "Session"), *([("rollout", "Policy rollout")] if rollout else []),
                ("problems", "Problems"), ("export", "Exporter's view"),
                ("idle", "Idle stretches"), ("sheet", "Contact sheet"),
                *((a, h) for a, h, _ in plots)]
    nav = "".join(f'<a href="#{a}">{escape(h)}</a>' for a, h in sections)
    parts = [
        "<!DOCTYPE html>", _HEAD,
        f"<title>{escape(title)}: nitrogen-capture report</title>",
        f"<style>{CSS}</style></head><body>",
        (f'<p><a href="{escape(back)}">&larr; all sessions</a></p>' if back else ""),
        f"<h1>{escape(title)}</h1>",
        f'<p class="dim">{escape(str(rep.root))}</p>',
        # The alignment statement first (session/alignment.py): what a reader can trust.
        *([f'<p id="alignment" class="lead">{escape(rep.validation.alignment.sentence())}</p>']
          if rep.validation.alignment is not None else []),
        f"<nav>{nav}</nav>",
        '<h2 id="facts">Session</h2>',
        _table([f"<th>{escape(k)}</th>", escape(v)] for k, v in rep.facts),
        *(['<h2 id="rollout">Policy rollout</h2>', _rollout(rep)] if rollout else []),
        '<h2 id="problems">Problems</h2>', _problems(rep),
        '<h2 id="export">Exporter\'s view</h2>', _exports(rep),
        '<h2 id="idle">Idle stretches</h2>', _idle(rep),
        '<h2 id="sheet">Contact sheet</h2>',
        f'<img id="contact-sheet" alt="contact sheet" src="{data_uri(sheet_png)}">',
    ]
    for anchor, heading, png in plots:
        parts += [f'<h2 id="{anchor}">{escape(heading)}</h2>',
                  f'<img alt="{escape(heading)}" src="{data_uri(png)}">']
    if not any(a == "gamepad" for a, _, _ in plots):
        parts += ['<h2 id="gamepad">Gamepad use</h2>',
                  '<p class="dim">No gamepad was recorded in this session.</p>']
    parts.append(_footer())
    return "\n".join(parts)


def _footer() -> str:
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f'<p class="dim">Written by nitrogen-capture {escape(__version__)} report, {now}.</p>'
            "</body></html>\n")


def index_page(top: str, entries: Sequence[tuple[LibraryRow, str | None, str]]) -> str:
    """The index of a folder of sessions: one summary row each, linking its page.

    ``entries``: (library row, the page's file name from :func:`.names.page_names` or None,
    note such as a failure). The link is ``./NAME.html`` (:func:`.names.page_link`), never
    built from the folder name, which is only shown, escaped.
    """
    rows = []
    for r, page, note in entries:
        name = escape(r.session)
        cell = f'<a href="{escape(page_link(page))}">{name}</a>' if page else name
        rows.append([cell, escape(r.game or "-"), escape(r.task or "-"),
                     escape(r.outcome or "-"), escape(r.episode_label),
                     escape(", ".join(r.tags) or "-"), escape(r.date or "-"),
                     f"{r.duration_s:.1f} s" if r.duration_s is not None else "-",
                     "-" if r.problem else str(r.frames),
                     f"{r.fps_achieved:.2f}" if r.fps_achieved else "-",
                     "-" if r.problem else str(r.dropped_ticks), escape(r.status), escape(note)])
    unsearched = sum(1 for r, _, _ in entries if not r.is_session)
    count = f"{len(entries) - unsearched} session(s)" + (
        f"; {unsearched} folder(s) not searched (see their status)" if unsearched else "")
    return "\n".join([
        "<!DOCTYPE html>", _HEAD,
        f"<title>{escape(top)}: nitrogen-capture sessions</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Sessions in {escape(top)}</h1>",
        f"<p>{count}.</p>",
        _table(rows, ("session", "game", "task", "outcome", "episode", "tags", "recorded",
                      "duration", "frames", "fps",
                      "dropped ticks", "status", "report"), "grid"),
        _footer()])
