"""What a soak must show (``bench/soak.py``), and its tables.

Only the samples taken while the recorder was recording and after the warm-up are held to the
bounds; the reference is the first of them. The warm-up covers what grows once and then stays:
the encoder processes starting and importing, every shared-memory frame slot touched by the
workers (the pool cycles through its ``--queue-frames`` slots in the first seconds), libx264's
lookahead, the first chunks written and closed, Python's and the allocator's arenas reaching
their working size.

**Memory is flat** when, after the reference, the RSS of the recorder's main process never
exceeds the reference by more than ``MAIN_BASE_MB + MEM_RATE_MB_PER_H * hours``, and the RSS of
its whole tree (with the encoder processes) by more than ``TREE_BASE_MB + MEM_RATE_MB_PER_H *
hours``:

* the rate is what the recorder keeps on purpose for the whole session: every frame's encode
  time, for the p99 in meta.json (a Python float in a list, 32 bytes a frame: 3.5 MB an hour
  at 30 fps, 7 at 60), and meta.json's list of chunks (under 1 KB a chunk). Anything else kept
  per frame is a leak: at 30 fps, 8 MB an hour is 74 bytes a frame;
* the main process holds the recorder's Python state, where a per-frame leak would be; its
  base is 4x its movement in steady recording (1.1 MB over 9 minutes of 720p30 video);
* the tree adds libx264's (or fpng's) native memory in the encoder processes, which settles
  over the first minutes (+10 MB between minutes 1 and 3.5 in one 720p30 video run) and then
  moves by +-4 MB: its base is wider. ``--warmup-minutes`` is 5 by default
  (a third of shorter runs) so that the settling is in the warm-up.

**No growth** of open fds, threads, processes and mapped /dev/shm entries (frame slots, named
semaphores): after the warm-up none exceeds the reference by more than its tolerance (margins
for a sample caught mid-way through a chunk change, when the old and the new chunk files are
both open; the runs so far never moved), no frame slot stays linked in
/dev/shm, and nothing the recorder mapped is left there once it has exited.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from record import markdown

MAIN_BASE_MB = 4.0
TREE_BASE_MB = 16.0
MEM_RATE_MB_PER_H = 8.0
# sample field -> (label, base MB)
MEMORY: dict[str, tuple[str, float]] = {
    "rss_mb": ("memory flat: RSS main process, growth MB", MAIN_BASE_MB),
    "rss_tree_mb": ("memory flat: RSS with the encoders, growth MB", TREE_BASE_MB),
}
# field -> (label, tolerance above the reference)
COUNTS: dict[str, tuple[str, int]] = {
    "fds_tree": ("open fds (tree)", 4),
    "threads_tree": ("threads (tree)", 2),
    "children": ("child processes", 0),
    "shm_mapped": ("/dev/shm entries mapped", 0),
}


def steady(samples: list[dict[str, Any]], warmup_s: float) -> list[dict[str, Any]]:
    """Samples held to the bounds: recording, at or after the warm-up."""
    return [s for s in samples if s["phase"] == "recording" and s["t_s"] >= warmup_s]


def _check(name: str, value: Any, bound: str, ok: bool) -> dict[str, Any]:
    return {"check": name, "value": value, "bound": bound, "pass": bool(ok)}


def memory(after: list[dict[str, Any]]) -> dict[str, Any]:
    """Per RSS field: growth over the reference, its bound, and the slope of a linear fit."""
    ref = after[0]
    hours = (after[-1]["t_s"] - ref["t_s"]) / 3600
    t_h = np.array([s["t_s"] for s in after]) / 3600
    out: dict[str, Any] = {"reference_t_s": ref["t_s"], "hours_after_warmup": round(hours, 3),
                           "rate_mb_per_h": MEM_RATE_MB_PER_H}
    for key, (_, base) in MEMORY.items():
        rss = np.array([s[key] for s in after])
        out[key] = {"reference_mb": ref[key], "growth_mb": round(float(rss.max() - rss[0]), 1),
                    "bound_mb": round(base + MEM_RATE_MB_PER_H * hours, 1), "base_mb": base,
                    # noisy over minutes: read it on long runs only
                    "slope_mb_per_h": round(float(np.polyfit(t_h, rss, 1)[0]), 1)}
    return out


def evaluate(samples: list[dict[str, Any]], final: dict[str, Any],
             warmup_s: float) -> dict[str, Any]:
    """``memory`` (see :func:`memory`) and every ``checks`` of the soak, pass or fail."""
    after = steady(samples, warmup_s)
    checks = []
    mem = None
    if len(after) < 2:
        checks.append(_check("samples after warm-up", len(after), ">= 2", False))
    else:
        mem = memory(after)
        for key, (label, base) in MEMORY.items():
            m = mem[key]
            checks.append(_check(label, m["growth_mb"],
                                 f"<= {m['bound_mb']:g} ({base:g} + {MEM_RATE_MB_PER_H:g}/h)",
                                 m["growth_mb"] <= m["bound_mb"]))
        for key, (label, tol) in COUNTS.items():
            growth = max(s[key] for s in after) - after[0][key]
            checks.append(_check(f"{label}: growth", growth, f"<= {tol}", growth <= tol))
        linked = max(s["shm_linked"] for s in after)
        checks.append(_check("frame slots still linked in /dev/shm", linked, "0", linked == 0))
    checks += [
        _check("entries it mapped left in /dev/shm at the end", len(final["shm_left"]), "0",
               not final["shm_left"]),
        _check("meta.json status", final["status"], "complete", final["status"] == "complete"),
        _check("validate", "ok" if final["validate_ok"] else "errors", "ok",
               final["validate_ok"]),
        _check("frames on disk / in meta.json", f"{final['frames_on_disk']} / "
               f"{final['frames_meta']}", "equal", final["frames_on_disk"]
               == final["frames_meta"] == final["frames_in_chunks"] == final["frames"]),
        _check("dropped ticks + missed periods", final["dropped_ticks"]
               + final["missed_periods"], "0 (quiet machine)",
               final["dropped_ticks"] == 0 and final["missed_periods"] == 0),
    ]
    return {"memory": mem, "checks": checks}


SAMPLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("min", "t_s", "{:.1f}"), ("RSS main MB", "rss_mb", "{:.1f}"),
    ("RSS tree MB", "rss_tree_mb", "{:.1f}"), ("shm resident MB", "shm_mapped_mb", "{:.0f}"),
    ("fds", "fds_tree", "{}"), ("threads", "threads_tree", "{}"), ("procs", "children", "{}"),
    ("shm entries", "shm_mapped", "{}"), ("new in /dev/shm", "shm_new", "{}"),
    ("fps", "fps", "{:.2f}"), ("dropped", "dropped_ticks", "{}"), ("late", "late_frames", "{}"),
    ("missed ~", "missed_est", "{}"), ("CPU %", "cpu_pct", "{:.0f}"), ("load", "load1", "{}"),
)


def samples_table(samples: list[dict[str, Any]]) -> str:
    """One row per sample (``min`` is minutes from t0; a * marks the stopping phase)."""
    rows = [[label for label, _, _ in SAMPLE_COLUMNS]]
    for s in samples:
        row = []
        for _, key, fmt in SAMPLE_COLUMNS:
            v = s.get(key)
            v = v / 60 if key == "t_s" else v
            row.append("" if v is None else fmt.format(v))
        if s["phase"] != "recording":
            row[0] += "*"
        rows.append(row)
    return markdown(rows)


def final_table(f: dict[str, Any]) -> str:
    """The finished session's figures."""
    iv = f["interval_ms"]
    rows = [["frames", "fps achieved", "interval p50 / p99 / max ms", "dropped ticks",
             "missed periods", "late frames", "queue-full drops", "status", "validate",
             "session MB", "exit after s"],
            [str(f["frames"]), f"{f['fps_achieved']:.3f}",
             f"{iv['p50']:.1f} / {iv['p99']:.1f} / {iv['max']:.1f}", str(f["dropped_ticks"]),
             str(f["missed_periods"]), str(f["late_frames"]), str(f["queue_full_drops"]),
             f["status"], "ok" if f["validate_ok"] else "errors", f"{f['session_mb']:.0f}",
             f"{f['exit_after_s']:.0f}"]]
    return markdown(rows)


def table(result: dict[str, Any]) -> str:
    """Samples, the finished session, the checks: Markdown for stderr and the docs."""
    checks = [["check", "value", "bound", "pass"]] + [
        [c["check"], str(c["value"]), c["bound"], "pass" if c["pass"] else "FAIL"]
        for c in result["checks"]]
    return "\n\n".join([samples_table(result["samples"]), final_table(result["final"]),
                        markdown(checks)])
