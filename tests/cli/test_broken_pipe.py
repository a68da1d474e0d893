"""A reader that leaves early (``| head -1``) ends every command quietly with status 0.

Each command that prints runs in a real process whose stdout is a pipe, three ways:

* ``CMD | head -1`` in bash (the issue's case: head exits after the first line);
* the pipe's reader gone before the command writes anything (deterministic: the read end is
  closed before the command starts);
* with a progress bar drawn into that dead pipe too (``FORCE_COLOR=1``, stderr in the pipe as
  with ``2>&1``): rich answers a broken pipe with ``SystemExit(1)``, which the bar's stream
  (pipes.QuietStream) must never let it reach.

The status must be 0 and stderr empty (no traceback, no "Exception ignored", no error line).
POSIX only: bash pipelines; Windows' form of a closed pipe is pipes.py's EINVAL rule.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from session_factory import make_session

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="bash pipelines (POSIX)"),
              pytest.mark.slow, pytest.mark.timeout(900)]

Args = Callable[[Path], list[str]]


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two merged sessions (a, b) and, apart, a session killed in its last chunk (open)."""
    top = tmp_path_factory.mktemp("pipes")
    for name in ("a", "b"):
        make_session(top / "lib" / name, (12, 12), merge=True)
    make_session(top / "open", (5, 4, 12), open_last=True)
    return top


def _merge(progress: bool) -> Args:
    def args(top: Path) -> list[str]:
        work = top / "work"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(top / "open", work)  # an open chunk to recover: two lines of output
        return ["merge", "--root", str(work), *([] if progress else ["--no-progress"])]
    return args


def _fresh(name: str, *args: str) -> Args:
    """A command writing ``top/name``: what an earlier run wrote there (a batch's manifest and
    parts beside it too) is removed first, so every run starts from nothing."""
    def build(top: Path) -> list[str]:
        for old in {top / name, *top.glob(f"{Path(name).stem}.*")}:
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink(missing_ok=True)
        return [a.replace("{out}", str(top / name)).replace("{lib}", str(top / "lib"))
                for a in args]
    return build


# Every command that prints; a progress bar is on unless --no-progress is given.
PRINTING: dict[str, Args] = {
    "sessions": lambda top: ["sessions", str(top / "lib")],
    "validate": lambda top: ["validate", "--root", str(top / "lib" / "a")],
    "label": lambda top: ["label", "--root", str(top / "lib" / "a")],
    "merge": _merge(progress=True),
    "merge --no-progress": _merge(progress=False),
    "convert pt": _fresh("o.pt", "convert", "--root", "{lib}/a", "--out", "{out}",
                         "--seq-len", "2"),
    "convert pt --no-progress": _fresh("p.pt", "convert", "--root", "{lib}/a", "--out",
                                       "{out}", "--seq-len", "2", "--no-progress"),
    "convert nitrogen-dataset": _fresh("ds", "convert", "--root", "{lib}/a", "--out", "{out}",
                                       "--format", "nitrogen-dataset"),
    "convert batch": _fresh("all.pt", "convert", "--root", "{lib}", "--recursive", "--out",
                            "{out}", "--seq-len", "2", "--jobs", "1"),
    "report": _fresh("r.html", "report", "--root", "{lib}/a", "--out", "{out}"),
    "report index": _fresh("reports", "report", "--root", "{lib}", "--out", "{out}"),
    "preview": _fresh("pv", "preview", "--root", "{lib}/a", "--out", "{out}"),
    "windows": lambda top: ["windows"],
    "calibrate --help": lambda top: ["calibrate", "--help"],
    "demo --help": lambda top: ["demo", "--help"],
    "record --help": lambda top: ["record", "--help"],
    "--version": lambda top: ["--version"],
}
PROGRESS = ("merge", "convert pt", "convert nitrogen-dataset", "convert batch", "report",
            "report index", "preview")


def _env(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    return {**env, "PYTHONPATH": os.pathsep.join(sys.path), **more}


def _command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "nitrogen_capture", *args]


def in_head(args: list[str], tmp: Path) -> tuple[int, str]:
    """``CMD 2>ERR | head -1`` in bash: the command's exit status and its stderr."""
    err = tmp / "stderr.txt"
    script = '"$@" 2>"$ERR" | head -1 >/dev/null; echo "${PIPESTATUS[0]}"'
    proc = subprocess.run(["bash", "-c", script, "bash", *_command(args)], capture_output=True,
                          text=True, env=_env(ERR=str(err)), timeout=300, check=True)
    return int(proc.stdout.strip()), err.read_text()


def into_gone_reader(args: list[str], *, bar: bool = False) -> tuple[int, str]:
    """The command with stdout (and with ``bar``, stderr too) a pipe nobody reads any more."""
    r, w = os.pipe()
    os.close(r)  # gone before the command starts: its first write finds no reader
    try:
        proc = subprocess.run(_command(args), stdout=w, stderr=w if bar else subprocess.PIPE,
                              env=_env(FORCE_COLOR="1") if bar else _env(), timeout=300)
    finally:
        os.close(w)
    return proc.returncode, "" if bar else proc.stderr.decode()


@pytest.mark.x11
def test_every_command_in_head_1_exits_0_quietly(lib: Path, tmp_path: Path,
                                                 xvfb_display: str) -> None:
    got = {name: in_head(args(lib), tmp_path) for name, args in PRINTING.items()}
    assert got == {name: (0, "") for name in PRINTING}


@pytest.mark.x11
def test_every_command_whose_reader_is_gone_exits_0_quietly(lib: Path,
                                                            xvfb_display: str) -> None:
    got = {name: into_gone_reader(args(lib)) for name, args in PRINTING.items()}
    assert got == {name: (0, "") for name in PRINTING}


def test_a_progress_bar_in_a_dead_pipe_ends_nothing(lib: Path) -> None:
    """``FORCE_COLOR=1 CMD 2>&1 | true``: the bar goes quiet, the command finishes with 0."""
    got = {name: into_gone_reader(PRINTING[name](lib), bar=True)[0] for name in PROGRESS}
    assert got == dict.fromkeys(PROGRESS, 0)
    assert (lib / "o.pt").is_file() and (lib / "reports" / "index.html").is_file()
