"""Run docs/export.md's ``--format lerobot`` section as a reader would (``make test-lerobot``).

    python scripts/lerobot_docs.py LEROBOT_VENV WORK_DIR

Every fenced block of the section runs in order in WORK_DIR (made fresh): the blocks marked
``<!-- run -->`` with this environment (the one running this script: ``nitrogen-capture``,
pyarrow, PyAV, our torch), exactly as ``tests/docs/test_docs_run.py`` runs them, and the
blocks marked ``<!-- not run: ... (make test-lerobot runs it) -->`` with LeRobot's environment
first on PATH (its ``python`` and ``lerobot-train``; ours after it for ``nitrogen-capture``).
The text run is the text of the doc, so the doc cannot drift from what was tested.

Each ``lerobot-train`` run in a block must end its training and log a finite loss at every
step it logs; the loss lines are printed. Exits 1 on the first failure.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "export.md"
SECTION = "## `--format lerobot`"
LEROBOT_MARK = "(make test-lerobot runs it)"
BLOCK_TIMEOUT_S = 1800
_LOSS = re.compile(r"\bstep:(\d+)\b.*?\bloss:(\S+).*")


def blocks() -> list[tuple[int, str, str, bool]]:
    """``(line, language, code, needs_lerobot)`` of every block of the section that runs."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(SECTION)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    out, i = [], start
    while i < end:
        fence = re.match(r"^```(\w*)", lines[i])
        if not fence:
            i += 1
            continue
        close = next(j for j in range(i + 1, end) if lines[j].startswith("```"))
        above = lines[i - 1]
        code = "\n".join(lines[i + 1:close]) + "\n"
        run = re.match(r"^<!--\s*run(?::\s*(\w+))?\s*-->$", above)
        if run or (above.startswith("<!-- not run:") and LEROBOT_MARK in above):
            lang = (run.group(1) if run else None) or fence.group(1)
            out.append((i + 1, "python" if lang in ("python", "py") else "bash", code, not run))
        i = close + 1
    return out


def losses(output: str) -> list[tuple[int, float, str]]:
    """``(step, loss, line)`` of each step ``lerobot-train`` logged (the line from ``step:``)."""
    return [(int(m.group(1)), float(m.group(2)), m.group(0)) for m in _LOSS.finditer(output)]


def main(venv: Path, work: Path) -> int:
    """Run the section's blocks in ``work``; 0 when every one passed."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ours = Path(sys.executable).parent
    for line, lang, code, needs_lerobot in blocks():
        env = dict(os.environ)
        first = [str(venv.absolute() / "bin")] if needs_lerobot else []
        env["PATH"] = os.pathsep.join([*first, str(ours), env.get("PATH", "")])
        python = str(venv.absolute() / "bin" / "python") if needs_lerobot else sys.executable
        script = work / f"_block-{line}.{'py' if lang == 'python' else 'sh'}"
        script.write_text(code if lang == "python" else "set -e\n" + code, encoding="utf-8")
        cmd = [python if lang == "python" else "bash", script.name]
        where = f"docs/export.md:{line} ({lang}, {'lerobot' if needs_lerobot else 'ours'})"
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                              timeout=BLOCK_TIMEOUT_S, check=False)
        took = time.monotonic() - t0
        if proc.returncode != 0:
            print(f"FAIL {where}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n"
                  f"{proc.stderr[-3000:]}")
            return 1
        both, note = proc.stdout + proc.stderr, ""
        if "lerobot-train" in code:
            started, ended = both.count("Start offline training"), both.count("End of training")
            logged = losses(both)
            for _, _, text in logged:
                print(f"     {text}")
            if (ended < 1 or started != ended or len(logged) < ended
                    or not all(math.isfinite(v) for _, v, _ in logged)):
                print(f"FAIL {where}: {started} training run(s) started, {ended} ended, "
                      f"losses {[v for _, v, _ in logged]}")
                return 1
            note = f" ({ended} training runs, every loss finite)"
        last = [ln for ln in proc.stdout.splitlines() if ln.strip()][-1:] or [""]
        print(f"ok   {where} in {took:.0f} s: {last[0][:160]}{note}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: lerobot_docs.py LEROBOT_VENV WORK_DIR")
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
