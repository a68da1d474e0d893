"""Sustained recording of the demo game's textured scene: the real recorder vs the original loop.

    python bench/record.py [--seconds 30] [--configs 720p60-png,1080p60-video] [--quick]
                           [--out bench/results/latest.json] [--readme bench/README.md]

For each configuration: a private Xvfb at the configuration's size, the demo game
(``python -m nitrogen_capture.demo.game --scene textured``, at ``--game-fps``), then

1. **ours**: the real recorder, ``python -m nitrogen_capture record --pid <game> --fps F
   --seconds S --frame-format png|video --start-immediately --input-backend none ...``;
2. **baseline**: the original design's loop on the same game (``bench/baseline.py``: grab ->
   ``cv2.imwrite`` (or a synchronous libx264 encode) -> log inputs -> ``sleep(1/fps)``), for the
   same seconds.

During each run psutil samples the CPU time of the recorder (with its encoder processes), the game
and Xvfb; the figures are the CPU used between ``t0 + 0.5 s`` and ``t0 + S``, in % of one core
(``recorder_main``: the recorder's own process without its encoder processes), and per stored
frame in ms.
From the frames' timestamps: achieved fps (``(n - 1) / span``, as ``meta.json`` ``fps.achieved``),
dropped ticks, interval mean/std/p99/max; bytes per frame is the output directory's size over the
frames. Dropped ticks: ours from ``meta.json`` ``counters.dropped_ticks`` (periods skipped, queue
full; a tick late by a whole period is captured and counted in ``late_frames`` instead); the
baseline has no tick grid, so its figure is its missed periods. Missed periods, the same formula
for both: the periods of the target grid between the first and the last frame that got no frame
(``round(span * fps) + 1 - n``), which counts late re-anchors too.

Prints a table (config | metric | ours | baseline | ratio | target | pass/miss) on stderr and the
JSON on stdout, and writes the JSON to ``--out``. ``--readme FILE`` replaces the figures between
``<!-- figures:start -->`` and ``<!-- figures:end -->`` in FILE with the table and the date.
Every process and temporary directory is removed at the end, also on Ctrl+C or SIGTERM.

The machine is 2 cores: the recorder, its encoders, the game and Xvfb share them, which is the
point (a real game competes too), and the figures move with anything else running. ``host``
in the JSON keeps the load average before each run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from harness import record_cmd, run_cleanly, textured_game  # this folder is on sys.path
from load import cpu_hog, game_frame_rates, under_load_targets

from nitrogen_capture.demo.runner import Started

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "latest.json"
WARMUP_S = 0.5  # CPU is measured from t0 + this (pool start-up, first chunk file)
SAMPLE_S = 0.2


@dataclass(frozen=True)
class Config:
    width: int
    height: int
    fps: float
    kind: str  # png | video


CONFIGS: dict[str, Config] = {
    "720p60-png": Config(1280, 720, 60, "png"),
    "720p60-video": Config(1280, 720, 60, "video"),
    "1080p30-png": Config(1920, 1080, 30, "png"),
    "1080p60-video": Config(1920, 1080, 60, "video"),
    "1440p30-video": Config(2560, 1440, 30, "video"),
    "1440p60-video": Config(2560, 1440, 60, "video"),
}


@dataclass(frozen=True)
class Target:
    config: str
    metric: str  # a key of the metric table below
    text: str
    check: Callable[[dict[str, Any]], bool] | None  # None: measured only


def _fps_ok(m: dict[str, Any]) -> bool:
    return abs(float(m["fps_error_pct"])) <= 0.5


def _no_drops(m: dict[str, Any]) -> bool:
    # Strict: no tick dropped *and* no period of the grid without a frame. The recorder
    # re-anchors its grid after a late tick rather than count it dropped, so dropped_ticks
    # alone would pass a run that stalled.
    return int(m["dropped_ticks"]) == 0 and int(m["missed_periods"]) == 0


TARGETS: tuple[Target, ...] = (
    Target("720p60-png", "dropped_ticks", "0", _no_drops),
    Target("720p60-png", "fps", "within 0.5%", _fps_ok),
    Target("720p60-png", "interval_std_ms", "< 1 ms", lambda m: m["interval_ms"]["std"] < 1.0),
    Target("720p60-video", "cpu_recorder_pct", "< 40%",
           lambda m: m["cpu_pct"]["recorder"] < 40.0),
    Target("720p60-video", "interval_std_ms", "< 1 ms",
           lambda m: m["interval_ms"]["std"] < 1.0),
    Target("1080p30-png", "dropped_ticks", "0", _no_drops),
    Target("1080p30-png", "fps", "within 0.5%", _fps_ok),
    Target("1080p60-video", "dropped_ticks", "0", _no_drops),
    Target("1080p60-video", "fps", "within 0.5%", _fps_ok),
    Target("1440p30-video", "dropped_ticks", "0", _no_drops),
    Target("1440p30-video", "fps", "within 0.5%", _fps_ok),
    Target("1440p60-video", "fps", "measured", None),
)

# metric key -> (label, getter, format)
METRICS: dict[str, tuple[str, Callable[[dict[str, Any]], float], str]] = {
    "fps": ("fps", lambda m: m["fps_achieved"], "{:.2f}"),
    "dropped_ticks": ("dropped ticks", lambda m: m["dropped_ticks"], "{:.0f}"),
    "missed_periods": ("missed periods", lambda m: m["missed_periods"], "{:.0f}"),
    "interval_std_ms": ("interval std ms", lambda m: m["interval_ms"]["std"], "{:.2f}"),
    "interval_p99_ms": ("interval p99 ms", lambda m: m["interval_ms"]["p99"], "{:.2f}"),
    "interval_max_ms": ("interval max ms", lambda m: m["interval_ms"]["max"], "{:.1f}"),
    "cpu_recorder_pct": ("CPU recorder %", lambda m: m["cpu_pct"]["recorder"], "{:.0f}"),
    "cpu_recorder_ms": ("recorder CPU ms/frame", lambda m: m["cpu_ms_per_frame"]["recorder"],
                        "{:.1f}"),
    "encode_ms": ("encode ms/frame", lambda m: (m["encoder"] or {}).get("ms_per_frame_mean")
                  or 0.0, "{:.1f}"),
    "cpu_game_pct": ("CPU game %", lambda m: m["cpu_pct"]["game"], "{:.0f}"),
    "game_fps": ("game fps", lambda m: m.get("game_fps") or 0.0, "{:.1f}"),
    "cpu_xvfb_pct": ("CPU Xvfb %", lambda m: m["cpu_pct"]["xvfb"], "{:.0f}"),
    # Anything else busy on the machine meanwhile: a run with tens of % here was contended.
    "cpu_others_pct": ("CPU others %", lambda m: m["cpu_pct"].get("others", 0.0), "{:.0f}"),
    "kib_per_frame": ("KiB per frame", lambda m: m["bytes_per_frame"] / 1024, "{:.0f}"),
}


class CpuSampler:
    """CPU seconds (user + system) of process trees, sampled every ``SAMPLE_S`` on a thread.

    A process seen once keeps its last figure after it exits, so an encoder worker that ends
    with the recording still counts.
    """

    def __init__(self, roots: dict[str, int], trees: set[str]) -> None:
        self.roots = roots
        self.trees = trees
        self.procs: dict[int, psutil.Process] = {}
        self.seen: dict[str, dict[int, float]] = {r: {} for r in roots}
        self.samples: list[tuple[int, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def _proc(self, pid: int) -> psutil.Process | None:
        p = self.procs.get(pid)
        if p is None:
            try:
                p = self.procs[pid] = psutil.Process(pid)
            except psutil.Error:
                return None
        return p

    def sample(self) -> None:
        for role, pid in self.roots.items():
            root = self._proc(pid)
            if root is None:
                continue
            members = [root]
            if role in self.trees:
                with contextlib.suppress(psutil.Error):
                    members += root.children(recursive=True)
            for p in members:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    self.seen[role][p.pid] = t.user + t.system
        totals = {r: sum(v.values()) for r, v in self.seen.items()}
        for role in self.trees:  # the root alone, without its children
            totals[f"{role}_main"] = self.seen[role].get(self.roots[role], 0.0)
        # The whole machine's busy time: what is not ours, the game's or Xvfb's is another
        # load that skews the run ("others" in the results; this machine is shared).
        cpu = psutil.cpu_times()
        totals["machine"] = sum(cpu) - cpu.idle - getattr(cpu, "iowait", 0.0)
        self.samples.append((time.monotonic_ns(), totals))

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.sample()

    def __enter__(self) -> CpuSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def percent(self, start_ns: int, end_ns: int) -> dict[str, float]:
        """% of one core per role between the samples nearest inside [start_ns, end_ns]."""
        inside = [s for s in self.samples if start_ns <= s[0] <= end_ns]
        if len(inside) < 2:
            inside = self.samples[:1] + self.samples[-1:]
        (ta, a), (tb, b) = inside[0], inside[-1]
        wall = (tb - ta) / 1e9
        pct = {r: round(100 * (b[r] - a[r]) / wall, 1) if wall > 0 else 0.0 for r in b}
        machine = pct.pop("machine")
        pct["others"] = round(max(0.0, machine - sum(pct[r] for r in self.roots)), 1)
        return pct


# -- measuring ---------------------------------------------------------------------------------


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def timing(stamps: np.ndarray, fps: float) -> dict[str, Any]:
    n = len(stamps)
    iv = np.diff(stamps.astype(np.int64)) / 1e6
    span = (int(stamps[-1]) - int(stamps[0])) / 1e9 if n > 1 else 0.0
    achieved = (n - 1) / span if span > 0 else 0.0
    return {
        "frames": n,
        "span_s": round(span, 3),
        # periods of the target grid between the first and the last frame that got no frame
        "missed_periods": max(round(span * fps) + 1 - n, 0) if n else 0,
        "fps_achieved": round(achieved, 3),
        "fps_error_pct": round((achieved / fps - 1) * 100, 3) if achieved else -100.0,
        "interval_ms": {
            "mean": round(float(iv.mean()), 3) if len(iv) else 0.0,
            "std": round(float(iv.std()), 3) if len(iv) else 0.0,
            "p50": round(float(np.percentile(iv, 50)), 3) if len(iv) else 0.0,
            "p99": round(float(np.percentile(iv, 99)), 3) if len(iv) else 0.0,
            "max": round(float(iv.max()), 3) if len(iv) else 0.0,
        },
    }


def measure_ours(session: Path, fps: float) -> tuple[dict[str, Any], int]:
    from nitrogen_capture.session.reader import SessionReader

    reader = SessionReader(session)
    arrays = reader.concat_arrays()
    t0 = int(reader.meta.clock.t0_ns or 0)
    stamps = arrays["timestamps"].astype(np.int64) + t0  # stored relative to t0
    m = timing(stamps, fps)
    idx = arrays["frame_indices"]
    c = reader.meta.counters
    enc = reader.meta.encoder
    m.update({
        "dropped_ticks": int(c.dropped_ticks),
        "dropped_ticks_from_indices": int((np.diff(idx) - 1).clip(0).sum()) if len(idx) else 0,
        "late_frames": int(c.late_frames),
        "queue_full_drops": int(c.queue_full_drops),
        "bytes_per_frame": round(dir_bytes(session) / max(m["frames"], 1)),
        "encoder": {"name": enc.name, "workers": enc.workers,
                    "ms_per_frame_mean": enc.ms_per_frame_mean,
                    "ms_per_frame_p99": enc.ms_per_frame_p99} if enc else None,
        "fps_achieved_meta": reader.meta.fps_achieved,
    })
    return m, t0


def measure_baseline(out: Path, fps: float) -> tuple[dict[str, Any], int]:
    info = json.loads((out / "baseline.json").read_text(encoding="utf-8"))
    stamps = np.load(out / "timestamps.npy")
    m = timing(stamps, fps)
    m.update({"dropped_ticks": m["missed_periods"],  # no tick grid: the grid's missed periods
              "bytes_per_frame": round(dir_bytes(out) / max(len(stamps), 1)),
              "encoder": {"name": info["encoder"], "ms_per_frame_mean": info["encode_ms_mean"],
                          "ms_per_frame_p99": info["encode_ms_p99"]}})
    return m, int(info["t0_ns"])


# -- one configuration -------------------------------------------------------------------------


def _profiler(pid: int, seconds: float, svg: Path, started: Started) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` and its encoder processes until it exits (at most ``seconds``).

    ``--nonblocking`` reads the stacks without pausing the processes, so the run keeps its
    timing (py-spy's own CPU still shows in the table: read the graph, not that run's
    figures). Python frames only: the C time (libx264, fpng, XShm) shows under the Python
    line that called it. py-spy counts a thread as busy while it waits in C (a lock, a
    ``sleep``), so read the capture thread's and the encoders' towers, not the idle ones.
    """
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise RuntimeError("--profile needs py-spy: pip install py-spy")
    return started.spawn(
        [spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--rate", "100",
         "--duration", str(max(1, int(seconds))), "--format", "flamegraph", "--output", str(svg)],
        signal.SIGINT, 30.0, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _run_measured(cmd: list[str], env: dict[str, str], started: Started, log: Path,
                  roots: dict[str, int], seconds: float, stop_sig: int,
                  profile: Path | None = None) -> CpuSampler:
    with log.open("wb") as fh:
        proc = started.spawn(cmd, stop_sig, 60.0, env=env, stdout=fh, stderr=subprocess.STDOUT)
    # From the start to the recorder's exit (py-spy then writes the graph): start-up shows as
    # its own towers (imports, the pool's slots) beside the recording loop.
    spy = _profiler(proc.pid, seconds + 60, profile, started) if profile is not None else None
    with CpuSampler({"recorder": proc.pid, **roots}, {"recorder"}) as sampler:
        try:
            rc = proc.wait(timeout=seconds + 120)
        except subprocess.TimeoutExpired:
            rc = -1
        finally:
            started.stop(proc)
            if spy is not None:
                spy.wait(timeout=60)
    if rc != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"{Path(cmd[1]).name if cmd[1] != '-m' else cmd[2]} exited with "
                           f"{rc}: {' / '.join(tail)}")
    return sampler


def run_config(name: str, cfg: Config, seconds: float, game_fps: float, work: Path,
               started: Started, profile_dir: Path | None = None,
               hog: int = 0, record_args: tuple[str, ...] = ()) -> dict[str, Any]:
    size = (cfg.width, cfg.height)
    result: dict[str, Any] = {"size": list(size), "fps": cfg.fps, "frame_format": cfg.kind,
                              "hog": hog}
    frames_log = work / f"{name}-game.json"
    windows: dict[str, tuple[int, int]] = {}
    with textured_game(size, game_fps, started, work / f"{name}-game.log", frames_log) as game:
        roots = {"game": game.pid, "xvfb": game.xvfb_pid}

        def measured(side: str, cmd: list[str], out: Path, stop_sig: int,
                     measure: Callable[[Path, float], tuple[dict[str, Any], int]],
                     profile: Path | None = None) -> dict[str, Any]:
            """Run one side, then its figures: timing, CPU after warm-up, per frame."""
            load = os.getloadavg()[0]
            with cpu_hog(hog, started):  # beside each side alike (bench/load.py)
                start = time.monotonic_ns()
                sampler = _run_measured(cmd, game.env, started, work / f"{name}-{side}.log",
                                        roots, seconds, stop_sig, profile)
                windows[side] = (start, time.monotonic_ns())
            m, t0 = measure(out, cfg.fps)
            m["cpu_pct"] = sampler.percent(t0 + int(WARMUP_S * 1e9), t0 + int(seconds * 1e9))
            _per_frame(m)
            m["load_before"] = round(load, 2)
            shutil.rmtree(out, ignore_errors=True)
            return m

        session = work / f"{name}-ours"
        ours = result["ours"] = measured(
            "ours", record_cmd(game.pid, session, fps=cfg.fps, seconds=seconds, kind=cfg.kind,
                               extra=record_args),
            session, signal.SIGINT, measure_ours,
            profile_dir / f"{name}.svg" if profile_dir else None)
        out = work / f"{name}-baseline"
        base = result["baseline"] = measured(
            "baseline",
            [sys.executable, str(HERE / "baseline.py"), "--pid", str(game.pid),
             "--fps", f"{cfg.fps:g}", "--seconds", f"{seconds:g}",
             "--frame-format", cfg.kind, "--out", str(out)],
            out, signal.SIGTERM, measure_baseline)
    # The game wrote its frames' times when it stopped: its own fps during each side.
    for side, fps in game_frame_rates(frames_log, windows).items():
        result[side]["game_fps"] = fps
    result["ratio"] = {k: _ratio(get(ours), get(base)) for k, (_, get, _) in METRICS.items()}
    return result


def _per_frame(m: dict[str, Any]) -> None:
    """CPU ms per stored frame: recorder (main process + encoders), and the main process alone."""
    fps = float(m["fps_achieved"]) or 1.0
    cpu = m["cpu_pct"]
    m["cpu_ms_per_frame"] = {"recorder": round(cpu["recorder"] * 10 / fps, 2),
                             "recorder_main": round(cpu["recorder_main"] * 10 / fps, 2)}


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


# -- report ------------------------------------------------------------------------------------


def evaluate(configs: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for t in TARGETS:
        if t.config not in configs:
            continue
        ours = configs[t.config]["ours"]
        value = METRICS[t.metric][1](ours)
        out.append({"config": t.config, "metric": t.metric, "target": t.text,
                    "value": value, "pass": t.check(ours) if t.check else None})
    return out


SHORT = ("fps", "dropped_ticks", "interval_std_ms", "cpu_recorder_pct", "kib_per_frame")


def markdown(rows: list[list[str]]) -> str:
    """A Markdown table: the first row is the header."""
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "| " + " | ".join("---" for _ in rows[0]) + " |")
    return "\n".join(lines)


def wide_table(result: dict[str, Any]) -> str:
    """Markdown: every metric, one row per configuration and side."""
    rows = [["config", "side", *(label for label, _, _ in METRICS.values())]]
    for name, r in result["configs"].items():
        for side in ("ours", "baseline"):
            rows.append([name, side, *(fmt.format(get(r[side]))
                                       for _, get, fmt in METRICS.values())])
    return markdown(rows)


def table(result: dict[str, Any]) -> str:
    """Markdown: the targets' metrics and a few more, ours vs the baseline."""
    targets = {(t["config"], t["metric"]): t for t in result["targets"]}
    rows = [["config", "metric", "ours", "baseline", "ratio", "target", "pass/miss"]]
    for name, r in result["configs"].items():
        shown = (*SHORT, *(k for c, k in targets if c == name and k not in SHORT))
        for k in shown:
            label, get, fmt = METRICS[k]
            t = targets.get((name, k))
            ratio = r["ratio"][k]
            verdict = "" if t is None else {True: "pass", False: "MISS", None: "measured"}[
                t["pass"]]
            rows.append([name, label, fmt.format(get(r["ours"])), fmt.format(get(r["baseline"])),
                         "-" if ratio is None else f"{ratio:.2f}",
                         "" if t is None else t["target"], verdict])
    return markdown(rows)


def update_readme(path: Path, result: dict[str, Any], marker: str = "figures") -> None:
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no {start} ... {end} markers")
    h = result["host"]
    block = (f"{start}\n{result['date']}, {h['cpus']} cores, {result['seconds']:g} s per run, "
             f"game at {result['game_fps']:g} fps, "
             + (f"{result['hog']} busy process(es) beside each run, " if result.get("hog")
                else "")
             + f"load average {h['load_at_start']} before the run (`bench/results/"
             f"{Path(result.get('out', 'latest.json')).name}` has every figure).\n\n"
             f"{table(result)}\n\nEvery metric:\n\n{wide_table(result)}\n{end}")
    head, rest = text.split(start, 1)
    path.write_text(head + block + rest.split(end, 1)[1], encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="recording length per run (30)")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help=f"comma-separated subset of {', '.join(CONFIGS)} (default: all)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 3 s per run, 720p60-png and 720p60-video")
    ap.add_argument("--game-fps", type=float, default=60.0, help="the demo game's cap (60)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file (%(default)s)")
    ap.add_argument("--readme", type=Path, default=None,
                    help="replace the figures between the markers in this Markdown file")
    ap.add_argument("--hog", type=int, default=0, metavar="N",
                    help="run N busy processes beside each run (bench/load.py): the figures "
                         "under load, judged against the original design's (default 0)")
    ap.add_argument("--record-arg", action="append", default=[], metavar="ARG",
                    help="pass ARG to our recorder (repeat it: --record-arg=--encoder-priority "
                         "--record-arg=low)")
    ap.add_argument("--marker", default="figures",
                    help="with --readme: the <!-- MARKER:start/end --> pair to fill (figures)")
    ap.add_argument("--profile", type=Path, default=None, metavar="DIR",
                    help="also profile our recorder with py-spy: DIR/<config>.svg flame graphs "
                         "(the profiler's own CPU skews that run's figures)")
    a = ap.parse_args()
    names = [n.strip() for n in a.configs.split(",") if n.strip()]
    if a.quick:
        a.seconds = min(a.seconds, 3.0)
        if a.configs == ap.get_default("configs"):
            names = ["720p60-png", "720p60-video"]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown or not names:
        ap.error(f"--configs: unknown {', '.join(unknown) or '(empty)'}; "
                 f"choose from {', '.join(CONFIGS)}")
    if a.seconds < 1.5:
        ap.error("--seconds must be at least 1.5")
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": a.seconds, "game_fps": a.game_fps, "hog": a.hog, "out": str(a.out),
        "record_args": a.record_arg,
        "host": {"cpus": os.cpu_count(), "machine": platform.machine(),
                 "python": platform.python_version(),
                 "load_at_start": [round(x, 2) for x in os.getloadavg()]},
        "configs": {},
    }
    if a.profile is not None:
        a.profile.mkdir(parents=True, exist_ok=True)
    def run_all(work: Path, started: Started) -> None:
        for name in names:
            print(f"{name}: recording {a.seconds:g} s (ours, then baseline)...",
                  file=sys.stderr, flush=True)
            result["configs"][name] = run_config(name, CONFIGS[name], a.seconds, a.game_fps,
                                                 work, started, a.profile, a.hog,
                                                 tuple(a.record_arg))

    if not run_cleanly("nitrogen-bench-", run_all):
        return 130
    # Under a hog the quiet machine's targets do not apply: the goal is the original design's
    # rate and jitter, with the game no slower (bench/load.py).
    result["targets"] = (under_load_targets(result["configs"]) if a.hog
                         else evaluate(result["configs"]))
    text = json.dumps(result, indent=2)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text + "\n", encoding="utf-8")
    print(table(result), file=sys.stderr)
    print(text)
    if a.readme is not None:
        update_readme(a.readme, result, a.marker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
