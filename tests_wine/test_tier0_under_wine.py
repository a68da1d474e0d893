"""Tier 0 under Wine: the platform-independent test files, run by the Windows CPython's pytest.

The files below (54) need no X server, no torch, no fork, no /dev/shm and no POSIX signals as a
whole; inside them, the few tests that do are marked (``needs_torch`` and ``make_symlink`` in
tests/markers.py, ``skipif(sys.platform == "win32")``, ``linux_only``), each with its reason,
and the same ``-m "not x11 and not slow"`` as the quick Linux run leaves out the slow ones.

Left out as whole files: test_x11_backends, test_e2e_x11 (X11), test_windows_backends,
test_windows_inputs (their own Windows-tier tests), test_crash_recovery, test_disk_full,
test_docs_run, test_bench, test_wheel (every test is ``slow``; kill -9, a tmpfs, ``make``, a
wheel build).

Measured on 2 shared cores (Wine 8, Xvfb): 140 to 330 s for 674 passed, 110 skipped (torch, X11,
POSIX-only), 37 xfailed (Wine 8's stub CreateSymbolicLinkW), 24 deselected (slow); since then
856 passed, 149 skipped, 52 xfailed, 36 deselected in 1025 s in one process with the machine
loaded by other runs. The files now run in two processes side by side (``SHARDS``): 444 s
against 515 s for one process at a similar load (1.5-4). The gain is small because both
processes go through the prefix's one wineserver, which does every file operation.
"""

from __future__ import annotations

import re
import subprocess
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from winetier import ROOT, WineTier, WinProcess

FILES = (
    "binning", "clock", "cues", "damage_corpus", "errors", "export_dataset", "export_mapping",
    "export_pt", "export_windows", "first_hour", "flags_hostile", "frame_store", "gamepad_sdl",
    "hotkeys", "imports", "labels", "meta", "pad_poll", "preview", "process_faults",
    "reader_properties", "record_merge", "record_synthetic", "router", "session_damage",
    "session_lock", "session_read", "session_repair", "session_video", "sessions_view",
    "settings", "video_storage", "cli", "demo_check", "threads", "demo_scene", "pad_absence",
    "video_encoders", "windows_live_inputs", "export_decode", "inputfiles", "held_at_start",
    "outputs", "truth", "large_meta", "export_repeats", "preflight", "encoder_priority", "scratch",
    "indicator", "takeover_gate", "driver", "output_base", "output_sendinput",
    "wasapi_source",
)
MIN_PASSED = 650  # 674 measured; a few tests may move between files or markers
MAX_RERUN = 3  # more failures than this at once are not flakes
TIMEOUT_S = 1200.0  # ~140 s alone; other Wine runs on the same two cores can triple it
# The files run in SHARDS Windows pytest processes side by side: one waits on wineserver much of
# the time (file operations), the other runs meanwhile. Each is an ordinary pytest of its own
# (its own run token, its own numbered temporary folder): they share only the prefix's wineserver.
SHARDS = 2
# Seconds per file in one Windows pytest (the sum of --durations, Wine 8, two cores shared with
# other runs), to balance the shards; a file not listed counts DEFAULT_COST_S.
# Measured 2026-12-06: 856 passed in 1025 s, the damage corpus alone 499 s.
COST_S: dict[str, float] = {
    "damage_corpus": 498, "export_repeats": 61, "flags_hostile": 57, "frame_store": 32,
    "held_at_start": 26, "video_encoders": 26, "cli": 24, "record_synthetic": 20,
    "record_merge": 18, "preflight": 17, "hotkeys": 17, "cues": 16, "encoder_priority": 15,
    "truth": 13, "indicator": 13, "video_storage": 9, "session_lock": 9, "session_repair": 9,
    "reader_properties": 8, "process_faults": 8, "demo_scene": 8, "imports": 5,
    "gamepad_sdl": 5, "first_hour": 5, "outputs": 5, "sessions_view": 5, "session_damage": 4,
    "export_decode": 3, "meta": 2, "scratch": 2,
}
DEFAULT_COST_S = 1.0
_SUMMARY = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+) in [\d.]+s")
_ARGS = ("-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "not x11 and not slow")


def _test_file(name: str) -> str:
    """``tests/<area>/test_<name>.py``, relative to the repository (tests/README.md: areas)."""
    found = sorted(ROOT.glob(f"tests/*/test_{name}.py"))
    assert len(found) == 1, f"test_{name}.py: {found or 'not found'} under tests/*/"
    return found[0].relative_to(ROOT).as_posix()


def shards(names: Sequence[str], count: int = SHARDS) -> list[list[str]]:
    """``names`` in ``count`` lists of about equal cost (``COST_S``), each in ``names``' order.

    Greedy: the costliest file first, each to the list with the least cost so far.
    """
    parts: list[list[str]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for name in sorted(names, key=lambda n: -COST_S.get(n, DEFAULT_COST_S)):
        lightest = loads.index(min(loads))
        parts[lightest].append(name)
        loads[lightest] += COST_S.get(name, DEFAULT_COST_S)
    return [sorted(part, key=list(names).index) for part in parts if part]


def summary_counts(output: str) -> dict[str, int] | None:
    """``{"passed": 618, "skipped": 105, ...}`` from pytest's last summary line, if any."""
    for line in reversed(output.splitlines()):
        found = _SUMMARY.match(line.strip())
        if found:
            counts = {}
            for part in found.group(1).split(", "):
                number, word = part.split(" ", 1)
                counts[word] = int(number)
            return counts
    return None


def failed_ids(lines: list[str]) -> list[str]:
    """The node ids of pytest's ``FAILED <id> - <message>`` summary lines."""
    return [line[len("FAILED "):].split(" - ")[0] for line in lines if line.startswith("FAILED ")]


def run_side_by_side(wine: WineTier, runs: Sequence[Sequence[str]],
                     timeout: float) -> list[subprocess.CompletedProcess[str]]:
    """Start every Windows CPython of ``runs`` at once; their results, in order.

    A run that does not end within ``timeout`` fails the test; every run still going is killed.
    """
    procs: list[WinProcess] = []
    try:
        for args in runs:
            procs.append(wine.spawn(*args, cwd=ROOT))
        deadline = time.monotonic() + timeout
        codes = [proc.wait(max(1.0, deadline - time.monotonic())) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    return [subprocess.CompletedProcess(p.args, code, p.stdout, p.stderr)
            for p, code in zip(procs, codes, strict=True)]


def _rerun_flakes(wine: WineTier, returncode: int, lines: list[str]) -> Any:
    """Run a few failed tests once more; their second run's result if every one passes.

    Wine 8 now and then fails a Win32 call with ERROR_INTERNAL_ERROR (1359) on a loaded machine
    (seen once in test_video_encoders; it passed in 6 runs after, alone and beside four busy
    loops):
    an emulator's fault, not this code's. A test that fails twice still fails the tier, and a
    flake is reported as a warning with its first failure, so it stays visible.
    """
    ids = failed_ids(lines)
    if returncode == 0 or not ids or len(ids) > MAX_RERUN or any(
            line.startswith("ERROR") for line in lines):
        return None
    again = wine.python(*_ARGS, *ids, timeout=600, cwd=ROOT)
    if again.returncode != 0:
        return None
    first = [line for line in lines if line.startswith(("FAILED", "E   "))][:20]
    warnings.warn("flaky under Wine, passed when run again: " + ", ".join(ids) + "\n"
                  + "\n".join(first), stacklevel=1)
    return again


def _tail(lines: list[str]) -> str:
    """The failures first: the summary's skip and xfail lines alone fill any tail of the output."""
    failures = [line for line in lines if line.startswith(("FAILED", "ERROR", "E   "))][:60]
    return "\n".join([*failures, "...", *lines[-30:]])


@pytest.mark.timeout(TIMEOUT_S + 720)
def test_platform_independent_tests_pass_under_the_windows_interpreter(wine: WineTier) -> None:
    parts = shards(FILES)
    assert sorted(name for part in parts for name in part) == sorted(FILES)  # each file, once
    runs = run_side_by_side(
        wine, [[*_ARGS, *(_test_file(name) for name in part)] for part in parts], TIMEOUT_S)
    counts: Counter[str] = Counter()
    lines: list[str] = []
    for done in runs:
        own = (done.stdout + "\n" + done.stderr).splitlines()
        found = summary_counts(done.stdout)
        assert found is not None, f"no pytest summary line (exit {done.returncode}):\n{_tail(own)}"
        counts.update(found)
        lines += own
    returncode = next((done.returncode for done in runs if done.returncode), 0)
    again = _rerun_flakes(wine, returncode, lines)
    if again is not None:  # the failures were flakes: count them as the passes they became
        flakes = len(failed_ids(lines))
        fixed = {**counts, "failed": counts.get("failed", 0) - flakes,
                 "passed": counts.get("passed", 0) + flakes}
        print(f"tier 0 under Wine: {fixed} ({flakes} flaky, passed when run again)")
        assert fixed["passed"] >= MIN_PASSED, f"only {fixed['passed']} passed"
        return
    tail = _tail(lines)
    print(f"tier 0 under Wine: {dict(counts)} in {len(runs)} processes")
    assert returncode == 0, f"exit {returncode}, {dict(counts)}:\n{tail}"
    assert not counts.get("failed") and not counts.get("error") and not counts.get("errors"), \
        f"{dict(counts)}:\n{tail}"
    assert counts.get("passed", 0) >= MIN_PASSED, \
        f"only {counts.get('passed', 0)} passed (floor {MIN_PASSED}), {dict(counts)}:\n{tail}"
