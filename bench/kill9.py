"""kill -9 of a synthetic ``record`` at random moments: what is left behind, what is lost.

    python bench/kill9.py [--trials 30] [--seed 0] [--size 320x240] [--fps 30] [--kill both]

Each trial starts ``python -m nitrogen_capture record --source synthetic`` in a new session
(process group), waits until the clock started (``meta.json``) plus a seeded random delay, lists
the recorder's descendants and the ``/dev/shm`` entries they map (multiprocessing's segments
``psm_*``/``wnsm_*`` and semaphores ``sem.mp-*``), then sends SIGKILL to the recorder alone
(``--kill main``: what ``kill -9 PID`` does) or its whole process group (``--kill group``: the
resource tracker dies too, so nothing is left to unlink what was named; ``both`` alternates).

After the kill it reports what was left: processes of the session still running after
``settle_s`` (``survivors``), the listed ``/dev/shm`` entries still there
(``leftover_semaphores``, ``leftover_segments``), resource-tracker warnings in the recorder's
output, and the zombies. A killed process's children are dead within moments but stay zombies
until the process that adopted them (PID 1, or the nearest subreaper) reaps them, which the
recorder, being dead, cannot do: ``zombies_at_0_1s`` counts them 0.1 s after the kill,
``dead_after_s`` is when no process of the session ran any more and ``reaped_after_s`` when none
was left at all. Then it runs ``merge`` and ``validate`` and measures the loss: kill time minus
the capture time of the last recovered frame (the merged ``timestamps.npy``, on the recorder's
monotonic clock, which is the system's).

Prints one JSON object: per frame format, the worst and median loss in seconds, the leftovers
summed over the trials, and the trials that were not clean. :func:`kill9_trial` is what
``tests/recorder/test_process_faults.py`` runs, a few trials at a time.
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
SEGMENT_PREFIXES = ("psm_", "wnsm_")  # multiprocessing.shared_memory's names on POSIX
SEMAPHORE_PREFIX = "sem.mp-"  # multiprocessing's locks, queues, barriers (spawn, POSIX)
KILLS = ("main", "group")


@dataclass
class Kill9Trial:
    """What one kill -9 left behind and what merge recovered."""

    frame_format: str
    delay_s: float
    kill: str = "main"  # "main": the recorder alone; "group": its process group
    processes_before: int = 0  # the recorder's descendants just before the kill
    segments_mapped: int = 0  # shared-memory segments mapped by them
    segments_linked: int = 0  # of those, still in /dev/shm just before the kill
    semaphores_mapped: int = 0  # named semaphores mapped by them
    survivors: list[str] = field(default_factory=list)  # running after settle_s
    leftover_segments: list[str] = field(default_factory=list)
    leftover_semaphores: list[str] = field(default_factory=list)
    tracker_warnings: int = 0  # resource_tracker lines in the recorder's output
    zombies_at_0_1s: int = 0  # processes of the session dead but not reaped, 0.1 s after
    dead_after_s: float = 0.0  # kill -> no process of the session running
    reaped_after_s: float | None = 0.0  # kill -> none left at all (None: not within settle_s)
    merge_rc: int | None = None
    valid: bool = False
    problems: str = ""
    frames: int = 0
    loss_s: float | None = None

    @property
    def leftovers(self) -> bool:
        """Something of the recording outlived it (zombies awaiting their adopter aside)."""
        return bool(self.survivors or self.leftover_segments or self.leftover_semaphores
                    or self.tracker_warnings)

    @property
    def clean(self) -> bool:
        """Nothing survived, nothing leaked, the session merged and validated."""
        return not self.leftovers and self.merge_rc == 0 and self.valid


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


def mapped_shm(procs: list[psutil.Process]) -> set[str]:
    """Names of the ``/dev/shm`` entries ``procs`` map (multiprocessing's; unlinked ones too)."""
    names: set[str] = set()
    for p in procs:
        with contextlib.suppress(psutil.Error, OSError):
            for m in p.memory_maps(grouped=True):
                base = Path(m.path.removesuffix(" (deleted)")).name
                if (m.path.startswith(str(SHM_DIR))
                        and base.startswith((*SEGMENT_PREFIXES, SEMAPHORE_PREFIX))):
                    names.add(base)
    return names


def mapped_segments(procs: list[psutil.Process]) -> set[str]:
    """The shared-memory segments among :func:`mapped_shm` (no semaphores)."""
    return {n for n in mapped_shm(procs) if n.startswith(SEGMENT_PREFIXES)}


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _exists(p: psutil.Process) -> bool:
    """Running or a zombie (not yet reaped)."""
    try:
        return p.is_running()
    except psutil.Error:
        return False


def session_processes(pgid: int, known: list[psutil.Process], *,
                      zombies: bool = False) -> list[psutil.Process]:
    """Live processes of process group ``pgid`` or of ``known`` (``zombies``: those too)."""
    keep = _exists if zombies else _alive
    found = {p.pid: p for p in known if keep(p)}
    for p in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if p.pid not in found and os.getpgid(p.pid) == pgid and keep(p):
                found[p.pid] = p
    return list(found.values())


def zombies(procs: list[psutil.Process]) -> list[psutil.Process]:
    """The processes of ``procs`` that are dead but not reaped."""
    out = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if p.is_running() and p.status() == psutil.STATUS_ZOMBIE:
                out.append(p)
    return out


def _describe(p: psutil.Process) -> str:
    try:
        return f"{p.pid} {' '.join(p.cmdline())[:120]}"
    except psutil.Error:
        return str(p.pid)


def kill9_trial(root: Path, frame_format: str, delay_s: float, *,
                size: tuple[int, int] = (320, 240), fps: float = 30.0,
                settle_s: float = 5.0, kill: str = "main") -> Kill9Trial:
    """One trial (see the module docstring) in the new directory ``root``."""
    from nitrogen_capture.cli import main
    from nitrogen_capture.session import validate_session

    root.mkdir(parents=True)
    out = root / "s"
    trial = Kill9Trial(frame_format, delay_s, kill)
    with (root / "record.log").open("wb") as log:
        proc = subprocess.Popen(record_cmd(out, frame_format, size, fps), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        t0_ns = wait_for_t0(out, proc)
        time.sleep(max(0.0, t0_ns / 1e9 + delay_s - time.monotonic()))
        parent = psutil.Process(proc.pid)
        known = [parent, *parent.children(recursive=True)]
        mapped = mapped_shm(known)
        semaphores = {n for n in mapped if n.startswith(SEMAPHORE_PREFIX)}
        segments = mapped - semaphores
        trial.processes_before = len(known) - 1
        trial.segments_mapped = len(segments)
        trial.segments_linked = sum((SHM_DIR / n).exists() for n in segments)
        trial.semaphores_mapped = len(semaphores)
        kill_ns = time.monotonic_ns()
        if kill == "group":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        raise
    children = known[1:]
    time.sleep(max(0.0, kill_ns / 1e9 + 0.1 - time.monotonic()))
    trial.zombies_at_0_1s = len(zombies(children))
    deadline = kill_ns / 1e9 + settle_s
    dead_ns = reaped_ns = None
    while time.monotonic() < deadline:
        now = time.monotonic_ns()
        if dead_ns is None and not session_processes(proc.pid, known):
            dead_ns = now
        if dead_ns is not None and not session_processes(proc.pid, known, zombies=True):
            reaped_ns = now
            break
        time.sleep(0.05)
    left = session_processes(proc.pid, known)
    trial.dead_after_s = round(((dead_ns or time.monotonic_ns()) - kill_ns) / 1e9, 3)
    trial.reaped_after_s = None if reaped_ns is None else round((reaped_ns - kill_ns) / 1e9, 3)
    trial.survivors = [_describe(p) for p in left]
    for p in left:  # never leave them for the next trial
        with contextlib.suppress(psutil.Error):
            p.kill()
    trial.leftover_segments = sorted(n for n in segments if (SHM_DIR / n).exists())
    trial.leftover_semaphores = sorted(n for n in semaphores if (SHM_DIR / n).exists())
    trial.tracker_warnings = sum("resource_tracker" in line for line in
                                 (root / "record.log").read_text(errors="replace").splitlines())

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


def remove_leftovers(trial: Kill9Trial) -> None:
    """Unlink what a trial left in /dev/shm (so one bad run does not fill it)."""
    for name in (*trial.leftover_segments, *trial.leftover_semaphores):
        with contextlib.suppress(OSError):
            (SHM_DIR / name).unlink()


def delays(seed: int, trials: int, low: float = 1.5, high: float = 4.0) -> list[float]:
    """Seeded kill moments, seconds after the recorder's t0."""
    rng = random.Random(seed)
    return [round(rng.uniform(low, high), 3) for _ in range(trials)]


def summary(trials: list[Kill9Trial]) -> dict[str, object]:
    """Worst and median loss, the leftovers summed, and how many trials were clean."""
    losses = [t.loss_s for t in trials if t.loss_s is not None]
    reaped = [t.reaped_after_s for t in trials if t.reaped_after_s is not None]
    return {"trials": len(trials), "clean": sum(t.clean for t in trials),
            "kills": {k: sum(t.kill == k for t in trials) for k in KILLS},
            "loss_worst_s": max(losses) if losses else None,
            "loss_median_s": statistics.median(losses) if losses else None,
            "leftover_semaphores": sum(len(t.leftover_semaphores) for t in trials),
            "leftover_segments": sum(len(t.leftover_segments) for t in trials),
            "survivors": sum(len(t.survivors) for t in trials),
            "tracker_warnings": sum(t.tracker_warnings for t in trials),
            "zombies_at_0_1s": sum(t.zombies_at_0_1s for t in trials),
            "dead_after_worst_s": max((t.dead_after_s for t in trials), default=None),
            "reaped_after_worst_s": max(reaped) if len(reaped) == len(trials) else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=30, help="trials per frame format (30)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", default="320x240", help="WxH (320x240)")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--formats", default="png,video")
    ap.add_argument("--kill", choices=(*KILLS, "both"), default="both",
                    help="kill -9 the recorder alone, its process group, or alternate (both)")
    ap.add_argument("--hog", type=int, default=0, metavar="N",
                    help="N busy processes beside the recorder for the whole run: the promise "
                         "is for a loaded two-core machine (docs/reliability.md 1)")
    ap.add_argument("--verbose", action="store_true", help="include every trial")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    result: dict[str, object] = {"size": args.size, "fps": args.fps, "seed": args.seed,
                                 "kill": args.kill, "hog": args.hog}
    from load import cpu_hog  # this folder (bench/) is on sys.path when run as a script

    from nitrogen_capture.demo.runner import Started

    started = Started()
    with tempfile.TemporaryDirectory(prefix="kill9-") as tmp, cpu_hog(args.hog, started):
        for fmt in args.formats.split(","):
            trials = []
            for i, d in enumerate(delays(args.seed, args.trials)):
                kill = KILLS[i % 2] if args.kill == "both" else args.kill
                trial = kill9_trial(Path(tmp) / f"{fmt}{i}", fmt, d, size=(w, h),
                                    fps=args.fps, kill=kill)
                remove_leftovers(trial)
                trials.append(trial)
            entry = summary(trials)
            if args.verbose:
                entry["runs"] = [asdict(t) for t in trials]
            else:
                entry["not_clean"] = [asdict(t) for t in trials if not t.clean]
            result[fmt] = entry
    started.stop_all()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
