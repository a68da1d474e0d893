"""The original design's capture loop, re-implemented as the baseline of ``bench/record.py``.

    python bench/baseline.py --pid PID --fps F --seconds S --frame-format png|video --out DIR

The original Windows tool (``capture_logger.py`` before this package) ran everything on one
thread, one frame after the other::

    while running:
        img = np.array(sct.grab(region))[:, :, :3]    # grab (mss), BGRA -> BGR by slicing
        t = now()
        cv2.imwrite(f"{i:06d}.png", img)              # encode + write, synchronous
        log the inputs that arrived since the last frame
        time.sleep(1 / fps)                           # after the work: the period drifts

This file is that loop, with the same mss grab the recorder uses (so the comparison is the loop,
not the grabber). ``--frame-format video`` swaps ``cv2.imwrite`` for a synchronous libx264 encode
through PyAV on the same thread, with the recorder's own settings (``H264Writer``: ultrafast,
crf 18, libx264's default threads, one MKV per ``--chunk-size`` frames). Inputs are drained from
an (empty) queue like the original's listener queue: the benchmark runs without input.

It writes ``timestamps.npy`` (monotonic ns of each frame, right after the grab) and
``baseline.json`` (frames, t0, settings) into ``--out``; ``bench/record.py`` reads them.
SIGINT/SIGTERM end the loop early; the files are still written.
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import numpy as np

from nitrogen_capture.capture.base import Region
from nitrogen_capture.clock import now_ns


def find_window(pid: int, wait_s: float = 10.0) -> Region:
    from nitrogen_capture.targets import get_window_backend

    backend = get_window_backend("x11")
    deadline = time.monotonic() + wait_s
    while True:
        for w in backend.list_windows():
            if w.pid == pid and w.region is not None:
                return w.region
        if time.monotonic() > deadline:
            raise SystemExit(f"baseline: no window of PID {pid} within {wait_s:g} s")
        time.sleep(0.1)


def run(pid: int, fps: float, seconds: float, kind: str, out: Path, chunk_size: int) -> int:
    import cv2
    import mss

    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    region = find_window(pid)
    mon = {"left": region.left, "top": region.top, "width": region.width,
           "height": region.height}
    out.mkdir(parents=True, exist_ok=True)
    frames_dir = out / "frames"
    frames_dir.mkdir(exist_ok=True)
    inputs: queue.Queue[tuple[int, str, int]] = queue.Queue()  # the listeners' queue
    stamps: list[int] = []
    work_ms: list[float] = []  # encode + write of each frame
    rows: list[int] = []
    writer = None
    sct = mss.mss()
    t0 = now_ns()
    end = t0 + int(seconds * 1e9)
    try:
        i = 0
        while not stop and now_ns() < end:
            img = np.array(sct.grab(mon))[:, :, :3]
            t = now_ns()
            w0 = time.perf_counter()
            if kind == "png":
                cv2.imwrite(str(frames_dir / f"{i:06d}.png"), img)
            else:
                if writer is None or writer.frames >= chunk_size:
                    if writer is not None:
                        writer.close()
                    from nitrogen_capture.codecs.h264 import H264Writer

                    writer = H264Writer(frames_dir / f"chunk_{i // chunk_size + 1:03d}.mkv",
                                        (region.width, region.height), fps)
                writer.write(np.ascontiguousarray(img))
            work_ms.append((time.perf_counter() - w0) * 1e3)
            held = 0
            while True:  # log the inputs of this frame
                try:
                    inputs.get_nowait()
                    held += 1
                except queue.Empty:
                    break
            rows.append(held)
            stamps.append(t)
            i += 1
            if i % chunk_size == 0:  # the original saved its arrays per chunk
                np.save(out / f"timestamps_chunk_{i // chunk_size:03d}.npy",
                        np.asarray(stamps[-chunk_size:], np.int64))
            time.sleep(1 / fps)
    finally:
        if writer is not None:
            writer.close()
        sct.close()
        np.save(out / "timestamps.npy", np.asarray(stamps, np.int64))
        (out / "baseline.json").write_text(json.dumps({
            "frames": len(stamps), "t0_ns": t0, "fps": fps, "seconds": seconds,
            "frame_format": kind, "size": [region.width, region.height],
            "encoder": "opencv-png" if kind == "png" else "libx264",
            "encode_ms_mean": round(float(np.mean(work_ms)), 3) if work_ms else None,
            "encode_ms_p99": round(float(np.percentile(work_ms, 99)), 3) if work_ms else None,
        }), encoding="utf-8")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--fps", type=float, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--frame-format", choices=("png", "video"), default="png")
    ap.add_argument("--chunk-size", type=int, default=500)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    return run(a.pid, a.fps, a.seconds, a.frame_format, a.out, a.chunk_size)


if __name__ == "__main__":
    sys.exit(main())
