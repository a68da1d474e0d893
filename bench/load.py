"""Recording beside a busy machine: a CPU hog, and the game's own frame rate (bench/record.py).

Players do not record on quiet machines: the game takes what it can. ``bench/record.py --hog N``
runs ``N`` busy processes at normal priority beside each run (ours and the original design's,
one after the other, each with its own hog), and reads the game's frame rate over each run
from the demo game's own log, so the trade between the game's fps and the recording's is a
table, not a guess.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nitrogen_capture.demo.runner import Started

__all__ = ["HOG_STOP_S", "cpu_hog", "game_frame_rates", "under_load_targets"]

HOG_STOP_S = 5.0
# One core's worth of busy work: the loop never sleeps, as a game that renders flat out.
_SPIN = "import itertools\nfor _ in itertools.count():\n    pass\n"


@contextlib.contextmanager
def cpu_hog(n: int, started: Started) -> Iterator[list[int]]:
    """``n`` busy processes for the length of the block (none for ``n`` 0); yields their PIDs."""
    import signal

    procs = [started.spawn([sys.executable, "-c", _SPIN], signal.SIGTERM, HOG_STOP_S,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(n)]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            started.stop(p)


def game_frame_rates(log: Path, windows: dict[str, tuple[int, int]]) -> dict[str, float | None]:
    """Frames the demo game drew per second within each ``(start_ns, end_ns)`` window.

    ``log`` is the game's ``--log`` file (written when it stops): ``records.t_ns`` holds the
    monotonic time of each frame it drew. None where the log is missing or holds no frame.
    """
    try:
        times = json.loads(log.read_text(encoding="utf-8"))["records"]["t_ns"]
    except (OSError, ValueError, KeyError, TypeError):
        return dict.fromkeys(windows)
    out: dict[str, float | None] = {}
    for side, (start, end) in windows.items():
        inside = [t for t in times if start <= t <= end]
        span = (inside[-1] - inside[0]) / 1e9 if len(inside) > 1 else 0.0
        out[side] = round((len(inside) - 1) / span, 2) if span > 0 else None
    return out


def under_load_targets(configs: dict[str, Any]) -> list[dict[str, Any]]:
    """The goal under a hog: ours keeps at least the original design's rate, at most its
    interval jitter, and the game's fps is no lower (within 5%, the run-to-run noise here)."""
    rows = []
    for name, r in configs.items():
        ours, base = r["ours"], r["baseline"]
        g_ours, g_base = ours.get("game_fps"), base.get("game_fps")
        checks = [
            ("fps", f"{ours['fps_achieved']:.2f}", f">= baseline {base['fps_achieved']:.2f}",
             ours["fps_achieved"] >= base["fps_achieved"]),
            ("interval_std_ms", f"{ours['interval_ms']['std']:.2f}",
             f"<= baseline {base['interval_ms']['std']:.2f}",
             ours["interval_ms"]["std"] <= base["interval_ms"]["std"]),
            ("game_fps", f"{g_ours}", f">= 0.95 x baseline's {g_base}",
             g_ours is not None and g_base is not None and g_ours >= 0.95 * g_base),
        ]
        rows += [{"config": name, "metric": m, "ours": v, "target": t, "pass": bool(ok)}
                 for m, v, t, ok in checks]
    return rows
