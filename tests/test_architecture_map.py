"""docs/architecture.md stays true: its map names every module, and every citation resolves.

The map is the first fenced block under "## The map": a line whose first word ends in ``/`` opens
a package (its path under ``src/nitrogen_capture``), and the ``NAME.py`` words on the lines below
it, up to the next package line, are that package's modules; lines before the first package are
the root's. A package's ``__init__.py`` is covered by its package line. The code and the docs cite
the file's old section numbers ("docs/architecture.md 5.5"); the table "Where the old sections
went" must have a row for each number cited.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "nitrogen_capture"
ARCH = ROOT / "docs" / "architecture.md"
MAX_MAP_LINES = 70  # "one screen": split a package's line rather than grow the map past this
# Where citations of architecture.md may be (text files of the repository, not the docs' history).
CITING = ("src", "tests", "tests_wine", "bench", "scripts", "docs", "README.md", "Makefile")
_CITE = re.compile(r"architecture\.md\)?(?:[\s#\"*]|section)*(\d+(?:\.\d+)?)\b")
_NAMED = re.compile(r"architecture\.md\)?, \"([^\"]+)\"")


def _map_block(text: str) -> list[str]:
    """The lines of the first fenced block after the "## The map" heading."""
    section = text.split("\n## The map\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1].splitlines()[1:]


def map_modules(text: str) -> tuple[set[str], set[str]]:
    """(packages, modules) the map names, as paths relative to the package root."""
    packages: set[str] = set()
    modules: set[str] = set()
    current = ""
    for line in _map_block(text):
        words = line.split()
        if not words or words[0] == "src/nitrogen_capture/":
            continue
        if words[0].endswith("/"):
            current = words[0]
            packages.add(current.rstrip("/"))
        modules.update(current + w for w in words if re.fullmatch(r"\w+\.py", w))
    return packages, modules


def package_modules() -> tuple[set[str], set[str]]:
    """(packages, modules) on disk, relative to the package root (a subpackage's __init__ aside)."""
    packages = {p.parent.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("__init__.py")}
    packages.discard(".")
    modules = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
               if not (p.name == "__init__.py" and p.parent != PACKAGE)}
    return packages, modules


def test_the_map_names_every_module_and_nothing_that_is_gone() -> None:
    text = ARCH.read_text(encoding="utf-8")
    named_pkgs, named = map_modules(text)
    real_pkgs, real = package_modules()
    problems = [f"docs/architecture.md map: package {p}/ is missing (add a line `  {p}/  what "
                f"it is`)" for p in sorted(real_pkgs - named_pkgs)]
    problems += [f"docs/architecture.md map: module {m} is missing (add `{m.rsplit('/', 1)[-1]}` "
                 f"to the lines under `{m.rpartition('/')[0] or 'the root'}/`)"
                 for m in sorted(real - named)]
    problems += [f"docs/architecture.md map: {m} is named but does not exist (moved or removed?)"
                 for m in sorted((named - real) | {p + "/" for p in named_pkgs - real_pkgs})]
    assert not problems, "\n".join(problems)
    assert len(_map_block(text)) <= MAX_MAP_LINES, "the map no longer fits one screen"


def test_map_parser_sees_a_missing_module() -> None:
    """The check above can fail: a map without one module's name is caught."""
    text = ARCH.read_text(encoding="utf-8")
    _, named = map_modules(text)
    assert "session/lock.py" in named and "cues/base.py" in named
    assert "session/frames/_mkv.py" in named and "__main__.py" in named
    _, without = map_modules(text.replace(" lock.py", " ", 1))
    assert named - without == {"session/lock.py"}


def _sources() -> list[Path]:
    files: list[Path] = []
    for name in CITING:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in path.rglob("*") if p.is_file()
                      and p.suffix in {".py", ".md", ".toml", ".txt", ""} and p != ARCH]
    return files


def test_every_cited_section_number_has_a_row_in_the_table() -> None:
    text = ARCH.read_text(encoding="utf-8")
    table = text.split("\n## Where the old sections went\n", 1)[1]
    rows = {m.group(1) for m in re.finditer(r"^\| (\d+(?:\.\d+)?) ", table, re.M)}
    headings = set(re.findall(r"^#+ (.+)$", text, re.M))
    assert {"2", "5.5", "8.1", "11"} <= rows
    problems = []
    for path in _sources():
        source = path.read_text(encoding="utf-8", errors="replace")
        where = path.relative_to(ROOT)
        problems += [f"{where}: cites docs/architecture.md {n}, which has no row in its table "
                     f"\"Where the old sections went\"" for n in _CITE.findall(source)
                     if n not in rows]
        problems += [f"{where}: cites docs/architecture.md \"{name}\", which is no heading or "
                     f"row of it" for name in _NAMED.findall(source)
                     if name not in headings and f" {name} |" not in table]
    assert not problems, "\n".join(problems)
