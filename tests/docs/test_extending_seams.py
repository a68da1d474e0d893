"""docs/extending.md's capture and input backend recipes, checked by doing them.

Each section's block (a toy backend registered through the real registry, then a real recording
with it) runs as pasted in a fresh folder; every file the section names exists; and the registry
lines it tells a contributor to write have the shape of the registry's own lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nitrogen_capture import capture, inputs

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "extending.md"


def section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def run_block(body: str, cwd: Path) -> str:
    """Run the section's one block as a file, as tests/docs/test_docs_run.py and a reader do."""
    blocks = re.findall(r"<!-- run -->\n```python\n(.*?)```", body, re.S)
    assert len(blocks) == 1, "one runnable block per recipe"
    script = cwd / "recipe.py"
    script.write_text(blocks[0], encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, script.name], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def named_paths(body: str) -> list[str]:
    return re.findall(r"`((?:src|tests|tests_wine)/[\w/.]+\.py)`", body)


@pytest.mark.parametrize("title", ["A capture backend", "An input backend"])
def test_every_named_file_exists(title: str) -> None:
    body = section(title)
    paths = named_paths(body)
    assert len(paths) >= 5
    missing = [p for p in paths if not (ROOT / p).is_file()]
    assert not missing, missing
    for short in re.findall(r"`((?:capture|inputs|targets|session)/[\w/.]+\.py)`", body):
        assert (ROOT / "src" / "nitrogen_capture" / short).is_file(), short


def test_the_registry_lines_have_the_registry_shape() -> None:
    cap, inp = section("A capture backend"), section("An input backend")
    assert '`"<name>": "._<name>:MySource",`' in cap
    assert '`"<name>": "._<name>:<name>_sources",`' in inp
    assert all(re.fullmatch(r"\._\w+:[A-Z]\w+", v) for v in capture.REGISTRY.values()
               if isinstance(v, str))
    assert all(re.fullmatch(r"\._\w+:\w+_sources", v) for v in inputs.REGISTRY.values()
               if isinstance(v, str))
    assert ("auto", *capture.REGISTRY, *capture.ALIASES) == capture.BACKENDS
    assert ("auto", *inputs.REGISTRY, "none") == inputs.BACKENDS


def test_capture_recipe_runs_as_pasted(tmp_path: Path) -> None:
    out = run_block(section("A capture backend"), tmp_path)
    assert out.strip() == f"12 frames by toy-window of window {0x1234}"
    assert (tmp_path / "toy-window-session" / "meta.json").is_file()


def test_input_recipe_runs_as_pasted(tmp_path: Path) -> None:
    out = run_block(section("An input backend"), tmp_path)
    m = re.fullmatch(r"30 frames, (\d+) taps of space, space down in (\d+) rows\n", out)
    assert m and int(m[1]) > 0 and int(m[2]) >= 1, out
