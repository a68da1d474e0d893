"""Benchmarks, each against a baseline measured in the same run; prints JSON.

    python bench/run.py [--frames N] [--quick] [--scene textured|synthetic]

Frames (``--scene``): ``textured`` (default) is the demo game's textured scene drawn off-screen
(``nitrogen_capture.demo.scene.render_frames``: scrolling multi-scale noise and sprites, every
frame differs, ~1 MB per 720p PNG, like a real game; needs pygame); ``synthetic`` is the
synthetic capture source's test pattern (compresses far better than a game).

1. ``png_encode``: ms per frame of the fast PNG path (fpng) vs OpenCV PNG level 1, at 720p and
   1080p.
2. ``capture_thread_cost``: time the capture thread spends per frame handing a 720p frame to the
   encoder pool (shared-memory copy) vs encoding it on the capture thread itself.
3. ``pacing``: achieved fps and interval jitter of the FramePacer (absolute deadlines) vs the naive
   ``sleep(1/fps)`` after the work, with 4 ms of simulated work per frame at 60 fps.

Numbers on a shared 2-core machine are noisy: compare the two columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nitrogen_capture.capture._synthetic import SyntheticSource
from nitrogen_capture.capture.base import Region
from nitrogen_capture.clock import FramePacer, now_ns
from nitrogen_capture.codecs.png import get_png_encoder, png_worker
from nitrogen_capture.encoderpool.pool import EncoderPool, EncoderSpec

SCENE = "textured"  # set by --scene


def frames(w: int, h: int, n: int) -> list[np.ndarray]:
    if SCENE == "textured":
        from nitrogen_capture.demo.scene import render_frames

        return render_frames(w, h, n)
    with SyntheticSource(Region(0, 0, w, h)) as src:
        return [src.grab() for _ in range(n)]


def ms_per_frame(fn, items) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    for it in items:
        fn(it)
    return (time.perf_counter() - t0) * 1e3 / len(items)


def bench_png(n: int) -> dict[str, object]:
    out: dict[str, object] = {"frames": SCENE}
    _, fast = get_png_encoder("fpng")
    _, slow = get_png_encoder("opencv")
    for name, (w, h) in {"720p": (1280, 720), "1080p": (1920, 1080)}.items():
        fr = frames(w, h, n)
        f_ms, o_ms = ms_per_frame(fast, fr), ms_per_frame(slow, fr)
        out[name] = {"fpng_ms": round(f_ms, 2), "opencv_l1_ms_baseline": round(o_ms, 2),
                     "speedup": round(o_ms / f_ms, 1),
                     "fpng_kib": round(len(fast(fr[0])) / 1024)}
    return out


def bench_capture_thread(n: int) -> dict[str, object]:
    fr = frames(1280, 720, n)
    _, encode = get_png_encoder("auto")
    with tempfile.TemporaryDirectory() as tmp:
        done: list[float] = []
        pool = EncoderPool(EncoderSpec(png_worker, "auto", 2, name="png"), 64,
                           lambda r: done.append(r.ms))
        pool.preallocate(fr[0].nbytes)
        pool.wait_ready()
        handoffs = []
        for i, f in enumerate(fr):
            while True:  # time only successful hand-offs: a full pool is the encoder's cost
                t0 = time.perf_counter()
                ok = pool.submit(f, Path(tmp) / f"{i}.png")
                if ok:
                    handoffs.append(time.perf_counter() - t0)
                    break
                time.sleep(0.001)
        handoff = statistics.fmean(handoffs) * 1e3
        pool.close()
        inline = ms_per_frame(lambda f: (Path(tmp) / "x.png").write_bytes(encode(f)), fr)
    return {"pool_handoff_ms": round(handoff, 3), "inline_encode_ms_baseline": round(inline, 2),
            "worker_encode_ms_mean": round(statistics.fmean(done), 2)}


def _pace(n: int, fps: float, naive: bool) -> dict[str, float]:
    stamps = []
    pacer = FramePacer(fps)
    pacer.start()
    for _ in range(n):
        if naive:
            time.sleep(1 / fps)
        else:
            pacer.wait()
        stamps.append(now_ns())
        end = time.perf_counter() + 0.004  # the work of one frame
        while time.perf_counter() < end:
            pass
    iv = np.diff(stamps) / 1e6
    return {"fps": round(1e3 / float(iv.mean()), 2),
            "jitter_p99_ms": round(float(np.percentile(np.abs(iv - 1e3 / fps), 99)), 2)}


def bench_pacing(n: int) -> dict[str, object]:
    return {"target_fps": 60, "frame_pacer": _pace(n, 60, False),
            "sleep_after_work_baseline": _pace(n, 60, True)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--quick", action="store_true", help="fewer frames")
    ap.add_argument("--scene", choices=("textured", "synthetic"), default="textured",
                    help="frames to encode: the demo game's textured scene (default) or the "
                         "synthetic source's pattern")
    args = ap.parse_args()
    global SCENE
    SCENE = args.scene
    n = 10 if args.quick else args.frames
    result = {"png_encode": bench_png(n), "capture_thread_cost": bench_capture_thread(n * 2),
              "pacing": bench_pacing(n * 5)}
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
