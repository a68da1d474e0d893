"""What one capture backend costs per grab on game-like content: the part that runs anywhere.

    python bench/capture_probe.py mss --window-title "NitroGen Capture demo game"   # game running
    python bench/capture_probe.py dxgi wgc gdi --start-game --seconds 10      # Windows runner

For each backend named, in this process: the frame source of the game's window (the same
``get_capture_backend(name, target=...)`` that ``record`` uses, the window by handle), opened,
5 warm-up grabs, then ``grab()`` paced at ``--fps`` for ``--seconds`` (a grab slower than
the period is followed at once: ``grabs_per_s`` then falls below ``--fps``). Per backend it prints a
``BEGIN <name>`` line when the timed loop starts, an ``END <name>`` line when it ends (so a
driver can read other processes' CPU over exactly that stretch: bench/capture_cost.py reads the
X server's and, under Wine, wineserver's) and then one JSON line:

- ``grab_ms``: p50 / p90 / max wall time of one ``grab()`` (the copy into a fresh BGR array
  included: what the recorder's capture thread pays);
- ``cpu_pct``: this process's CPU time over the loop (every thread: DXCam's and WGC's own
  capture threads too) in % of one core, and ``cpu_ms_per_grab``;
- ``new_frames``: the share of grabs whose pixels differ from the grab before (the textured
  scene changes every frame at 60 fps: below 1.0 at 30 fps means the backend repeated frames);
- ``stamp_source`` and ``stamped``: whether the backend gave OS frame times.

A backend that cannot open here gives ``{"backend": ..., "refused": "<its one line>"}``.
``--start-game`` starts the bundled demo game's textured scene itself (``--size``) and stops
it at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import zlib
from typing import Any

import numpy as np

from nitrogen_capture.demo.game import CAPTION
from nitrogen_capture.errors import NitrogenCaptureError

WARMUP_GRABS = 5


def _target(title: str, wait_s: float) -> Any:
    """The capture target of the window titled ``title`` (a window by handle where it can)."""
    from nitrogen_capture.config import TargetSpec
    from nitrogen_capture.targets import resolve_target

    return resolve_target(TargetSpec(window_title=title), wait_s=wait_s).capture_target()


def _percentiles(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {"p50": round(float(np.percentile(arr, 50)), 3),
            "p90": round(float(np.percentile(arr, 90)), 3),
            "max": round(float(arr.max()), 3)}


def measure(name: str, title: str, *, seconds: float, fps: float,
            wait_s: float = 30.0) -> dict[str, Any]:
    """Grab the window ``title`` with backend ``name`` for ``seconds`` at ``fps``; figures."""
    from nitrogen_capture.capture import get_capture_backend

    try:
        # fps: the recording's rate, which WGC turns into its minimum update interval.
        source = get_capture_backend(name, target=_target(title, wait_s), fps=fps)
        source.open()
    except NitrogenCaptureError as exc:
        return {"backend": name, "refused": getattr(exc, "short", None) or str(exc)}
    try:
        for _ in range(WARMUP_GRABS):
            source.grab()
        period = 1.0 / fps
        grab_ms: list[float] = []
        new, last, stamped = 0, None, 0
        print(f"BEGIN {name}", flush=True)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        deadline = wall0 + seconds
        tick = wall0
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            frame = source.grab()
            grab_ms.append((time.perf_counter() - t) * 1e3)
            # A checksum of every 8th pixel row: cheap, and any change of the scene moves it.
            crc = zlib.crc32(np.ascontiguousarray(frame[::8]).data)
            new += crc != last
            last = crc
            stamp = source.last_stamp() if hasattr(source, "last_stamp") else None
            stamped += bool(stamp is not None and stamp.os_ns is not None)
            # The next grab one period after this one was due; a grab slower than the period
            # is followed at once (no catching up: grabs/s then says the backend is too slow).
            tick = max(tick + period, time.perf_counter())
            time.sleep(max(0.0, tick - time.perf_counter()))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        print(f"END {name}", flush=True)
        n = len(grab_ms)
        return {"backend": name, "class": type(source).__name__, "grabs": n,
                "grabs_per_s": round(n / wall, 2),
                "size": list(frame.shape[1::-1]), "seconds": round(wall, 3),
                "grab_ms": _percentiles(grab_ms), "cpu_pct": round(100 * cpu / wall, 1),
                "cpu_ms_per_grab": round(1e3 * cpu / n, 3),
                "new_frames": round(new / n, 3),
                "stamp_source": getattr(source, "stamp_source", None), "stamped": stamped,
                "details": dict(getattr(source, "details", {}) or {})}
    except NitrogenCaptureError as exc:
        return {"backend": name, "refused": getattr(exc, "short", None) or str(exc)}
    finally:
        source.close()


def main(argv: list[str] | None = None) -> int:
    """Measure each backend named; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("backends", nargs="+")
    p.add_argument("--window-title", default=CAPTION)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--fps", type=float, default=60.0, help="grabs per second (default 60)")
    p.add_argument("--start-game", action="store_true", help="start the textured demo game")
    p.add_argument("--size", default="1280x720", help="the game's size with --start-game")
    args = p.parse_args(argv)
    if sys.platform == "win32":
        from nitrogen_capture import winecompat

        winecompat.prepare()  # under Wine: keep platform off WMI (docs/windows.md)
    game = None
    if args.start_game:
        game = subprocess.Popen([sys.executable, "-m", "nitrogen_capture.demo.game",
                                 "--scene", "textured", "--size", args.size, "--fps", "60",
                                 "--seconds", "900"])
    failed = False
    try:
        for name in args.backends:
            if game is not None and game.poll() is not None:
                raise SystemExit(f"the demo game exited with {game.returncode} "
                                 f"(--size {args.size})")
            result = measure(name, args.window_title, seconds=args.seconds, fps=args.fps,
                             wait_s=60.0 if game else 30.0)
            failed |= "refused" in result and name not in ("dxgi", "dxcam")
            print(json.dumps(result, default=str), flush=True)
    finally:
        if game is not None:
            game.kill()
            game.wait(timeout=30)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
