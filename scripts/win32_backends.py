"""Record the demo game once per Windows capture backend and print what each one achieved.

Runs natively on Windows (the GitHub Actions workflow, .github/workflows/windows.yml, one step
per backend) and under Wine (tests_wine/test_win32_backends.py runs it with ``gdi``: Wine 8 has
neither Desktop Duplication nor Windows Graphics Capture).

    python scripts/win32_backends.py dxgi wgc gdi auto [--seconds 4] [--fps 30]

It starts the bundled demo game (textured scene: every frame differs, so a compositor-driven
backend such as WGC has new frames to deliver), waits for its window, then for each backend
named runs

    nitrogen-capture record --window-title <the game's title> --capture-backend X ...
    nitrogen-capture validate --json --root <that session>

and prints one line per backend: the backend meta.json names (for ``auto``, the one it chose),
the achieved fps, the capture latency from ``validate --json`` ``stats.frame_times`` (our grab
time minus the OS's frame time) and the ``capture:`` line record printed. A forced backend that
fails is a failure (exit 1), except ``dxgi``: a runner without a GPU may refuse Desktop
Duplication, so its refusal line is shown and the next backend runs. The last line is a JSON
summary of every leg.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nitrogen_capture.demo.game import CAPTION
from nitrogen_capture.targets import get_window_backend

# The backends a runner may refuse without that being a failure of ours: Desktop Duplication
# needs a display adapter that duplicates (none on a GPU-less VM, none over remote desktop).
MAY_REFUSE = frozenset({"dxgi", "dxcam"})  # dxcam: the old name, an alias of dxgi
GAME_SIZE = "640x360"


def _wait_for_game(game: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    backend = get_window_backend()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if game.poll() is not None:
            raise SystemExit(f"the demo game exited with {game.returncode} before its window")
        if any(w.title == CAPTION and w.region is not None for w in backend.list_windows()):
            return
        time.sleep(0.2)
    raise SystemExit(f"no window titled {CAPTION!r} within {timeout:g} s")


def _canonical(name: str) -> str:
    """The name meta.json records for ``name`` on Windows.

    Aliases: ``dxcam`` -> ``dxgi``, ``mss`` -> ``gdi``; through the capture package's own
    mapping where it has one.
    """
    from nitrogen_capture import capture

    canonical = getattr(capture, "canonical_backend", None)
    # Windows' mapping even when the verdict is checked elsewhere (tests/tooling).
    return str(canonical(name, platform="win32")) if canonical is not None else name


def _capture_lines(stderr: str) -> list[str]:
    """The ``capture: ...`` lines record printed (the auto chain's choice, a failover)."""
    return [line.strip() for line in stderr.splitlines() if "capture:" in line]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_leg(backend: str, out: Path, *, seconds: float, fps: float) -> dict[str, Any]:
    """Record the game with ``backend`` into ``out``, validate it; the leg's summary."""
    cmd = [sys.executable, "-m", "nitrogen_capture", "record", "--window-title", CAPTION,
           "--capture-backend", backend, "--out", str(out), "--fps", f"{fps:g}",
           "--seconds", f"{seconds:g}", "--start-immediately", "--status-interval", "0",
           "--cue", "none", "--input-backend", "none", "--no-focus-pause"]
    rec = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    leg: dict[str, Any] = {"asked": backend, "record_exit": rec.returncode,
                           "capture_lines": _capture_lines(rec.stderr)}
    if rec.returncode != 0 or not (out / "meta.json").is_file():
        leg["refused"] = _last_line(rec.stderr) or f"record exited {rec.returncode}"
        return leg
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    capture = meta.get("capture") or {}
    val = subprocess.run([sys.executable, "-m", "nitrogen_capture", "validate", "--json",
                          "--root", str(out)], capture_output=True, text=True, timeout=180,
                         check=False)
    try:
        report = json.loads(val.stdout)
    except ValueError:
        leg["problem"] = f"validate --json printed no JSON: {_last_line(val.stderr)}"
        return leg
    stats = report.get("stats") or {}
    frame_times = stats.get("frame_times") or {}
    leg.update({
        "backend": capture.get("backend"), "choice": capture.get("choice"),
        "details": capture.get("details"), "valid": bool(report.get("ok")),
        "frames": stats.get("frames"), "fps_target": stats.get("fps_target"),
        "fps_achieved": stats.get("fps_achieved"), "dropped_ticks": stats.get("dropped_ticks"),
        "frame_time_source": frame_times.get("source"),
        "repeated_frames": frame_times.get("repeated_frames"),
        "latency_ms": frame_times.get("latency_ms"),
    })
    return leg


def leg_problems(leg: dict[str, Any], seconds: float, fps: float) -> list[str]:
    """What makes a leg fail: a refusal of a backend that must work, a bad session."""
    asked = leg["asked"]
    if "refused" in leg:
        return [] if asked in MAY_REFUSE else [f"{asked}: {leg['refused']}"]
    if "problem" in leg:
        return [f"{asked}: {leg['problem']}"]
    out = []
    if not leg["valid"]:
        out.append(f"{asked}: the session does not validate")
    if asked != "auto" and leg["backend"] != _canonical(asked):
        out.append(f"{asked}: meta.json says capture backend {leg['backend']!r}")
    if (leg["frames"] or 0) < seconds * fps * 0.8:
        out.append(f"{asked}: {leg['frames']} frames in {seconds:g} s at {fps:g} fps")
    return out


def describe(leg: dict[str, Any]) -> str:
    """One line a person reads in the workflow's log."""
    asked = leg["asked"]
    if "refused" in leg:
        return f"{asked}: refused: {leg['refused']}"
    if "problem" in leg:
        return f"{asked}: {leg['problem']}"
    lat = leg.get("latency_ms")
    latency = (f"capture latency p50 {lat['p50']:.2f} / p90 {lat['p90']:.2f} / max "
               f"{lat['max']:.2f} ms ({leg['frame_time_source']}, {leg['repeated_frames']} "
               "repeated)" if lat else "no OS frame times")
    fps = leg.get("fps_achieved")
    line = (f"{asked}: backend {leg['backend']}, {leg['frames']} frames, "
            f"{fps:.2f} fps achieved of {leg['fps_target']:g}, {latency}"
            if fps is not None else f"{asked}: backend {leg['backend']}, no frames")
    return line + "".join(f"\n    {c}" for c in leg["capture_lines"])


def main(argv: list[str] | None = None) -> int:
    """Run the legs; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("backends", nargs="+", help="capture backends to record with, in order")
    p.add_argument("--seconds", type=float, default=4.0, help="seconds per recording")
    p.add_argument("--fps", type=float, default=30.0, help="the recordings' fps")
    p.add_argument("--keep", action="store_true", help="keep the sessions (printed folder)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="nitrogen-win32-backends-"))
    game = subprocess.Popen([sys.executable, "-m", "nitrogen_capture.demo.game", "--scene",
                             "textured", "--size", GAME_SIZE, "--fps", "60", "--seconds", "600"])
    legs: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        _wait_for_game(game)
        for backend in args.backends:
            leg = run_leg(backend, work / backend, seconds=args.seconds, fps=args.fps)
            legs.append(leg)
            problems += leg_problems(leg, args.seconds, args.fps)
            print(describe(leg), flush=True)
    finally:
        game.kill()
        game.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"legs": legs, "problems": problems,
                      "work": str(work) if args.keep else None}, default=str))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
