"""Batch ``convert`` throughput: 1 and 2 workers, local and Ray, on the same sessions; prints JSON.

    python bench/convert_batch.py [--sessions 8] [--frames 300] [--quick] [--keep DIR]

Records one 720p session of the demo game's textured frames as H.264 video with the real
recorder (:func:`bench.convert.record_textured`; needs pygame), copies it to ``--sessions``
session folders, and converts the library with ``nitrogen-capture convert --root LIB --recursive
--out lib.pt`` (256 px uint8): ``--engine local`` and ``--engine ray``, each with 1 worker
(``--jobs 1 --workers 1``: one core) and 2 workers (``--jobs 2 --workers 2``: two processes of
one decode thread), plus ``local --jobs 1 --workers 2`` (one process, two decode threads: the
one-session default), each in a fresh process. frames/s is the library's frames over the
command's wall time, start-up included (so Ray's start is in it), and over the converting time
the command reports itself (``convert_fps``). The four outputs must be byte-identical
(``identical``). On a shared 2-core machine compare the columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from convert import record_textured  # bench/convert.py: the script's folder is on sys.path

# (engine, jobs, decode threads in all)
CONFIGS = (("local", 1, 1), ("local", 2, 2), ("ray", 1, 1), ("ray", 2, 2), ("local", 1, 2))


def run_one(lib: Path, out: Path, config: tuple[str, int, int], frames: int) -> dict[str, Any]:
    engine, jobs, workers = config
    cmd = [sys.executable, "-m", "nitrogen_capture", "convert", "--root", str(lib),
           "--recursive", "--out", str(out), "--engine", engine, "--jobs", str(jobs),
           "--workers", str(workers), "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    said = re.search(r"in ([\d.]+) s \(([\d.]+) frames/s\)", proc.stdout)
    return {"engine": engine, "jobs": jobs, "threads": workers, "wall_s": round(wall, 2),
            "frames_per_s": round(frames / wall, 1),
            "convert_s": float(said[1]) if said else None,
            "convert_fps": float(said[2]) if said else None,
            "sha256": hashlib.sha256(out.read_bytes()).hexdigest()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--frames", type=int, default=300, help="frames per session")
    ap.add_argument("--quick", action="store_true", help="4 sessions of 60 frames")
    ap.add_argument("--keep", type=Path, help="record the session here (reused if present)")
    args = ap.parse_args()
    n, frames = (4, 60) if args.quick else (args.sessions, args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        one = base / f"textured_video_{frames}"
        if not one.exists():
            record_textured(one, "video", frames)
        lib = Path(tmp) / "lib"
        for k in range(n):
            shutil.copytree(one, lib / f"session{k:02d}")
        total = frames * n
        runs = []
        for config in CONFIGS:
            out = Path(tmp) / "-".join(map(str, config)) / "lib.pt"  # same name: same bytes
            runs.append(run_one(lib, out, config, total))
            shutil.rmtree(out.parent)
    result = {"sessions": n, "frames_per_session": frames, "total_frames": total,
              "size": [1280, 720], "img_size": 256, "cores": os.cpu_count(),
              "load_before": os.getloadavg()[0], "runs": runs,
              "identical": len({r.pop("sha256") for r in runs}) == 1}
    json.dump(result, sys.stdout, indent=2)
    print()
    print("| engine | jobs | threads | wall s | frames/s (wall) | frames/s (converting) |",
          file=sys.stderr)
    for r in runs:
        print(f"| {r['engine']} | {r['jobs']} | {r['threads']} | {r['wall_s']} | "
              f"{r['frames_per_s']} | "
              f"{r['convert_fps']} |", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
