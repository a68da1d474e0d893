"""Training-window throughput: the streaming loaders vs the ``.pt`` loader, same run; prints JSON.

    python bench/stream.py [--frames N] [--quick] [--keep DIR]

Records two 720p60 sessions of the demo game's textured frames with the real recorder (PNG and
H.264 video, ``bench/convert.py``'s :func:`record_textured`; needs pygame), converts each to a
``.pt`` (the defaults: 256 px uint8, 16 steps) and the video one to a ``--format
nitrogen-dataset`` tree, then reads every window once per epoch, shuffled, through
``torch.utils.data.DataLoader(batch_size=16)``:

* ``pt``: :class:`NitrogenDataset` on the ``.pt`` (memory-mapped; the baseline);
* ``png`` / ``video``: :class:`StreamingDataset` on the session, decoding on demand;
* ``tree``: :class:`DatasetTreeDataset` on the tree.

Each with 0 and 2 workers: ``cold`` is a first epoch (nothing decoded yet), ``warm`` a second
epoch over the same loader (the workers are kept, ``persistent_workers``, so each keeps its own
cache; with 2 workers a window of the second epoch may go to the worker that did not decode it).
The main process runs torch on one thread (``torch.set_num_threads(1)``, as DataLoader workers
do): with its default of one thread per core, a busy machine made every loader ~10x slower at
0 workers (measured). Also the bytes on disk of each form. Numbers on a shared 2-core machine
are noisy: compare the rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from convert import record_textured  # bench/convert.py: the script's folder is on sys.path

BATCH = 16


def tree_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (or of the file)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def epochs(make: Any, workers: int) -> dict[str, Any]:
    """Windows/s of a cold and a warm epoch of the dataset ``make()`` builds."""
    import torch

    ds = make()
    loader = torch.utils.data.DataLoader(
        ds, batch_size=BATCH, shuffle=True, num_workers=workers,
        persistent_workers=workers > 0, generator=torch.Generator().manual_seed(0))
    out: dict[str, Any] = {"windows": len(ds), "workers": workers}
    for name in ("cold", "warm"):
        t0 = time.perf_counter()
        n = sum(len(batch[0]) for batch in loader)
        out[f"{name}_windows_per_s"] = round(n / (time.perf_counter() - t0), 1)
    if workers == 0 and hasattr(ds, "cache_stats"):
        out["cache"] = ds.cache_stats()
    del loader
    return out


def measure(base: Path, frames: int) -> dict[str, Any]:
    from nitrogen_capture.export import (
        ConvertSettings,
        DatasetTreeDataset,
        NitrogenDataset,
        StreamingDataset,
        convert,
    )

    roots = {}
    for fmt in ("png", "video"):
        roots[fmt] = base / f"textured_{fmt}_{frames}"
        if not roots[fmt].exists():
            record_textured(roots[fmt], fmt, frames)
    work = Path(tempfile.mkdtemp(prefix="stream-", dir=base))
    pts = {fmt: work / f"{fmt}.pt" for fmt in roots}
    for fmt, root in roots.items():
        convert(ConvertSettings(root=root, out=pts[fmt]))
    tree = work / "tree"
    convert(ConvertSettings(root=roots["video"], out=tree, format="nitrogen-dataset"))
    result: dict[str, Any] = {
        "frames": frames, "size": [1280, 720], "img_size": 256, "seq_len": 16,
        "batch_size": BATCH, "cpus": os.cpu_count(),
        "bytes": {"png_frames": tree_bytes(roots["png"] / "frames"),
                  "video_frames": tree_bytes(roots["video"] / "frames"),
                  "pt": tree_bytes(pts["png"]), "tree": tree_bytes(tree)},
        "runs": []}
    makers = {
        "pt": lambda: NitrogenDataset(pts["png"]),
        "png": lambda: StreamingDataset(roots["png"]),
        "video": lambda: StreamingDataset(roots["video"]),
        "tree": lambda: DatasetTreeDataset(tree),
    }
    for name, make in makers.items():
        for workers in (0, 2):
            row = {"loader": name, **epochs(make, workers)}
            result["runs"].append(row)
            print(f"{name:6s} workers={workers} cold {row['cold_windows_per_s']:8.1f} "
                  f"warm {row['warm_windows_per_s']:8.1f} windows/s", file=sys.stderr)
    for p in [*pts.values()]:
        p.unlink()
    import shutil

    shutil.rmtree(work)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--quick", action="store_true", help="120 frames")
    ap.add_argument("--keep", type=Path, help="record the sessions here (reused if present)")
    args = ap.parse_args()
    n = 120 if args.quick else args.frames
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(args.keep or Path(tmp), n)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
