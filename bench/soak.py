"""Soak: a long recording of the demo game's textured scene, sampled every interval.

    python bench/soak.py [--minutes 60] [--format video|png] [--size 1280x720] [--fps 30]
                         [--sample-seconds 60] [--warmup-minutes 5] [--out FILE.json]
                         [--work DIR]

A private Xvfb, the textured game filling it (``bench/harness.py``, as ``bench/record.py``),
and the real recorder for ``--minutes`` (``record --pid <game> --seconds ... --status-interval
1``, merged at the end as a user's recording is). Every ``--sample-seconds`` from the recorder's
t0 (``bench/soak_probe.py``): RSS, open fds and threads of the recorder's main process and of
its whole tree (the encoder processes), its descendants, the /dev/shm segments it maps, the
/dev/shm entries new since the start (machine-wide), the recorder's CPU and the load average.
The fps of each interval comes from the recorder's own status line (frames and elapsed seconds,
one line a second in its log): the frames on disk lag the capture by the encoder queue and a
video chunk's frames are inside one file until it closes, while the status line counts what
was captured; its elapsed is printed to 0.1 s, so an interval's fps is good to ~0.2% at 60 s.

At the end: ``meta.json``'s status and counters, the frames' timing (``bench/record.py``
``measure_ours``: achieved fps, interval p50/p99/max), ``validate``, the frames on disk
against ``meta.json``, and the checks of ``bench/soak_checks.py``: memory flat within the
bounds stated there, no fd/thread/process/segment growth, after ``--warmup-minutes`` (5, or a
third of a shorter run) and before the recorder stops (its final merge is sampled but not held
to the bounds), nothing left in /dev/shm. A table on stderr, the JSON on stdout and in
``--out``. Exit status 0 when every check passes, 1 when one fails (the table says which) or
the recorder failed, 2 for a bad flag. Every process and the work folder (the session with
it) are removed at the end, also on Ctrl+C or SIGTERM (130).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import RECORDER_STOP_S, record_cmd, run_cleanly, textured_game
from kill9 import wait_for_t0
from record import measure_ours
from soak_checks import evaluate, table
from soak_probe import ShmWatch, Status, last_status, probe_tree

from nitrogen_capture.demo.runner import Started

STATUS_S = 1.0  # the recorder's --status-interval
STOP_GRACE_S = 1.0  # a sample this close to the end may see the recorder stopping
EXIT_LIMIT_S = 900.0  # after its --seconds, the recorder merges and exits within this
# Bytes a frame takes on disk per pixel, textured scene (bench/README.md: ~1071 KiB per 720p
# PNG, ~11 KiB per 720p H.264 frame), with a margin: the disk check before a long run.
BYTES_PER_PIXEL = {"png": 1.4, "video": 0.03}


@dataclass(frozen=True)
class SoakOptions:
    """One soak run (the flags)."""

    minutes: float
    kind: str
    size: tuple[int, int]
    fps: float
    sample_s: float
    warmup_min: float
    game_fps: float

    @property
    def seconds(self) -> float:
        return self.minutes * 60


def _interval(prev: Status | None, cur: Status | None, fps: float) -> dict[str, Any]:
    """What the status line says: fps since the previous sample, drops so far."""
    if cur is None:
        return {}
    out: dict[str, Any] = {"frames": cur.frames, "dropped_ticks": cur.dropped_ticks,
                           "late_frames": cur.late_frames, "queue": cur.queue_depth,
                           # ticks due minus frames taken; +-(fps / 20 + 1) from the 0.1 s
                           # elapsed of the line
                           "missed_est": max(0, int(cur.elapsed_s * fps) + 1 - cur.frames)}
    if prev is not None and cur.elapsed_s > prev.elapsed_s:
        out["fps"] = round((cur.frames - prev.frames) / (cur.elapsed_s - prev.elapsed_s), 2)
    return out


def sample_run(rec: subprocess.Popen[bytes], t0_ns: int, opts: SoakOptions, log: Path,
               shm: ShmWatch) -> tuple[list[dict[str, Any]], set[str]]:
    """Sample at t0 + k * interval until the recorder exits; the samples, every segment seen."""
    samples: list[dict[str, Any]] = []
    seen: set[str] = set()
    prev: Status | None = None
    prev_cpu: tuple[float, float] | None = None
    k = 0
    while True:
        due = t0_ns / 1e9 + k * opts.sample_s
        try:
            rec.wait(timeout=max(0.0, due - time.monotonic()))
            return samples, seen
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if now - t0_ns / 1e9 > opts.seconds + EXIT_LIMIT_S:
            raise RuntimeError(f"the recorder has not exited {EXIT_LIMIT_S:g} s after its "
                               f"{opts.seconds:g} s (see its log)")
        # the next due moment after now: a sampler held up (a loaded machine) skips, no burst
        k = max(k + 1, int((now - t0_ns / 1e9) / opts.sample_s) + 1)
        tree = probe_tree(rec.pid)
        if tree is None:
            continue  # exiting: the next wait returns
        seen.update(tree.pop("shm_names"))
        cpu = tree.pop("cpu_s")
        elapsed = now - t0_ns / 1e9
        status = last_status(log)
        new = shm.new()
        s = {"t_s": round(elapsed, 1),
             "phase": "recording" if elapsed < opts.seconds - STOP_GRACE_S else "stopping",
             **tree, "shm_new": len(new), "shm_new_mb": round(sum(new.values()) / 2**20, 1),
             **_interval(prev, status, opts.fps), "load1": round(os.getloadavg()[0], 2)}
        if prev_cpu is not None:
            s["cpu_pct"] = round(100 * (cpu - prev_cpu[1]) / (now - prev_cpu[0]), 1)
        prev_cpu, prev = (now, cpu), status or prev
        samples.append(s)


def frames_on_disk(session: Path) -> int:
    """Frames stored: PNG files per chunk; packets of each chunk's MKV (demuxed, not decoded)."""
    from nitrogen_capture.session.reader import SessionReader

    reader = SessionReader(session)
    store = reader.frame_store
    if store.kind != "video":
        return sum(store.count_on_disk(c.index) for c in reader.chunks)
    import av

    total = 0
    for c in reader.chunks:
        with av.open(str(store.location(c.index))) as container:
            total += sum(1 for p in container.demux(video=0) if p.size)
    return total


def finish(session: Path, opts: SoakOptions) -> dict[str, Any]:
    """The finished session's figures: meta.json, timing, validate, frames on disk."""
    from nitrogen_capture.session import validate_session
    from nitrogen_capture.session.reader import SessionReader

    meta = SessionReader(session).meta
    m, _ = measure_ours(session, opts.fps)
    report = validate_session(session)
    return {"status": meta.status, "frames_meta": meta.counters.frames,
            "frames_in_chunks": sum(c.num_frames for c in meta.chunks),
            "frames_on_disk": frames_on_disk(session), "chunks": len(meta.chunks),
            "validate_ok": report.ok, "validate": report.format().strip().splitlines()[:10],
            "session_mb": round(m["bytes_per_frame"] * m["frames"] / 2**20, 1), **m}


def run_soak(opts: SoakOptions, work: Path, started: Started) -> dict[str, Any]:
    """Record, sample, check (see the module docstring); raises when the recorder fails."""
    session, log = work / "session", work / "record.log"
    shm = ShmWatch()
    with textured_game(opts.size, opts.game_fps, started, work / "game.log") as game:
        with log.open("wb") as fh:
            rec = started.spawn(
                record_cmd(game.pid, session, fps=opts.fps, seconds=opts.seconds,
                           kind=opts.kind, status_interval=STATUS_S, merge=True),
                signal.SIGINT, RECORDER_STOP_S, env=game.env, stdout=fh,
                stderr=subprocess.STDOUT)
        t0_ns = wait_for_t0(session, rec)
        samples, seen = sample_run(rec, t0_ns, opts, log, shm)
        exit_s = time.monotonic() - t0_ns / 1e9
        started.stop(rec)
    if rec.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"record exited with {rec.returncode}: {' / '.join(tail)}")
    final = finish(session, opts)
    final["exit_after_s"] = round(exit_s, 1)
    final["shm_left"] = sorted(n for n in seen if (Path("/dev/shm") / n).exists())
    final["shm_new_left"] = len(shm.new())  # machine-wide: other programs' too
    # the final merge (dataset.pt imports torch when it is installed): not held to the bounds
    final["stopping_peak_rss_mb"] = max((s["rss_mb"] for s in samples
                                         if s["phase"] == "stopping"), default=None)
    return {"samples": samples, "final": final,
            **evaluate(samples, final, opts.warmup_min * 60)}


def _size(text: str) -> tuple[int, int]:
    from nitrogen_capture.demo.game import parse_size

    w, h = parse_size(text)
    if w > 7680 or h > 4320:
        raise argparse.ArgumentTypeError(f"must be at most 7680x4320, got {text}")
    return w, h


def _check_disk(ap: argparse.ArgumentParser, opts: SoakOptions, work: Path) -> None:
    need = opts.seconds * opts.fps * opts.size[0] * opts.size[1] * BYTES_PER_PIXEL[opts.kind]
    free = shutil.disk_usage(work).free
    if need > free:
        ap.error(f"{opts.minutes:g} minutes of {opts.size[0]}x{opts.size[1]} {opts.kind} at "
                 f"{opts.fps:g} fps need ~{need / 1e9:.0f} GB, {work} has {free / 1e9:.0f} GB "
                 "free: use --work on a larger disk, fewer --minutes or --format video")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="recording length (60)")
    ap.add_argument("--format", dest="kind", choices=("video", "png"), default="video")
    ap.add_argument("--size", type=_size, default=(1280, 720), help="WxH (1280x720)")
    ap.add_argument("--fps", type=float, default=30.0, help="capture rate (30)")
    ap.add_argument("--sample-seconds", type=float, default=60.0, help="sample interval (60)")
    ap.add_argument("--warmup-minutes", type=float, default=None,
                    help="samples before this are not held to the flatness bounds (5, or a "
                         "third of a shorter run)")
    ap.add_argument("--game-fps", type=float, default=60.0, help="the demo game's cap (60)")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()),
                    help="folder for the session while it runs (removed at the end)")
    a = ap.parse_args()
    warmup = min(5.0, a.minutes / 3) if a.warmup_minutes is None else a.warmup_minutes
    opts = SoakOptions(a.minutes, a.kind, a.size, a.fps, a.sample_seconds, warmup, a.game_fps)
    if not 0.5 <= opts.minutes <= 24 * 60:
        ap.error(f"--minutes must be within 0.5..1440, got {opts.minutes:g}")
    if not 1 <= opts.fps <= 240 or not 1 <= opts.game_fps <= 240:
        ap.error("--fps and --game-fps must be within 1..240")
    if not 2 <= opts.sample_s <= opts.seconds / 4:
        ap.error(f"--sample-seconds must be within 2..{opts.seconds / 4:g} (a quarter of the "
                 f"run), got {opts.sample_s:g}")
    if not 0 <= opts.warmup_min <= opts.minutes - 2 * opts.sample_s / 60:
        ap.error(f"--warmup-minutes must leave at least two samples after it, got "
                 f"{opts.warmup_min:g}")
    _check_disk(ap, opts, a.work)
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "options": {**asdict(opts), "size": list(opts.size)},
        "host": {"cpus": os.cpu_count(), "machine": platform.machine(),
                 "python": platform.python_version(),
                 "load_at_start": [round(x, 2) for x in os.getloadavg()]},
    }
    print(f"soak: {opts.minutes:g} min of {opts.size[0]}x{opts.size[1]} {opts.kind} at "
          f"{opts.fps:g} fps, a sample every {opts.sample_s:g} s...", file=sys.stderr, flush=True)

    def run(work: Path, started: Started) -> None:
        result.update(run_soak(opts, work, started))

    try:
        if not run_cleanly("nitrogen-soak-", run, a.work):
            return 130
    except RuntimeError as exc:  # the recorder or the game failed: its log's last lines
        print(f"soak failed: {exc}", file=sys.stderr)
        return 1
    result["host"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["ok"] = all(c["pass"] for c in result["checks"])
    text = json.dumps(result, indent=2)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n", encoding="utf-8")
    print(table(result), file=sys.stderr)
    print(text)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
