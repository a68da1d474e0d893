"""Every relative link in README.md and docs/*.md reaches a file, and its ``#anchor`` a heading;
the platform pages' sections cited by name from the code (``docs/linux.md "Permissions"``) exist.

The docs link each other (the platform pages from README.md and architecture.md, the reference
pages from each other); a page renamed or a heading reworded leaves a link that goes nowhere,
which no reader reports. Links to the web (``http...``, ``mailto:``) are not followed here: the
docs cite the repository's own pages. Anchors follow GitHub's rule: the heading lower-cased,
punctuation other than ``-`` and ``_`` dropped, spaces turned into ``-``.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
# [text](target) outside code; the target stops at whitespace or ")" (no titles in our docs).
_LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*```")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced blocks, with inline code spans blanked out."""
    lines: list[str] = []
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "``", line))
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = text.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a Markdown file's headings give (GitHub numbers repeats ``-1``, ``-2``...)."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for text in headings(path):
        base = anchor(text)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """``file: (target): why`` for each relative link of ``path`` that goes nowhere."""
    problems: list[str] = []
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        for target in _LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, fragment = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(root)}: ({target})"
            if not dest.exists():
                problems.append(f"{where}: no such file")
            elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
                problems.append(f"{where}: no heading gives #{fragment}")
    return problems


# PAGE.md "Section", PAGE.md, "Section" and [PAGE.md](PAGE.md), "Section"
# (in Python source the quotes may be escaped: docs/linux.md \"Permissions\").
_CITE = re.compile(r'\b(?P<doc>[a-z]+)\.md\)?,? \\?"(?P<section>[^"\\\n]+)\\?"')
# The pages whose sections error messages and docstrings send the user to.
PLATFORM_PAGES = ("linux", "windows")
_CITING = ("src", "tests", "tests_wine", "scripts", "docs")


def headings(path: Path) -> list[str]:
    """The text of every heading of a Markdown file, outside fenced blocks."""
    found: list[str] = []
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            found.append(match.group(1))
    return found


def stale_citations(text: str, where: str, docs: Path, pages: tuple[str, ...]) -> list[str]:
    """Citations ``PAGE.md "Section"`` in ``text`` whose page has no heading containing it."""
    problems: list[str] = []
    for match in _CITE.finditer(text):
        page, section = match["doc"], match["section"]
        if page not in pages:
            continue
        doc = docs / f"{page}.md"
        wanted = section.replace("`", "").lower()
        if not doc.exists() or not any(wanted in h.replace("`", "").lower()
                                       for h in headings(doc)):
            problems.append(f"{where}: {page}.md \"{section}\" is no heading of docs/{page}.md")
    return problems


def test_every_relative_link_resolves() -> None:
    problems = [p for doc in DOC_FILES for p in broken_links(doc)]
    assert not problems, "\n".join(problems)


def test_sections_of_the_platform_pages_cited_by_the_code_exist() -> None:
    """An error line that says 'see docs/linux.md "Permissions"' must lead somewhere."""
    files = [p for d in _CITING for p in (ROOT / d).rglob("*")
             if p.suffix in (".py", ".md", ".c", ".sh") and p.is_file()
             and p != Path(__file__).resolve()]  # this file's own examples
    problems = [problem for f in (*files, ROOT / "README.md", ROOT / "Makefile")
                for problem in stale_citations(f.read_text(encoding="utf-8", errors="replace"),
                                               str(f.relative_to(ROOT)), ROOT / "docs",
                                               PLATFORM_PAGES)]
    assert not problems, "\n".join(problems)


def test_the_citation_check_sees_a_missing_section(tmp_path: Path) -> None:
    """The check above can fail: a section the page lacks is caught, other pages are skipped."""
    (tmp_path / "linux.md").write_text("# Linux\n\n### Permissions\n")
    text = ('FIX = "log in again (docs/linux.md \\"Permissions\\")"\n'
            'OLD = "or a udev rule (docs/linux.md \\"Udev\\")"\n'
            'see [linux.md](linux.md), "Gone away"; docs/export.md, "Elsewhere"\n')
    assert stale_citations(text, "x.py", tmp_path, PLATFORM_PAGES) == [
        'x.py: linux.md "Udev" is no heading of docs/linux.md',
        'x.py: linux.md "Gone away" is no heading of docs/linux.md']


def test_the_checker_sees_a_broken_link(tmp_path: Path) -> None:
    """The check above can fail: a missing file and a missing anchor are each caught."""
    (tmp_path / "other.md").write_text("# Other page\n\n## A `code` heading, too\n")
    doc = tmp_path / "doc.md"
    doc.write_text("[ok](other.md#a-code-heading-too) [gone](missing.md) "
                   "[bad](other.md#nowhere) `[code](x.md)` [web](https://example.org)\n"
                   "```\n[fenced](fenced.md)\n```\n")
    assert anchor("A `code` heading, too") == "a-code-heading-too"
    assert broken_links(doc, tmp_path) == [
        "doc.md: (missing.md): no such file",
        "doc.md: (other.md#nowhere): no heading gives #nowhere"]
