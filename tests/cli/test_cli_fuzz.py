"""A fuzz pass over every flag of every subcommand: one line and exit 1 or 2, never a traceback,
never a hang, nothing written that the command does not document (docs/reliability.md, 6).

The cases come from the CLI's own parsers (``tests/cli_fuzz_cases.py``): each changes one thing
in a valid command line over a small session made by ``session_factory``. They run in-process,
one after the other, in two worker processes (``tests/cli_fuzz_worker.py``), so that a case that
blocks (a FIFO opened by a regression) is a timeout here, not a stuck test run. Each case must:

* print no traceback (``--debug`` prints one on purpose), exit 0, 1 or 2, and on failure print
  exactly one non-empty stderr line (``validate`` reports a bad session on stdout instead);
* refuse a value marked invalid before its work starts (a recording never starts, ``demo`` and
  ``calibrate`` never reach their display), with exit 2 when it is a usage error;
* answer within :data:`CASE_TIMEOUT_S`, a recording stopped by its own limits;
* leave the world as it was when it refuses; when it succeeds, remove nothing, change no file
  outside the session and no temporary behind, and write into the session only its documented
  names (merge its outputs and meta.json, label meta.json, report and preview names outside the
  session format).

The last test prints the counts (see them with ``pytest -s`` or ``-rA``).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import psutil
import pytest

from cli_fuzz_cases import (
    BASE,
    NOT_UTF8,
    POSIX,
    Case,
    Unclassified,
    all_cases,
    classify,
    fuzzed_actions,
    subparsers,
)
from cli_fuzz_worker import Worker, run_cases
from nitrogen_capture.calibrate.profile import LatencyProfile, best_offset
from nitrogen_capture.outputs import is_session_format
from session_factory import PERIOD, make_session
from waiting import wait_until

CASE_TIMEOUT_S = 120.0  # no answer by then: a hang (a recording stops by its limits in ~2 s)
WORKERS = 2  # the suite's machine has two cores
MERGE_OUTPUTS = {"actions.npy", "mouse_deltas.npy", "frame_indices.npy", "timestamps.npy",
                 "events.npy", "gamepad.npy", "dataset.npz", "dataset.pt", "meta.json"}

SESSIONS = ("sess", f"{NOT_UTF8}sess")  # the world's sessions: where a command may write


@dataclass(frozen=True)
class Outcome:
    """What one case did (``result`` is None when it hung)."""

    case: Case
    result: dict[str, Any] | None

    @property
    def accepted(self) -> bool:
        """It succeeded, or reached the work a stub stands in for."""
        r = self.result
        return r is not None and (r["code"] == 0 or bool(r["boundary"]))

    @property
    def status(self) -> str:
        """Its exit status for the counts, or "boundary" or "hang"."""
        r = self.result
        return "hang" if r is None else "boundary" if r["boundary"] else str(r["code"])


@dataclass(frozen=True)
class Pass:
    """The outcomes of the whole pass by subcommand ("" for the top level), and its time."""

    outcomes: dict[str, list[Outcome]]
    seconds: float


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The world every case starts from (the worker adds the FIFO and the session list)."""
    world = tmp_path_factory.mktemp("fuzz") / "template"
    make_session(world / "sess", (12, 8), merge=True)
    if POSIX:  # a session whose folder name is not UTF-8 (made under another, as OpenCV
        # cannot write to such a path)
        os.rename(make_session(world / "other", (3,)).root, world / f"{NOT_UTF8}sess")
    (world / "plain").mkdir()
    (world / "plain" / "note.txt").write_text("someone's notes\n")
    (world / "file.txt").write_text("not a session\n")
    (world / "cwd").mkdir()
    (world / "layout.toml").write_text('keys = ["w", "a", "space"]\n')
    keymap = resources.files("nitrogen_capture") / "data" / "default_keymap.toml"
    (world / "keymap.toml").write_text(keymap.read_text(encoding="utf-8"), encoding="utf-8")
    lower = [-10_000_000 + k * 100_000 for k in range(10)]
    delay = [x + PERIOD for x in lower]
    LatencyProfile(fps=30, method="xtest", injected=10, logged=10, delays_ns=tuple(delay),
                   lower_ns=tuple(lower), row_lags=(0,) * 10,
                   offset_ns=best_offset(lower, delay)).save(world / "profile.json")
    return world


@pytest.fixture(scope="module")
def fuzz_pass(template: Path) -> Pass:
    """Every case's outcome."""
    cases = [c for c in all_cases() if POSIX or not c.posix]
    t0 = time.perf_counter()
    results = run_cases([(c.argv, c.real) for c in cases], template, template.parent,
                        workers=WORKERS, timeout=CASE_TIMEOUT_S)
    seconds = time.perf_counter() - t0
    by_command: dict[str, list[Outcome]] = {}
    for case, result in zip(cases, results, strict=True):
        by_command.setdefault(case.command, []).append(Outcome(case, result))
    return Pass(by_command, seconds)


# -- what a case must do ---------------------------------------------------------------------------
def _allowed_in_session(command: str, rel: str) -> bool:
    """Whether ``command`` may add or change ``rel`` inside its input session."""
    if command == "merge":
        return rel in MERGE_OUTPUTS
    if command == "label":
        return rel == "meta.json"
    if command in ("report", "preview"):
        return not is_session_format(PurePosixPath(rel))
    return False


def _written(o: Outcome, d: dict[str, list[str]]) -> list[str]:
    """What an accepted case wrote that it must not have."""
    found = [f"removed {d['removed']}"] if d["removed"] else []
    for rel in d["added"] + d["changed"]:
        top, _, inside = rel.partition("/")
        if rel.rsplit("/", 1)[-1].startswith(".") and rel.endswith(".partial"):
            found.append(f"left a temporary {rel}")
        elif top in SESSIONS and inside and not _allowed_in_session(o.case.command, inside):
            found.append(f"wrote {rel} into a session")
        elif rel in d["changed"] and top not in SESSIONS:
            found.append(f"changed {rel}")
    return found


def problems(o: Outcome) -> list[str]:
    """What ``o`` did wrong (empty: nothing)."""
    c, r = o.case, o.result
    if r is None:
        return [f"hang: no answer within {CASE_TIMEOUT_S:g} s"]
    found = [f"hang: {why}" for why in r["hang"]]
    err, code = r["err"], r["code"]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    debug = "--debug" in c.argv and code == 1  # --debug shows the traceback, on purpose
    if "Traceback" in err and not debug:
        found.append("traceback: " + " | ".join(lines[-3:]))
    if not r["boundary"] and code not in (0, 1, 2):
        found.append(f"exit status {code}")
    reported = c.command == "validate" and code == 1 and not lines and r["out"].strip()
    if not o.accepted and not debug and len(lines) != 1 and not reported:
        found.append(f"{len(lines)} stderr lines: {err[-300:]!r}")
    if c.valid is False and o.accepted:
        found.append("accepted: " + (r["boundary"] or f"exit 0: {r['out'][-200:]!r}"))
    elif c.usage and not o.accepted and code != 2:
        found.append(f"exit {code} for a usage error: {lines[-1:]}")
    if not o.accepted and any(r["diff"].values()):
        found.append(f"refused, yet changed the world: {r['diff']}")
    if o.accepted:
        found += _written(o, r["diff"])
    return found


# -- the tests -----------------------------------------------------------------------------------
def test_every_flag_is_classified() -> None:
    """Each flag of each subcommand has a kind, and each subcommand a valid command line."""
    parsers = subparsers()
    assert set(parsers) == set(BASE), "a subcommand without a BASE line (or a stale one)"
    for command, parser in parsers.items():
        for action in fuzzed_actions(parser):
            classify(command, action)


def test_an_unknown_flag_kind_fails_the_fuzz() -> None:
    """A flag the generator cannot place stops the pass, rather than going unfuzzed."""
    parser = subparsers()["merge"]
    with pytest.raises(Unclassified, match="--when"):
        classify("merge", parser.add_argument("--when", type=complex))
    with pytest.raises(Unclassified, match="no role in PATH_ROLES"):
        classify("merge", parser.add_argument("--elsewhere", type=Path))


@pytest.mark.parametrize("command", ["", *BASE])
def test_fuzz(fuzz_pass: Pass, command: str) -> None:
    """Every case of ``command`` (the top level: "") does what :func:`problems` asks."""
    outs = fuzz_pass.outcomes[command]
    bad = [f"{o.case.id}: {'; '.join(p)}\n    argv={[a[:60] for a in o.case.argv]}"
           for o in outs if (p := problems(o))]
    assert not bad, f"{len(bad)} of {len(outs)} cases failed:\n" + "\n".join(bad)


def test_a_case_that_hangs_is_found_and_its_processes_end(template: Path,
                                                          tmp_path: Path) -> None:
    """The pass's own check: a command that never ends is a hang, and is killed with its
    children (a recording with no limit runs until Ctrl+C by design)."""
    worker = Worker(template, tmp_path)
    try:
        ready = worker.run(["--version"], True, CASE_TIMEOUT_S)
        assert ready is not None and ready["code"] == 0, ready
        forever = ("record", *BASE["record"], "--max-frames", "0", "--seconds", "0")
        result = worker.run(forever, True, 5.0)
        me = psutil.Process(worker.proc.pid)
        wait_until(me.children, "the encoder process", CASE_TIMEOUT_S)
        procs = [me, *me.children(recursive=True)]
    finally:
        worker.close(kill=True)
    assert result is None
    assert problems(Outcome(Case("record", "", "forever", forever), result)) == [
        f"hang: no answer within {CASE_TIMEOUT_S:g} s"]
    assert len(procs) > 1, "the recording started no encoder process"
    _, alive = psutil.wait_procs(procs, timeout=30)
    assert not alive, alive


def test_fuzz_summary(fuzz_pass: Pass, capsys: pytest.CaptureFixture[str]) -> None:
    """Print the counts: cases per subcommand, exit statuses, tracebacks, hangs."""
    rows, total = [], Counter[str]()
    for command, outs in fuzz_pass.outcomes.items():
        statuses = Counter(o.status for o in outs)
        tracebacks = sum(1 for o in outs if any(p.startswith("traceback") for p in problems(o)))
        hangs = sum(1 for o in outs if any(p.startswith("hang") for p in problems(o)))
        failed = [o for o in outs if problems(o)]
        total.update({"cases": len(outs), "tracebacks": tracebacks, "hangs": hangs,
                      "failed": len(failed), **statuses})
        rows.append(f"{command or '(top)':<10} {len(outs):5d} cases, exit "
                    f"{dict(sorted(statuses.items()))}, tracebacks {tracebacks}, hangs {hangs}"
                    + (f", failed {len(failed)}" if failed else ""))
    rows.append(f"{'total':<10} {total['cases']:5d} cases, exit 0: {total['0']}, 1: "
                f"{total['1']}, 2: {total['2']}, reached the stub: {total['boundary']}; "
                f"tracebacks {total['tracebacks']}, hangs {total['hangs']}, failed "
                f"{total['failed']}; {fuzz_pass.seconds:.1f} s")
    with capsys.disabled():
        print("\ncli fuzz:\n" + "\n".join(rows))
    assert total["cases"] > 2000
