"""Tier 0 under Wine: the platform-independent test files, run by the Windows CPython's pytest.

The files below (40) need no X server, no torch, no fork, no /dev/shm and no POSIX signals as a
whole; inside them, the few tests that do are marked (``needs_torch`` and ``make_symlink`` in
tests/markers.py, ``skipif(sys.platform == "win32")``, ``linux_only``), each with its reason,
and the same ``-m "not x11 and not slow"`` as the quick Linux run leaves out the slow ones.

Left out as whole files: test_x11_backends, test_e2e_x11 (X11), test_windows_backends,
test_windows_inputs (their own Windows-tier tests), test_crash_recovery, test_disk_full,
test_docs_run, test_bench, test_wheel (every test is ``slow``; kill -9, a tmpfs, ``make``, a
wheel build).

Measured on 2 shared cores (Wine 8, Xvfb): 140 to 330 s for 674 passed, 110 skipped (torch, X11,
POSIX-only), 37 xfailed (Wine 8's stub CreateSymbolicLinkW), 24 deselected (slow).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest

from winetier import ROOT, WineTier

FILES = (
    "binning", "clock", "cues", "damage_corpus", "errors", "export_dataset", "export_mapping",
    "export_pt", "export_windows", "first_hour", "flags_hostile", "frame_store", "gamepad_sdl",
    "hotkeys", "imports", "labels", "meta", "pad_poll", "preview", "process_faults",
    "reader_properties", "record_merge", "record_synthetic", "router", "session_damage",
    "session_lock", "session_read", "session_repair", "session_video", "sessions_view",
    "settings", "video_storage", "cli", "demo_check", "threads", "demo_scene", "pad_absence",
    "video_encoders", "windows_live_inputs", "export_decode", "inputfiles", "held_at_start",
    "outputs", "truth", "large_meta", "export_repeats", "preflight", "encoder_priority", "scratch",
    "indicator",
)
MIN_PASSED = 650  # 674 measured; a few tests may move between files or markers
MAX_RERUN = 3  # more failures than this at once are not flakes
TIMEOUT_S = 1200.0  # ~140 s alone; other Wine runs on the same two cores can triple it
_SUMMARY = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+) in [\d.]+s")


def _test_file(name: str) -> str:
    """``tests/<area>/test_<name>.py``, relative to the repository (tests/README.md: areas)."""
    found = sorted(ROOT.glob(f"tests/*/test_{name}.py"))
    assert len(found) == 1, f"test_{name}.py: {found or 'not found'} under tests/*/"
    return found[0].relative_to(ROOT).as_posix()


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


def _rerun_flakes(wine: WineTier, done: Any, lines: list[str]) -> Any:
    """Run a few failed tests once more; their second run's result if every one passes.

    Wine 8 now and then fails a Win32 call with ERROR_INTERNAL_ERROR (1359) on a loaded machine
    (seen once in test_video_encoders; it passed in 6 runs after, alone and beside four busy
    loops):
    an emulator's fault, not this code's. A test that fails twice still fails the tier, and a
    flake is reported as a warning with its first failure, so it stays visible.
    """
    ids = failed_ids(lines)
    if done.returncode == 0 or not ids or len(ids) > MAX_RERUN or any(
            line.startswith("ERROR") for line in lines):
        return None
    again = wine.python("-m", "pytest", "-p", "no:cacheprovider", "-q", "-m",
                        "not x11 and not slow", *ids, timeout=600, cwd=ROOT)
    if again.returncode != 0:
        return None
    first = [line for line in lines if line.startswith(("FAILED", "E   "))][:20]
    warnings.warn("flaky under Wine, passed when run again: " + ", ".join(ids) + "\n"
                  + "\n".join(first), stacklevel=1)
    return again


@pytest.mark.timeout(TIMEOUT_S + 720)
def test_platform_independent_tests_pass_under_the_windows_interpreter(wine: WineTier) -> None:
    args = ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "not x11 and not slow",
            *(_test_file(name) for name in FILES)]
    done = wine.python(*args, timeout=TIMEOUT_S, cwd=ROOT)
    lines = (done.stdout + "\n" + done.stderr).splitlines()
    again = _rerun_flakes(wine, done, lines)
    if again is not None:  # the failures were flakes: count them as the passes they became
        first = summary_counts(done.stdout) or {}
        flakes = len(failed_ids(lines))
        fixed = {**first, "failed": first.get("failed", 0) - flakes,
                 "passed": first.get("passed", 0) + flakes}
        print(f"tier 0 under Wine: {fixed} ({flakes} flaky, passed when run again)")
        assert fixed["passed"] >= MIN_PASSED, f"only {fixed['passed']} passed"
        return
    # The failures first: the summary's skip and xfail lines alone fill any tail of the output.
    failures = [line for line in lines if line.startswith(("FAILED", "ERROR", "E   "))][:60]
    tail = "\n".join([*failures, "...", *lines[-30:]])
    counts = summary_counts(done.stdout)
    assert counts is not None, f"no pytest summary line (exit {done.returncode}):\n{tail}"
    print(f"tier 0 under Wine: {counts}")
    assert done.returncode == 0, f"exit {done.returncode}, {counts}:\n{tail}"
    assert not counts.get("failed") and not counts.get("error") and not counts.get("errors"), \
        f"{counts}:\n{tail}"
    assert counts.get("passed", 0) >= MIN_PASSED, \
        f"only {counts.get('passed', 0)} passed (floor {MIN_PASSED}), {counts}:\n{tail}"
