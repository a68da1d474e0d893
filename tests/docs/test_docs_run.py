"""Docs that run: every fenced block marked ``<!-- run -->`` in README.md and docs/*.md executes.

The marker is one line right above the fence: ``<!-- run -->`` takes the language from the fence
(``bash``/``sh``/``shell`` or ``python``), ``<!-- run: bash -->`` / ``<!-- run: python -->``
names it when the fence does not. Unmarked blocks are illustrative (README, "Development"); a
``bash``/``python`` block that cannot run here carries ``<!-- not run: REASON -->`` instead, so a
new block without either fails the fast test below.

Each file's blocks run in order in one scratch directory of its own, so a block sees the files the
blocks above it wrote, the way a reader follows the page. The directory starts empty but for the
repo-root shim scripts (``python convert_to_nitrogen.py`` runs from a clone's root): no session
is put there for the docs, so every page records what it uses itself (``record --source
synthetic``) before its first block that reads a session, and a block that uses a name no block
above it wrote fails here as it would for a reader. Blocks share files, not shell variables: each
block is its own process. Shell blocks run under ``bash`` with ``set -e`` and the venv's ``bin``
first on PATH (``python`` and ``nitrogen-capture``); python blocks run with the venv's python;
this tree's ``src`` comes first on PYTHONPATH so the docs are checked against the code next to
them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
SHIMS = ("capture_logger.py", "dataset_merge.py", "convert_to_nitrogen.py")
# Removing a marker by accident must be noticed: raise this when you mark more blocks.
MIN_BLOCKS = 45
LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "py": "python"}
BLOCK_TIMEOUT_S = 120

_MARKER = re.compile(r"^<!--\s*run(?::\s*(?P<lang>\w+))?\s*-->\s*$")
_NOT_RUN = re.compile(r"^<!--\s*not run:\s*\S.*-->\s*$")
_FENCE = re.compile(r"^```(?P<info>\S*)")


@dataclass(frozen=True)
class Block:
    """One marked block: where it is, its language and its text."""

    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str

    def where(self) -> str:
        return f"{_shown(self.path)}:{self.line}"


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def marked_blocks(path: Path) -> list[Block]:
    """The marked blocks of one Markdown file, checking every marker and shell/python fence.

    Fails with the line when a run marker is not right above a fence or names an unknown
    language, and when a ``bash``/``python`` block has neither ``<!-- run -->`` nor
    ``<!-- not run: REASON -->`` above it (a new block must decide).
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    name = _shown(path)
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        run = _MARKER.match(lines[i])
        if run:
            fence = _FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
            assert fence, f"{name}:{i + 1}: a run marker must be right above a ``` fence"
            i += 1
            continue
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        assert end < len(lines), f"{name}:{i + 1}: the block is never closed"
        above = lines[i - 1] if i else ""
        marker = _MARKER.match(above)
        if marker:
            lang = marker["lang"] or fence["info"]
            assert lang in LANGUAGES, f"{name}:{i + 1}: run marker on a {lang!r} block"
            code = "\n".join(lines[i + 1:end]) + "\n"
            blocks.append(Block(path, i + 1, LANGUAGES[lang], code))
        elif fence["info"] in LANGUAGES:
            assert _NOT_RUN.match(above), (
                f"{name}:{i + 1}: a {fence['info']} block needs <!-- run --> or "
                "<!-- not run: REASON --> on the line above")
        i = end + 1
    return blocks


def _env() -> dict[str, str]:
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    env.setdefault("SDL_AUDIODRIVER", "dummy")
    return env


def _run(cmd: list[str], cwd: Path, what: str) -> float:
    """Run ``cmd`` in ``cwd``; fail with its output unless it exits 0; return its seconds."""
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=BLOCK_TIMEOUT_S, check=False)
    assert proc.returncode == 0, (
        f"{what} exited {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}"
        f"\n--- stderr\n{proc.stderr[-3000:]}")
    return time.monotonic() - t0


def test_markers_are_well_formed_and_counted() -> None:
    counts = {p.name: len(marked_blocks(p)) for p in DOC_FILES}
    print(f"marked blocks: {counts}")
    assert sum(counts.values()) >= MIN_BLOCKS, counts


_ABSOLUTE_OUT = re.compile(r"""(--out|--save|--keep-session|--contact-sheet)[ =]['"]?(/|~)""")


def test_blocks_write_only_into_their_folder() -> None:
    """A marked block writes relative paths only: a reader's runs, and the docs test's, never
    collide in a shared folder such as /tmp (README's preview once wrote to ``/tmp/p``)."""
    absolute = [f"{b.where()}: {line.strip()}" for p in DOC_FILES for b in marked_blocks(p)
                for line in b.code.splitlines()
                if _ABSOLUTE_OUT.search(line) or "/tmp" in line]
    assert not absolute, "\n".join(absolute)


@pytest.mark.parametrize(("text", "problem"), [
    ("<!-- run -->\ntext\n```bash\ntrue\n```\n", "right above"),
    ("<!-- run -->\n```json\n{}\n```\n", "run marker on a 'json' block"),
    ("```bash\ntrue\n```\n", "needs <!-- run --> or <!-- not run"),
    ("<!-- not run: -->\n```python\npass\n```\n", "needs <!-- run --> or <!-- not run"),
    ("<!-- run -->\n```bash\ntrue\n", "never closed"),
])
def test_marker_mistakes_fail(tmp_path: Path, text: str, problem: str) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(text, encoding="utf-8")
    with pytest.raises(AssertionError, match=re.escape(problem)):
        marked_blocks(doc)


def test_marker_forms(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- run: bash -->\n```\necho a\n```\n\n<!-- run -->\n```python\n"
                   "print(1)\n```\n<!-- not run: needs a game -->\n```bash\nx\n```\n"
                   "```\na tree\n```\n", encoding="utf-8")
    assert [(b.lang, b.line, b.code) for b in marked_blocks(doc)] == [
        ("bash", 2, "echo a\n"), ("python", 7, "print(1)\n")]


@pytest.mark.slow
@pytest.mark.parametrize("doc", [p for p in DOC_FILES if marked_blocks(p)],
                         ids=lambda p: p.name)
def test_marked_blocks_run(doc: Path, tmp_path: Path) -> None:
    for shim in SHIMS:
        shutil.copy2(ROOT / shim, tmp_path / shim)
    blocks = marked_blocks(doc)
    took = []
    for k, block in enumerate(blocks):
        script = tmp_path / f"_block{k}.{'sh' if block.lang == 'bash' else 'py'}"
        if block.lang == "bash":
            script.write_text("set -e\n" + block.code, encoding="utf-8")
            cmd = ["bash", str(script)]
        else:
            script.write_text(block.code, encoding="utf-8")
            cmd = [sys.executable, str(script)]
        took.append(f"{block.where()} {_run(cmd, tmp_path, f'block at {block.where()}'):.1f} s")
    size = sum(f.stat().st_size for f in tmp_path.rglob("*") if f.is_file() and not f.is_symlink())
    print(f"{doc.name}: ran {len(blocks)} marked block(s): {', '.join(took)}; "
          f"wrote {size / 1e6:.0f} MB")
