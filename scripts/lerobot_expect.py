"""Our side of ``make test-lerobot``: what LeRobot must read back from an export, as an .npz.

Reads the export with pyarrow and PyAV only (the same tools our tests use, not LeRobot): the
per-frame ``action`` / ``observation.state`` / ``gamepad`` / ``frame_is_repeat`` / ``timestamp``
in ``index`` order, each episode's ``[dataset_from_index, dataset_to_index)``, and each frame's
per-channel RGB mean in [0, 1], from decoding the episode's span of its MP4 (``from_timestamp``
on).
``scripts/lerobot_check.py`` compares LeRobot's answers with these.
Usage: ``python lerobot_expect.py DATASET_DIR OUT_NPZ``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

VIDEO_KEY = "observation.images.game"


def _table(folder: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in sorted(folder.glob("*/*.parquet"))])


def main(root: Path, out: Path) -> int:
    """Write the .npz; return the exit code."""
    info = json.loads((root / "meta" / "info.json").read_text())
    fps = int(info["fps"])
    data = _table(root / "data").sort_by("index").to_pydict()
    eps = _table(root / "meta" / "episodes").sort_by("episode_index").to_pydict()
    arrays = {"action": np.asarray(data["action"], np.float32),
              "timestamps": np.asarray(data["timestamp"], np.float64),
              "episode_bounds": np.stack([eps["dataset_from_index"], eps["dataset_to_index"]], 1)}
    if "observation.state" in data:
        arrays["state"] = np.asarray(data["observation.state"], np.float32)
    if "gamepad" in data:
        arrays["gamepad"] = np.asarray(data["gamepad"], np.float32)
    if "frame_is_repeat" in data:
        arrays["frame_is_repeat"] = np.asarray(data["frame_is_repeat"], bool)
    h, w, c = info["features"][VIDEO_KEY]["shape"]
    arrays["frame_shape"] = np.array([c, h, w])
    means = np.zeros((len(data["index"]), 3))
    for e in range(len(eps["episode_index"])):
        path = root / info["video_path"].format(
            video_key=VIDEO_KEY, chunk_index=eps[f"videos/{VIDEO_KEY}/chunk_index"][e],
            file_index=eps[f"videos/{VIDEO_KEY}/file_index"][e])
        first = round(eps[f"videos/{VIDEO_KEY}/from_timestamp"][e] * fps)
        a, b = eps["dataset_from_index"][e], eps["dataset_to_index"][e]
        with av.open(str(path)) as box:
            for k, frame in enumerate(box.decode(video=0)):
                if first <= k < first + (b - a):
                    rgb = frame.to_ndarray(format="rgb24").astype(np.float64) / 255.0
                    means[a + k - first] = rgb.reshape(-1, 3).mean(axis=0)
    arrays["frame_means"] = means
    np.savez(out, **arrays)
    print(f"expected arrays of {len(eps['episode_index'])} episodes, {len(means)} frames "
          f"-> {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: lerobot_expect.py DATASET_DIR OUT_NPZ")
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
