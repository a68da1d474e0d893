"""``nitrogen-capture report``: the page of a real recording, its contact sheet, the index page,
and the page as a real browser (Debian's chromium, headless) draws it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import cv2
import numpy as np
import pytest

from cli_run import run_cli
from hostile_fs import make_unreadable
from nitrogen_capture.report.names import page_link, page_names
from nitrogen_capture.report.sheet import PAD, TILE_WIDTH
from nitrogen_capture.session.reader import SessionReader
from session_factory import make_session

pytest.importorskip("matplotlib")
GAME = '<script>alert("x")</script> & Co'


def _record(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> Path:
    r = run_cli(capsys, "record", "--source", "synthetic", "--region", "0", "0", "320", "240",
                "--fps", "30", "--max-frames", "90", "--start-immediately",
                "--status-interval", "0", "--out", str(root), *extra)
    assert r.code == 0, r.err
    return root


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of the synthetic source through the real CLI (PNG frames), labelled with markup.

    At 15 fps: a period of 67 ms that a loaded machine rarely misses, so the segments hold
    windows of 16 frames (a missed period is a gap, and no window spans one).
    """
    from nitrogen_capture.cli import main

    root = tmp_path_factory.mktemp("rep") / "S"
    assert main(["record", "--source", "synthetic", "--region", "0", "0", "320", "240",
                 "--fps", "15", "--max-frames", "90", "--start-immediately",
                 "--status-interval", "0", "--out", str(root)]) == 0
    assert main(["label", "--root", str(root), "--game", GAME]) == 0
    return root


@pytest.fixture(scope="module")
def page(session: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    from nitrogen_capture.cli import main

    out = tmp_path_factory.mktemp("page")
    html, sheet = out / "report.html", out / "sheet.png"
    assert main(["report", "--root", str(session), "--out", str(html), "--contact-sheet",
                 str(sheet), "--tiles", "8", "--idle-seconds", "1", "--no-progress"]) == 0
    return html, sheet, html.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_page_is_self_contained_escaped_and_says_the_facts(
        page: tuple[Path, Path, str], session: Path) -> None:
    _, _, text = page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*https?://""", text, re.I)
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text  # the game label is user data: escaped, never markup
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in text
    # Contact sheet + fps, histogram, capture latency (the synthetic source stamps its frames),
    # timeline, keys, mouse; no gamepad was recorded.
    assert text.count('src="data:image/png;base64,') == 7
    assert '<h2 id="latency">' in text and "capture latency p50 " in text
    assert "No gamepad was recorded" in text
    for needle in ("320 x 240", "target 15, achieved", "png", "capture synthetic",
                   "validate: OK", "Exporter&#x27;s view", "Frame intervals", "Idle stretches"):
        assert needle in text, needle
    # The exporter's view: per-frame windows of convert's defaults inside each contiguous
    # segment, a frame and T=16 rows from the next one on (--action-shift 1), and its line why.
    segs = SessionReader(session).segments()
    expected = sum(max(0, b - a - 16) for a, b in segs)
    assert "action shift 1 (the default: no latency offset applied" in text
    row = re.search(r"<td>per frame \(15 fps\)</td><td>no</td><td>(\d+)</td>", text)
    assert row and int(row.group(1)) == expected > 0


@pytest.mark.slow
def test_the_contact_sheet_shows_the_frames_with_their_actions(
        page: tuple[Path, Path, str], session: Path) -> None:
    _, sheet_path, _ = page
    sheet = cv2.imread(str(sheet_path))
    assert sheet is not None and sheet.shape[1] == 4 * (TILE_WIDTH + 2 * PAD) + PAD
    reader = SessionReader(session)
    first = next(reader.iter_frames(0, 1))[1]
    h = round(TILE_WIDTH * 240 / 320)
    want = cv2.resize(first, (TILE_WIDTH, h), interpolation=cv2.INTER_AREA)
    tile = sheet[PAD:PAD + h, PAD:PAD + TILE_WIDTH]
    assert np.abs(tile.astype(int) - want.astype(int)).max() <= 1  # row 0 is the first tile
    caption = sheet[PAD + h:PAD + h + 60, PAD:PAD + TILE_WIDTH]
    assert (caption < 128).any()  # text was written under the frame


@pytest.mark.slow
def test_contact_sheet_alone_and_a_video_session(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("av")
    root = _record(tmp_path / "V", capsys, "--frame-format", "video")
    assert json.loads((root / "meta.json").read_text())["frame_format"]["kind"] != "png"
    sheet = tmp_path / "sheet.png"
    r = run_cli(capsys, "report", "--root", str(root), "--contact-sheet", str(sheet),
                "--tiles", "5", "--no-progress")
    assert r.code == 0, r.err
    assert r.out.strip() == f"{sheet}  (5 frames)"
    assert not (root / "report.html").exists() and sorted(tmp_path.iterdir()) == [root, sheet]
    img = cv2.imread(str(sheet))
    assert img is not None and img.shape[1] == 4 * (TILE_WIDTH + 2 * PAD) + PAD
    assert float(img[PAD:PAD + 100, PAD:PAD + TILE_WIDTH].std()) > 5  # a frame, not blank


@pytest.mark.slow
def test_a_folder_of_sessions_gets_an_index_linking_each(
        session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = tmp_path / "day"
    shutil.copytree(session, top / "morning" / "run1")
    (top / "broken").mkdir(parents=True)
    (top / "broken" / "meta.json").write_text("{not json", encoding="utf-8")
    r = run_cli(capsys, "report", "--root", str(top), "--tiles", "4", "--no-progress")
    assert r.code == 0, r.err
    index = top / "reports" / "index.html"
    assert r.out.splitlines()[-1] == f"{index}  (2 session(s))"
    text = index.read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]+)"', text)
    assert links == ["./morning__run1.html"]  # a relative file URL, never a scheme
    assert (index.parent / links[0]).is_file()
    assert "damaged" in text and "no report" in text
    sub = (index.parent / links[0]).read_text(encoding="utf-8")
    assert 'href="index.html"' in sub


# Folder names are user data: a scheme, quotes, markup, non-ASCII, the index's own name, a
# nested path and its "__" spelling, a dot file, an option, a Windows device, 250 characters.
HOSTILE = ("javascript:alert(document.domain)", "a\"b'c", "<img src=x onerror=alert(1)>",
           "café ☕", "index", "x__y", "x/y", ".hidden", "-rf", "nul", "L" * 250)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v or "" for k, v in attrs if k in ("href", "src") and tag != "img"]


def _hrefs(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.hrefs


def _check_link(href: str, out: Path) -> Path:
    """A relative file URL of a page inside ``out``: no scheme, no host, no folder."""
    parts = urlsplit(href)
    assert (parts.scheme, parts.netloc, parts.query, parts.fragment) == ("", "", "", ""), href
    assert href.startswith("./") and href.endswith(".html"), href
    name = unquote(href[2:])
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*\.html", name), href
    assert name.lower() != "index.html"
    page = out / name
    assert page.resolve().parent == out.resolve() and page.is_file(), href
    return page


def test_page_names_are_safe_unique_and_never_the_index() -> None:
    names = page_names([*HOSTILE, "INDEX", "Run", "run", "morning/run1", "."])
    assert len(set(names.values())) == len(names) == len(HOSTILE) + 5
    assert len({n.casefold() for n in names.values()}) == len(names)  # case-blind disks too
    assert names["morning/run1"] == "morning__run1.html"  # plain names stay readable
    assert names["x__y"] == "x__y.html" and names["x/y"].startswith("x__y-")
    assert names["index"].startswith("index-") and names["INDEX"].startswith("INDEX-")
    assert names["Run"] == "Run.html" and names["run"].startswith("run-")
    for name in names.values():
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*\.html", name) and len(name) < 120
        assert page_link(name) == "./" + name
    assert page_names(reversed(list(names))) == names  # the order given does not matter


@pytest.mark.slow
def test_hostile_folder_names_get_safe_links_and_a_page_each(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top, out = tmp_path / "lib", tmp_path / "pages"
    roots = {name: make_session(top / name, (4,)).root for name in HOSTILE}
    r = run_cli(capsys, "report", "--root", str(top), "--out", str(out), "--tiles", "1",
                "--no-progress")
    assert r.code == 0, r.err
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "nitrogen-capture sessions</title>" in index  # still the index, not a session's page
    hrefs = _hrefs(index)
    assert len(hrefs) == len(set(hrefs)) == len(HOSTILE)
    pages = [_check_link(h, out) for h in hrefs]
    assert sorted(p.name for p in out.iterdir()) == sorted([*(p.name for p in pages),
                                                            "index.html"])
    # Each page is its own session's (its path is printed on it), and links back to the index.
    for page in pages:
        text = page.read_text(encoding="utf-8")
        owners = [n for n, root in roots.items() if f'<p class="dim">{escape(str(root))}</p>'
                  in text]
        assert len(owners) == 1, page.name
        roots.pop(owners[0])
        assert [h for h in _hrefs(text) if not h.startswith("#")] == ["index.html"]
    assert not roots


def test_an_unreadable_folder_is_a_row_of_the_index(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    top = tmp_path / "lib"
    make_session(top / "a", (4,))
    make_session(top / "locked" / "s", (4,))
    make_unreadable(monkeypatch, top / "locked")  # chmod 000 for an ordinary user
    r = run_cli(capsys, "report", "--root", str(top), "--tiles", "1", "--no-progress")
    assert r.code == 0, r.err
    index = top / "reports" / "index.html"
    assert r.out.splitlines() == [str(top / "reports" / "a.html"),
                                  "locked: unreadable: permission denied",
                                  f"{index}  (1 session(s), 1 folder(s) not searched)"]
    text = index.read_text(encoding="utf-8")
    assert _hrefs(text) == ["./a.html"]
    assert "<td>locked</td>" in text and "unreadable: permission denied" in text
    assert "1 session(s); 1 folder(s) not searched (see their status)." in text


@pytest.mark.parametrize(("args", "needle"), [
    (["--tiles", "0"], "--tiles must be in 1..400"),
    (["--idle-seconds", "nan"], "--idle-seconds must be in [1, 86400]"),
])
def test_bad_flags_are_one_line(args: list[str], needle: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "report", "--root", str(tmp_path), *args).one_line_error(2, needle)


def test_a_missing_root_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "report", "--root", str(tmp_path / "nope")).one_line_error(
        1, "is not a directory")


SHOT_W, SHOT_H = 1280, 2600


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_chromium_draws_the_page_with_its_contact_sheet(page: tuple[Path, Path, str],
                                                        tmp_path: Path) -> None:
    html, sheet_path, _ = page
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1",
         f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={SHOT_W},{SHOT_H}",
         f"--screenshot={shot}", html.as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    assert shot.is_file(), proc.stderr[-2000:]
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (SHOT_H, SHOT_W)
    assert float(img.std()) > 20  # not a blank page
    # Dark text near the top (the title and the facts table).
    assert (img[:400, :600] < 80).sum() > 2000
    # The contact sheet is drawn 1:1: its first tile is found in the screenshot.
    sheet = cv2.imread(str(sheet_path))
    assert sheet is not None
    h = round(TILE_WIDTH * 240 / 320)
    tile = sheet[PAD:PAD + h + 40, PAD:PAD + TILE_WIDTH]
    score = cv2.minMaxLoc(cv2.matchTemplate(img, tile, cv2.TM_CCOEFF_NORMED))[1]
    assert score > 0.9


def test_the_page_and_the_index_show_task_outcome_tags_and_episode(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = tmp_path / "day"
    b = make_session(top / "ep2", (6,))
    meta = json.loads(b.paths.meta.read_text())
    meta["labels"] = {"game": "Celeste", "notes": "", "controller": "keyboard",
                      "task": "Reach <the> flag", "outcome": "failure", "tags": ["night", "pro"]}
    meta["episode"] = {"run": "run-1", "index": 2, "count": 5, "attempt": 2, "ended": "key"}
    b.paths.meta.write_text(json.dumps(meta))
    make_session(top / "plain", (6,))
    r = run_cli(capsys, "report", "--root", str(top), "--tiles", "1", "--no-progress")
    assert r.code == 0, r.err
    index = (top / "reports" / "index.html").read_text(encoding="utf-8")
    assert "<th>task</th><th>outcome</th><th>episode</th><th>tags</th>" in index
    assert ("<td>Reach &lt;the&gt; flag</td><td>failure</td><td>2/5 try 2</td>"
            "<td>night, pro</td>") in index
    assert "<td>-</td><td>-</td><td>-</td><td>-</td>" in index  # the plain session
    page = (top / "reports" / "ep2.html").read_text(encoding="utf-8")
    for key, value in (("task", "Reach &lt;the&gt; flag"), ("outcome", "failure"),
                       ("tags", "night, pro"),
                       ("episode", "episode 2 of 5, attempt 2 of run run-1 (ended by key)")):
        assert f"<th>{key}</th></td><td>{value}</td>" in page, key
    assert "<th>outcome</th></td><td>not marked</td>" in (
        top / "reports" / "plain.html").read_text(encoding="utf-8")
