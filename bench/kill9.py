"""kill -9 of a synthetic ``record`` at random moments: what survives, and how much is lost.

    python bench/kill9.py [--trials 30] [--seed 0] [--size 320x240] [--fps 30]

Each trial starts ``python -m nitrogen_capture record --source synthetic`` in a new session
(process group), waits until the clock started (``meta.json``) plus a seeded random delay, lists
the recorder's descendants and the shared-memory segments they map, then ``kill -9``s the
recorder alone. It then checks that within ``settle_s`` no process of the group or of that list
is alive and no listed segment is left in ``/dev/shm``, runs ``merge`` and ``validate``, and
measures the loss: kill time minus the capture time of the last recovered frame (the merged
``timestamps.npy``, on the recorder's monotonic clock, which is the system's).

Prints one JSON object: per frame format, the worst and median loss in seconds and the trials.
:func:`kill9_trial` is what ``tests/test_process_faults.py`` runs, a few trials at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import psutil

SHM_DIR = Path("/dev/shm")
SHM_PREFIXES = ("psm_", "wnsm_")  # multiprocessing.shared_memory's names on POSIX


@dataclass
class Kill9Trial:
    """What one kill -9 left behind and what merge recovered."""

    frame_format: str
    delay_s: float
    processes_before: int = 0  # the recorder's descendants just before the kill
    segments_mapped: int = 0  # shared-memory segments mapped by them
    segments_linked: int = 0  # of those, still in /dev/shm just before the kill
    survivors: list[str] = field(default_factory=list)  # after settle_s
    leftover_segments: list[str] = field(default_factory=list)
    gone_after_s: float = 0.0  # kill -> no process of the session alive
    merge_rc: int | None = None
    valid: bool = False
    problems: str = ""
    frames: int = 0
    loss_s: float | None = None

    @property
    def clean(self) -> bool:
        """Nothing survived, nothing leaked, the session merged and validated."""
        return (not self.survivors and not self.leftover_segments and self.merge_rc == 0
                and self.valid)


def record_cmd(out: Path, frame_format: str, size: tuple[int, int], fps: float) -> list[str]:
    """The synthetic ``record`` command line the trials run (no limit: it is killed)."""
    w, h = size
    return [sys.executable, "-m", "nitrogen_capture", "record", "--source", "synthetic",
            "--region", "0", "0", str(w), str(h), "--fps", f"{fps:g}", "--chunk-size", "60",
            "--frame-format", frame_format, "--status-interval", "0", "--out", str(out)]


def wait_for_t0(out: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """The recorder's clock origin (``meta.json`` ``clock.t0_ns``) once it is written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"record exited with {proc.returncode} before it started")
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            return int(json.loads((out / "meta.json").read_text())["clock"]["t0_ns"])
        time.sleep(0.02)
    raise RuntimeError(f"record wrote no {out / 'meta.json'} within {timeout:g} s")


def mapped_segments(procs: list[psutil.Process]) -> set[str]:
    """Names of the multiprocessing segments ``procs`` map (unlinked ones included)."""
    names: set[str] = set()
    for p in procs:
        with contextlib.suppress(psutil.Error, OSError):
            for m in p.memory_maps(grouped=True):
                base = Path(m.path.removesuffix(" (deleted)")).name
                if m.path.startswith(str(SHM_DIR)) and base.startswith(SHM_PREFIXES):
                    names.add(base)
    return names


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def session_processes(pgid: int, known: list[psutil.Process]) -> list[psutil.Process]:
    """Live (not zombie) processes of process group ``pgid`` or of ``known``."""
    found = {p.pid: p for p in known if _alive(p)}
    for p in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if p.pid not in found and os.getpgid(p.pid) == pgid and _alive(p):
                found[p.pid] = p
    return list(found.values())


def _describe(p: psutil.Process) -> str:
    try:
        return f"{p.pid} {' '.join(p.cmdline())[:120]}"
    except psutil.Error:
        return str(p.pid)


def kill9_trial(root: Path, frame_format: str, delay_s: float, *,
                size: tuple[int, int] = (320, 240), fps: float = 30.0,
                settle_s: float = 5.0) -> Kill9Trial:
    """One trial (see the module docstring) in the new directory ``root``."""
    from nitrogen_capture.cli import main
    from nitrogen_capture.session import validate_session

    root.mkdir(parents=True)
    out = root / "s"
    trial = Kill9Trial(frame_format, delay_s)
    with (root / "record.log").open("wb") as log:
        proc = subprocess.Popen(record_cmd(out, frame_format, size, fps), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        t0_ns = wait_for_t0(out, proc)
        time.sleep(max(0.0, t0_ns / 1e9 + delay_s - time.monotonic()))
        parent = psutil.Process(proc.pid)
        known = [parent, *parent.children(recursive=True)]
        mapped = mapped_segments(known)
        trial.processes_before = len(known) - 1
        trial.segments_mapped = len(mapped)
        trial.segments_linked = sum((SHM_DIR / n).exists() for n in mapped)
        kill_ns = time.monotonic_ns()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        raise
    deadline = time.monotonic() + settle_s
    while (left := session_processes(proc.pid, known)) and time.monotonic() < deadline:
        time.sleep(0.05)
    trial.gone_after_s = round((time.monotonic_ns() - kill_ns) / 1e9, 3)
    trial.survivors = [_describe(p) for p in left]
    for p in left:  # never leave them for the next trial
        with contextlib.suppress(psutil.Error):
            p.kill()
    trial.leftover_segments = sorted(n for n in mapped if (SHM_DIR / n).exists())

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        trial.merge_rc = main(["merge", "--root", str(out), "--no-progress"])
    report = validate_session(out)
    trial.valid, trial.problems = report.ok, "" if report.ok else report.format()
    if trial.merge_rc == 0 and (out / "timestamps.npy").is_file():
        ts = np.load(out / "timestamps.npy")
        trial.frames = len(ts)
        if len(ts):
            trial.loss_s = round((kill_ns - t0_ns - int(ts[-1])) / 1e9, 4)
    return trial


def delays(seed: int, trials: int, low: float = 1.5, high: float = 4.0) -> list[float]:
    """Seeded kill moments, seconds after the recorder's t0."""
    rng = random.Random(seed)
    return [round(rng.uniform(low, high), 3) for _ in range(trials)]


def summary(trials: list[Kill9Trial]) -> dict[str, object]:
    """Worst and median loss, and whether every trial was clean."""
    losses = [t.loss_s for t in trials if t.loss_s is not None]
    return {"trials": len(trials), "clean": sum(t.clean for t in trials),
            "loss_worst_s": max(losses) if losses else None,
            "loss_median_s": statistics.median(losses) if losses else None,
            "gone_after_worst_s": max((t.gone_after_s for t in trials), default=None)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=30, help="trials per frame format (30)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", default="320x240", help="WxH (320x240)")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--formats", default="png,video")
    ap.add_argument("--verbose", action="store_true", help="include every trial")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    result: dict[str, object] = {"size": args.size, "fps": args.fps, "seed": args.seed}
    with tempfile.TemporaryDirectory(prefix="kill9-") as tmp:
        for fmt in args.formats.split(","):
            trials = [kill9_trial(Path(tmp) / f"{fmt}{i}", fmt, d, size=(w, h), fps=args.fps)
                      for i, d in enumerate(delays(args.seed, args.trials))]
            entry = summary(trials)
            if args.verbose or entry["clean"] != len(trials):
                entry["runs"] = [asdict(t) for t in trials]
            result[fmt] = entry
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
