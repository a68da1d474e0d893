"""Capture cost per backend on game-like content: X11 mss (the baseline) and, under Wine, GDI.

    python bench/capture_cost.py                       # 1280x720, 10 s per backend, 60 grabs/s
    python bench/capture_cost.py --seconds 5 --size 1920x1080 --no-wine

One private Xvfb of ``--size``; on it, one after the other:

1. the demo game's textured scene (scrolling noise and sprites, every frame differs: what
   bench/record.py records) as a Linux program, grabbed by ``bench/capture_probe.py mss``
   (XShm) natively: the baseline, measured in the same run;
2. the same game as a Windows program under Wine (the Windows tier's CPython, ``make
   test-windows`` builds it), grabbed by ``bench/capture_probe.py gdi`` with the tier's
   CPython: mss's GDI backend (``BitBlt`` of the screen DC), what ``auto`` ends on when
   neither Desktop Duplication nor WGC works (Wine 8 has neither).

The probe reports the grab's wall time and its own CPU; this driver adds the CPU the X server
(and wineserver) spent over exactly the probe's timed loop (between its ``BEGIN`` and ``END``
lines), because a GDI grab under Wine is mostly their work. GDI under Wine is Wine's GDI on
Xvfb, not Windows': the figure bounds what the fallback costs here, it does not predict a
Windows PC. DXGI and WGC are measured by the same probe on the GitHub Windows runner
(.github/workflows/windows.yml, "Capture cost"); docs/windows.md keeps both, bench/README.md
"Capture cost" says how.

JSON on stdout and in ``--out`` (default bench/results/capture_cost.json), a table on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from nitrogen_capture.demo.game import CAPTION
from nitrogen_capture.demo.xvfb import XvfbServer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROBE = HERE / "capture_probe.py"
DEFAULT_OUT = HERE / "results" / "capture_cost.json"
sys.path.insert(0, str(ROOT / "tests_wine"))  # winetier: the Windows tier's launcher


def _cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _wait_line(read: Any, text: str, timeout: float) -> None:
    """Wait until ``read()`` (the probe's output so far) contains ``text``."""
    deadline = time.monotonic() + timeout
    while text not in read():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {text!r} from the probe within {timeout:g} s:\n{read()}")
        time.sleep(0.01)


def _probe_result(out: str, name: str) -> dict[str, Any]:
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    raise RuntimeError(f"the {name} probe printed no result:\n{out}")


def _with_server_cpu(result: dict[str, Any], cpu: float, wall: float, label: str) -> None:
    if "refused" in result or not wall:
        return
    result[f"cpu_pct_{label}"] = round(100 * cpu / wall, 1)
    result["cpu_pct_total"] = round(result["cpu_pct"] + 100 * cpu / wall, 1)
    result["cpu_ms_per_grab_total"] = round(
        result["cpu_ms_per_grab"] + 1e3 * cpu / result["grabs"], 3)


def linux_mss(display: str, size: str, seconds: float, fps: float,
              xvfb_pid: int) -> dict[str, Any]:
    """The baseline: the Linux game on ``display``, grabbed by the probe with mss (XShm)."""
    env = {**os.environ, "DISPLAY": display, "SDL_AUDIODRIVER": "dummy",
           "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    lines: list[str] = []
    probe = subprocess.Popen([sys.executable, str(PROBE), "mss", "--start-game", "--size", size,
                              "--seconds", f"{seconds:g}", "--fps", f"{fps:g}"],
                             env=env, stdout=subprocess.PIPE, text=True)
    assert probe.stdout is not None
    try:
        for line in probe.stdout:  # the probe prints BEGIN, END, then its result
            lines.append(line)
            if line.startswith("BEGIN"):
                cpu0, t0 = _cpu_s([xvfb_pid]), time.monotonic()
            elif line.startswith("END"):
                cpu, wall = _cpu_s([xvfb_pid]) - cpu0, time.monotonic() - t0
        probe.wait(timeout=60)
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()
    result = _probe_result("".join(lines), "mss")
    if "refused" not in result:
        _with_server_cpu(result, cpu, wall, "x_server")
    return result


def wine_gdi(display: str, size: str, seconds: float, fps: float, xvfb_pid: int,
             backend: str = "gdi") -> dict[str, Any]:
    """The Windows game under Wine on ``display``, grabbed by the probe with ``backend``
    (``gdi``: mss's GDI backend, Wine's GDI)."""
    from winetier import PYTHON_EXE, TIER, WineTier, winpath, x_window

    if not PYTHON_EXE.is_file():
        return {"backend": backend, "refused": f"no Windows tier ({PYTHON_EXE}): run "
                "`make test-windows` once to build it"}
    tier = WineTier(display, Path(os.environ.get("NITROGEN_WINE_PREFIX", TIER / "prefix")))
    tier.start_server()
    game = None
    try:
        servers = [p.pid for p in psutil.process_iter(["name", "environ"])
                   if p.info["name"] == "wineserver"
                   and (p.info["environ"] or {}).get("WINEPREFIX") == str(tier.prefix)]
        game = tier.spawn("-m", "nitrogen_capture.demo.game", "--scene", "textured", "--size",
                          size, "--fps", "60", "--seconds", "900")
        x_window(display, CAPTION, timeout=120)
        probe = tier.spawn(winpath(PROBE), backend, "--seconds", f"{seconds:g}",
                           "--fps", f"{fps:g}")
        _wait_line(lambda: probe.stdout + probe.stderr, f"BEGIN {backend}", 180)
        watched = [xvfb_pid, *servers]
        cpu0, t0 = _cpu_s(watched), time.monotonic()
        _wait_line(lambda: probe.stdout, f"END {backend}", seconds + 120)
        cpu, wall = _cpu_s(watched) - cpu0, time.monotonic() - t0
        probe.wait(120)
        result = _probe_result(probe.stdout + probe.stderr, backend)
        _with_server_cpu(result, cpu, wall, "x_server_and_wineserver")
        return result
    finally:
        if game is not None:
            game.kill()
        tier.stop_server()


def table(result: dict[str, Any]) -> str:
    """The Markdown table docs/windows.md quotes."""
    rows = ["| backend | where | grabs/s | grab ms p50 / p90 / max | CPU % of a core (probe) | "
            "CPU % with X server / wineserver | CPU ms per grab (all) | new frames |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["backends"]:
        if "refused" in r:
            rows.append(f"| {r['backend']} | {r['where']} | refused: {r['refused']} | | | | | |")
            continue
        g = r["grab_ms"]
        rows.append(f"| {r['backend']} | {r['where']} | {r['grabs_per_s']:.1f} | "
                    f"{g['p50']:.2f} / {g['p90']:.2f} / "
                    f"{g['max']:.1f} | {r['cpu_pct']:.0f} | {r.get('cpu_pct_total', 0):.0f} | "
                    f"{r.get('cpu_ms_per_grab_total', 0):.2f} | {r['new_frames']:.2f} |")
    return "\n".join(rows)


def main() -> int:
    """Run the bench; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--seconds", type=float, default=10.0, help="timed grabbing per backend")
    ap.add_argument("--fps", type=float, default=60.0, help="grabs per second")
    ap.add_argument("--no-wine", action="store_true", help="only the X11 baseline")
    ap.add_argument("--wine-backend", default="gdi",
                    help="the backend the Windows probe grabs with under Wine (default gdi)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.lower().split("x"))
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "size": a.size,
        "seconds": a.seconds, "fps": a.fps, "game_fps": 60,
        "host": {"cpus": os.cpu_count(), "load_at_start": [round(x, 2)
                                                            for x in os.getloadavg()]},
        "backends": []}
    server = XvfbServer((w, h))
    display = server.start()
    try:
        assert server.pid is not None
        mss = linux_mss(display, a.size, a.seconds, a.fps, server.pid)
        result["backends"].append({**mss, "where": "Linux, Xvfb (XShm)"})
        if not a.no_wine:
            gdi = wine_gdi(display, a.size, a.seconds, a.fps, server.pid, a.wine_backend)
            result["backends"].append({**gdi, "where": "Wine 8 on the same Xvfb"})
    finally:
        server.stop()
    result["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(result, indent=2, default=str)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text + "\n", encoding="utf-8")
    print(table(result), file=sys.stderr)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
