"""``convert`` throughput: today's sequential store path vs the parallel decoder; prints JSON.

    python bench/convert.py [--frames N] [--quick] [--keep DIR]

Records two 720p sessions of the demo game's textured frames with the real recorder (a source
replaying frames drawn off-screen by :func:`nitrogen_capture.demo.scene.render_frames`; needs
pygame): one stored as fpng PNGs (the default), one as H.264 video. Each is converted to a
``.pt`` (256 px, uint8) twice in fresh processes, so each peak RSS is its own:

* ``baseline``: each frame store's own ``map_frames`` (PNG decoded by OpenCV on 2 threads, video
  decoded and resized sequentially), the converter before ``export/decode.py``;
* ``parallel``: ``export/decode.py`` with the default ``--workers`` (one per core).

Both outputs must be byte-identical (``identical``). Numbers on a shared 2-core machine are
noisy: compare the two columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SIZE = (1280, 720)


def record_textured(out: Path, frame_format: str, frames: int, unique: int = 90) -> None:
    """Record ``frames`` 720p frames at 60 fps into the new session ``out`` (real recorder)."""
    from nitrogen_capture.capture.base import FrameSource, Region
    from nitrogen_capture.config import RecordConfig
    from nitrogen_capture.demo.scene import render_frames
    from nitrogen_capture.record import build_recorder

    class Replay(FrameSource):
        name = "synthetic"

        def __init__(self, region: Region, images: list[np.ndarray]) -> None:
            super().__init__(region)
            self.images, self.k = images, 0

        def _open(self) -> None:
            pass

        def _grab(self) -> np.ndarray:
            self.k += 1
            return self.images[(self.k - 1) % len(self.images)].copy()

    cfg = RecordConfig(out=out, capture_backend="synthetic", input_backend="scripted", fps=60.0,
                       max_frames=frames, chunk_size=300, start_immediately=True,
                       encoder_workers=2, status_interval=0, cue="none",
                       frame_format=frame_format, queue_frames=256)
    region = Region(0, 0, *SIZE)
    rec = build_recorder(cfg, region=region)
    rec.source = Replay(region, render_frames(*SIZE, min(unique, frames)))
    rec.run()


def peak_rss() -> int:
    """This process's peak resident set in bytes.

    ``VmHWM`` on Linux: ``ru_maxrss`` would count the forking parent (it survives ``exec``).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import psutil

    info = psutil.Process().memory_info()
    return int(getattr(info, "peak_wset", info.rss))  # Windows keeps the peak working set


def one(root: Path, out: Path, mode: str) -> dict[str, Any]:
    """Convert once in this process (``--one``): frames/s and this process's peak RSS."""
    from unittest import mock

    import av  # noqa: F401  (imported before the clock starts, as both modes need them)
    import cv2  # noqa: F401
    import torch  # noqa: F401

    from nitrogen_capture.export import ConvertSettings, convert
    from nitrogen_capture.export.decode import inflater
    from nitrogen_capture.export.source import ExportSource

    if mode == "baseline":
        settings = ConvertSettings(root=root, out=out, workers=2)  # today's default
        with mock.patch.object(ExportSource, "iter_frames", ExportSource.iter_frames_store):
            t0 = time.perf_counter()
            result = convert(settings)
    else:
        settings = ConvertSettings(root=root, out=out)
        t0 = time.perf_counter()
        result = convert(settings)
    elapsed = time.perf_counter() - t0
    return {"frames_per_s": round(result.frames / elapsed, 1), "seconds": round(elapsed, 2),
            "peak_rss_mb": round(peak_rss() / 2**20), "workers": settings.workers,
            "inflate": inflater()[0] if mode == "parallel" else "libpng (OpenCV)"}


def compare(root: Path, tmp: Path) -> dict[str, Any]:
    res: dict[str, Any] = {}
    outs = {}
    for mode in ("baseline", "parallel"):
        out = tmp / mode / f"{root.name}.pt"  # same name: the archives are comparable bytes
        proc = subprocess.run([sys.executable, __file__, "--one", str(root), str(out), mode],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        res[mode] = json.loads(proc.stdout)
        outs[mode] = out
    res["speedup"] = round(res["parallel"]["frames_per_s"] / res["baseline"]["frames_per_s"], 2)
    res["identical"] = outs["baseline"].read_bytes() == outs["parallel"].read_bytes()
    for p in outs.values():
        p.unlink()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--quick", action="store_true", help="120 frames")
    ap.add_argument("--keep", type=Path, help="record the sessions here (reused if present)")
    ap.add_argument("--one", nargs=3, metavar=("ROOT", "OUT", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(Path(args.one[0]), Path(args.one[1]), args.one[2])))
        return 0
    n = 120 if args.quick else args.frames
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        result: dict[str, Any] = {"frames": n, "size": list(SIZE), "img_size": 256}
        for fmt, name in (("video", "video_720p"), ("png", "png_720p")):
            root = base / f"textured_{fmt}_{n}"
            if not root.exists():
                record_textured(root, fmt, n)
            result[name] = compare(root, Path(tmp))
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
